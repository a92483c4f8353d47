"""Unit tests for kiln.execution: action cache, file digests, runfiles trees, scheduler.

The scheduler runs with a fake executor implementing the `Executor` protocol:
it records every spawn it gets and "runs" an action by concatenating its
inputs' contents and its argv into each declared output, stored in the CAS.
An action whose argv starts with "fail" exits 1; one starting with
"ignore-inputs" leaves its inputs' contents out.
"""

import errno
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from kiln.core.actions import Action, ActionKind
from kiln.core.artifacts import Artifact, SourceTree
from kiln.core.depset import Depset
from kiln.core.digests import digest_bytes
from kiln.core.errors import KilnError
from kiln.core.labels import Label
from kiln.core.runfiles import Runfiles
from kiln.execution import file_digests as file_digests_module
from kiln.execution.action_cache import ActionCache, ActionResult, OutputFile
from kiln.execution.cas import Cas
from kiln.execution.events import ActionFailed, ActionFinished, EventBus, Message
from kiln.execution.file_digests import FileDigests
from kiln.execution.materialize import Materializer
from kiln.execution.materialized_outputs import MaterializedOutputs
from kiln.execution.output_view import OutputView
from kiln.execution.runfiles_tree import materialize
from kiln.execution.scheduler import Scheduler
from kiln.execution.spawns import SpawnMaker
from kiln.execution.action_keys import ActionKeys
from kiln.execution.caching import CachingExecutor
from kiln.execution.dispatch import Dispatcher
from kiln.execution.in_process import InProcessExecutor
from kiln.execution.saved_table import SavedTable
from kiln.execution.spawn import InputLocator, LazyExecutor, Report, Spawn, SpawnResult
from kiln.execution.strategies import Mode

BIN = "kiln-out/k8-fastbuild/bin"


# =====================================================================================
# ActionCache
# =====================================================================================

@pytest.fixture
def ac(tmp_path):
    (tmp_path / "tmp").mkdir(exist_ok=True)
    return ActionCache(tmp_path / "ac", tmp_path / "tmp")


def test_action_cache_round_trip(ac):
    result = ActionResult(
        (OutputFile(f"{BIN}/a", digest_bytes(b"a"), False), OutputFile(f"{BIN}/b", digest_bytes(b"bb"), True)),
        0, digest_bytes(b"out\n"), digest_bytes(b"err\n"), 1.5)
    key = "ab" + "0" * 62
    assert ac.get(key) is None
    ac.put(key, result)
    assert (ac.root / "ab" / key).is_file()
    assert ac.get(key) == result
    ac.remove(key)
    assert ac.get(key) is None
    ac.remove(key)  # removing twice is fine


@pytest.mark.parametrize("damage", [b"", b"{not json", b'{"outputs": 3}', b"[]", b'{"exit_code": 0}'])
def test_damaged_entry_is_a_miss(ac, damage):
    key = "cd" + "1" * 62
    ac.put(key, ActionResult(()))
    (ac.root / "cd" / key).write_bytes(damage)
    assert ac.get(key) is None
    ac.put(key, ActionResult((), stdout=digest_bytes(b"again")))
    assert ac.get(key).stdout == digest_bytes(b"again")


# =====================================================================================
# FileDigests
# =====================================================================================

@pytest.fixture
def hashes(monkeypatch):
    """Counts calls to digest_file made by FileDigests."""
    calls: list[str] = []
    real = file_digests_module.digest_file

    def counting(path):
        calls.append(path)
        return real(path)

    monkeypatch.setattr(file_digests_module, "digest_file", counting)
    return calls


def test_file_digest_reuses_stat(tmp_path, hashes):
    f = tmp_path / "src.txt"
    f.write_bytes(b"one")
    fd = FileDigests(tmp_path / "table", tmp_path)
    assert fd.digest(str(f)) == digest_bytes(b"one")
    assert fd.digest(str(f)) == digest_bytes(b"one")
    assert hashes == [str(f)]


def test_changed_file_is_rehashed(tmp_path, hashes):
    f = tmp_path / "src.txt"
    f.write_bytes(b"one")
    fd = FileDigests(tmp_path / "table", tmp_path)
    fd.digest(str(f))
    f.write_bytes(b"two")  # same size
    st = os.stat(f)
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    assert fd.digest(str(f)) == digest_bytes(b"two")
    f.write_bytes(b"three!")  # different size
    assert fd.digest(str(f)) == digest_bytes(b"three!")
    assert len(hashes) == 3


