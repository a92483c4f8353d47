"""Puts store blobs at their output paths (kiln-out/...) as copies, and keeps them there.

An output is a copy (a reflink where the file system can share blocks), never
a hard link: whatever a user or a test does to it cannot reach the store. The
copy is checked against the blob's digest as it is made (one read serves both),
and a blob whose content is not its digest is discarded, never served.

Whether an output is still what kiln put there is decided by stat against the
table of materialized outputs: a no-op build reads no file contents. The copy
is written to a temporary name and renamed over the output path, so an output
path always names a complete file. An output directory is built whole beside
and renamed over the old one (nothing of an earlier build's directory stays);
it is current while the stamps of the directory, of everything in it and of
its blobs are those recorded.
"""

from __future__ import annotations

import errno
import hashlib
import itertools
import os
import shutil
from pathlib import Path

from kiln.core.digests import Digest
from kiln.execution.action_cache import OutputDirectory, tree_identity
from kiln.execution.cas import Cas
from kiln.execution.materialized_outputs import MaterializedOutputs, Stamp, blob_stamp_of, stamp_of
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

    def materialize_tree(self, tree: OutputDirectory) -> str:
        """Makes the output directory hold exactly the tree's content, replacing it whole unless
        it is, by stat, still what kiln put there. Raises MissingBlob like materialize()."""
        target = f"{self._execroot}/{tree.path}"
        blob_stamps = []
        for f in tree.files:
            blob = self.cas.path(f.digest, f.executable)
            try:
                blob_st = os.stat(blob)
            except FileNotFoundError:
                raise MissingBlob(blob) from None
            if blob_st.st_size != f.digest.size:
                self.cas.discard(f.digest, f.executable, blob_st.st_ino)
                raise CorruptBlob(blob)
            blob_stamps.append(blob_stamp_of(blob_st))
        identity = tree_identity(tree)
        stamps = _tree_stamps(target, tree)
        if stamps is not None and self.table.tree_is_current(tree.path, identity, stamps, tuple(blob_stamps)):
            return target
        # Built beside the store's temporary files, then renamed into place: an output directory is
        # never seen half made, and nothing of an earlier build's directory survives in it.
        staging = f"{self._tmp}/t{os.getpid()}-{next(self._tmp_names)}"
        try:
            os.mkdir(staging)
            for rel in tree.empty_dirs:
                os.makedirs(f"{staging}/{rel}", exist_ok=True)
            for f in tree.files:
                path = f"{staging}/{f.path}"
                os.makedirs(os.path.dirname(path), exist_ok=True)
                self._copy_blob(self.cas.path(f.digest, f.executable), path, f.digest, f.executable)
            for rel, link_target in tree.symlinks:
                path = f"{staging}/{rel}"
                os.makedirs(os.path.dirname(path), exist_ok=True)
                os.symlink(link_target, path)
            self._replace_dir(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        # The stamps after the rename: renaming a directory changes its ctime.
        self.table.record_tree(tree.path, identity, _tree_stamps(target, tree), tuple(blob_stamps))
        return target

    def remove(self, exec_path: str) -> None:
        self.table.forget(exec_path)
        path = f"{self._execroot}/{exec_path}"
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except IsADirectoryError:
            shutil.rmtree(path)

    def _replace_dir(self, new: str, target: str) -> None:
        old = f"{self._tmp}/o{os.getpid()}-{next(self._tmp_names)}"
        try:
            os.rename(target, old)
        except FileNotFoundError:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            old = ""
        os.rename(new, target)
        if old:
            if os.path.isdir(old) and not os.path.islink(old):
                shutil.rmtree(old)
            else:
                os.unlink(old)

    def _copy(self, blob: str, target: str, exec_path: str, digest: Digest, executable: bool) -> None:
        # Unique within this process; a leftover of a killed one with the same pid is simply overwritten.
        tmp = f"{self._tmp}/m{os.getpid()}-{next(self._tmp_names)}"
        with writing(tmp, target):
            blob_st = self._copy_blob(blob, tmp, digest, executable)
            try:
                os.replace(tmp, target)
            except FileNotFoundError:
                os.makedirs(os.path.dirname(target), exist_ok=True)
                os.replace(tmp, target)
            except IsADirectoryError:
                # An output that was a directory in an earlier build.
                shutil.rmtree(target)
                os.replace(tmp, target)
        self.table.record(exec_path, stamp_of(os.stat(target)), blob_stamp_of(blob_st), digest.hash, executable)

    def _copy_blob(self, blob: str, dest: str, digest: Digest, executable: bool) -> os.stat_result:
        """Copies the blob to `dest` checking its content; returns the blob's stat from before the read."""
        try:
            src = os.open(blob, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise MissingBlob(blob) from None
        try:
            # The blob's stamp before reading: a write during the copy makes it differ next time.
            blob_st = os.fstat(src)
            dst = os.open(dest, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
            try:
                actual = self._copy_and_hash(src, dst, digest.size)
                os.fchmod(dst, 0o555 if executable else 0o444)
            finally:
                os.close(dst)
        finally:
            os.close(src)
        if actual != digest.hash:
            self.cas.discard(digest, executable, blob_st.st_ino)
            raise CorruptBlob(blob)
        return blob_st

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


def _tree_stamps(target: str, tree: OutputDirectory) -> tuple[Stamp, ...] | None:
    """The stamps of the directory, every directory and entry in it, in the tree's order; None if
    one is missing. A file added, removed or renamed changes its directory's stamp."""
    dirs = {""}
    for rel in (*(f.path for f in tree.files), *(s for s, _ in tree.symlinks), *tree.empty_dirs):
        parent = rel
        while parent:
            parent = parent.rpartition("/")[0]
            dirs.add(parent)
    dirs.update(tree.empty_dirs)
    paths = [target + (f"/{d}" if d else "") for d in sorted(dirs)]
    paths += [f"{target}/{f.path}" for f in tree.files]
    paths += [f"{target}/{rel}" for rel, _ in tree.symlinks]
    try:
        return tuple(stamp_of(os.lstat(p)) for p in paths)
    except (FileNotFoundError, NotADirectoryError):
        return None
