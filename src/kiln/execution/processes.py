"""Child processes kiln started, so an interrupted build can stop them all."""

from __future__ import annotations

import os
import signal
import subprocess
import threading

_lock = threading.Lock()
_running: set[subprocess.Popen] = set()


def register(proc: subprocess.Popen) -> None:
    with _lock:
        _running.add(proc)


def unregister(proc: subprocess.Popen) -> None:
    with _lock:
        _running.discard(proc)


def kill_all() -> None:
    """Kills every registered child's process group (each runs in its own session)."""
    with _lock:
        procs = list(_running)
    for proc in procs:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def run(argv: list[str], **kwargs) -> tuple[int, bytes, bytes]:
    """subprocess.run with capture, registered while it runs."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, **kwargs)
    register(proc)
    try:
        out, err = proc.communicate()
    finally:
        unregister(proc)
    return proc.returncode, out, err
