"""The interface loading asks for external repositories: a name in, a directory out.

The command layer wires in a resolver (kiln.repos) that knows what a
repository *is* — the machine's Python, a crate index, an archive; loading
only needs where its files are and which files, when changed, invalidate it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from kiln.loading.module_info import ModuleInfo


@dataclass(frozen=True)
class ResolvedRepository:
    directory: Path
    # Files read to produce it (Cargo.toml, a rustc binary): a change to one means resolving again.
    files: tuple[str, ...] = ()


# (apparent repository name, the workspace's module info) -> the repository, or None if it defines none.
RepositoryResolver = Callable[[str, ModuleInfo], "ResolvedRepository | None"]
