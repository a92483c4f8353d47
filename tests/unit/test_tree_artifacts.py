"""Directory outputs (tree artifacts) end to end, through the real executor stack.

Each build assembles what `kiln build` does (kiln.cli.executors.executor_stack:
caching over dispatch over in-process and the real LocalExecutor, plus the
scheduler, the materializer and the action-key table) over a throwaway output
base, and runs real processes: one action makes a directory with a file, an
executable in a subdirectory, a relative symlink and an empty directory;
another lists it. A fresh Build object is a fresh kiln command.
"""

import os
import shutil
from pathlib import Path

import pytest

from kiln.analysis.context import Actions
from kiln.cli.executors import executor_stack
from kiln.cli.options import parse_args
from kiln.core.actions import Action
from kiln.core.artifacts import Artifact, SourceTree
from kiln.core.config import Configuration
from kiln.core.depset import Depset
from kiln.core.digests import Digest, digest_bytes
from kiln.core.errors import AnalysisError, Location
from kiln.core.labels import Label
from kiln.execution import tree_inputs as tree_inputs_module
from kiln.execution.action_cache import ActionCache, ActionResult, OutputDirectory, OutputFile, tree_identity
from kiln.execution.action_keys import ActionKeys, record_of
from kiln.execution.cas import Cas
from kiln.execution.events import ActionFailed, EventBus
from kiln.execution.file_digests import FileDigests
from kiln.execution.linux_sandbox import availability
from kiln.execution.materialize import Materializer
from kiln.execution.materialized_outputs import MaterializedOutputs
from kiln.execution.output_base import OutputBase
from kiln.execution.output_view import OutputView
from kiln.execution.reapi_trees import BadTree, directory_of_tree, tree_blob
from kiln.execution.saved_table import SavedTable
from kiln.execution.scheduler import Scheduler
from kiln.execution.spawns import SpawnMaker

BIN = "kiln-out/k8-fastbuild/bin"
LABEL = Label("", "pkg", "gen")
BUILD_FILE = Location("pkg/BUILD.bazel", 3, 1)

MAKE_TREE = r"""
d=$1
mkdir -p "$d/sub/empty" "$d/sub/deeper"
printf 'alpha' > "$d/a.txt"
printf '#!/bin/sh\necho hi\n' > "$d/sub/run.sh"
chmod +x "$d/sub/run.sh"
printf 'deep' > "$d/sub/deeper/d.txt"
ln -s ../a.txt "$d/sub/link"
"""

LIST_TREE = r"""
cd "$1" && find . | LC_ALL=C sort > "$OLDPWD/$2"
cat a.txt >> "$OLDPWD/$2"
readlink sub/link >> "$OLDPWD/$2"
test -x sub/run.sh && echo executable >> "$OLDPWD/$2"
test -d sub/empty && echo empty-dir >> "$OLDPWD/$2"
"""

EXPECTED_LISTING = """.
./a.txt
./sub
./sub/deeper
./sub/deeper/d.txt
./sub/empty
./sub/link
./sub/run.sh
alpha../a.txt
executable
empty-dir
"""

STRATEGIES = ["linux-sandbox", "processwrapper-sandbox", "local"]


def need_bwrap(strategy):
    if strategy == "linux-sandbox" and availability()[0] is None:
        reason = f"the Linux sandbox cannot run here: {availability()[1]}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


