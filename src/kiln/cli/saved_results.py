"""Saved results of loading and analysis, reused while nothing they read has changed.

An entry is stored under a key of the command, patterns and options, with the
stat (mtime, ctime, size, inode) of every BUILD/.bzl/MODULE file read and
every directory listed; it is reused only if none of them changed. Build plans
and query answers are saved this way. Entries are written by write-then-rename;
a damaged one is a miss. This module stays light: a query answered from it
imports nothing else of kiln's.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
from pathlib import Path
from typing import Any

from kiln.execution.output_base import atomic_write

_FORMAT = 1


def _stamp(path: str) -> tuple | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    # ctime too: tools that restore mtimes (cp -p, tar, rsync) cannot restore it.
    return (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino)


def _kiln_version_stamp() -> str:
    """Changes whenever kiln's own code changes, so stale plans are never reused."""
    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        # Bytecode directories hold nothing that matters here: don't list them on every command.
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for f in sorted(filenames):
            if f.endswith((".py", ".bazel", ".bzl")):
                st = os.stat(os.path.join(dirpath, f))
                h.update(f"{dirpath}/{f}:{st.st_mtime_ns}:{st.st_size};".encode())
    return h.hexdigest()


class SavedResults:
    def __init__(self, directory: Path, tmp: Path):
        self.directory = directory
        self.tmp = tmp

    def key(self, *parts: Any) -> str:
        return hashlib.sha256(repr((_FORMAT, sys.executable, sys.version, _kiln_version_stamp(), parts)).encode()).hexdigest()

    def load(self, key: str) -> Any:
        try:
            with open(self.directory / key, "rb") as f:
                deps, plan = pickle.load(f)
        except (FileNotFoundError, EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError, ImportError):
            return None
        for path, stamp in deps:
            if _stamp(path) != stamp:
                return None
        return plan

    def save(self, key: str, plan: Any, paths: set[str]) -> None:
        deps = [(p, _stamp(p)) for p in sorted(paths)]
        data = pickle.dumps((deps, plan), protocol=pickle.HIGHEST_PROTOCOL)
        self.directory.mkdir(parents=True, exist_ok=True)
        atomic_write(self.directory / key, data, self.tmp)
