"""Fingerprints of host tools: what they print about themselves and a digest of their files.

A host tool (the machine's rustc and cargo) runs from outside an action's input
root, so it enters the action key by a fingerprint that its repository records:
the tool's version output and a content digest of every file under its roots
(a toolchain's bin/ and lib/: ~100 files, ~600 MB for rustup's stable). So a
toolchain that says the same version but holds other bytes (a patched std, a
rebuilt rustc) gives another key.

Hashing 600 MB takes ~0.8 s, so each file's digest is remembered by its stat
(mtime_ns, ctime_ns, size, inode; ctime because a tool that restores mtimes,
cp -p or tar, cannot restore it) in a table shared by every workspace of the
user: the next fingerprint stats the files (~0.5 ms) and rehashes only the
files whose stat changed. The stat decides nothing alone: a file whose stat
matches was hashed at that stat.

The table is one JSON file per tree (named by a digest of the root paths),
holding exactly the files of the last walk. It is written to a temporary file
and renamed over the old one: a crash or two kiln commands writing at once
leave one whole table, and a damaged table reads as empty (everything is
hashed again), since it holds only what can be recomputed.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence


@dataclass(frozen=True)
class TreeDigest:
    digest: str
    # Every file and directory walked: a change to one's stat means fingerprinting again.
    paths: tuple[str, ...]


def table_path(cache_dir: Path, roots: Sequence[str]) -> Path:
    key = hashlib.sha256("\0".join(roots).encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return cache_dir / f"{key}.json"


def tree_digest(roots: Sequence[str], table: Path) -> TreeDigest:
    """A digest of the files, symlinks and executable bits under `roots` (directories or single files),
    reading only files whose stat is not in `table`. A missing root counts as absent, not an error."""
    try:
        known = json.loads(table.read_text())
        if not isinstance(known, dict):
            known = {}
    except (OSError, ValueError):
        known = {}
    entries: dict[str, list] = {}
    lines: list[str] = []
    paths: list[str] = []
    for root in roots:
        for path, st in _walk(root):
            paths.append(path)
            if stat.S_ISDIR(st.st_mode):
                continue
            if stat.S_ISLNK(st.st_mode):
                lines.append(f"l {path} {os.readlink(path)}")
                continue
            stamp = [st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino]
            entry = known.get(path)
            if not (isinstance(entry, list) and entry[:4] == stamp):
                with open(path, "rb") as f:
                    entry = [*stamp, hashlib.file_digest(f, "sha256").hexdigest()]
            entries[path] = entry
            lines.append(f"{'x' if st.st_mode & 0o111 else 'f'} {path} {entry[4]}")
    if entries != known:
        _save(table, entries)
    digest = hashlib.sha256("\n".join(lines).encode("utf-8", "surrogateescape")).hexdigest()
    return TreeDigest(digest, tuple(paths))


def fingerprint(version_outputs: Sequence[str], tree: TreeDigest) -> str:
    """The tool's identity: its version output (which names the build: commit, LLVM, host) and its files."""
    h = hashlib.sha256()
    for text in version_outputs:
        h.update(text.encode() + b"\0")
    h.update(tree.digest.encode())
    return h.hexdigest()


def _walk(root: str):
    """(path, lstat) of root and everything under it, sorted, symlinks not followed."""
    try:
        st = os.lstat(root)
    except FileNotFoundError:
        return
    yield root, st
    if not stat.S_ISDIR(st.st_mode):
        return
    with os.scandir(root) as it:
        children = sorted(e.path for e in it)
    for child in children:
        yield from _walk(child)


def _save(table: Path, entries: dict[str, list]) -> None:
    table.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=table.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(entries, f)
        os.replace(tmp, table)
    except BaseException:
        os.unlink(tmp)
        raise
