"""A table (dict) kept in the output base from one command to the next.

Stored with marshal, saved with write-to-temp-and-rename: a crash loses at
most the entries added since the last save, never corrupts the table, and a
damaged or foreign file reads as an empty table. The tables hold only what can
be recomputed (digests, stat stamps), so losing entries costs time, not
correctness. Safe to update from the scheduler's threads; one command at a
time holds the output base, so a table has one writer.
"""

from __future__ import annotations

import marshal
import threading
from pathlib import Path

from kiln.execution.output_base import atomic_write


class SavedTable:
    def __init__(self, path: Path, tmp: Path):
        self.path = path
        self.tmp = tmp
        self._lock = threading.Lock()
        self._dirty = False
        try:
            table = marshal.loads(path.read_bytes())
        except (FileNotFoundError, EOFError, ValueError, TypeError):
            table = None
        self._table: dict = table if isinstance(table, dict) else {}

    def get(self, key: str) -> object:
        return self._table.get(key)

    def put(self, key: str, value: object) -> None:
        with self._lock:
            self._table[key] = value
            self._dirty = True

    def remove(self, key: str) -> None:
        with self._lock:
            if self._table.pop(key, None) is not None:
                self._dirty = True

    def __len__(self) -> int:
        return len(self._table)

    def retain(self, keys: set) -> None:
        """Drops every entry whose key is not in `keys`."""
        with self._lock:
            self._table = {k: v for k, v in self._table.items() if k in keys}
            self._dirty = True

    def save(self) -> None:
        if self._dirty:
            with self._lock:
                data = marshal.dumps(self._table)
                self._dirty = False
            atomic_write(self.path, data, self.tmp)
