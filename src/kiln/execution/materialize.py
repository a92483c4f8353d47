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
import os
from pathlib import Path

from kiln.core.digests import Digest
from kiln.execution.cas import Cas
from kiln.execution.materialized_outputs import MaterializedOutputs, stamp_of
from kiln.execution.output_base import writing

_CHUNK = 1 << 20
# linux/fs.h: _IOW(0x94, 9, int)
_FICLONE = 0x40049409
# Errors that mean "this file system cannot share blocks" (others may be about one file).
_NO_REFLINK = {errno.EOPNOTSUPP, errno.ENOTTY, errno.EXDEV, errno.EINVAL, errno.ENOSYS}


class MissingBlob(Exception):
    """The store no longer holds a blob an action-cache entry names: the entry is a miss."""

    def __init__(self, blob: Path):
        super().__init__(f"{blob} is missing from the store")
        self.blob = blob


class CorruptBlob(MissingBlob):
    """A blob's content is not its digest; it has been removed from the store."""

    def __init__(self, blob: Path):
        Exception.__init__(self, f"discarded {blob} from the store: its content does not match its digest")
        self.blob = blob


class Materializer:
    def __init__(self, execroot: Path, cas: Cas, tmp: Path, table: MaterializedOutputs):
        self.execroot = execroot
        self.cas = cas
        self.tmp = tmp
        self.table = table
        # None until the first copy tells whether this file system supports FICLONE.
        self._reflink: bool | None = None

    def materialize(self, exec_path: str, digest: Digest, executable: bool) -> Path:
        """Makes the output path hold the blob's content, copying only if it may not already.

        Raises MissingBlob (or CorruptBlob, having discarded the blob) if the store cannot provide it.
        """
        blob = self.cas.path(digest, executable)
        target = self.execroot / exec_path
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
        if out_stamp is not None and self.table.is_current(exec_path, out_stamp, stamp_of(blob_st), digest.hash,
                                                            executable):
            return target
        self._copy(blob, target, exec_path, digest, executable)
        return target

    def remove(self, exec_path: str) -> None:
        self.table.forget(exec_path)
        try:
            os.unlink(self.execroot / exec_path)
        except FileNotFoundError:
            pass

    def _copy(self, blob: Path, target: Path, exec_path: str, digest: Digest, executable: bool) -> None:
        try:
            src = open(blob, "rb")
        except FileNotFoundError:
            raise MissingBlob(blob) from None
        tmp = self.tmp / f"m{os.getpid()}-{os.urandom(6).hex()}"
        with writing(tmp, target):
            with src:
                # The blob's stamp before reading: a write during the copy makes it differ next time.
                blob_st = os.fstat(src.fileno())
                with open(tmp, "w+b") as dst:
                    actual = self._copy_and_hash(src, dst)
            if actual != digest.hash:
                self.cas.discard(digest, executable, blob_st.st_ino)
                raise CorruptBlob(blob)
            os.chmod(tmp, 0o555 if executable else 0o444)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, target)
        self.table.record(exec_path, stamp_of(os.stat(target)), stamp_of(blob_st), digest.hash, executable)

    def _copy_and_hash(self, src, dst) -> str:
        """Copies src into dst and returns the sha256 of what dst now holds, reading it once."""
        h = hashlib.sha256()
        if self._reflink is not False:
            import fcntl

            try:
                fcntl.ioctl(dst.fileno(), _FICLONE, src.fileno())
            except OSError as e:
                # A failed clone leaves dst empty: copy instead, and stop trying where it never works.
                if e.errno in _NO_REFLINK:
                    self._reflink = False
            else:
                self._reflink = True
                # Hash the clone itself: it is what will be served.
                dst.seek(0)
                while chunk := dst.read(_CHUNK):
                    h.update(chunk)
                return h.hexdigest()
        while chunk := src.read(_CHUNK):
            h.update(chunk)
            dst.write(chunk)
        return h.hexdigest()
