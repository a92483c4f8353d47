"""Module extensions that see every module's usages (ModuleExtension.declare), run once all modules are read.

Such an extension (rules_python's `python`) is given each using module's usages, the root module's first and
then the local modules' in Bazel's BFS order, and returns the repositories it declares and the toolchains
it registers. Each repository is declared under its own name (kiln's repository names are one namespace);
a name use_repo imported, under another apparent name too. use_repo may import only what it declares.
Its toolchains are registered after every module's own, as those of the rule set's own module are.
"""

from __future__ import annotations

from pathlib import Path

from kiln.core.errors import LoadingError
from kiln.loading.extension_schema import Definitions, ModuleExtension, ModuleUsages
from kiln.loading.module_info import ExtensionUsage, ModuleInfo, Registration, RepoDecl, Tag


def run_declaring_extensions(info: ModuleInfo, definitions: Definitions, root: Path) -> None:
    """Declares in `info` the repositories and toolchains of the declaring extensions its modules use; `root` is
    the root module's directory."""
    ran: list[ModuleExtension] = []
    everyone = [(info.name, True, info.extensions, root)] + [
        (name, False, list(local.extensions), local.directory) for name, local in info.local_modules.items()]
    for _, _, usages, _ in everyone:
        for usage in usages:
            spec = definitions.extension(usage.repo, usage.path, usage.name)
            if spec is None or spec.declare is None or spec in ran:
                continue
            ran.append(spec)
            modules = [ModuleUsages(name, is_root, tuple(u for u in used if _is(u, spec)), directory)
                       for name, is_root, used, directory in everyone]
            _declare(info, spec, [m for m in modules if m.usages])


def _is(usage: ExtensionUsage, spec: ModuleExtension) -> bool:
    return usage.repo == spec.repo and usage.path in spec.paths and usage.name == spec.name


def _declare(info: ModuleInfo, spec: ModuleExtension, modules: list[ModuleUsages]) -> None:
    assert spec.declare is not None
    result = spec.declare(modules)
    first = modules[0].usages[0]
    declared: dict[str, RepoDecl] = {}
    for repo in result.repos:
        tag = Tag(repo.kind, {"name": repo.name, **repo.attrs}, first.line, first.column, first.file)
        usage = ExtensionUsage(bzl_label=first.bzl_label, name=repo.kind, repo=first.repo, path=first.path,
                               file=first.file, line=first.line, column=first.column, tags=[tag],
                               imports={repo.name: repo.name})
        declared[repo.name] = RepoDecl(repo.name, repo.name, repo.kind, usage, first.location)
    imports = [(local, decl) for local, decl in info.repos.items() if decl.kind == spec.name
               and any(decl.usage is u for m in modules for u in m.usages)]
    imports += [(local, RepoDecl(local, generated, spec.name, usage, usage.location))
                for m in modules[1:] if not m.root for usage in m.usages for local, generated in usage.imports.items()]
    for local, decl in imports:
        made = declared.get(decl.generated_name)
        if made is None:
            raise LoadingError(
                f"module extension '{spec.name}' from {decl.usage.bzl_label} does not generate repository "
                f"'{decl.generated_name}', yet use_repo() imports it; it generates: {', '.join(sorted(declared))}",
                location=decl.location)
        if local in info.repos and info.repos[local] is decl:
            info.repos[local] = RepoDecl(local, made.generated_name, made.kind, made.usage, decl.location)
    for name, decl in declared.items():
        taken = info.repos.get(name)
        if taken is not None and (taken.kind, taken.generated_name) != (decl.kind, name):
            raise LoadingError(f"module extension '{spec.name}' declares the repository '{name}', a name "
                               f"already in use for another repository", location=taken.location)
        info.repos.setdefault(name, decl)
    info.toolchains.extend(Registration(pattern, first.location) for pattern in result.toolchains)
    info.warnings.extend(result.warnings)
    info.files.extend(result.files)
    info.env.extend(result.env)
