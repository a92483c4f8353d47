"""The disk cache (`--disk_cache=PATH`): action results and blobs shared by every workspace of a user.

On disk, in Bazel's layout, so that the same directory can be inspected (or shared) the same way:

    cas/<first 2 hex>/<sha256>          a blob: an output file, a stdout or stderr, a Tree
    ac/<first 2 hex>/<action digest>    a serialised REAPI ActionResult
    tmp/<pid>-<random>                  files being written

Concurrent kiln commands of different workspaces and kill -9: every file is written
under tmp/ (the same file system), checked against its digest, then renamed over
its entry, so a reader opens no file or a whole one, and two writers of one entry
both rename complete files. A writer holds an flock on its temp file while it
writes: a temp file older than a minute that nobody holds (its writer was killed)
is removed by the next `open` or `collect`, never one still being written.

Nothing is trusted on read (we run as root: permissions protect nothing): an
action result is a hit only if every blob it names is present and its bytes
match its digest; otherwise the entry is removed and the action re-runs. Every
hit refreshes the mtime of what it used, which is what `collect` evicts by
(least recently used first), as Bazel's `--experimental_disk_cache_gc_max_size`
and `--experimental_disk_cache_gc_max_age` do.

protobuf is imported only when an action result is read or written, so that
merely opening the cache costs kiln's no-op path nothing.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from kiln.core.digests import Digest, digest_bytes
from kiln.core.errors import CommandLineError
from kiln.execution.action_cache import OutputFile
from kiln.fs.temp_files import remove_abandoned

if TYPE_CHECKING:
    from kiln.execution.reapi import remote_execution_pb2 as re_pb2

_CHUNK = 1 << 20
# A temp file younger than this is never removed: its writer may not hold its lock yet.
_HASH = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Collected:
    """What one garbage collection did."""

    removed_files: int
    removed_bytes: int
    remaining_bytes: int


class DiskCache:
    def __init__(self, root: Path):
        self.root = root
        self._tmp = root / "tmp"

    @classmethod
    def open(cls, path: Path, warn: Callable[[str], None]) -> DiskCache | None:
        """The cache at `path`, created if needed; None after one warning when it cannot be used
        (a file in the way, a read-only file system...): the build goes on without it."""
        cache = cls(path)
        try:
            for d in (path / "cas", path / "ac", cache._tmp):
                d.mkdir(parents=True, exist_ok=True)
            with cache._temp() as (probe, _):
                probe.write(b"")
            remove_abandoned(cache._tmp)
        except OSError as e:
            # mkdir says "File exists" for a file standing where a directory must be: say what is wrong.
            reason = os.strerror(errno.ENOTDIR) if isinstance(e, FileExistsError) else e.strerror
            warn(f"--disk_cache={path} cannot be used ({e.filename}: {reason}); building without the disk cache")
            return None
        return cache

    # -- blobs

    def has_blob(self, digest: Digest) -> bool:
        """Whether a blob of this digest's size is stored (its bytes are checked when read)."""
        path = self._blob_path(digest)
        try:
            if os.stat(path).st_size != digest.size:
                return False
        except FileNotFoundError:
            return False
        _touch(path)
        return True

    def get_blob(self, digest: Digest, dest: Path) -> bool:
        """Copies the blob to `dest` (written beside it, then renamed); False, no `dest` and the
        blob discarded when its bytes do not match its digest; False when it is missing."""
        path = self._blob_path(digest)
        try:
            src = open(path, "rb")
        except FileNotFoundError:
            return False
        with src:
            dest.parent.mkdir(parents=True, exist_ok=True)
            with _locked_temp(dest.parent, f".{dest.name}.") as (out, tmp):
                if _hash_copy(src, out) != digest:
                    _discard(path, os.fstat(src.fileno()).st_ino)
                    return False
                out.flush()
                os.replace(tmp, dest)
        _touch(path)
        return True

    def get_blob_bytes(self, digest: Digest) -> bytes | None:
        """The blob's bytes, or None when it is missing or damaged (then it is discarded)."""
        path = self._blob_path(digest)
        try:
            with open(path, "rb") as f:
                data = f.read()
                inode = os.fstat(f.fileno()).st_ino
        except FileNotFoundError:
            return None
        if digest_bytes(data) != digest:
            _discard(path, inode)
            return None
        _touch(path)
        return data

    def put_blob_file(self, path: str | Path, digest: Digest) -> bool:
        """Stores a copy of the file; False (nothing stored) when its bytes are not `digest`."""
        if self.has_blob(digest):
            return True
        with open(path, "rb") as src, self._temp() as (out, tmp):
            if _hash_copy(src, out) != digest:
                return False
            _install(out, tmp, self._blob_path(digest))
        return True

    def put_blob_bytes(self, data: bytes) -> Digest:
        digest = digest_bytes(data)
        if not self.has_blob(digest):
            with self._temp() as (out, tmp):
                out.write(data)
                _install(out, tmp, self._blob_path(digest))
        return digest

    # -- action results

    def get_action_result(self, action_digest: Digest, *, verify_blobs: bool = True) -> re_pb2.ActionResult | None:
        """The stored result of the action, if it and every blob it names are intact; a damaged or
        incomplete entry is removed, so that the action runs again and stores a fresh one.

        With verify_blobs=False the blobs are only checked to be there at their size: for a caller
        that checks each one's bytes as it copies it out (get_blob), so none is read twice."""
        from google.protobuf.message import DecodeError

        from kiln.execution.reapi import remote_execution_pb2 as re_pb2

        entry = self._ac_path(action_digest)
        try:
            with open(entry, "rb") as f:
                data = f.read()
                inode = os.fstat(f.fileno()).st_ino
        except FileNotFoundError:
            return None
        try:
            result = re_pb2.ActionResult.FromString(data)
            blobs = self._blobs_named_by(result)
        except (DecodeError, ValueError):
            blobs = None
        present = self._intact if verify_blobs else self.has_blob
        if blobs is None or not all(present(d) for d in blobs):
            _discard(entry, inode)
            return None
        _touch(entry)
        return result

    def put_action_result(self, action_digest: Digest, result: re_pb2.ActionResult) -> None:
        """Stores the result; the blobs it names must be stored first (a reader checks them)."""
        with self._temp() as (out, tmp):
            out.write(result.SerializeToString(deterministic=True))
            _install(out, tmp, self._ac_path(action_digest))

    def _blobs_named_by(self, result: re_pb2.ActionResult) -> list[Digest] | None:
        """Every blob the result needs, including the files inside its output directories' trees;
        None when a tree is missing or damaged. Raises ValueError for a malformed digest."""
        from kiln.execution.reapi import remote_execution_pb2 as re_pb2

        blobs = [_digest(f.digest) for f in result.output_files]
        blobs += [_digest(d) for d in (result.stdout_digest, result.stderr_digest) if d.hash]
        for directory in result.output_directories:
            tree_digest = _digest(directory.tree_digest)
            data = self.get_blob_bytes(tree_digest)
            if data is None:
                return None
            tree = re_pb2.Tree.FromString(data)
            for d in (tree.root, *tree.children):
                blobs += [_digest(f.digest) for f in d.files]
        return blobs

    def _intact(self, digest: Digest) -> bool:
        path = self._blob_path(digest)
        h = hashlib.sha256()
        size = 0
        try:
            with open(path, "rb") as f:
                while chunk := f.read(_CHUNK):
                    h.update(chunk)
                    size += len(chunk)
                inode = os.fstat(f.fileno()).st_ino
        except FileNotFoundError:
            return False
        if Digest(h.hexdigest(), size) != digest:
            _discard(path, inode)
            return False
        _touch(path)
        return True

    # -- garbage collection

    def collect(self, max_size_bytes: int | None = None, max_age_seconds: float | None = None) -> Collected:
        """Removes entries older than max_age_seconds, then the least recently used ones until the
        cache holds at most max_size_bytes; and temp files abandoned by killed writers.

        A blob removed from under an action result makes that result a miss, never a wrong hit.
        """
        remove_abandoned(self._tmp)
        files = sorted(self._entries())
        total = sum(size for _, size, _ in files)
        removed = removed_bytes = 0
        oldest_kept = time.time() - max_age_seconds if max_age_seconds else None
        for mtime, size, path in files:
            too_old = oldest_kept is not None and mtime < oldest_kept
            too_big = max_size_bytes is not None and total > max_size_bytes
            if not (too_old or too_big):
                continue
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
                removed += 1
                removed_bytes += size
            total -= size
        return Collected(removed, removed_bytes, total)

    def _entries(self) -> Iterator[tuple[float, int, str]]:
        for kind in ("cas", "ac"):
            for shard in _scandir(self.root / kind):
                for entry in _scandir(shard.path):
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except FileNotFoundError:
                        continue
                    yield st.st_mtime, st.st_size, entry.path

    # -- paths and writing

    def _blob_path(self, digest: Digest) -> str:
        return f"{self.root}/cas/{_checked_hash(digest.hash)[:2]}/{digest.hash}"

    def _ac_path(self, action_digest: Digest) -> str:
        return f"{self.root}/ac/{_checked_hash(action_digest.hash)[:2]}/{action_digest.hash}"

    def _temp(self) -> contextlib.AbstractContextManager[tuple[BinaryIO, str]]:
        return _locked_temp(self._tmp, f"{os.getpid()}-")