class Build:
    """One kiln command's execution layer over `base`, as kiln.cli.session builds it."""

    def __init__(self, ws: Path, base: Path, *flags: str):
        self.output_base = OutputBase(base)
        self.output_base.tmp.mkdir(parents=True, exist_ok=True)
        opts = parse_args(["build", *flags], None).options.values
        self.warnings: list[str] = []
        self.events: list = []
        bus = EventBus()
        bus.subscribe(self.events.append)
        cas = Cas(self.output_base.cas, self.output_base.tmp)
        sources = SourceTree(str(ws))
        self.stack = executor_stack(opts, self.output_base, cas, sources, ws, self.warnings.append)
        tmp = self.output_base.tmp
        self.materialized = MaterializedOutputs(self.output_base.materialized_outputs, tmp)
        self.keys = ActionKeys(SavedTable(base / "action_keys", tmp))
        self.file_digests = FileDigests(self.output_base.file_digests, tmp)
        self.scheduler = Scheduler(
            spawns=SpawnMaker(sources, self.keys, self.file_digests), executor=self.stack.top,
            materializer=Materializer(self.output_base.execroot, cas, tmp, self.materialized),
            output_view=OutputView(cas, self.output_base.execroot / "kiln-out/_tmp/actions", 1 << 20, "out"),
            events=bus, keep_going=False, locations={LABEL: BUILD_FILE}, forget=self.stack.top.forget)

    def run(self, wanted, actions):
        generating = {o: a for a in actions for o in a.outputs}
        try:
            return self.scheduler.build(list(wanted), generating)
        finally:
            self.stack.top.close()
            self.materialized.save()
            self.keys.save()
            self.file_digests.save()

    def path(self, art: Artifact) -> Path:
        return self.output_base.execroot / art.exec_path

    def failures(self) -> list[ActionFailed]:
        return [e for e in self.events if isinstance(e, ActionFailed)]


def sh(outputs, script, *args, inputs=(), **kw):
    return Action(owner=LABEL, mnemonic="Gen", progress_message=f"Generating {outputs[0].exec_path}",
                  outputs=tuple(outputs), inputs=Depset(tuple(inputs)), argv=("/bin/sh", "-c", script, "sh", *args),
                  env=(("PATH", "/usr/bin:/bin"),), **kw)


def tree_actions(script=MAKE_TREE, requirements=()):
    tree = Artifact(BIN, "pkg/tree", LABEL, is_directory=True)
    listing = Artifact(BIN, "pkg/listing.txt", LABEL)
    gen = sh([tree], script, tree.exec_path, execution_requirements=requirements)
    use = sh([listing], LIST_TREE, tree.exec_path, listing.exec_path, inputs=[tree],
             execution_requirements=requirements)
    return tree, listing, [gen, use]


@pytest.fixture
def dirs(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    return ws, tmp_path / "base"


def check_tree(root: Path) -> None:
    """The directory MAKE_TREE makes, as materialized: bytes, executable bits, symlink, empty dir."""
    assert (root / "a.txt").read_bytes() == b"alpha"
    assert (root / "sub/deeper/d.txt").read_bytes() == b"deep"
    assert (root / "sub/run.sh").read_bytes() == b"#!/bin/sh\necho hi\n"
    assert os.stat(root / "sub/run.sh").st_mode & 0o111
    assert not os.stat(root / "a.txt").st_mode & 0o111
    assert os.readlink(root / "sub/link") == "../a.txt"
    assert (root / "sub/empty").is_dir() and not any((root / "sub/empty").iterdir())
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*")) == [
        "a.txt", "sub", "sub/deeper", "sub/deeper/d.txt", "sub/empty", "sub/link", "sub/run.sh"]
    # Copies, not links into the store.
    assert os.stat(root / "a.txt").st_nlink == 1


@pytest.mark.parametrize("strategy", [*STRATEGIES, "no-sandbox"])
def test_directory_output_made_and_consumed(dirs, strategy):
    """no-sandbox: the actions run in the output base's exec root itself."""
    need_bwrap(strategy)
    ws, base = dirs
    unsandboxed = strategy == "no-sandbox"
    tree, listing, actions = tree_actions(requirements=(("no-sandbox", "1"),) if unsandboxed else ())
    build = Build(ws, base, *([] if unsandboxed else [f"--spawn_strategy={strategy}"]))
    outcome = build.run([listing], actions)
    assert build.failures() == [] and outcome.ok
    assert (outcome.executed, outcome.cached) == (2, 0)
    check_tree(build.path(tree))
    assert build.path(listing).read_text() == EXPECTED_LISTING
    value = build.scheduler.spawns.digests[tree.exec_path]
    assert isinstance(value, OutputDirectory)
    assert [(f.path, f.executable) for f in value.files] == [
        ("a.txt", False), ("sub/deeper/d.txt", False), ("sub/run.sh", True)]
    assert value.symlinks == (("sub/link", "../a.txt"),)
    assert value.empty_dirs == ("sub/empty",)


