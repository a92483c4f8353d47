"""Puts store blobs at their output paths (kiln-out/...) as copies, and keeps them there.

An output is a copy (a reflink where the file system can share blocks), never
a hard link: whatever a user or a test does to it cannot reach the store. The
copy is checked against the blob's digest as it is made (one read serves both),
and a blob whose content is not its digest is discarded, never served.

Whether an output is still what kiln put there is decided by stat against the
table of materialized outputs: a no-op build reads no file contents. The copy
is written to a temporary name and renamed over the output path, so an output
path always names a complete file.
"""

from __future__ import annotations

import errno
import hashlib
import itertools
import os
from pathlib import Path

from kiln.core.digests import Digest
from kiln.execution.cas import Cas
from kiln.execution.materialized_outputs import MaterializedOutputs, blob_stamp_of, stamp_of
from kiln.execution.output_base import writing

_CHUNK = 1 << 20
# linux/fs.h: _IOW(0x94, 9, int)
_FICLONE = 0x40049409
# Errors that mean "this file system cannot share blocks" (others may be about one file).
_NO_REFLINK = {errno.EOPNOTSUPP, errno.ENOTTY, errno.EXDEV, errno.EINVAL, errno.ENOSYS}


class MissingBlob(Exception):
    """The store no longer holds a blob an action-cache entry names: the entry is a miss."""

    def __init__(self, blob: str):
        super().__init__(f"{blob} is missing from the store")
        self.blob = blob


class CorruptBlob(MissingBlob):
    """A blob's content is not its digest; it has been removed from the store."""

    def __init__(self, blob: str):
        Exception.__init__(self, f"discarded {blob} from the store: its content does not match its digest")
        self.blob = blob


class Materializer:
    def __init__(self, execroot: Path, cas: Cas, tmp: Path, table: MaterializedOutputs):
        self.execroot = execroot
        self.cas = cas
        self.table = table
        # Strings, not Paths: a no-op build joins them once per output.
        self._execroot = str(execroot)
        self._tmp = str(tmp)
        self._tmp_names = itertools.count()
        # None until the first copy tells whether this file system supports FICLONE.
        self._reflink: bool | None = None

    def materialize(self, exec_path: str, digest: Digest, executable: bool) -> str:
        """Makes the output path hold the blob's content, copying only if it may not already.

        Returns the output's path. Raises MissingBlob (or CorruptBlob, having discarded the blob)
        if the store cannot provide the content.
        """
        blob = self.cas.path(digest, executable)
        target = f"{self._execroot}/{exec_path}"
        try:
            blob_st = os.stat(blob)
        except FileNotFoundError:
            raise MissingBlob(blob) from None
        if blob_st.st_size != digest.size:
            self.cas.discard(digest, executable, blob_st.st_ino)
            raise CorruptBlob(blob)
        try:
            out_stamp = stamp_of(os.stat(target))
        except FileNotFoundError:
            out_stamp = None
        if out_stamp is not None and self.table.is_current(exec_path, out_stamp, blob_stamp_of(blob_st), digest.hash,
                                                            executable):
            return target
        self._copy(blob, target, exec_path, digest, executable)
        return target

    def remove(self, exec_path: str) -> None:
        self.table.forget(exec_path)
        try:
            os.unlink(f"{self._execroot}/{exec_path}")
        except FileNotFoundError:
            pass

    def _copy(self, blob: str, target: str, exec_path: str, digest: Digest, executable: bool) -> None:
        try:
            src = os.open(blob, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise MissingBlob(blob) from None
        # Unique within this process; a leftover of a killed one with the same pid is simply overwritten.
        tmp = f"{self._tmp}/m{os.getpid()}-{next(self._tmp_names)}"
        try:
            with writing(tmp, target):
                # The blob's stamp before reading: a write during the copy makes it differ next time.
                blob_st = os.fstat(src)
                dst = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
                try:
                    actual = self._copy_and_hash(src, dst, digest.size)
                    os.fchmod(dst, 0o555 if executable else 0o444)
                finally:
                    os.close(dst)
                if actual != digest.hash:
                    self.cas.discard(digest, executable, blob_st.st_ino)
                    raise CorruptBlob(blob)
                try:
                    os.replace(tmp, target)
                except FileNotFoundError:
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    os.replace(tmp, target)
        finally:
            os.close(src)
        self.table.record(exec_path, stamp_of(os.stat(target)), blob_stamp_of(blob_st), digest.hash, executable)

    def _copy_and_hash(self, src: int, dst: int, size: int) -> str:
        """Copies src into dst and returns the sha256 of what dst now holds, reading it once."""
        h = hashlib.sha256()
        # Reads no larger than the file (plus one byte to see its end): a 1 MiB buffer for a
        # small file costs more than the copy.
        chunk_size = min(_CHUNK, size + 1)
        if self._reflink is not False:
            import fcntl

            try:
                fcntl.ioctl(dst, _FICLONE, src)
            except OSError as e:
                # A failed clone leaves dst empty: copy instead, and stop trying where it never works.
                if e.errno in _NO_REFLINK:
                    self._reflink = False
            else:
                self._reflink = True
                # Hash the clone itself: it is what will be served.
                while chunk := os.read(dst, chunk_size):
                    h.update(chunk)
                return h.hexdigest()
        while chunk := os.read(src, chunk_size):
            h.update(chunk)
            view = memoryview(chunk)
            while view:
                view = view[os.write(dst, view):]
        return h.hexdigest()
