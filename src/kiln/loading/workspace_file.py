"""WORKSPACE / WORKSPACE.bazel: the workspace's name, well-known rule sets, repository rules and registrations.

Fetching a well-known rule set is a no-op (kiln has it built in). The
repository rules and helpers kiln.repos registered (RepositoryDefinitions'
.bzls: http_archive, local_repository, crates_repository, ...) are recorded
like a module extension's tags, with their attributes checked; kiln.repos
fetches them when a build needs them. Macros a rule set provides
(python_register_toolchains) declare repositories and register toolchains as
if the WORKSPACE had written those calls at the macro's line. A `load()` sees every symbol
kiln provides for WORKSPACE files, whichever .bzl it names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import starlark as sl

from kiln.core.errors import KilnError, LoadingError, Location
from kiln.loading import wellknown
from kiln.loading.call_sites import CallSites
from kiln.loading.extension_schema import Definitions, MacroResult, WorkspaceBzl, WorkspaceRule
from kiln.loading.module_eval import (GLOBALS, HARMLESS_MODULES, Recorder, check_registered_repos, registrar,
                                      unsupported)
from kiln.loading.module_info import ExtensionUsage, ModuleInfo, Registration, RepoDecl, Tag
from kiln.loading.source_files import read_source

# Setup macros of the well-known rule sets: nothing to do, kiln has them built in.
_SETUP_FUNCTIONS = (
    "py_repositories", "rules_python_dependencies", "bazel_skylib_workspace", "aspect_bazel_lib_dependencies",
    "pip_install_dependencies", "rules_pkg_dependencies",
)


def evaluate_workspace(path: Path, info: ModuleInfo, definitions: Definitions) -> None:
    info.files.append(str(path))
    rec = Recorder()
    display = path.name
    text = read_source(path, display)
    sites = CallSites(text)

    def workspace(name: str = "", **_: Any) -> None:
        info.name = info.name or name

    def noop(*args: Any, **kwargs: Any) -> None:
        return None

    def declare(bzl: WorkspaceBzl, kind: str, attrs: dict[str, Any], line: int, column: int,
                key_lines: dict[str, int]) -> None:
        name = attrs["name"]
        where = Location(display, line, column)
        if name in info.repos:
            raise LoadingError(f"{kind}(name = \"{name}\"): the repository name '{name}' is already in use",
                               location=where)
        tag = Tag(kind, {k: v for k, v in attrs.items() if v is not None}, line, column, display, key_lines)
        usage = ExtensionUsage(
            bzl_label=bzl.label, name=kind, repo=bzl.repo, path=bzl.path,
            file=display, line=line, column=column, tags=[tag], imports={name: name},
        )
        info.extensions.append(usage)
        info.repos[name] = RepoDecl(name, name, kind, usage, where)

    def repository_rule(bzl: WorkspaceBzl, rule: WorkspaceRule) -> Callable[..., None]:
        def record(**attrs: Any) -> None:
            line, column = sites.call(rule.name)
            where = Location(display, line, column)
            name = attrs.get("name")
            if not isinstance(name, str) or not name:
                raise LoadingError(f"{rule.name}() needs a name", location=where)
            if built_in(name):
                return  # fetching a rule set kiln has built in is a no-op
            why = rule.problem(attrs)
            if why:
                raise LoadingError(why, location=where)
            key_lines = {}
            for attr in rule.keyed_attrs:
                if isinstance(attrs.get(attr), dict):
                    key_lines.update(sites.key_lines(text, line, column, attr, list(attrs[attr])))
            declare(bzl, rule.name, attrs, line, column, key_lines)

        return record

    def macro(bzl: WorkspaceBzl, name: str, fn: Callable[..., MacroResult]) -> Callable[..., None]:
        def run(*args: Any, **kwargs: Any) -> None:
            line, column = sites.call(name)
            where = Location(display, line, column)
            if args:
                raise LoadingError(f"{name}() takes keyword arguments only", location=where)
            import inspect  # only for WORKSPACE files that call a macro

            if "_root" in inspect.signature(fn).parameters:  # a macro that reads the workspace's files
                kwargs["_root"] = path.parent
            try:
                inspect.signature(fn).bind(**kwargs)
            except TypeError as e:  # a misspelt or missing argument
                raise LoadingError(f"{name}(): {e}", location=where) from None
            try:
                result = fn(**kwargs)
            except KilnError as e:
                raise LoadingError(e.message, location=where) from None
            for repo in result.repos:
                declare(bzl, repo.kind, {"name": repo.name, **repo.attrs}, line, column, {})
            for pattern in result.toolchains:
                info.toolchains.append(Registration(pattern, where, False))
            info.files.extend(result.files)
            info.env.extend(result.env)
            info.warnings.extend(result.warnings)

        return run

    def built_in(name: str) -> bool:
        return wellknown.canonical_repo(name) in wellknown.WELL_KNOWN_REPOS or name in HARMLESS_MODULES

    def defined(name: str) -> bool:
        return name in info.repos or built_in(name)

    rules = {rule.name: repository_rule(bzl, rule) for bzl in definitions.workspace_bzls for rule in bzl.rules}

    def load_module(module_id: str) -> Any:
        mod = sl.Module()
        mod.add_callable("_kiln_repo_defined", defined)
        for fn in _SETUP_FUNCTIONS:
            mod.add_callable(fn, rec.guard(noop))
        # A pip_parse hub's requirements.bzl: its install_deps() declares nothing pip_parse has not.
        mod.add_callable("install_deps", rec.guard(noop))
        for bzl in definitions.workspace_bzls:
            for fn in bzl.setup_functions:
                mod.add_callable(fn, rec.guard(noop))
            for rule in bzl.rules:
                mod.add_callable(rule.name, rec.guard(rules[rule.name]))
            for fn_name, fn in bzl.functions.items():
                mod.add_callable(fn_name, rec.guard(fn))
            for fn_name, fn in bzl.macros.items():
                mod.add_callable(fn_name, rec.guard(macro(bzl, fn_name, fn)))
        for bzl in definitions.workspace_bzls:
            if bzl.starlark:
                sl.eval(mod, sl.parse(f"<kiln {bzl.label}>", bzl.starlark), GLOBALS)
        return mod.freeze()

    def visible(repo: str) -> bool:
        return (repo == "" or repo in info.main_repo_names or repo in info.repos
                or wellknown.canonical_repo(repo) in wellknown.WELL_KNOWN_REPOS)

    m = sl.Module()
    m.add_callable("workspace", rec.guard(workspace))
    m.add_callable("register_toolchains", rec.guard(
        registrar("register_toolchains", display, sites, info.toolchains, dev=False)))
    m.add_callable("register_execution_platforms", rec.guard(
        registrar("register_execution_platforms", display, sites, info.execution_platforms, dev=False)))
    m.add_callable("bind", rec.guard(unsupported("bind", display)))
    # Native in WORKSPACE files (Bazel 7), without a load().
    for fn in ("local_repository", "new_local_repository"):
        if fn in rules:
            m.add_callable(fn, rec.guard(rules[fn]))
    rec.run(path, display, m, sl.FileLoader(load_module), text=text)
    check_registered_repos(info, display, visible)
