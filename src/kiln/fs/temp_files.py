"""Temporary files of writers that died: each writer holds an flock on its temp file while it writes,
so a temp that is old and that nobody holds was abandoned (its writer was killed) and may go."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from pathlib import Path

ABANDONED_AFTER_S = 60.0


def remove_abandoned(tmp_dir: Path, older_than_s: float = ABANDONED_AFTER_S) -> None:
    now = time.time()
    try:
        entries = list(os.scandir(tmp_dir))
    except FileNotFoundError:
        return
    for entry in entries:
        try:
            if now - entry.stat().st_mtime < older_than_s:
                continue
            fd = os.open(entry.path, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # a live writer holds it
        else:
            # Locked by us, so no writer holds it. Another command may have removed it meanwhile.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
        finally:
            os.close(fd)
