"""Extraction of downloaded archives into a repository's directory.

Types: zip (and jar, war, aar), tar, tar.gz / tgz, tar.xz / txz, tar.bz2 / tbz,
tar.zst / tzst (zstd from the `zstandard` package, imported only for it).
`strip_prefix` removes a leading directory from every entry (entries outside
it are skipped); `add_prefix` puts what remains under a subdirectory. Files
keep the archive's modification times, as `tar` and Bazel keep them: bytecode
shipped beside its sources (a python-build-standalone runtime's `__pycache__`)
is valid only while the source's mtime is the one it records, and otherwise
every interpreter start compiles the modules it imports again.

Nothing is written outside the destination. An entry whose path leaves it is
refused, and so is a link whose target does: symlinks are made last, once
every file and directory exists (so no entry is written through a link), and
each one is then resolved on disk, so that a chain of links that each looked
harmless cannot point out either. A compressed stream that ends early is an
error, not a silently shorter tree.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import shutil
import stat
import tarfile
import time
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

from kiln.core.errors import KilnError

_CHUNK = 1 << 20
# Archive type (as `type =` names it and as file names end) -> how to read it.
_TYPES = {
    "zip": "zip", "jar": "zip", "war": "zip", "aar": "zip",
    "tar": "tar", "tar.gz": "gz", "tgz": "gz", "tar.xz": "xz", "txz": "xz",
    "tar.bz2": "bz2", "tbz": "bz2", "tar.zst": "zst", "tzst": "zst",
}
_TOP_LEVEL_SHOWN = 20


class ArchiveError(KilnError):
    """An archive that cannot be extracted as asked: corrupt, unsafe, or not matching strip_prefix."""


def archive_type(file_name: str) -> str | None:
    """The archive type a file name ends with (the longest that matches), or None."""
    lower = file_name.lower()
    matches = [t for t in _TYPES if lower.endswith("." + t)]
    return max(matches, key=len) if matches else None


def extract(archive: Path, dest: Path, *, strip_prefix: str = "", add_prefix: str = "",
            type: str | None = None) -> None:
    """Extracts `archive` into `dest`, which the caller gives fresh: on an error it may hold part
    of the archive, never anything outside it."""
    kind = _TYPES.get(type or archive_type(archive.name) or "")
    if kind is None:
        given = f"type '{type}'" if type else f"the file name {archive.name}"
        raise ArchiveError(f"cannot extract {archive.name}: {given} is not an archive type kiln knows "
                           f"(one of {', '.join(_TYPES)})")
    prefix = tuple(p for p in strip_prefix.split("/") if p and p != ".")
    added = _relative_parts(add_prefix)
    if added is None:
        raise ArchiveError(f"add_prefix '{add_prefix}' must be a path inside the repository")
    dest.mkdir(parents=True, exist_ok=True)
    writer = _Writer(archive.name, dest, os.path.realpath(dest), prefix, added)
    try:
        entries = _zip_entries(archive) if kind == "zip" else _tar_entries(archive, kind)
        for entry in entries:
            writer.add(entry)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, _Unreadable) as e:
        raise ArchiveError(f"{archive.name} is truncated or corrupt ({e})") from None
    writer.finish()


@dataclass(frozen=True)
class _Entry:
    name: str  # as the archive spells it
    kind: str  # "file" | "dir" | "symlink" | "hardlink" | a description of anything else
    executable: bool = False
    link: str = ""  # a symlink's target, or the archive path a hard link names
    open: Callable[[], BinaryIO] | None = None
    size: int = 0
    mtime: float | None = None  # a file's modification time, seconds since the epoch


def _tar_entries(archive: Path, kind: str) -> Iterator[_Entry]:
    with open(archive, "rb") as raw:
        stream = _decompressed(raw, kind)
        # Stream mode reads the archive once, front to back.
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            for member in tar:
                if member.isreg():
                    yield _Entry(member.name, "file", bool(member.mode & 0o111),
                                 open=lambda m=member: tar.extractfile(m), size=member.size, mtime=member.mtime)
                elif member.isdir():
                    yield _Entry(member.name, "dir")
                elif member.issym():
                    yield _Entry(member.name, "symlink", link=member.linkname)
                elif member.islnk():
                    yield _Entry(member.name, "hardlink", link=member.linkname)
                else:
                    yield _Entry(member.name, "a device or fifo")
        # Reading to the end makes a compressed stream that stops early raise, even when
        # it stops after the last entry.
        while stream.read(_CHUNK):
            pass


def _decompressed(raw: BinaryIO, kind: str) -> "_ReadChecked":
    if kind == "gz":
        return _ReadChecked(gzip.GzipFile(fileobj=raw, mode="rb"))
    if kind == "xz":
        return _ReadChecked(lzma.LZMAFile(raw))
    if kind == "bz2":
        return _ReadChecked(bz2.BZ2File(raw))
    if kind == "zst":
        import zstandard
        return _ReadChecked(zstandard.ZstdDecompressor().stream_reader(raw))
    return _ReadChecked(raw)


class _Unreadable(Exception):
    """Reading the archive's stream failed: bad compressed data, or a stream that ends early."""