def test_rebuild_is_cached_and_does_not_recopy(dirs):
    ws, base = dirs
    tree, listing, actions = tree_actions()
    Build(ws, base).run([listing], actions)
    inode = os.stat(Build(ws, base).path(tree) / "a.txt").st_ino
    again = Build(ws, base)
    outcome = again.run([listing], actions)
    assert (outcome.executed, outcome.cached) == (0, 2)
    assert os.stat(again.path(tree) / "a.txt").st_ino == inode
    check_tree(again.path(tree))


def test_materialized_directory_is_replaced_whole(dirs):
    ws, base = dirs
    tree, listing, actions = tree_actions()
    Build(ws, base).run([tree], actions)
    out = Build(ws, base).path(tree)
    # A user's edits inside the output directory: an extra file, a changed one, a removed one.
    os.chmod(out / "a.txt", 0o644)
    (out / "a.txt").write_bytes(b"edited")
    (out / "stray.txt").write_bytes(b"stray")
    shutil.rmtree(out / "sub/empty")
    outcome = Build(ws, base).run([tree], actions)
    assert (outcome.executed, outcome.cached) == (0, 1)
    check_tree(out)
    # An action that now makes fewer files: nothing of the earlier directory stays.
    _, _, smaller = tree_actions("mkdir -p $1/only && printf x > $1/only/x")
    outcome = Build(ws, base).run([tree], smaller)
    assert outcome.executed == 1
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == ["only", "only/x"]


def test_empty_output_base_served_from_disk_cache(dirs, tmp_path):
    ws, base = dirs
    disk = f"--disk_cache={tmp_path / 'disk'}"
    tree, listing, actions = tree_actions()
    first = Build(ws, base, disk)
    assert first.run([listing], actions).executed == 2
    reference = {p.relative_to(first.path(tree)): (p.read_bytes(), os.stat(p).st_mode & 0o111)
                 for p in first.path(tree).rglob("*") if p.is_file() and not p.is_symlink()}
    assert (tmp_path / "disk/ac").is_dir()
    shutil.rmtree(base)  # kiln clean
    second = Build(ws, base, disk)
    outcome = second.run([listing], actions)
    assert second.failures() == [] and (outcome.executed, outcome.cached) == (0, 2)
    check_tree(second.path(tree))
    served = {p.relative_to(second.path(tree)): (p.read_bytes(), os.stat(p).st_mode & 0o111)
              for p in second.path(tree).rglob("*") if p.is_file() and not p.is_symlink()}
    assert served == reference
    assert second.path(listing).read_text() == EXPECTED_LISTING
    # The local action cache now holds the directory too: a third build needs no disk cache.
    outcome = Build(ws, base).run([listing], actions)
    assert (outcome.executed, outcome.cached) == (0, 2)


def test_store_blob_of_a_cached_directory_gone_reruns_the_action(dirs):
    ws, base = dirs
    tree, listing, actions = tree_actions()
    Build(ws, base).run([listing], actions)
    deep = digest_bytes(b"deep")
    (base / "cas" / deep.hash[:2] / deep.hash).unlink()
    build = Build(ws, base)
    outcome = build.run([listing], actions)
    # The maker runs again (its entry named a blob the store lost); what it made is the same, so
    # the consumer is served from the cache.
    assert build.failures() == [] and (outcome.executed, outcome.cached) == (1, 1)
    assert (base / "cas" / deep.hash[:2] / deep.hash).read_bytes() == b"deep"
    check_tree(build.path(tree))


def test_damaged_file_of_a_cached_directory_reruns_the_action(dirs, tmp_path):
    ws, base = dirs
    disk = f"--disk_cache={tmp_path / 'disk'}"
    tree, _, actions = tree_actions()
    Build(ws, base, disk).run([tree], actions)
    blob = tmp_path / "disk/cas" / digest_bytes(b"deep").hash[:2] / digest_bytes(b"deep").hash
    blob.write_bytes(b"DEEP")
    shutil.rmtree(base)
    build = Build(ws, base, disk)
    outcome = build.run([tree], actions)
    assert (outcome.executed, outcome.cached) == (1, 0)
    check_tree(build.path(tree))