def action_result(outputs: Iterable[OutputFile], exit_code: int, stdout: Digest | None,
                  stderr: Digest | None, directories: Iterable[tuple[str, Digest]] = ()) -> re_pb2.ActionResult:
    """The REAPI ActionResult of an action whose outputs and stdout/stderr blobs are stored;
    `directories` are its output directories as (path, digest of their stored Tree blob)."""
    from kiln.execution.reapi import remote_execution_pb2 as re_pb2

    result = re_pb2.ActionResult(exit_code=exit_code)
    for o in sorted(outputs, key=lambda o: o.path):
        result.output_files.add(path=o.path, digest=_proto(o.digest), is_executable=o.executable)
    for path, tree in sorted(directories):
        result.output_directories.add(path=path, tree_digest=_proto(tree))
    if stdout is not None:
        result.stdout_digest.CopyFrom(_proto(stdout))
    if stderr is not None:
        result.stderr_digest.CopyFrom(_proto(stderr))
    return result


def output_files(result: re_pb2.ActionResult) -> list[OutputFile]:
    return [OutputFile(f.path, _digest(f.digest), f.is_executable) for f in result.output_files]


def output_directories(result: re_pb2.ActionResult) -> list[tuple[str, Digest]]:
    """(path, Tree blob digest) of each output directory."""
    return [(d.path, _digest(d.tree_digest)) for d in result.output_directories]