class _ReadChecked:
    """A stream whose read errors, whatever the decompressor raises (OSError, EOFError,
    LZMAError, ZstdError), are _Unreadable: told apart from errors writing the tree."""

    def __init__(self, stream: BinaryIO):
        self.stream = stream

    def read(self, size: int = -1) -> bytes:
        try:
            return self.stream.read(size)
        except Exception as e:
            raise _Unreadable(str(e) or e.__class__.__name__) from None


def _zip_entries(archive: Path) -> Iterator[_Entry]:
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                yield _Entry(info.filename, "symlink", link=zf.read(info).decode())
            elif info.is_dir():
                yield _Entry(info.filename, "dir")
            else:
                # Zip records local time, as `unzip` reads it.
                yield _Entry(info.filename, "file", bool(mode & 0o111), open=lambda i=info: zf.open(i),
                             size=info.file_size, mtime=time.mktime((*info.date_time, 0, 0, -1)))


def _relative_parts(path: str) -> tuple[str, ...] | None:
    """A relative path's parts with `.` and `..` resolved; None if absolute or above its start."""
    if path.startswith("/"):
        return None
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None
            parts.pop()
        else:
            parts.append(part)
    return tuple(parts)


@dataclass
class _Writer:
    archive: str
    dest: Path
    real_dest: str
    strip: tuple[str, ...]
    added: tuple[str, ...]
    top_level: set[str] = field(default_factory=set)
    prefix_found: bool = False
    files: set[tuple[str, ...]] = field(default_factory=set)
    # Made last, in archive order; a later entry of the same path replaces one.
    symlinks: dict[tuple[str, ...], tuple[str, str]] = field(default_factory=dict)
    checked_dirs: set[tuple[str, ...]] = field(default_factory=set)

    def add(self, entry: _Entry) -> None:
        parts = self._place(entry.name)
        if parts is None:
            return
        self.symlinks.pop(parts, None)
        if entry.kind == "dir":
            self._make_dirs(parts)
        elif entry.kind == "file":
            self._write_file(entry, parts)
        elif entry.kind == "symlink":
            self._check_link_target(entry, parts)
            self.symlinks[parts] = (entry.name, entry.link)
        elif entry.kind == "hardlink":
            self._copy_hardlink(entry, parts)
        else:
            raise ArchiveError(f"{self.archive}: entry '{entry.name}' is {entry.kind}; "
                               "kiln extracts files, directories and links only")

    def _place(self, name: str) -> tuple[str, ...] | None:
        """Where an archive path goes, as parts under dest; None when strip_prefix skips it."""
        parts = _relative_parts(name)
        if parts is None:
            raise ArchiveError(f"{self.archive}: entry '{name}' would be written outside the "
                               "directory it is extracted to (refused)")
        if parts:
            self.top_level.add(parts[0])
        if parts[:len(self.strip)] != self.strip:
            return None
        self.prefix_found = True
        rest = parts[len(self.strip):]
        return self.added + rest if rest else None

    def _path(self, parts: tuple[str, ...]) -> Path:
        return self.dest.joinpath(*parts)

    def _make_dirs(self, parts: tuple[str, ...]) -> None:
        if parts in self.checked_dirs:
            return
        path = self._path(parts)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise ArchiveError(f"{self.archive}: '{'/'.join(parts)}' is both a file and a directory "
                               "in the archive") from None
        # Only a directory that was there before extraction can be a link here (links are
        # made last); the caller's fresh dest has none, but a wrong one must not be followed.
        if not _inside(os.path.realpath(path), self.real_dest):
            raise ArchiveError(f"{self.archive}: {path} leads outside the directory it is extracted to")
        for i in range(len(parts) + 1):
            self.checked_dirs.add(parts[:i])

    def _write_file(self, entry: _Entry, parts: tuple[str, ...]) -> None:
        self._make_dirs(parts[:-1])
        path = self._path(parts)
        self._replaceable(entry.name, path)
        assert entry.open is not None
        written = 0
        with entry.open() as src, open(path, "xb") as dst:
            while chunk := src.read(_CHUNK):
                dst.write(chunk)
                written += len(chunk)
        if written != entry.size:
            raise ArchiveError(f"{self.archive} is truncated or corrupt (entry '{entry.name}' has "
                               f"{written} of {entry.size} bytes)")
        path.chmod(0o755 if entry.executable else 0o644)
        if entry.mtime is not None:
            os.utime(path, (entry.mtime, entry.mtime))
        self.files.add(parts)

    def _check_link_target(self, entry: _Entry, parts: tuple[str, ...]) -> None:
        target = entry.link
        if target.startswith("/") or _relative_parts("/".join([*parts[:-1], target])) is None:
            raise ArchiveError(f"{self.archive}: entry '{entry.name}' is a symlink to '{target}', "
                               "which points outside the directory it is extracted to (refused)")

    def _copy_hardlink(self, entry: _Entry, parts: tuple[str, ...]) -> None:
        relative = _relative_parts(entry.link)
        source = None
        if relative is not None and relative[:len(self.strip)] == self.strip:
            source = self.added + relative[len(self.strip):]
        if source is None or not source[len(self.added):]:
            raise ArchiveError(f"{self.archive}: entry '{entry.name}' is a hard link to '{entry.link}', "
                               "outside the directory it is extracted to (refused)")
        if source not in self.files:
            raise ArchiveError(f"{self.archive}: entry '{entry.name}' is a hard link to '{entry.link}', "
                               "which is not a file extracted before it")
        self._make_dirs(parts[:-1])
        path = self._path(parts)
        self._replaceable(entry.name, path)
        shutil.copy2(self._path(source), path)
        self.files.add(parts)

    def _replaceable(self, name: str, path: Path) -> None:
        """Removes a file an earlier entry of the same name wrote: the later one wins, as with tar."""
        if path.is_dir() and not path.is_symlink():
            raise ArchiveError(f"{self.archive}: entry '{name}' is not a directory, but the archive "
                               "also has entries under it (kiln does not write through links)")
        if path.is_symlink() or path.exists():
            path.unlink()

    def finish(self) -> None:
        if self.strip and not self.prefix_found:
            shown = sorted(self.top_level)
            listing = ", ".join(shown[:_TOP_LEVEL_SHOWN]) or "(the archive is empty)"
            more = f" and {len(shown) - _TOP_LEVEL_SHOWN} more" if len(shown) > _TOP_LEVEL_SHOWN else ""
            raise ArchiveError(f"strip_prefix '{'/'.join(self.strip)}' is not in {self.archive}; "
                               f"its top-level entries are: {listing}{more}")
        for parts, (name, target) in self.symlinks.items():
            self._make_dirs(parts[:-1])
            path = self._path(parts)
            self._replaceable(name, path)
            os.symlink(target, path)
        resolved = [(name, parts, os.path.realpath(self._path(parts)))
                    for parts, (name, _) in self.symlinks.items()]
        escaping = [(name, parts, real) for name, parts, real in resolved if not _inside(real, self.real_dest)]
        for _, parts, _ in escaping:
            self._path(parts).unlink()
        if escaping:
            name, _, real = escaping[0]
            raise ArchiveError(f"{self.archive}: entry '{name}' is a symlink that resolves to {real}, "
                               "outside the directory it is extracted to, through other links (refused)")


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")
