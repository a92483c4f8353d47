"""The repository cache: downloaded files shared by every workspace of a user, keyed by checksum.

On disk, under the cache root (`--repository_cache`; by default
$XDG_CACHE_HOME/kiln/repository_cache, else ~/.cache/kiln/repository_cache):

    content_addressable/<algorithm>/<hex>/file     the file whose digest is <hex>
    content_addressable/<algorithm>/<hex>/id-<h>   empty: the file was stored for the
                                                   canonical id whose sha256 is <h>
    tmp/<random>                                   files being written

How it survives a crash and concurrent kiln commands of different workspaces: a
file is written under tmp/ (the same file system as its entry), its digest
checked, then renamed over its entry, so a reader opens no file or a whole one,
and two commands storing the same file both rename identical bytes. A writer
holds an flock on its temp file for as long as it writes: a temp file that
nobody holds (its writer was killed) is removed by the next writer, never one
that is still being written. Every file copied out is checked against its
digest (we run as root: the cache is not protected by permissions), so an entry
damaged by a crash or by hand is a miss, and the next store replaces it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterator, Mapping

from kiln.fs.temp_files import remove_abandoned
from kiln.repos.checksums import Checksum

_CHUNK = 1 << 20
# A temp file younger than this is never removed: its writer may not hold its lock yet.


def user_cache_dir(environ: Mapping[str, str]) -> Path:
    """kiln's directory of things shared by every workspace of a user: $XDG_CACHE_HOME/kiln, else ~/.cache/kiln."""
    xdg = environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else Path(environ.get("HOME") or os.path.expanduser("~")) / ".cache"
    return base / "kiln"


def default_repository_cache_dir(environ: Mapping[str, str]) -> Path:
    return user_cache_dir(environ) / "repository_cache"


class TempFile:
    """A file being written beside its destination: removed on exit unless moved into place."""

    def __init__(self, file: BinaryIO, path: Path):
        self.file = file
        self.path = path
        self.moved = False

    def move_to(self, destination: Path) -> None:
        if not self.file.closed:
            self.file.flush()
        os.replace(self.path, destination)
        self.moved = True


@contextlib.contextmanager
def new_temp_file(directory: Path, prefix: str = "") -> Iterator[TempFile]:
    fd, name = tempfile.mkstemp(dir=directory, prefix=prefix)
    temp = TempFile(os.fdopen(fd, "w+b"), Path(name))
    try:
        yield temp
    finally:
        temp.file.close()
        if not temp.moved:
            temp.path.unlink(missing_ok=True)


class RepositoryCache:
    def __init__(self, root: Path):
        self.root = root

    def _entry(self, checksum: Checksum) -> Path:
        return self.root / "content_addressable" / checksum.algorithm / checksum.hex

    def get(self, checksum: Checksum, output: Path, *, canonical_id: str = "") -> bool:
        """Copies the file with this checksum to `output`; False (and no output) on a miss.

        With a canonical id, only a file stored for that same id is a hit: a rule
        whose URLs changed but whose checksum was not updated must download again.
        """
        entry = self._entry(checksum)
        if canonical_id and not (entry / _id_marker(canonical_id)).exists():
            return False
        try:
            src = open(entry / "file", "rb")
        except FileNotFoundError:
            return False
        with src:
            return copy_verified(src, output, checksum)

    def put(self, src: Path, checksum: Checksum, *, canonical_id: str = "") -> bool:
        """Stores a copy of `src`; False (nothing stored) when its digest is not `checksum`."""
        with open(src, "rb") as f, self.temp() as temp:
            if hash_copy(f, temp.file, checksum.new_hash()) != checksum.hex:
                return False
            self.commit(temp, checksum, canonical_id=canonical_id)
        return True

    @contextlib.contextmanager
    def temp(self) -> Iterator[TempFile]:
        """A new temp file in the cache, for a writer that checks its digest, then commits it."""
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        remove_abandoned(tmp_dir)
        with new_temp_file(tmp_dir) as temp:
            fcntl.flock(temp.file.fileno(), fcntl.LOCK_EX)
            yield temp

    def commit(self, temp: TempFile, checksum: Checksum, *, canonical_id: str = "") -> Path:
        """Moves a temp file whose digest the caller checked to its entry; returns the entry's file."""
        entry = self._entry(checksum)
        entry.mkdir(parents=True, exist_ok=True)
        temp.move_to(entry / "file")
        if canonical_id:
            (entry / _id_marker(canonical_id)).touch()
        return entry / "file"


def hash_copy(src: BinaryIO, dst: BinaryIO, h: "hashlib._Hash") -> str:
    """Copies src to dst and returns the hex digest of what was copied."""
    while chunk := src.read(_CHUNK):
        h.update(chunk)
        dst.write(chunk)
    return h.hexdigest()


def copy_verified(src: BinaryIO, output: Path, checksum: Checksum) -> bool:
    """Writes src to `output` only if its digest is `checksum` (beside it first, then renamed)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    with new_temp_file(output.parent, prefix=f".{output.name}.") as temp:
        if hash_copy(src, temp.file, checksum.new_hash()) != checksum.hex:
            return False
        temp.move_to(output)
    return True


def _id_marker(canonical_id: str) -> str:
    return "id-" + hashlib.sha256(canonical_id.encode()).hexdigest()