def test_missing_file_raises(tmp_path):
    fd = FileDigests(tmp_path / "table", tmp_path)
    with pytest.raises(FileNotFoundError):
        fd.digest(str(tmp_path / "nope"))


def test_save_and_reload(tmp_path, hashes):
    f = tmp_path / "src.txt"
    f.write_bytes(b"data")
    table = tmp_path / "table"
    fd = FileDigests(table, tmp_path)
    fd.digest(str(f))
    fd.save()
    assert table.is_file()
    again = FileDigests(table, tmp_path)
    assert again.digest(str(f)) == digest_bytes(b"data")
    assert hashes == [str(f)]  # the reloaded table needed no hashing


def test_save_without_changes_writes_nothing(tmp_path):
    table = tmp_path / "table"
    FileDigests(table, tmp_path).save()
    assert not table.exists()


def test_damaged_table_starts_empty(tmp_path, hashes):
    f = tmp_path / "src.txt"
    f.write_bytes(b"data")
    table = tmp_path / "table"
    table.write_bytes(b"\x00garbage")
    fd = FileDigests(table, tmp_path)
    assert fd.digest(str(f)) == digest_bytes(b"data")
    assert hashes == [str(f)]


# =====================================================================================
# runfiles trees
# =====================================================================================

@pytest.fixture
def tree_env(tmp_path):
    ws = tmp_path / "ws"
    execroot = tmp_path / "execroot"
    (ws / "pkg").mkdir(parents=True)
    (ws / "pkg" / "main.py").write_text("print('hi')\n")
    (ws / "pkg" / "data.txt").write_text("data\n")
    (execroot / BIN / "pkg").mkdir(parents=True)
    (execroot / BIN / "pkg" / "gen.txt").write_text("gen\n")
    tree = execroot / BIN / "pkg" / "bin.runfiles"
    return ws, execroot, tree


def runfiles_of(*paths, empty=()):
    arts = [Artifact("", p) if not p.startswith("kiln-out/") else Artifact(BIN, p[len(BIN) + 1:]) for p in paths]
    return Runfiles(Depset(arts), empty_files=tuple(empty))


def test_materialize_creates_tree(tree_env):
    ws, execroot, tree = tree_env
    rf = runfiles_of("pkg/main.py", "pkg/data.txt", f"{BIN}/pkg/gen.txt", empty=["_main/pkg/__init__.py"])
    mapping = ",rules_python,rules_python+\n"
    assert materialize(tree, rf, SourceTree(str(ws)), str(execroot), mapping) is True
    assert os.readlink(tree / "_main/pkg/main.py") == str(ws / "pkg/main.py")
    assert (tree / "_main/pkg/data.txt").read_text() == "data\n"
    assert os.readlink(tree / "_main/pkg/gen.txt") == str(execroot / BIN / "pkg/gen.txt")
    init = tree / "_main/pkg/__init__.py"
    assert init.is_file() and not init.is_symlink() and init.read_bytes() == b""
    assert (tree / "_repo_mapping").read_text() == mapping
    manifest = (tree / "MANIFEST").read_text().splitlines()
    assert manifest == [
        "_main/pkg/__init__.py ",
        f"_main/pkg/data.txt {ws}/pkg/data.txt",
        f"_main/pkg/gen.txt {execroot}/{BIN}/pkg/gen.txt",
        f"_main/pkg/main.py {ws}/pkg/main.py",
        f"_repo_mapping {tree}/_repo_mapping",
    ]
    sibling = tree.parent / "bin.runfiles_manifest"
    assert sibling.read_text() == (tree / "MANIFEST").read_text()


def test_materialize_second_call_is_a_no_op(tree_env):
    ws, execroot, tree = tree_env
    rf = runfiles_of("pkg/main.py")
    assert materialize(tree, rf, SourceTree(str(ws)), str(execroot)) is True
    marker = tree / "left-alone"
    marker.write_text("x")
    assert materialize(tree, rf, SourceTree(str(ws)), str(execroot)) is False
    assert marker.exists()


