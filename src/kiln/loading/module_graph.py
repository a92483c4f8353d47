"""The module dependency graph: the root module's bazel_deps followed to the modules on the local disk.

kiln has no registry: a bazel_dep names a rule set kiln provides itself
(wellknown), a module kiln needs nothing from (HARMLESS_MODULES), or a module
the root module places with `local_path_override`. Each local module's
MODULE.bazel is evaluated as a library module, breadth first as Bazel walks the
graph; its repository is named after the module, its files see the
repositories its own bazel_deps name, and its register_toolchains /
register_execution_platforms come after the root module's and WORKSPACE's, in
that order (Bazel: "the root module, then WORKSPACE, then other modules"). Its
usages of module extensions are kept for kiln.loading.module_extensions, and
the repositories it imports with use_repo are visible to its files.
"""

from __future__ import annotations

import os
from collections import deque

from kiln.core.errors import LoadingError
from kiln.loading import wellknown
from kiln.loading.extension_schema import Definitions
from kiln.loading.module_eval import HARMLESS_MODULES
from kiln.loading.module_file import evaluate_module
from kiln.loading.module_info import BazelDep, LocalModule, LocalPathOverride, ModuleInfo, Registration
from kiln.loading.repo_mapping import canonical_pattern


def resolve_local_modules(info: ModuleInfo, definitions: Definitions) -> None:
    """Adds to `info` the local modules its bazel_deps reach, their files, registrations and extension usages."""
    queue: deque[tuple[BazelDep, tuple[str, ...]]] = deque((dep, ()) for dep in info.deps)
    while queue:
        dep, chain = queue.popleft()
        override = info.overrides.get(dep.name)
        if _provided_by_kiln(dep.name):
            if override is not None and override.given_as:
                # An rc file's override of a rule set kiln has built in (a vendored copy): nothing to use.
                info.warnings.append(f"{override.given_as}: kiln provides the module '{dep.name}' itself; the "
                                     "override is not used")
            elif override is not None:
                raise LoadingError(f"{override.describe(with_path=False)}: kiln provides '{dep.name}' "
                                   "itself and cannot use another copy of it", location=override.location)
            continue
        if dep.name == info.name or dep.name in info.local_modules:
            continue
        if override is None:
            raise LoadingError(_unknown_module(dep, chain), location=dep.location)
        library = _read_library_module(override, chain, definitions)
        # Repositories it imports with use_repo keep their names: kiln's repository names are one namespace.
        imported = {local: decl.generated_name for local, decl in library.repos.items()}
        module = LocalModule(
            dep.name, library.version, override.directory.resolve(),
            {**imported, **library.bazel_deps, **{n: dep.name for n in library.main_repo_names}},
            library.files[0], tuple(library.extensions),
        )
        info.local_modules[dep.name] = module
        info.files.extend(library.files)
        for source, into in ((library.toolchains, info.toolchains),
                             (library.execution_platforms, info.execution_platforms)):
            into.extend(Registration(canonical_pattern(r.pattern, dep.name, module.repo_mapping), r.location)
                        for r in source)
        queue.extend((d, (*chain, dep.name)) for d in library.deps)
    # --override_module may name modules this workspace does not use (an rc file shared by several), as in Bazel.
    unused = sorted(n for n in set(info.overrides) - set(info.local_modules) if not info.overrides[n].given_as)
    if unused:
        override = info.overrides[unused[0]]
        raise LoadingError(f"{override.describe(with_path=False)}: no bazel_dep names "
                           f"the module '{override.module_name}', in the root module or the modules it depends on",
                           location=override.location)


def _provided_by_kiln(name: str) -> bool:
    return wellknown.canonical_repo(name) in wellknown.WELL_KNOWN_REPOS or name in HARMLESS_MODULES


def _read_library_module(override: LocalPathOverride, chain: tuple[str, ...],
                         definitions: Definitions) -> ModuleInfo:
    name, where = override.module_name, override.location
    call = override.describe()
    if not override.directory.is_dir():
        why = "is not a directory" if override.directory.exists() else "does not exist"
        raise LoadingError(f"{call}: the path '{override.directory}' {why}", location=where)
    module_file = override.directory / "MODULE.bazel"
    if not module_file.is_file():
        raise LoadingError(f"{call}: there is no MODULE.bazel in '{override.directory}'", location=where)
    display = os.path.normpath(os.path.join(override.path, "MODULE.bazel"))
    library = ModuleInfo()
    evaluate_module(module_file, library, definitions, root=False, display=display)
    if library.name != name:
        declared = f"declares the name '{library.name}'" if library.name else "declares no name (module(name = ...))"
        raise LoadingError(f"{call}: in module dependency chain {_chain(chain, name)}: {display} {declared}, "
                           f"not '{name}'", location=where)
    return library


def _unknown_module(dep: BazelDep, chain: tuple[str, ...]) -> str:
    known = ", ".join(sorted(wellknown.WELL_KNOWN_REPOS - {"kiln_toolchains", "local_config_platform"}))
    via = f" (module dependency chain {_chain(chain, dep.name)})" if chain else ""
    return (f"bazel_dep(name = \"{dep.name}\"): kiln cannot find the module '{dep.name}'{via}: kiln has no "
            f"module registry yet. Give its directory in the root MODULE.bazel with "
            f"local_path_override(module_name = \"{dep.name}\", path = \"...\"), or depend only on the rule sets "
            f"kiln provides itself: {known}")


def _chain(chain: tuple[str, ...], name: str) -> str:
    return " -> ".join(("<root>", *chain, name))
