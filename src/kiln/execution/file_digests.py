"""Digests of source files, remembered by stat so unchanged files are not rehashed.

The stat check (mtime, ctime, size, inode) only avoids rehashing; the digest
decides. The table is saved with write-to-temp-and-rename: a crash loses at
most the new entries, never corrupts the table.
"""

from __future__ import annotations

import marshal
import os
import threading
from pathlib import Path

from kiln.core.digests import Digest, digest_file
from kiln.execution.output_base import atomic_write


class FileDigests:
    def __init__(self, table_path: Path, tmp: Path):
        self.table_path = table_path
        self.tmp = tmp
        self._lock = threading.Lock()
        self._dirty = False
        try:
            self._table: dict[str, tuple] = marshal.loads(table_path.read_bytes())
        except (FileNotFoundError, EOFError, ValueError, TypeError):
            self._table = {}

    def digest(self, path: str) -> Digest:
        """Raises FileNotFoundError if the file is missing."""
        st = os.stat(path)
        stamp = (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino)
        entry = self._table.get(path)
        if entry is not None and entry[0] == stamp:
            return Digest(entry[1], st.st_size)
        digest = digest_file(path)
        with self._lock:
            self._table[path] = (stamp, digest.hash)
            self._dirty = True
        return digest

    def save(self) -> None:
        if self._dirty:
            with self._lock:
                data = marshal.dumps(self._table)
                self._dirty = False
            atomic_write(self.table_path, data, self.tmp)