def test_changed_manifest_rebuilds(tree_env):
    ws, execroot, tree = tree_env
    assert materialize(tree, runfiles_of("pkg/main.py", "pkg/data.txt"), SourceTree(str(ws)), str(execroot)) is True
    (tree / "stray").write_text("x")
    assert materialize(tree, runfiles_of("pkg/main.py"), SourceTree(str(ws)), str(execroot)) is True
    assert not (tree / "stray").exists()
    assert not (tree / "_main/pkg/data.txt").exists()
    assert (tree / "MANIFEST").read_text().splitlines()[0] == f"_main/pkg/main.py {ws}/pkg/main.py"


def test_changed_repo_mapping_rebuilds(tree_env):
    ws, execroot, tree = tree_env
    rf = runfiles_of("pkg/main.py")
    materialize(tree, rf, SourceTree(str(ws)), str(execroot), "")
    assert materialize(tree, rf, SourceTree(str(ws)), str(execroot), ",a,a+\n") is True
    assert (tree / "_repo_mapping").read_text() == ",a,a+\n"


def test_interrupted_tree_is_rebuilt(tree_env):
    ws, execroot, tree = tree_env
    rf = runfiles_of("pkg/main.py")
    materialize(tree, rf, SourceTree(str(ws)), str(execroot))
    (tree / ".kiln-manifest-digest").unlink()  # as if the last write never happened
    assert materialize(tree, rf, SourceTree(str(ws)), str(execroot)) is True


# =====================================================================================
# Scheduler
# =====================================================================================

class FakeExecutor:
    """Records spawns; writes inputs' contents + argv into each output via the CAS.

    Non-blocking like the local executor: at most `jobs` spawns at once, each run on a thread."""

    def __init__(self, cas: Cas, jobs: int = 2):
        self.cas = cas
        self.locator: InputLocator | None = None  # set by make_scheduler
        self.spawns: list[Spawn] = []
        self._lock = threading.Lock()
        self.jobs = jobs
        self.in_flight = 0
        self.most_in_flight = 0
        self._pool = ThreadPoolExecutor(max_workers=jobs)

    def can_start(self, spawn: Spawn) -> bool:
        return self.in_flight < self.jobs

    def start(self, spawn: Spawn, report: Report, mode=None) -> None:
        with self._lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        self._pool.submit(self._run, spawn, report)

    def _run(self, spawn: Spawn, report: Report) -> None:
        try:
            report.started()
            result = self.execute(spawn)
        except BaseException as e:
            result = e
        finally:
            with self._lock:
                self.in_flight -= 1
        report.done(result)

    def close(self) -> None:
        self._pool.shutdown()

    def execute(self, spawn: Spawn) -> SpawnResult:
        with self._lock:
            self.spawns.append(spawn)
        if spawn.action.argv[:1] == ("fail",):
            return SpawnResult(1, (), None, self.cas.put_bytes(b"it broke\n"))
        body = b""
        if spawn.action.argv[:1] != ("ignore-inputs",):
            body = b"".join(Path(self.locator.path(i)).read_bytes() for i in spawn.inputs)
        body += " ".join(spawn.action.argv).encode() + b"\n"
        outputs = tuple(
            OutputFile(o.exec_path, self.cas.put_bytes(body + o.exec_path.encode()), False)
            for o in spawn.action.outputs
        )
        return SpawnResult(0, outputs)

    def ran(self) -> list[str]:
        return [s.action.mnemonic for s in self.spawns]


class Graph:
    """Actions by name, each making one output `<name>.out`."""

    def __init__(self):
        self.actions: dict[str, Action] = {}
        self.generating: dict[Artifact, Action] = {}

    def out(self, name: str) -> Artifact:
        return self.actions[name].outputs[0]

    def add(self, name: str, inputs=(), argv=("run",), kind=ActionKind.SPAWN, content=b"", env=()) -> Action:
        arts = [self.out(i) if i in self.actions else Artifact("", i) for i in inputs]
        out = Artifact(BIN, f"pkg/{name}.out", Label("", "pkg", name))
        action = Action(
            owner=Label("", "pkg", name), mnemonic=name, progress_message=f"making {name}",
            outputs=(out,), kind=kind, inputs=Depset(arts), argv=tuple(argv) + (name,), content=content, env=env,
        )
        self.actions[name] = action
        self.generating[out] = action
        return action