def stdout_stderr(result: re_pb2.ActionResult) -> tuple[Digest | None, Digest | None]:
    """The digests of the result's stdout and stderr blobs (None: the action wrote nothing there)."""
    return tuple(_digest(d) if d.hash else None for d in (result.stdout_digest, result.stderr_digest))


# -- flag values

_SIZE = re.compile(r"(\d+)([KMGT]?)")
_SIZE_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_DURATION = re.compile(r"(\d+)(d|h|m|s|ms)")
_DURATION_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_gc_max_size(value: str) -> int | None:
    """`--experimental_disk_cache_gc_max_size`: bytes, optionally with a K, M, G or T suffix
    (powers of 1024), as Bazel accepts: `10G`, `512M`, `1048576`. 0 means no limit (None)."""
    m = _SIZE.fullmatch(value.strip())
    if m is None:
        raise CommandLineError(
            f"--experimental_disk_cache_gc_max_size={value}: expected a size in bytes, optionally followed by "
            "K, M, G or T (e.g. 10G)")
    size = int(m.group(1)) * _SIZE_UNITS[m.group(2)]
    return size or None


def parse_gc_max_age(value: str) -> float | None:
    """`--experimental_disk_cache_gc_max_age`: a whole number followed by d, h, m, s or ms, as
    Bazel's durations are written: `7d`, `12h`, `90m`. 0 means no limit (None)."""
    text = value.strip()
    if text == "0":
        return None
    m = _DURATION.fullmatch(text)
    if m is None:
        raise CommandLineError(
            f"--experimental_disk_cache_gc_max_age={value}: expected a duration such as 7d, 12h, 30m, 45s or 500ms")
    return int(m.group(1)) * _DURATION_UNITS[m.group(2)] or None


# -- helpers


@contextlib.contextmanager
def _locked_temp(directory: Path, prefix: str) -> Iterator[tuple[BinaryIO, str]]:
    """A new file in `directory`, flocked while it is written; removed on exit unless renamed."""
    name = f"{directory}/{prefix}{os.urandom(6).hex()}"
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    with os.fdopen(fd, "wb") as out:
        try:
            yield out, name
        finally:
            with contextlib.suppress(FileNotFoundError):
                # After a rename the name is gone (or another writer's): only remove our own inode.
                if os.stat(name).st_ino == os.fstat(fd).st_ino:
                    os.unlink(name)


def _install(out: BinaryIO, tmp: str, dest: str) -> None:
    out.flush()
    try:
        os.replace(tmp, dest)
    except FileNotFoundError:
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        os.replace(tmp, dest)


def _hash_copy(src: BinaryIO, dst: BinaryIO) -> Digest:
    h = hashlib.sha256()
    size = 0
    while chunk := src.read(_CHUNK):
        h.update(chunk)
        dst.write(chunk)
        size += len(chunk)
    return Digest(h.hexdigest(), size)


def _discard(path: str, inode: int) -> None:
    """Removes a damaged file, unless another writer has meanwhile replaced it with a fresh one."""
    with contextlib.suppress(FileNotFoundError):
        if os.stat(path).st_ino == inode:
            os.unlink(path)


def _touch(path: str) -> None:
    # Another command's collect may have removed it since we read it: the copy we made stands.
    with contextlib.suppress(FileNotFoundError):
        os.utime(path)


def _scandir(path: str | Path) -> list[os.DirEntry[str]]:
    try:
        return list(os.scandir(path))
    except FileNotFoundError:
        return []


def _checked_hash(value: str) -> str:
    # A hand-edited entry could name "../../x": never build a path from an unchecked hash.
    if not _HASH.fullmatch(value):
        raise ValueError(f"not a sha256 digest: {value!r}")
    return value


def _digest(d: re_pb2.Digest) -> Digest:
    return Digest(_checked_hash(d.hash), d.size_bytes)


def _proto(digest: Digest) -> re_pb2.Digest:
    from kiln.execution.reapi import remote_execution_pb2 as re_pb2

    return re_pb2.Digest(hash=digest.hash, size_bytes=digest.size)