def test_consumer_key_covers_empty_dirs_and_symlinks(dirs):
    """The input root holds the directory's Merkle tree: an empty directory or a symlink alone
    changes the consumer's key."""
    ws, base = dirs
    build = Build(ws, base)
    tree = Artifact(BIN, "pkg/tree", LABEL, is_directory=True)
    out = Artifact(BIN, "pkg/out", LABEL)
    use = sh([out], "true", inputs=[tree])
    a = OutputFile("a", digest_bytes(b"a"), False)
    keys = set()
    for value in (OutputDirectory(tree.exec_path, (a,)),
                  OutputDirectory(tree.exec_path, (a,), empty_dirs=("e",)),
                  OutputDirectory(tree.exec_path, (a,), symlinks=(("l", "a"),)),
                  OutputDirectory(tree.exec_path),
                  OutputDirectory(tree.exec_path, empty_dirs=("e",))):
        build.scheduler.spawns.digests[tree.exec_path] = value
        spawn = build.scheduler.spawns.spawn_of(use)
        record = record_of(spawn)
        assert record.action_digest == spawn.key
        keys.add(spawn.key)
        listed = input_root_listing(record, tree.exec_path)
        assert listed == sorted([f.path for f in value.files] + [f"{p} -> {t}" for p, t in value.symlinks]
                                + [f"{d}/" for d in value.empty_dirs])
    assert len(keys) == 5


def input_root_listing(record, path: str) -> list[str]:
    """What the action's input root holds under `path`: files, `link -> target`, `empty-dir/`."""
    from kiln.execution.reapi import remote_execution_pb2 as re_pb2

    def directory(digest) -> "re_pb2.Directory":
        return re_pb2.Directory.FromString(record.blobs[digest])

    node = directory(record.input_root_digest)
    for segment in path.split("/"):
        [child] = [d for d in node.directories if d.name == segment]
        node = directory(Digest(child.digest.hash, child.digest.size_bytes))
    found = []
    stack = [("", node)]
    while stack:
        prefix, node = stack.pop()
        found += [prefix + f.name for f in node.files]
        found += [f"{prefix}{s.name} -> {s.target}" for s in node.symlinks]
        for d in node.directories:
            child = directory(Digest(d.digest.hash, d.digest.size_bytes))
            if not (child.files or child.directories or child.symlinks):
                found.append(f"{prefix}{d.name}/")
            stack.append((f"{prefix}{d.name}/", child))
    return sorted(found)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_empty_directory_output_and_input(dirs, strategy):
    need_bwrap(strategy)
    ws, base = dirs
    tree = Artifact(BIN, "pkg/empty", LABEL, is_directory=True)
    out = Artifact(BIN, "pkg/seen", LABEL)
    gen = sh([tree], "true")
    use = sh([out], 'test -d "$1" && ls -A "$1" > "$2"', tree.exec_path, out.exec_path, inputs=[tree])
    build = Build(ws, base, f"--spawn_strategy={strategy}")
    outcome = build.run([out], [gen, use])
    assert build.failures() == [] and outcome.executed == 2
    assert build.path(tree).is_dir() and not any(build.path(tree).iterdir())
    assert build.path(out).read_text() == ""


# ---- bad input -----------------------------------------------------------------------


def failure_of(dirs, outputs, script):
    ws, base = dirs
    build = Build(ws, base)
    action = sh(outputs, script, outputs[0].exec_path)
    outcome = build.run(outputs, [action])
    assert not outcome.ok
    [failed] = build.failures()
    assert failed.owner == "//pkg:gen"
    assert "Traceback" not in failed.message
    return failed.message


def test_declared_directory_but_wrote_a_file(dirs):
    tree = Artifact(BIN, "pkg/tree", LABEL, is_directory=True)
    message = failure_of(dirs, [tree], 'rmdir "$1" && printf x > "$1"')
    assert message.startswith(
        f"pkg/BUILD.bazel:3:1: Generating {BIN}/pkg/tree failed: output '{BIN}/pkg/tree' of //pkg:gen was declared "
        "as a directory (ctx.actions.declare_directory) but the action created a file there")