@pytest.fixture
def env(tmp_path):
    ws = tmp_path / "ws"
    (ws / "src").mkdir(parents=True)
    (ws / "src" / "a.txt").write_text("A\n")
    (ws / "src" / "b.txt").write_text("B\n")
    base = tmp_path / "base"
    for d in ("cas", "ac", "tmp", "execroot"):
        (base / d).mkdir(parents=True)
    return ws, base


def make_scheduler(env, *, keep_going=False, jobs=2, executor=None):
    """The scheduler over the real caching and dispatching layers, with the fake at the bottom."""
    ws, base = env
    cas = Cas(base / "cas", base / "tmp")
    executor = executor or FakeExecutor(cas, jobs)
    sources = SourceTree(str(ws))
    executor.locator = InputLocator(sources, cas.path, cas.put_bytes)
    events: list = []
    bus = EventBus()
    bus.subscribe(events.append)
    caching = CachingExecutor(
        Dispatcher(InProcessExecutor(cas, executor.locator), LazyExecutor(lambda: executor),
                   lambda mnemonic: Mode.LINUX_SANDBOX),
        action_cache=ActionCache(base / "ac", base / "tmp"), cas=cas)
    sched = Scheduler(
        spawns=SpawnMaker(sources, ActionKeys(SavedTable(base / "action_keys", base / "tmp")),
                          FileDigests(base / "file_digests", base / "tmp")),
        executor=caching,
        materializer=Materializer(base / "execroot", cas, base / "tmp",
                                  MaterializedOutputs(base / "materialized_outputs", base / "tmp")),
        output_view=OutputView(cas, base / "logs", 1 << 20, "logs"),
        events=bus,
        keep_going=keep_going,
        locations={},
        forget=caching.forget,
    )
    return sched, executor, events


def diamond() -> Graph:
    g = Graph()
    g.add("base", ["src/a.txt"])
    g.add("left", ["base"])
    g.add("right", ["base", "src/b.txt"])
    g.add("top", ["left", "right"])
    return g


@pytest.mark.parametrize("jobs", [1, 2, 4])
def test_topological_order(env, jobs):
    g = diamond()
    sched, ex, _ = make_scheduler(env, jobs=jobs)
    outcome = sched.build([g.out("top")], g.generating)
    assert outcome.ok and outcome.executed == 4 and outcome.cached == 0
    order = ex.ran()
    assert sorted(order) == ["base", "left", "right", "top"]
    assert order[0] == "base" and order[-1] == "top"
    # Outputs are linked into the exec root with the content the executor made.
    _, base = env
    top = (base / "execroot" / BIN / "pkg/top.out").read_bytes()
    assert top.startswith(b"A\nrun base\n")
    assert top.endswith(f"run top\n{BIN}/pkg/top.out".encode())


def test_only_needed_actions_run(env):
    g = diamond()
    g.add("unrelated", ["src/b.txt"])
    sched, ex, _ = make_scheduler(env)
    assert sched.build([g.out("left")], g.generating).executed == 2
    assert sorted(ex.ran()) == ["base", "left"]


def test_spawn_inputs_carry_digests(env):
    g = Graph()
    g.add("one", ["src/a.txt"])
    g.add("two", ["one"])
    sched, ex, _ = make_scheduler(env)
    sched.build([g.out("two")], g.generating)
    first, second = ex.spawns
    (a,) = first.inputs
    assert (a.exec_path, a.digest) == ("src/a.txt", digest_bytes(b"A\n"))
    (one,) = second.inputs
    assert one.exec_path == f"{BIN}/pkg/one.out"
    assert Path(ex.locator.path(one)).read_bytes().startswith(b"A\nrun one\n")
    assert first.key != second.key


def test_spawn_environment_is_the_actions_own(env):
    # Analysis resolved PATH and --action_env into the action: the scheduler adds nothing.
    g = Graph()
    g.add("with_env", ["src/a.txt"], env=(("GREETING", "hi"), ("PATH", "/opt/bin")))
    g.add("without_env", ["src/a.txt"])
    sched, ex, _ = make_scheduler(env)
    sched.build([g.out("with_env"), g.out("without_env")], g.generating)
    spawns = {s.action.mnemonic: s for s in ex.spawns}
    assert spawns["with_env"].env == (("GREETING", "hi"), ("PATH", "/opt/bin"))
    assert spawns["without_env"].env == ()


