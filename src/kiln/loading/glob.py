"""glob(): matching files of one package, not crossing into subpackages.

Patterns use `*` (within a path segment), `?`, and `**` (any number of whole
segments). Results are sorted. The directories read are reported so that a
cached package can be invalidated when one of them changes.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache

from kiln.loading.workspace import BUILD_FILE_NAMES


class GlobError(ValueError):
    pass


def check_pattern(pattern: str) -> None:
    if pattern.startswith("/") or pattern.endswith("/"):
        raise GlobError(f"pattern '{pattern}' may not start or end with '/'")
    if "//" in pattern:
        raise GlobError(f"pattern '{pattern}' may not contain '//'")
    for seg in pattern.split("/"):
        if seg in (".", ".."):
            raise GlobError(f"pattern '{pattern}' may not contain '{seg}' segments")
        if "**" in seg and seg != "**":
            raise GlobError(f"recursive wildcard must be its own segment in '{pattern}'")


@lru_cache(maxsize=1024)
def segment_re(seg: str) -> re.Pattern[str]:
    out = []
    for c in seg:
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        else:
            out.append(re.escape(c))
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def _is_package(path: str) -> bool:
    return any(os.path.isfile(os.path.join(path, n)) for n in BUILD_FILE_NAMES)


class Globber:
    """Lists one package directory lazily, remembering which directories it read."""

    def __init__(self, package_dir: str):
        self.package_dir = package_dir
        self._listing: dict[str, tuple[list[str], list[str]]] = {}  # rel dir -> (files, subdirs)
        self.dirs_read: list[str] = []
        self.subdirs_checked: list[str] = []

    def _list(self, rel: str) -> tuple[list[str], list[str]]:
        if rel in self._listing:
            return self._listing[rel]
        path = os.path.join(self.package_dir, rel) if rel else self.package_dir
        files: list[str] = []
        dirs: list[str] = []
        try:
            with os.scandir(path) as it:
                for e in it:
                    if e.is_dir():
                        # Whether it is a package can change: its listing is an input too.
                        self.subdirs_checked.append(e.path)
                        # A directory holding a BUILD file is another package: never cross it.
                        if not _is_package(e.path):
                            dirs.append(e.name)
                    else:
                        files.append(e.name)
        except (FileNotFoundError, NotADirectoryError):
            pass
        self.dirs_read.append(rel)
        self._listing[rel] = (files, dirs)
        return files, dirs

    def match(self, pattern: str, *, include_dirs: bool) -> set[str]:
        check_pattern(pattern)
        segments = pattern.split("/")
        out: set[str] = set()
        self._walk("", segments, include_dirs, out)
        return out

    def _walk(self, rel: str, segments: list[str], include_dirs: bool, out: set[str]) -> None:
        seg, rest = segments[0], segments[1:]
        files, dirs = self._list(rel)
        prefix = f"{rel}/" if rel else ""
        if seg == "**":
            # Zero segments consumed...
            if rest:
                self._walk(rel, rest, include_dirs, out)
            else:
                out.update(prefix + f for f in files)
                if include_dirs and rel:
                    out.add(rel)
            # ...or one more directory, staying on `**`.
            for d in dirs:
                self._walk(prefix + d, segments, include_dirs, out)
            return
        rx = segment_re(seg)
        if rest:
            for d in dirs:
                if rx.match(d):
                    self._walk(prefix + d, rest, include_dirs, out)
            return
        out.update(prefix + f for f in files if rx.match(f))
        if include_dirs:
            out.update(prefix + d for d in dirs if rx.match(d))

    def glob(self, include: list[str], exclude: list[str], *, exclude_directories: bool) -> list[str]:
        result: set[str] = set()
        for p in include:
            result |= self.match(p, include_dirs=not exclude_directories)
        for p in exclude:
            check_pattern(p)
            segs = p.split("/")
            if "**" in segs or any(c in p for c in "*?"):
                result -= self.match(p, include_dirs=True)
            else:
                result.discard(p)
        return sorted(result)
