"""Saved results of loading and analysis, reused while nothing they read has changed.

An entry is stored under a key of the command, patterns and options, with the
stat (mtime, ctime, size, inode) of every BUILD/.bzl/MODULE file read and
every directory listed, and the value of every environment variable loading
read (kiln.core.env_reads); it is reused only if none of them changed. A listed
directory whose stat changed is listed again and compared by a digest of its
entries that leaves out kiln's own links into the output base (the `kiln-*`
convenience links and their temporary names): creating or removing those links
does not invalidate anything, and the entry's stamps are refreshed so that the
next command takes the fast path again. Build plans and query answers are
saved this way.

On disk an entry is two pickles back to back: the stamps, then the result, so
a refresh rewrites the stamps and copies the result's bytes unchanged. Entries
are written by write-then-rename (a crash leaves the old entry or the new one;
two commands writing at once leave one of two complete entries); a damaged one
is a miss. This module stays light: a query answered from it imports nothing
else of kiln's.
"""

from __future__ import annotations

import gc
import hashlib
import io
import os
import pickle
import stat
import sys
from pathlib import Path
from typing import Any

from kiln.cli.code_stamp import code_stamp
from kiln.core.env_reads import PREFIX as ENV_PREFIX
from kiln.execution.output_base import atomic_write

_FORMAT = 2
_DAMAGED = (EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError, ImportError, IndexError)


def _stamp(path: str) -> tuple[tuple | None, bool]:
    """(stamp, is a directory); the stamp is None for a missing path."""
    try:
        st = os.stat(path)
    except OSError:
        return None, False
    # ctime too: tools that restore mtimes (cp -p, tar, rsync) cannot restore it.
    return (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino), stat.S_ISDIR(st.st_mode)


def listing_digest(directory: str, own_links: str) -> str | None:
    """A digest of a directory's entries (names and kinds), without symlinks into `own_links`."""
    inside = own_links.rstrip("/") + "/"
    entries = []
    try:
        with os.scandir(directory) as it:
            for e in it:
                if e.is_symlink():
                    try:
                        target = os.readlink(e.path)
                    except OSError:
                        target = ""
                    if target.startswith(inside):
                        continue
                    kind = "l"
                elif e.is_dir(follow_symlinks=False):
                    kind = "d"
                else:
                    kind = "f"
                entries.append(f"{kind}{e.name}")
    except OSError:
        return None
    entries.sort()
    return hashlib.sha256("\0".join(entries).encode("utf-8", "surrogateescape")).hexdigest()


def _unpickle(data: bytes) -> Any:
    # Unpickling a large plan creates hundreds of thousands of objects and no cycles: the
    # cyclic collector would only rescan them, about half of the load time.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return pickle.loads(data)
    finally:
        if enabled:
            gc.enable()


class SavedResults:
    """Entries under `directory`; `own_links` is the output base, where kiln's convenience links point."""

    def __init__(self, directory: Path, tmp: Path, own_links: Path):
        self.directory = directory
        self.tmp = tmp
        self.own_links = str(own_links)
        # key -> the (path, stamp, listing digest) an entry was checked against or saved with, this command.
        self._checked: dict[str, list] = {}

    def key(self, *parts: Any) -> str:
        return hashlib.sha256(repr((_FORMAT, sys.executable, sys.version, code_stamp(), parts)).encode()).hexdigest()

    def load(self, key: str) -> Any:
        path = self.directory / key
        try:
            with open(path, "rb") as f:
                data = f.read()
            stream = io.BytesIO(data)
            deps = pickle.load(stream)
            result_at = stream.tell()
        except FileNotFoundError:
            return None
        except _DAMAGED:
            return None
        refreshed = []
        for p, saved, digest in deps:
            if p.startswith(ENV_PREFIX):
                if os.environ.get(p[len(ENV_PREFIX):]) != saved:
                    return None
                refreshed.append((p, saved, digest))
                continue
            now, is_dir = _stamp(p)
            if now != saved:
                if digest is None or not is_dir or listing_digest(p, self.own_links) != digest:
                    return None
            refreshed.append((p, now, digest))
        try:
            result = _unpickle(data[result_at:])
        except _DAMAGED:
            return None
        if refreshed != deps:
            self._write(key, refreshed, data[result_at:])
        self._checked[key] = refreshed
        return result

    def dependencies(self, key: str) -> list[tuple[str, tuple | None]] | None:
        """(path, stamp) of everything the entry under `key` was made from, as this command loaded or
        saved it; None if it did neither."""
        deps = self._checked.get(key)
        return None if deps is None else [(p, saved) for p, saved, _ in deps if not p.startswith(ENV_PREFIX)]

    def save(self, key: str, result: Any, paths: set[str]) -> None:
        deps = []
        for p in sorted(paths):
            if p.startswith(ENV_PREFIX):
                deps.append((p, os.environ.get(p[len(ENV_PREFIX):]), None))
                continue
            now, is_dir = _stamp(p)
            deps.append((p, now, listing_digest(p, self.own_links) if is_dir else None))
        self._write(key, deps, pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
        self._checked[key] = deps

    def _write(self, key: str, deps: list, result: bytes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        atomic_write(self.directory / key, pickle.dumps(deps, protocol=pickle.HIGHEST_PROTOCOL) + result, self.tmp)
