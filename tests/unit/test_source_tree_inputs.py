"""A source directory as one input (a vendored crate index, a runtime): its files, executable bits,
symlinks and empty directories enter the key; a big one is mounted read-only where it is in the
Linux sandbox; an edit inside re-runs the action; a symlink leaving it is refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kiln.core.artifacts import Artifact
from kiln.execution.tree_inputs import MOUNT_MIN_FILES
from test_tree_artifacts import BIN, LABEL, STRATEGIES, Build, need_bwrap, sh

# Counts the files it sees, and copies two of them, from the directory given as $1.
# (`local` stages inputs as symlinks: a file counts as a regular file or a symlink, the one link aside.)
READ = 'find "$1" \\( -type f -o -type l \\) ! -name link | wc -l | tr -d " " > "$2"; cat "$1/f0.txt" "$1/sub/run.sh" >> "$2"; ' \
       'test -x "$1/sub/run.sh" && echo executable >> "$2"; test -d "$1/empty" && echo empty >> "$2"; ' \
       'readlink "$1/sub/link" >> "$2"; stat -L -c %i "$1/f0.txt" >> "$2"'


def _source_dir(ws: Path, files: int) -> Artifact:
    top = ws / "third_party" / "vendor"
    (top / "sub").mkdir(parents=True)
    (top / "empty").mkdir()
    for i in range(files):
        (top / f"f{i}.txt").write_text(f"file {i}\n")
    (top / "sub" / "run.sh").write_text("#!/bin/sh\n")
    (top / "sub" / "run.sh").chmod(0o755)
    os.symlink("../f0.txt", top / "sub" / "link")
    return Artifact("", "third_party/vendor", is_directory=True)


def _reader(source: Artifact):
    out = Artifact(BIN, "pkg/seen.txt", LABEL)
    return out, sh([out], READ, source.exec_path, out.exec_path, inputs=[source])


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("files", [3, MOUNT_MIN_FILES + 20])
def test_a_source_directory_is_one_input(tmp_path, strategy, files):
    need_bwrap(strategy)
    ws, base = tmp_path / "ws", tmp_path / "base"
    source = _source_dir(ws, files)
    out, action = _reader(source)
    build = Build(ws, base, f"--spawn_strategy={strategy}")
    assert build.run([out], [action]).executed == 1, build.failures()
    *seen, inode = build.path(out).read_text().splitlines()
    assert seen == [str(files + 1), "file 0", "#!/bin/sh", "executable", "empty", "../f0.txt"]
    # A big source tree is mounted where it is in the Linux sandbox: the action sees the source file
    # itself (as `local` does through its symlinks), not a copy or the store's blob.
    mounted = strategy == "linux-sandbox" and files >= MOUNT_MIN_FILES
    same_file = int(inode) == (ws / "third_party/vendor/f0.txt").stat().st_ino
    assert same_file == (mounted or strategy == "local")
    assert not (base / "trees").exists()
    again = Build(ws, base, f"--spawn_strategy={strategy}")
    assert again.run([out], [action]).cached == 1


def test_an_edit_a_new_file_or_a_mode_change_inside_re_runs_the_action(tmp_path):
    ws, base = tmp_path / "ws", tmp_path / "base"
    source = _source_dir(ws, 5)
    out, action = _reader(source)
    assert Build(ws, base).run([out], [action]).executed == 1
    top = ws / "third_party" / "vendor"
    for change in (lambda: (top / "f3.txt").write_text("changed\n"),
                   lambda: (top / "sub" / "new.txt").write_text("new\n"),
                   lambda: (top / "f1.txt").chmod(0o755),
                   lambda: (top / "empty" / "now-full").write_text("")):
        change()
        assert Build(ws, base).run([out], [action]).executed == 1
    assert build_keys_differ(ws, base, source)


def build_keys_differ(ws: Path, base: Path, source: Artifact) -> bool:
    """The key of an action reading the directory moves with its content (checked once more directly)."""
    build = Build(ws, base)
    out, action = _reader(source)
    before = build.scheduler.spawns.spawn_of(action).key
    (ws / "third_party" / "vendor" / "f0.txt").write_text("different\n")
    return Build(ws, base).scheduler.spawns.spawn_of(action).key != before


def test_a_symlink_leaving_the_directory_fails_the_action_by_name(tmp_path):
    ws, base = tmp_path / "ws", tmp_path / "base"
    source = _source_dir(ws, 2)
    os.symlink("/etc/passwd", ws / "third_party" / "vendor" / "escape")
    out, action = _reader(source)
    build = Build(ws, base)
    outcome = build.run([out], [action])
    assert not outcome.ok
    (failure,) = build.failures()
    assert failure.message.endswith("input directory 'third_party/vendor' holds the symlink 'escape' -> "
                                    "'/etc/passwd', which leaves it")


def test_a_mounted_source_directory_cannot_be_changed_by_the_action(tmp_path):
    need_bwrap("linux-sandbox")
    ws, base = tmp_path / "ws", tmp_path / "base"
    source = _source_dir(ws, MOUNT_MIN_FILES + 5)
    out = Artifact(BIN, "pkg/tried.txt", LABEL)
    action = sh([out], 'echo changed >> "$1/f0.txt" 2>/dev/null || echo refused > "$2"; rm -f "$1/f1.txt"; '
                       'touch "$1/new.txt" 2>/dev/null; touch "$2"', source.exec_path, out.exec_path,
                inputs=[source])
    build = Build(ws, base, "--spawn_strategy=linux-sandbox")
    assert build.run([out], [action]).ok, build.failures()
    assert build.path(out).read_text() == "refused\n"
    top = ws / "third_party" / "vendor"
    assert (top / "f0.txt").read_text() == "file 0\n"
    assert (top / "f1.txt").exists() and not (top / "new.txt").exists()