def test_declared_file_but_wrote_a_directory(dirs):
    out = Artifact(BIN, "pkg/out", LABEL)
    message = failure_of(dirs, [out], 'mkdir "$1" && printf x > "$1/inside"')
    assert message.startswith(
        f"pkg/BUILD.bazel:3:1: Generating {BIN}/pkg/out failed: output '{BIN}/pkg/out' of //pkg:gen was declared "
        "as a file but the action created a directory there (declare it with ctx.actions.declare_directory)")


@pytest.mark.parametrize("target", ["/etc/passwd", "../../outside", "deeper/../../../x"])
def test_directory_output_with_a_symlink_that_leaves_it(dirs, target):
    tree = Artifact(BIN, "pkg/tree", LABEL, is_directory=True)
    message = failure_of(dirs, [tree], f'mkdir "$1/sub" && ln -s {target} "$1/sub/link"')
    assert message.startswith(
        f"pkg/BUILD.bazel:3:1: Generating {BIN}/pkg/tree failed: output directory '{BIN}/pkg/tree' of //pkg:gen "
        f"holds 'sub/link', a symbolic link to '{target}': a directory output may hold only relative symbolic "
        "links to paths inside it")


# ---- values and their serialised forms ------------------------------------------------


def sample_directory() -> OutputDirectory:
    return OutputDirectory(
        f"{BIN}/pkg/tree",
        (OutputFile("a.txt", digest_bytes(b"alpha"), False),
         OutputFile("sub/deeper/d.txt", digest_bytes(b"deep"), False),
         OutputFile("sub/run.sh", digest_bytes(b"#!"), True),
         OutputFile("twin/d.txt", digest_bytes(b"deep"), False)),
        (("sub/link", "../a.txt"),), ("sub/empty", "twin/deeper"))


def test_action_result_json_round_trip(tmp_path):
    (tmp_path / "tmp").mkdir()
    cache = ActionCache(tmp_path / "ac", tmp_path / "tmp")
    result = ActionResult((OutputFile(f"{BIN}/pkg/f", digest_bytes(b"f"), True), sample_directory()))
    cache.put("ab" * 32, result)
    assert cache.get("ab" * 32) == result


def test_tree_blob_round_trip():
    directory = sample_directory()
    assert directory_of_tree(directory.path, tree_blob(directory)) == directory
    empty = OutputDirectory(f"{BIN}/pkg/empty")
    assert directory_of_tree(empty.path, tree_blob(empty)) == empty


def test_bad_tree_blobs_are_refused():
    from kiln.execution.reapi import remote_execution_pb2 as re_pb2

    tree = re_pb2.Tree.FromString(tree_blob(sample_directory()))
    del tree.children[0]
    with pytest.raises(BadTree, match="lacks its directory"):
        directory_of_tree("d", tree.SerializeToString())
    escaping = re_pb2.Tree(root=re_pb2.Directory(files=[re_pb2.FileNode(name="..", digest=re_pb2.Digest(
        hash=digest_bytes(b"").hash))]))
    with pytest.raises(BadTree, match="'..'"):
        directory_of_tree("d", escaping.SerializeToString())
    with pytest.raises(BadTree, match="cannot be read"):
        directory_of_tree("d", b"\xff\xff")


# ---- the rule-facing API ----------------------------------------------------------------


def actions_api() -> Actions:
    return Actions(LABEL, Configuration(), "v1", lambda: ())


def test_declare_directory():
    actions = actions_api()
    tree = actions.declare_directory("tree")
    assert tree.is_directory and tree.exec_path == f"{BIN}/pkg/tree" and tree.owner == LABEL
    assert actions.declare_directory("tree") is tree
    assert not actions.declare_file("file").is_directory


def test_same_name_as_file_and_directory():
    actions = actions_api()
    actions.declare_file("x")
    with pytest.raises(AnalysisError) as e:
        actions.declare_directory("x")
    assert e.value.message == "'x' is declared as a file and again as a directory"
    assert e.value.target == "//pkg:gen"


