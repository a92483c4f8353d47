"""The loader every command uses: kiln's rule sets, their repository definitions and the repository resolver."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable


def new_loader(workspace: Any, output_root: Path, opts: Any, *, report: Callable[[str, str], None]) -> Any:
    # Imported here: a command served from saved results never evaluates Starlark.
    from kiln.loading.extension_schema import LazyDefinitions
    from kiln.loading.loader import Loader
    from kiln.repos.resolver import Repositories
    from kiln.rules import default_registry

    repositories = Repositories(
        workspace.root, output_root / "external", overrides=dict(opts.override_repository),
        repository_cache=opts.repository_cache,
        distdirs=tuple(Path(d) for d in opts.distdir), report=report)
    return Loader(
        workspace, default_registry(), report=report, disallow_empty_glob=opts.incompatible_disallow_empty_glob,
        repositories=repositories, definitions=LazyDefinitions(_definitions), enable_bzlmod=opts.enable_bzlmod,
        module_overrides=dict(opts.override_module),
    )



def _definitions() -> Any:
    from kiln.repos.definitions import default_definitions

    return default_definitions()
