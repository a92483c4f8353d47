"""The table of what kiln put at each output path, so the next build can tell it is still there.

For each exec path: the stat stamp (mtime, ctime, size, inode) of the copy kiln
wrote, the stamp of the store blob it was copied from when that blob was
checked against its digest, the digest and the executable bit. An output whose
stamp differs was edited, replaced or deleted by someone else; a blob whose
stamp differs may have been written to: either way the output is copied again
from the store, and the copy is checked. A changed stamp is never trusted.
An output with no entry (a crash before the table was saved) is copied again.
An output directory's entry holds the stamps of the directory itself, of every
directory and entry in it, and of its blobs: a file added to it, edited or
removed shows as a changed stamp, and the directory is made again whole.
"""

from __future__ import annotations

import os
from pathlib import Path

from kiln.execution.saved_table import SavedTable

Stamp = tuple[int, int, int, int]


def stamp_of(st: os.stat_result) -> Stamp:
    # ctime too: a writer can put mtime back (touch -r, cp -p) but cannot put back ctime.
    return (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino)


def blob_stamp_of(st: os.stat_result) -> Stamp:
    """A blob's stamp leaves out ctime: every sandbox that links the blob as an input changes it.

    Nothing is given a blob to write to (sandboxes mount those links read-only), so a changed
    mtime, size or inode is what a damaged blob would show.
    """
    return (st.st_mtime_ns, 0, st.st_size, st.st_ino)


class MaterializedOutputs:
    def __init__(self, table_path: Path, tmp: Path):
        self._table = SavedTable(table_path, tmp)

    def is_current(self, exec_path: str, output: Stamp, blob: Stamp, digest_hash: str, executable: bool) -> bool:
        """True if kiln itself put this very file here, from this very blob, with this content."""
        return self._table.get(exec_path) == (output, blob, digest_hash, executable)

    def record(self, exec_path: str, output: Stamp, blob: Stamp, digest_hash: str, executable: bool) -> None:
        self._table.put(exec_path, (output, blob, digest_hash, executable))

    def tree_is_current(self, exec_path: str, identity: str, outputs: tuple[Stamp, ...],
                        blobs: tuple[Stamp, ...]) -> bool:
        """True if kiln itself put this very directory here with this content (by the stamps of
        the directory and of everything in it), from these very blobs."""
        return self._table.get(exec_path) == ("tree", identity, outputs, blobs)

    def record_tree(self, exec_path: str, identity: str, outputs: tuple[Stamp, ...] | None,
                    blobs: tuple[Stamp, ...]) -> None:
        self._table.put(exec_path, ("tree", identity, outputs, blobs))

    def stamps(self, exec_path: str) -> tuple[Stamp, Stamp, str, bool] | None:
        """(output stamp, blob stamp, digest, executable) of the file kiln last put at `exec_path`;
        None if there is no such entry or it is a directory's."""
        entry = self._table.get(exec_path)
        if entry is None or entry[0] == "tree":
            return None
        output, blob, digest_hash, executable = entry
        return tuple(output), tuple(blob), digest_hash, executable

    def forget(self, exec_path: str) -> None:
        self._table.remove(exec_path)

    def save(self) -> None:
        self._table.save()