def test_write_or_copy_a_directory():
    actions = actions_api()
    tree = actions.declare_directory("tree")
    with pytest.raises(AnalysisError) as e:
        actions.write(tree, "text")
    assert e.value.message == (f"ctx.actions.write: '{BIN}/pkg/tree' is a directory (declare_directory); "
                               "write takes files only")
    with pytest.raises(AnalysisError, match="copy takes files only"):
        actions.copy(tree, actions.declare_file("copy"))


@pytest.mark.parametrize("strategy", ["linux-sandbox", "processwrapper-sandbox"])
def test_consumer_cannot_write_through_a_directory_input(dirs, strategy):
    """The consumer's output sits beside the directory it reads (a writable directory): a write
    into the input must not reach the store (read-only in the Linux sandbox, a copy otherwise)."""
    need_bwrap(strategy)
    ws, base = dirs
    tree, _, (gen, _) = tree_actions()
    out = Artifact(BIN, "pkg/attempt", LABEL)
    attempt = sh([out], 'if printf evil > "$1/a.txt" 2>/dev/null; then echo wrote; else echo refused; fi > "$2"',
                 tree.exec_path, out.exec_path, inputs=[tree])
    build = Build(ws, base, f"--spawn_strategy={strategy}")
    assert build.run([out], [gen, attempt]).ok
    if strategy == "linux-sandbox":
        assert build.path(out).read_text() == "refused\n"
    alpha = digest_bytes(b"alpha")
    assert Path(base / "cas" / alpha.hash[:2] / alpha.hash).read_bytes() == b"alpha"
    assert (build.path(tree) / "a.txt").read_bytes() == b"alpha"


MANY = tree_inputs_module.MOUNT_MIN_FILES + 20
MAKE_MANY = f"""
mkdir -p "$1/pkg/empty"
i=0; while [ $i -lt {MANY} ]; do printf "$i" > "$1/pkg/f$i"; i=$((i+1)); done
chmod +x "$1/pkg/f7"
ln -s f1 "$1/pkg/link"
"""
READ_MANY = r"""
cd "$1/pkg"
cat $(ls f* | LC_ALL=C sort) > "$OLDPWD/$2"
echo >> "$OLDPWD/$2"; readlink link >> "$OLDPWD/$2"; test -d empty && test -x f7 && echo ok >> "$OLDPWD/$2"
if printf evil > f1 2>/dev/null; then echo wrote; else echo refused; fi >> "$OLDPWD/$2"
"""


@pytest.mark.parametrize("strategy", ["linux-sandbox", "processwrapper-sandbox"])
def test_directory_input_of_many_files(dirs, strategy):
    """In the Linux sandbox a directory input of many files is laid out once under trees/ and
    mounted read-only; elsewhere (copies) it is staged file by file. The action sees the same."""
    need_bwrap(strategy)
    ws, base = dirs
    tree = Artifact(BIN, "pkg/many", LABEL, is_directory=True)
    out = Artifact(BIN, "pkg/read", LABEL)
    gen = sh([tree], MAKE_MANY, tree.exec_path)
    read = sh([out], READ_MANY, tree.exec_path, out.exec_path, inputs=[tree])
    build = Build(ws, base, f"--spawn_strategy={strategy}")
    assert build.run([out], [gen, read]).ok
    lines = build.path(out).read_text().splitlines()
    assert lines[0] == "".join(str(i) for i in sorted(range(MANY), key=lambda i: f"f{i}"))
    assert lines[1:3] == ["f1", "ok"]
    value = build.scheduler.spawns.digests[tree.exec_path]
    laid_out = base / "trees" / tree_identity(value)
    if strategy == "linux-sandbox":
        assert lines[3] == "refused"
        assert sorted(p.name for p in (laid_out / "pkg").iterdir()) == sorted(
            [f"f{i}" for i in range(MANY)] + ["empty", "link"])
        assert os.stat(laid_out / "pkg/f7").st_mode & 0o111
    else:
        assert not laid_out.exists()
    one = digest_bytes(b"1")
    assert (base / "cas" / one.hash[:2] / one.hash).read_bytes() == b"1"