def test_failed_action_skips_dependents(env):
    g = Graph()
    g.add("bad", ["src/a.txt"], argv=("fail",))
    g.add("after", ["bad"])
    g.add("last", ["after"])
    sched, ex, events = make_scheduler(env, keep_going=True)
    outcome = sched.build([g.out("last")], g.generating)
    assert not outcome.ok
    assert outcome.failed_actions == [g.actions["bad"]]
    assert ex.ran() == ["bad"]
    assert outcome.unbuilt == {g.out("bad"), g.out("after"), g.out("last")}
    (failed,) = [e for e in events if isinstance(e, ActionFailed)]
    assert failed.owner == "//pkg:bad"
    assert "making bad failed: (Exit 1)" in failed.message and "it broke" in failed.message


def test_keep_going_builds_independent_actions(env):
    g = Graph()
    g.add("bad", ["src/a.txt"], argv=("fail",))
    g.add("after_bad", ["bad"])
    g.add("good", ["src/b.txt"])
    g.add("after_good", ["good"])
    sched, ex, _ = make_scheduler(env, keep_going=True, jobs=1)
    outcome = sched.build([g.out("after_bad"), g.out("after_good")], g.generating)
    assert not outcome.ok
    assert sorted(ex.ran()) == ["after_good", "bad", "good"]
    assert outcome.executed == 3  # the failed action ran too
    assert outcome.unbuilt == {g.out("bad"), g.out("after_bad")}


def test_without_keep_going_nothing_new_starts_after_a_failure(env):
    g = Graph()
    # `bad` heads the longest chain, so it starts first; while it runs, the one slot is taken.
    g.add("bad", ["src/a.txt"], argv=("fail",))
    g.add("after_bad", ["bad"])
    g.add("single1", ["src/b.txt"])
    g.add("single2", ["src/b.txt"])
    slow = SlowExecutor(Cas(env[1] / "cas", env[1] / "tmp"), 1)
    sched, ex, _ = make_scheduler(env, keep_going=False, jobs=1, executor=slow)
    outcome = sched.build([g.out("after_bad"), g.out("single1"), g.out("single2")], g.generating)
    assert not outcome.ok
    assert ex.ran() == ["bad"]


def test_second_build_is_all_cache_hits(env):
    g = diamond()
    sched, ex, _ = make_scheduler(env)
    assert sched.build([g.out("top")], g.generating).executed == 4
    sched2, ex2, events2 = make_scheduler(env)
    outcome = sched2.build([g.out("top")], g.generating)
    assert outcome.ok and outcome.cached == 4 and outcome.executed == 0
    assert ex2.spawns == []
    finished = [e for e in events2 if isinstance(e, ActionFinished)]
    assert len(finished) == 4 and all(e.cached for e in finished)


def test_changed_source_reruns_only_its_dependents(env):
    ws, _ = env
    g = diamond()
    make_scheduler(env)[0].build([g.out("top")], g.generating)
    (ws / "src" / "b.txt").write_text("B changed\n")
    sched, ex, _ = make_scheduler(env)
    outcome = sched.build([g.out("top")], g.generating)
    assert sorted(ex.ran()) == ["right", "top"]
    assert (outcome.executed, outcome.cached) == (2, 2)


def test_unchanged_output_stops_rebuild(env):
    # `mid` reruns for its changed input but makes the same output, so `top` is a cache hit.
    ws, _ = env
    g = Graph()
    g.add("mid", ["src/b.txt"], argv=("ignore-inputs",))
    g.add("top", ["mid"])
    make_scheduler(env)[0].build([g.out("top")], g.generating)
    (ws / "src" / "b.txt").write_text("B changed\n")
    sched, ex, _ = make_scheduler(env)
    outcome = sched.build([g.out("top")], g.generating)
    assert ex.ran() == ["mid"]
    assert (outcome.executed, outcome.cached) == (1, 1)


def test_write_actions_run_in_process(env):
    g = Graph()
    g.add("w", kind=ActionKind.WRITE, content=b"written\n")
    g.add("user", ["w"])
    sched, ex, _ = make_scheduler(env)
    outcome = sched.build([g.out("user")], g.generating)
    assert outcome.ok and outcome.executed == 2
    assert ex.ran() == ["user"]
    _, base = env
    assert (base / "execroot" / BIN / "pkg/w.out").read_bytes() == b"written\n"
    assert ex.spawns[0].inputs[0].digest == digest_bytes(b"written\n")


