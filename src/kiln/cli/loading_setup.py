"""The loader every command uses: kiln's rule sets, their repository definitions and the repository resolver."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable


def new_loader(workspace: Any, output_root: Path, *, disallow_empty_glob: bool, enable_bzlmod: bool,
               report: Callable[[str, str], None]) -> Any:
    # Imported here: a command served from saved results never evaluates Starlark.
    from kiln.loading.loader import Loader
    from kiln.repos.definitions import default_definitions
    from kiln.repos.resolver import Repositories
    from kiln.rules import default_registry

    return Loader(
        workspace, default_registry(), report=report, disallow_empty_glob=disallow_empty_glob,
        repositories=Repositories(workspace.root, output_root / "external"),
        definitions=default_definitions(), enable_bzlmod=enable_bzlmod,
    )
