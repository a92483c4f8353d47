"""The output base lock: one kiln command at a time per output base.

A command holds an exclusive flock on `<output_base>/lock` from the moment the
output base exists until it ends, and writes its pid into the file so that a
second command can say whom it waits for.

How it survives a crash: the kernel drops an flock when the last descriptor of
the open file closes, so a kiln killed with SIGKILL releases it by itself; the
descriptor is close-on-exec, so no action process inherits it and keeps the
lock alive. The pid left behind by a killed command is stale but harmless:
only the flock decides who holds the lock, the pid is only shown. `clean
--expunge` deletes the file while holding it; a command that then gets the
lock on the deleted file notices (the path no longer names the file it locked)
and locks the new one, so two commands never hold "the" lock at once.

Once a command holds the lock nobody else uses the per-action sandbox
directories and the partial files in tmp/: whatever is there was left by a
killed command, and the command removes it.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from pathlib import Path
from typing import Callable

from kiln.core.errors import ExitCode, KilnError, LocalEnvironmentError
from kiln.execution.output_base import OutputBase


class LockHeld(KilnError):
    """Another command holds the lock and --noblock_for_lock forbids waiting."""

    exit_code = ExitCode.LOCK_HELD_NOBLOCK_FOR_LOCK


class OutputLock:
    """The held lock; released by release() or when the process ends, however it ends."""

    def __init__(self, fd: int):
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def lock_output_base(output_base: OutputBase, *, block: bool, on_wait: Callable[[str], None]) -> OutputLock:
    """Creates the output base, takes its lock (waiting, or LockHeld if not `block`), clears leftovers.

    `on_wait` gets the one message shown when another command holds the lock.
    """
    output_base.create_root()
    path = output_base.root / "lock"
    waited = False
    while True:
        fd = _open(output_base, path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            if not block:
                os.close(fd)
                raise LockHeld(f"Another command (pid {holder}) is running on the output base {output_base.root}; "
                               "exiting at once because of --noblock_for_lock") from None
            if not waited:
                on_wait(f"Another command is running (pid {holder}). Waiting for it to complete...")
                waited = True
            fcntl.flock(fd, fcntl.LOCK_EX)
        if _still_named(fd, path):
            break
        os.close(fd)  # locked a file `clean --expunge` deleted: lock the one that now stands there
        output_base.create_root()
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    except OSError as e:
        os.close(fd)
        raise LocalEnvironmentError(f"could not write the output base lock {path}: {e.strerror}") from None
    lock = OutputLock(fd)
    try:
        output_base.create()
    except KilnError:
        lock.release()
        raise
    _remove_leftovers(output_base)
    return lock


def _open(output_base: OutputBase, path: Path) -> int:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as e:
        raise LocalEnvironmentError(
            f"could not create output base directory {output_base.root}: {e.strerror}") from None


def _still_named(fd: int, path: Path) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)


def _holder(fd: int) -> str:
    """The holder's pid as it wrote it; a moment after it took the lock, it may not have yet."""
    deadline = time.monotonic() + 1.0
    while True:
        text = os.pread(fd, 32, 0).decode(errors="replace").strip()
        if text.isdigit() and _alive(int(text)):
            return text
        if time.monotonic() > deadline:
            return text if text.isdigit() else "unknown"
        time.sleep(0.02)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_leftovers(output_base: OutputBase) -> None:
    """Per-action sandbox directories and partial files in tmp/ a killed command left behind.

    Best effort: what cannot go now (a survivor of the kill still writing into it) goes next time.
    """
    for entry in _entries(output_base.sandboxes):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
    for entry in _entries(output_base.tmp):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            try:
                os.unlink(entry.path)
            except OSError:
                pass


def _entries(directory: Path) -> list[os.DirEntry]:
    try:
        with os.scandir(directory) as it:
            return list(it)
    except FileNotFoundError:
        return []