def test_missing_source_input_fails_the_action(env):
    g = Graph()
    g.add("needs_missing", ["src/missing.txt"])
    sched, ex, events = make_scheduler(env)
    outcome = sched.build([g.out("needs_missing")], g.generating)
    assert not outcome.ok and ex.spawns == []
    (failed,) = [e for e in events if isinstance(e, ActionFailed)]
    assert "missing input file 'src/missing.txt'" in failed.message


def test_damaged_cache_blob_reruns(env):
    _, base = env
    g = Graph()
    g.add("one", ["src/a.txt"])
    make_scheduler(env)[0].build([g.out("one")], g.generating)
    for blob in (base / "cas").rglob("*"):
        if blob.is_file():
            blob.chmod(0o644)
            blob.unlink()
    sched, ex, _ = make_scheduler(env)
    outcome = sched.build([g.out("one")], g.generating)
    assert (outcome.executed, outcome.cached) == (1, 0)


def test_blob_not_matching_its_digest_is_discarded_and_reruns(env):
    _, base = env
    g = Graph()
    g.add("one", ["src/a.txt"])
    make_scheduler(env)[0].build([g.out("one")], g.generating)
    (blob,) = [b for b in (base / "cas").rglob("*") if b.is_file()]
    good = blob.read_bytes()
    blob.write_bytes(bytes(len(good)))  # same size, other content
    sched, ex, events = make_scheduler(env)
    outcome = sched.build([g.out("one")], g.generating)
    assert (outcome.executed, outcome.cached) == (1, 0)
    assert blob.read_bytes() == good
    (warning,) = [e for e in events if isinstance(e, Message) and e.level == "WARNING"]
    assert warning.text == (f"discarded {blob} from the store: its content does not match its digest; "
                            "running the one action of //pkg:one again")


class BrokenStoreExecutor(FakeExecutor):
    """Runs as FakeExecutor, then fails the way a full disk or an outside writer would."""

    def __init__(self, cas: Cas, failure: str):
        super().__init__(cas, 2)
        self.failure = failure

    def execute(self, spawn: Spawn) -> SpawnResult:
        result = super().execute(spawn)
        blob = self.cas.path(result.outputs[0].digest)
        if self.failure == "disk full":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), blob)
        os.unlink(blob)  # gone before kiln copies it out
        return result


@pytest.mark.parametrize("failure, error, code", [
    ("disk full", "in //pkg:one: cannot write {blob}: No space left on device", 36),
    ("blob removed", "in //pkg:one: {blob} is missing from the store: it changed after the action stored it; "
                     "build again", 1),
])
def test_store_failure_after_an_action_stops_the_build_naming_the_target(env, failure, error, code):
    g = Graph()
    g.add("one", ["src/a.txt"])
    cas = Cas(env[1] / "cas", env[1] / "tmp")
    sched, ex, _ = make_scheduler(env, executor=BrokenStoreExecutor(cas, failure))
    with pytest.raises(KilnError) as e:
        sched.build([g.out("one")], g.generating)
    blob = cas.path(digest_bytes(b"A\nrun one\n" + f"{BIN}/pkg/one.out".encode()))
    assert e.value.render() == error.format(blob=blob)
    assert int(e.value.exit_code) == code


def test_ready_actions_start_longest_remaining_path_first(env):
    # The chain c1 -> c2 -> c3 bounds the build: with one slot it goes before the single actions.
    g = Graph()
    for name in ("s1", "s2", "s3"):
        g.add(name, ["src/a.txt"])
    g.add("c1", ["src/b.txt"])
    g.add("c2", ["c1"])
    g.add("c3", ["c2"])
    # Each spawn takes a while: the next one is chosen only once the slot is free again.
    sched, ex, _ = make_scheduler(env, jobs=1, executor=SlowExecutor(Cas(env[1] / "cas", env[1] / "tmp"), 1))
    wanted = [g.out(n) for n in ("s1", "s2", "s3", "c3")]
    assert sched.build(wanted, g.generating).executed == 6
    # c3, with one action left on its path, ties with the single actions.
    assert ex.ran()[:2] == ["c1", "c2"]
    assert sorted(ex.ran()[2:]) == ["c3", "s1", "s2", "s3"]


