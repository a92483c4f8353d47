"""Digests of source files, remembered by stat so unchanged files are not rehashed.

The stat check (mtime, ctime, size, inode) only avoids rehashing; the digest
decides. The table is a SavedTable: a crash loses at most the new entries,
never corrupts the table.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from kiln.core.digests import Digest
from kiln.execution.saved_table import SavedTable

_CHUNK = 1 << 20


def digest_file(path: str) -> Digest:
    """The sha256 of a file's content, read in 1 MiB chunks."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return Digest(h.hexdigest(), size)


class FileDigests:
    def __init__(self, table_path: Path, tmp: Path):
        self._table = SavedTable(table_path, tmp)

    def digest(self, path: str) -> Digest:
        """Raises FileNotFoundError if the file is missing."""
        return self.digest_and_mode(path)[0]

    def digest_and_mode(self, path: str) -> tuple[Digest, bool]:
        """The file's digest and whether it is executable (its owner's x bit, as REAPI records it)."""
        st = os.stat(path)
        # A chmod changes ctime, so the stamp covers the mode too.
        stamp = (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino)
        executable = bool(st.st_mode & 0o100)
        entry = self._table.get(path)
        if entry is not None and entry[0] == stamp:
            return Digest(entry[1], st.st_size), executable
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(path)
        digest = digest_file(path)
        self._table.put(path, (stamp, digest.hash))
        return digest, executable

    def stamp(self, path: str) -> tuple | None:
        """The stat stamp under which `path` was last hashed (None: never)."""
        entry = self._table.get(path)
        return None if entry is None else tuple(entry[0])

    def save(self) -> None:
        self._table.save()
