"""Child processes kiln started, so an interrupted build can stop them all.

Output goes to files as it is produced, never into kiln's memory: an action
printing gigabytes costs disk, not RAM.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from typing import IO, Callable

_lock = threading.Lock()
_running: set[subprocess.Popen] = set()
# Called by kill_all before it kills: what can end more gently first (workers cancel their requests).
_before_kill: list[Callable[[], None]] = []


def register(proc: subprocess.Popen) -> None:
    with _lock:
        _running.add(proc)


def unregister(proc: subprocess.Popen) -> None:
    with _lock:
        _running.discard(proc)


def before_kill(hook: Callable[[], None], add: bool = True) -> None:
    """Adds (or with add=False removes) a hook kill_all calls first."""
    with _lock:
        if add:
            _before_kill.append(hook)
        elif hook in _before_kill:
            _before_kill.remove(hook)


def kill_all() -> None:
    """Kills every registered child's process group (each runs in its own session)."""
    with _lock:
        hooks = list(_before_kill)
    for hook in hooks:
        try:
            hook()
        except Exception:
            pass  # the build is being interrupted: killing matters more than a gentle end
    with _lock:
        procs = list(_running)
    for proc in procs:
        kill_group(proc)


def kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_to_files(argv: list[str], *, cwd: str, env: dict[str, str], stdout: IO, stderr: IO,
                 stdin=subprocess.DEVNULL, timeout: float | None = None, pass_fds: tuple[int, ...] = ()) -> int | None:
    """Runs argv with its output written to the given files; None if it timed out (and was killed)."""
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=stdin, stdout=stdout, stderr=stderr,
                            start_new_session=True, pass_fds=pass_fds)
    register(proc)
    try:
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            proc.wait()
            return None
    finally:
        # Whatever it left running in the background ends with it (inside a sandbox the PID
        # namespace already saw to that; without one, its process group is what is left).
        kill_group(proc)
        unregister(proc)