@pytest.mark.parametrize("jobs", [1, 3])
def test_the_executor_capacity_bounds_spawns_in_flight(env, jobs):
    g = Graph()
    for i in range(12):
        g.add(f"a{i}", ["src/a.txt"], argv=("run", "slowly"))
    slow = SlowExecutor(Cas(env[1] / "cas", env[1] / "tmp"), jobs)
    sched, ex, _ = make_scheduler(env, jobs=jobs, executor=slow)
    assert sched.build([g.out(f"a{i}") for i in range(12)], g.generating).executed == 12
    assert ex.most_in_flight == jobs


class SlowExecutor(FakeExecutor):
    def execute(self, spawn: Spawn) -> SpawnResult:
        time.sleep(0.05)
        return super().execute(spawn)


def test_action_keys_do_not_depend_on_the_workspace_path(tmp_path):
    keys = []
    for where in ("one", "two/deeper"):
        ws, base = tmp_path / where / "ws", tmp_path / where / "base"
        (ws / "src").mkdir(parents=True)
        (ws / "src" / "a.txt").write_text("A\n")
        (ws / "src" / "b.txt").write_text("B\n")
        for d in ("cas", "ac", "tmp", "execroot"):
            (base / d).mkdir(parents=True)
        g = diamond()
        sched, ex, _ = make_scheduler((ws, base))
        sched.build([g.out("top")], g.generating)
        keys.append(sorted((s.action.mnemonic, s.key) for s in ex.spawns))
    assert keys[0] == keys[1]
    assert len({k for _, k in keys[0]}) == 4


def test_the_key_is_the_digest_of_the_actions_reapi_record(env):
    from kiln.execution.action_keys import record_of

    g = Graph()
    g.add("one", ["src/a.txt"], env=(("B", "2"), ("A", "1")))
    sched, ex, _ = make_scheduler(env)
    sched.build([g.out("one")], g.generating)
    (spawn,) = ex.spawns
    record = record_of(spawn)
    assert spawn.key == record.action_digest
    # A fresh process's keys come from the memo table, and are the same.
    sched.spawns.keys.save()
    sched2, ex2, _ = make_scheduler(env)
    assert sched2.spawns.spawn_of(g.actions["one"]).key == record.action_digest


def test_kiln_tool_actions_are_keyed_by_kilns_interpreter(env, monkeypatch):
    # `python -m kiln.tools...` on kiln's own interpreter: another Python version is another key.
    from kiln.execution import action_keys

    g = Graph()
    tool = g.add("tool", ["src/a.txt"], argv=(sys.executable, "-m", "kiln.tools.something"))
    plain = g.add("plain", ["src/a.txt"], argv=("/bin/sh", "-c", "true"))
    sched, _, _ = make_scheduler(env)
    tool_key, plain_key = (sched.spawns.spawn_of(a).key for a in (tool, plain))
    assert sys.version.encode() in action_keys.salt_of(tool)
    assert b"kiln-python" not in action_keys.salt_of(plain)
    monkeypatch.setattr(action_keys, "_KILN_PYTHON", "cpython-399 3.99.0")
    sched2, _, _ = make_scheduler(env)
    assert sched2.spawns.spawn_of(tool).key != tool_key
    assert sched2.spawns.spawn_of(plain).key == plain_key


def test_a_param_file_is_an_input_of_the_key_and_no_action_of_its_own(env):
    from dataclasses import replace

    from kiln.core.actions import ParamFile

    sched, _, _ = make_scheduler(env)
    keys = []
    for content in (b"--src\na.py\n", b"--src\nb.py\n"):
        g = Graph()
        base = g.add("one", ["src/a.txt"])
        path = f"{base.outputs[0].exec_path}-0.params"
        action = replace(base, argv=base.argv + (f"@{path}",), param_file=ParamFile(path, content))
        spawn = sched.spawns.spawn_of(action)
        (param,) = [i for i in spawn.inputs if i.exec_path == path]
        assert param.digest == digest_bytes(content) and param.content == content
        keys.append(spawn.key)
    assert keys[0] != keys[1]
