"""An action's outputs, moved from where it ran into the content store: files, and directories whole.

A declared output directory goes in file by file, with its relative symlinks
and empty directories; an output of the wrong kind (a file where a directory
was declared, or the reverse) fails the action. Used by every executor that
runs processes here (the local sandbox, persistent workers).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from kiln.execution.action_cache import OutputDirectory, OutputFile, stays_inside
from kiln.execution.cas import Cas
from kiln.execution.spawn import Spawn, SpawnResult


def collect_outputs(cas: Cas, spawn: Spawn, root: Path, code: int | None, stdout, stderr,
                    seconds: float) -> SpawnResult:
    """The spawn's result from its exit code (None: timed out) and the outputs found under `root`."""
    # A failed test's log and report are its result: kept, as REAPI keeps a failed action's outputs.
    if code != 0 and not spawn.action.is_test:
        return SpawnResult(-1 if code is None else code, (), stdout, stderr, seconds, note=_disk_full_note(root))
    outputs: list[OutputFile | OutputDirectory] = []
    missing = []
    for art in spawn.action.outputs:
        path = root / art.exec_path
        try:
            st = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            missing.append(art.exec_path)
            continue
        if stat.S_ISDIR(st.st_mode) != art.is_directory:
            error = _wrong_kind(spawn, art.exec_path, art.is_directory, st)
            return SpawnResult(1, (), stdout, stderr, seconds, error=error)
        if art.is_directory:
            try:
                outputs.append(_collect_tree(cas, spawn, art.exec_path, str(path)))
            except _BadTree as e:
                return SpawnResult(1, (), stdout, stderr, seconds, error=str(e))
            continue
        if not stat.S_ISREG(st.st_mode):
            missing.append(art.exec_path)
            continue
        executable = spawn.action.is_executable or bool(st.st_mode & 0o111)
        digest = cas.put_file(str(path), executable, move=True)
        outputs.append(OutputFile(art.exec_path, digest, executable))
    code = -1 if code is None else code
    if missing:
        return SpawnResult(code, (), stdout, stderr, seconds, missing_outputs=tuple(missing))
    return SpawnResult(code, tuple(outputs), stdout, stderr, seconds)


def _collect_tree(cas: Cas, spawn: Spawn, exec_path: str, top: str) -> OutputDirectory:
    """Moves every file under the output directory into the store; its relative symlinks and
    empty directories are kept by name."""
    files: list[OutputFile] = []
    symlinks: list[tuple[str, str]] = []
    empty: list[str] = []
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        with os.scandir(f"{top}/{rel_dir}" if rel_dir else top) as it:
            entries = list(it)
        if not entries and rel_dir:
            empty.append(rel_dir)
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                stack.append(rel)
            elif stat.S_ISREG(st.st_mode):
                executable = bool(st.st_mode & 0o111)
                files.append(OutputFile(rel, cas.put_file(entry.path, executable, move=True), executable))
            elif stat.S_ISLNK(st.st_mode):
                target = os.readlink(entry.path)
                if not stays_inside(rel, target):
                    raise _BadTree(
                        f"output directory '{exec_path}' of {spawn.action.owner} holds '{rel}', a symbolic link "
                        f"to '{target}': a directory output may hold only relative symbolic links to paths "
                        "inside it")
                symlinks.append((rel, target))
            else:
                raise _BadTree(f"output directory '{exec_path}' of {spawn.action.owner} holds '{rel}', which "
                               "is neither a file, a directory nor a symbolic link")
    files.sort(key=lambda f: f.path)
    return OutputDirectory(exec_path, tuple(files), tuple(sorted(symlinks)), tuple(sorted(empty)))


class _BadTree(Exception):
    """An output directory holding what a tree artifact cannot."""


def _wrong_kind(spawn: Spawn, exec_path: str, declared_directory: bool, st: os.stat_result) -> str:
    output = f"output '{exec_path}' of {spawn.action.owner}"
    if declared_directory:
        found = "a symbolic link" if stat.S_ISLNK(st.st_mode) else "a file"
        return (f"{output} was declared as a directory (ctx.actions.declare_directory) but the action created "
                f"{found} there")
    return (f"{output} was declared as a file but the action created a directory there "
            "(declare it with ctx.actions.declare_directory)")


def _disk_full_note(root: Path) -> str:
    """A failed action on a full disk may not even have been able to write its error message."""
    try:
        st = os.statvfs(root)
    except OSError:
        return ""
    if st.f_bavail > 0 and st.f_favail > 0:
        return ""
    return (f"note: the file system holding the action's exec root ({root}) is full: the action may have "
            "failed for want of space, and its own output may be incomplete")
