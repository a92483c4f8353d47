"""Finding the workspace root and the BUILD file of a package directory."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from kiln.core.errors import CommandLineError

WORKSPACE_MARKERS = ("MODULE.bazel", "REPO.bazel", "WORKSPACE", "WORKSPACE.bazel")
BUILD_FILE_NAMES = ("BUILD.bazel", "BUILD")


@dataclass(frozen=True)
class Workspace:
    root: Path

    def offset_of(self, cwd: Path) -> str:
        """The working directory relative to the root ('' at the root)."""
        try:
            rel = cwd.resolve().relative_to(self.root)
        except ValueError:
            return ""
        return "" if str(rel) == "." else rel.as_posix()

    def build_file(self, package: str) -> str | None:
        """Workspace-relative path of the package's BUILD file, or None if not a package."""
        return find_build_file(self.root, package)


def find_build_file(root: Path, package: str) -> str | None:
    base = os.path.join(root, package) if package else str(root)
    for name in BUILD_FILE_NAMES:
        if os.path.isfile(os.path.join(base, name)):
            return f"{package}/{name}" if package else name
    return None


def find_workspace(start: Path) -> Workspace:
    here = start.resolve()
    for d in (here, *here.parents):
        for marker in WORKSPACE_MARKERS:
            if (d / marker).is_file():
                return Workspace(d)
    raise CommandLineError(
        f"'{start}' is not inside a workspace: no MODULE.bazel, REPO.bazel, WORKSPACE or "
        "WORKSPACE.bazel file was found in it or any parent directory"
    )
