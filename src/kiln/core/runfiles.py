"""Runfiles: the files a program finds at run time, by runfiles path.

`entries()` gives the tree as `{runfiles_path: artifact or None}` where None
is an empty file (the `__init__.py` files Python rules add), paths relative
to the runfiles directory (`_main/pkg/data.txt`).

A directory artifact (a tree artifact, or a source directory such as a Python
runtime's installation) is ONE entry: the tree links to it whole, and it
stands for everything under its path, so no entry is made inside it (an entry
there would be written into the directory itself). A runtime of thousands of
files thus costs a tree, a manifest and a sandbox one entry each, not one per
file (rules_python #1653).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kiln.core.artifacts import Artifact
from kiln.core.depset import EMPTY, Depset


@dataclass(frozen=True)
class Runfiles:
    files: Depset = field(default=EMPTY)
    # Extra entries by runfiles path (root_symlinks) and by main-repo-relative path (symlinks).
    root_symlinks: tuple[tuple[str, Artifact], ...] = ()
    symlinks: tuple[tuple[str, Artifact], ...] = ()
    empty_files: tuple[str, ...] = ()  # runfiles paths

    def merge(self, *others: "Runfiles") -> "Runfiles":
        parts = [self, *[o for o in others if o is not None]]
        parts = [p for p in parts if not p.is_empty()]
        if len(parts) <= 1:
            return parts[0] if parts else Runfiles()
        return Runfiles(
            Depset(transitive=[p.files for p in parts]),
            tuple(x for p in parts for x in p.root_symlinks),
            tuple(x for p in parts for x in p.symlinks),
            tuple(x for p in parts for x in p.empty_files),
        )

    def is_empty(self) -> bool:
        return not self.files and not self.root_symlinks and not self.symlinks and not self.empty_files

    def artifacts(self) -> list[Artifact]:
        out = list(self.files.to_list())
        out.extend(a for _, a in self.symlinks)
        out.extend(a for _, a in self.root_symlinks)
        return out

    def entries(self) -> dict[str, Artifact | None]:
        tree: dict[str, Artifact | None] = {}
        for a in self.files.to_list():
            tree[a.runfiles_path] = a
        for path, a in self.symlinks:
            tree[f"_main/{path}"] = a
        for path, a in self.root_symlinks:
            tree[path] = a
        for path in self.empty_files:
            tree.setdefault(path, None)
        directories = {path for path, a in tree.items() if a is not None and a.is_directory}
        if directories:
            tree = {path: a for path, a in tree.items() if not _inside(path, directories)}
        return tree


def _inside(path: str, directories: set[str]) -> bool:
    """Whether `path` lies strictly under one of `directories` (runfiles paths)."""
    cut = path.rfind("/")
    while cut > 0:
        path = path[:cut]
        if path in directories:
            return True
        cut = path.rfind("/")
    return False


def merge_all(runfiles: list[Runfiles]) -> Runfiles:
    if not runfiles:
        return Runfiles()
    return runfiles[0].merge(*runfiles[1:])
