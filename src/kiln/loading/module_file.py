"""MODULE.bazel: the module's name, its bazel_deps and overrides, module extensions and registrations.

`bazel_dep` and `local_path_override` are recorded here and resolved by
kiln.loading.module_graph once the file is read (an override may follow the
dep it overrides). `include()` evaluates a `.MODULE.bazel` fragment of the
main repository as part of the root module. Directives kiln does not implement
fail with a message naming them, never silently.

Module extensions are recorded, not run: `use_extension` of an extension a
rule set registered (RepositoryDefinitions) returns a proxy whose tag calls
are recorded with their attributes and lines, and `use_repo` records which
of the extension's repositories the module imports; kiln.repos generates
them. Any other extension is reported at its `use_extension` call. A library
module may use only the extensions that see every module's usages
(ModuleExtension.declare, run by kiln.loading.module_extensions).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import starlark as sl

from kiln.core.errors import KilnError, LabelError, LoadingError, Location
from kiln.core.labels import PackageId, parse_label
from kiln.loading import dialects, wellknown
from kiln.loading.call_sites import CallSites
from kiln.loading.extension_schema import (Definitions, ModuleExtension, WorkspaceBzl, WorkspaceRule,
                                           check_attrs)
from kiln.loading.module_eval import Recorder, check_registered_repos, registrar, unsupported
from kiln.loading.module_info import BazelDep, ExtensionUsage, LocalPathOverride, ModuleInfo, RepoDecl, Tag
from kiln.loading.source_files import read_source

# Directives the next issues implement; until then they are named in the error.
_LATER = {
    "single_version_override": "single_version_override",
    "multiple_version_override": "multiple_version_override",
    "archive_override": "archive_override",
    "git_override": "git_override",
    "inject_repo": "inject_repo",
    "override_repo": "override_repo",
}

# The usage index of an extension proxy whose tags and imports are ignored.
_IGNORED = -1

# Evaluated in the MODULE.bazel module before the user's text. A tag call
# becomes `_kiln_tag(usage index, tag name, kwargs)`; a Starlark struct of
# functions cannot cross into Python, so use_repo passes the usage index.
_MODULE_PRELUDE = '''
def _kiln_bind(usage, tag):
    return lambda **kwargs: _kiln_tag(usage, tag, kwargs)

def use_extension(extension_bzl_file, extension_name, dev_dependency = False, isolate = False):
    usage = _kiln_use_extension(extension_bzl_file, extension_name, dev_dependency, isolate)
    return struct(_kiln_usage = usage[0], **{tag: _kiln_bind(usage[0], tag) for tag in usage[1]})

def use_repo_rule(repo_rule_bzl_file, repo_rule_name):
    rule = _kiln_use_repo_rule(repo_rule_bzl_file, repo_rule_name)
    return lambda **kwargs: _kiln_repo_rule(rule, kwargs)

def use_repo(extension_proxy, *args, **kwargs):
    if type(extension_proxy) != "struct" or not hasattr(extension_proxy, "_kiln_usage"):
        _kiln_not_a_proxy("use_repo", extension_proxy)
    _kiln_use_repo(extension_proxy._kiln_usage, args, kwargs)
'''


def evaluate_module(path: Path, info: ModuleInfo, definitions: Definitions, *, root: bool = True,
                    display: str = "MODULE.bazel") -> None:
    """Evaluates a module's MODULE.bazel into `info`: the root module's, or (root=False) a library
    module's, whose overrides and dev dependencies Bazel ignores and which may not include()."""
    # Parallel to info.extensions: the extension of each usage (None for a use_repo_rule call).
    specs: list[ModuleExtension | None] = []
    displays: list[str] = []
    _evaluate_file(path, display, info, definitions, specs, displays, root=root, root_dir=path.parent)
    if not root:  # Bazel ignores a dependency module's dev registrations, as its dev deps and usages
        info.toolchains[:] = [r for r in info.toolchains if not r.dev_dependency]
        info.execution_platforms[:] = [r for r in info.execution_platforms if not r.dev_dependency]
    _check_imports(info, specs)
    check_registered_repos(info, tuple(displays), lambda repo: _visible(info, repo))


def _visible(info: ModuleInfo, repo: str) -> bool:
    return repo == "" or repo in info.main_repo_names or repo in info.bazel_deps or repo in info.repos


def _evaluate_file(path: Path, display: str, info: ModuleInfo, definitions: Definitions,
                   specs: list[ModuleExtension | None], displays: list[str], *, root: bool, root_dir: Path) -> None:
    """One MODULE.bazel, or a fragment it include()s: `specs` and `displays` are shared by all of them."""
    info.files.append(str(path))
    displays.append(display)
    rec = Recorder()
    text = read_source(path, display)
    sites = CallSites(text)
    repo_rules: list[tuple[str, str, WorkspaceBzl, WorkspaceRule, Location]] = []

    def here(fn: str) -> Location:
        line, column = sites.call(fn)
        return Location(display, line, column)

    def module(name: str = "", version: str = "", compatibility_level: int = 0, repo_name: str = "",
               bazel_compatibility: Any = None) -> None:
        if display != displays[0]:
            raise LoadingError("module() may only be called in MODULE.bazel, not in an included file",
                               location=here("module"))
        info.name, info.version, info.repo_name = name, version, repo_name

    def bazel_dep(name: str, version: str = "", max_compatibility_level: int = -1, repo_name: str = "",
                  dev_dependency: bool = False) -> None:
        where = here("bazel_dep")
        dep = BazelDep(name, repo_name, version, bool(dev_dependency), where)
        if dev_dependency and not root:
            return  # Bazel ignores a dependency module's dev dependencies
        if dep.apparent_name in info.bazel_deps:
            raise LoadingError(f"bazel_dep(name = \"{name}\"): the repository name '{dep.apparent_name}' is "
                               "already used by another bazel_dep", location=where)
        info.deps.append(dep)
        info.bazel_deps[dep.apparent_name] = wellknown.canonical_repo(name)

    def local_path_override(module_name: str, path: str) -> None:
        where = here("local_path_override")
        if not root:
            return  # only the root module's overrides take effect, as in Bazel
        if module_name in info.overrides:
            raise LoadingError(f"local_path_override(module_name = \"{module_name}\"): the module is already "
                               "overridden", location=where)
        info.overrides[module_name] = LocalPathOverride(module_name, path, root_dir / path, where)

    def include(label: str) -> None:
        where = here("include")
        fragment, shown = included_file(label, root, root_dir, where)
        if shown in displays:
            raise LoadingError(f"include(\"{label}\"): {shown} is already included", location=where)
        _evaluate_file(fragment, shown, info, definitions, specs, displays, root=root, root_dir=root_dir)

    def use_extension(bzl: Any, name: Any, dev_dependency: Any = False, isolate: Any = False) -> list[Any]:
        line, column = sites.call("use_extension")
        where = Location(display, line, column)
        # Bazel ignores a dependency module's dev usages: so does an inert proxy.
        if not root and dev_dependency is True:
            return [_IGNORED, sorted(set(re.findall(r"\.\s*(\w+)\s*\(", text)))]
        if not isinstance(bzl, str) or not isinstance(name, str):
            raise LoadingError("use_extension() takes the extension's .bzl label and its name as strings",
                               location=where)
        mapping = {apparent: module for apparent, module in info.bazel_deps.items()}
        mapping.update({n: "" for n in (info.name, info.repo_name) if n})
        try:
            label = parse_label(bzl, base=PackageId("", ""), repo_mapping=mapping, where=where)
        except LabelError as e:
            raise LoadingError(f"use_extension(): {e.message}", location=where) from None
        repo = wellknown.canonical_repo(label.repo)
        spec = definitions.extension(repo, label.relative_path(), name)
        if spec is None:
            raise LoadingError(f"kiln does not implement the module extension '{name}' from {bzl} yet",
                               location=where)
        if not root and spec.declare is None:
            raise LoadingError(f"use_extension({bzl!r}, {name!r}): kiln runs module extensions only in the root "
                               "module yet, not in a bazel_dep's MODULE.bazel", location=where)
        usage = ExtensionUsage(
            bzl_label=bzl, name=name, dev_dependency=bool(dev_dependency), isolate=bool(isolate),
            repo=repo, path=label.relative_path(), file=display, line=line, column=column,
        )
        info.extensions.append(usage)
        specs.append(spec)
        return [len(info.extensions) - 1, sorted(spec.tags)]

    def tag(index: int, tag_name: str, attrs: dict[str, Any]) -> None:
        if index == _IGNORED:
            return
        usage, spec = info.extensions[index], specs[index]
        line, column = sites.method(tag_name)
        where = Location(display, line, column)
        why = check_attrs(f"{usage.name}.{tag_name}()", spec.tags[tag_name], attrs)
        if why:
            raise LoadingError(why, location=where)
        usage.tags.append(Tag(tag_name, dict(attrs), line, column, display))

    def bzl_label(bzl: Any, fn: str, where: Location) -> Any:
        if not isinstance(bzl, str):
            raise LoadingError(f"{fn}() takes the .bzl file's label as a string", location=where)
        mapping = {apparent: module for apparent, module in info.bazel_deps.items()}
        mapping.update({n: "" for n in (info.name, info.repo_name) if n})
        mapping.setdefault("bazel_tools", "bazel_tools")
        try:
            return parse_label(bzl, base=PackageId("", ""), repo_mapping=mapping, where=where)
        except LabelError as e:
            raise LoadingError(f"{fn}(): {e.message}", location=where) from None

    def use_repo_rule(bzl: Any, name: Any) -> int:
        line, column = sites.call("use_repo_rule")
        where = Location(display, line, column)
        if not root:
            raise LoadingError("use_repo_rule() in a module other than the root is not supported by kiln yet",
                               location=where)
        label = bzl_label(bzl, "use_repo_rule", where)
        repo = wellknown.canonical_repo(label.repo)
        found = definitions.workspace_bzl(repo, label.relative_path())
        rule = next((r for r in found.rules if r.name == name), None) if found else None
        if found is None or rule is None:
            raise LoadingError(f"kiln does not implement the repository rule '{name}' from {bzl}", location=where)
        repo_rules.append((bzl, name, found, rule, where))
        return len(repo_rules) - 1

    def repo_rule_call(index: int, attrs: dict[str, Any]) -> None:
        bzl, rule_name, found, rule, declared = repo_rules[index]
        line, column = sites.call(rule_name)
        where = Location(display, line, column) if line else declared
        name = attrs.get("name")
        if not isinstance(name, str) or not name:
            raise LoadingError(f"{rule_name}() needs a name", location=where)
        why = rule.problem(attrs)
        if why:
            raise LoadingError(why, location=where)
        if name in info.repos or name in info.bazel_deps:
            raise LoadingError(f"{rule_name}(name = \"{name}\"): the repository name '{name}' is already in use "
                               "in MODULE.bazel", location=where)
        tag = Tag(rule_name, {k: v for k, v in attrs.items() if v is not None}, where.line, where.column, display)
        usage = ExtensionUsage(bzl_label=bzl, name=rule_name, repo=found.repo, path=found.path, file=display,
                               line=where.line, column=where.column, tags=[tag], imports={name: name})
        info.extensions.append(usage)
        specs.append(None)
        info.repos[name] = RepoDecl(name, name, rule_name, usage, where)

    def use_repo(index: int, args: list[Any], kwargs: dict[str, Any]) -> None:
        if index == _IGNORED:
            return
        line, column = sites.call("use_repo")
        where = Location(display, line, column)
        usage = info.extensions[index]
        pairs = [(a, a) for a in args] + list(kwargs.items())
        for local, generated in pairs:
            if not isinstance(generated, str) or not generated:
                raise LoadingError("use_repo() takes repository names as strings", location=where)
            if local in info.repos or local in info.bazel_deps:
                raise LoadingError(f"use_repo(): the repository name '{local}' is already in use in MODULE.bazel",
                                   location=where)
            usage.imports[local] = generated
            info.repos[local] = RepoDecl(local, generated, usage.name, usage, where)

    m = sl.Module()
    m.add_callable("module", rec.guard(module))
    m.add_callable("bazel_dep", rec.guard(bazel_dep))
    m.add_callable("local_path_override", rec.guard(local_path_override))
    m.add_callable("include", rec.guard(include))
    m.add_callable("_kiln_use_extension", rec.guard(use_extension, returns=True))
    m.add_callable("_kiln_tag", rec.guard(tag))
    m.add_callable("_kiln_use_repo", rec.guard(use_repo))
    m.add_callable("_kiln_use_repo_rule", rec.guard(use_repo_rule, returns=True))
    m.add_callable("_kiln_repo_rule", rec.guard(repo_rule_call))
    m.add_callable("register_toolchains", rec.guard(
        registrar("register_toolchains", display, sites, info.toolchains, dev=True)))
    m.add_callable("register_execution_platforms", rec.guard(
        registrar("register_execution_platforms", display, sites, info.execution_platforms, dev=True)))
    m.add_callable("_kiln_not_a_proxy", rec.guard(_not_a_proxy, returns=True))
    for fn, what in _LATER.items():
        m.add_callable(fn, rec.guard(unsupported(what, "MODULE.bazel")))
    rec.run(path, display, m, text=text, prelude=_MODULE_PRELUDE, parse=dialects.parse_module_file)
    for e in rec.errors:
        _explain_proxy_error(e, info, text, definitions, display)
    rec.finish()


def _not_a_proxy(fn: str, value: Any) -> None:
    raise LoadingError(f"{fn}() takes the value use_extension() returned first, got {value!r}")


_NO_ATTR = re.compile(r"^Object of type `struct` has no attribute `(\w+)`(?:, did you mean `(\w+)`\?)?$")


def _explain_proxy_error(err: KilnError, info: ModuleInfo, text: str, definitions: Definitions,
                         display: str) -> None:
    """Starlark's own messages for misused extension proxies, in the terms of module extensions."""
    if err.location is None or err.location.file != display:
        return
    lines = text.splitlines()
    line = lines[err.location.line - 1] if 0 < err.location.line <= len(lines) else ""
    if "extra positional argument" in err.message and "prelude" in err.message:
        err.message = "module extension tags take keyword arguments only"
        return
    m = _NO_ATTR.match(err.message)
    if not m:
        return
    call = re.search(rf"(\w+)\s*\.\s*{m.group(1)}\s*\(", line)
    if not call:
        return
    var = call.group(1)
    for usage in info.extensions:
        decl = lines[usage.line - 1] if 0 < usage.line <= len(lines) else ""
        if re.match(rf"\s*{var}\s*=\s*use_extension\s*\(", decl):
            spec = definitions.extension(usage.repo, usage.path, usage.name)
            tags = ", ".join(sorted(spec.tags)) if spec else ""
            hint = f" (did you mean '{m.group(2)}'?)" if m.group(2) else ""
            err.message = (f"module extension '{usage.name}' from {usage.bzl_label} has no tag class "
                           f"'{m.group(1)}'{hint}; its tags are: {tags}")
            return


def _check_imports(info: ModuleInfo, specs: list[ModuleExtension | None]) -> None:
    """use_repo must name a repository the extension generates (when it says which it does)."""
    for decl in info.repos.values():
        spec = next(s for u, s in zip(info.extensions, specs) if u is decl.usage)
        if spec is None or spec.generated_repos is None:
            continue
        usages = [u for u, s in zip(info.extensions, specs) if s is spec]
        generated = spec.generated_repos(usages)
        if decl.generated_name not in generated:
            made = ", ".join(sorted(generated)) or "none"
            raise LoadingError(
                f"module extension '{spec.name}' from {decl.usage.bzl_label} does not generate repository "
                f"'{decl.generated_name}', yet use_repo() imports it; it generates: {made}",
                location=decl.location,
            )


def included_file(label: Any, root: bool, root_dir: Path, where: Location) -> tuple[Path, str]:
    """The file `include(label)` names, and how messages show it; Bazel allows only the root module to
    include, only files of the main repository, only names ending in `.MODULE.bazel`."""
    if not root:
        raise LoadingError("include() may only be used in the root module's MODULE.bazel, not in a bazel_dep's",
                           location=where)
    if not isinstance(label, str):
        raise LoadingError(f"include() takes a label string, got {label!r}", location=where)
    if not label.startswith(("//", "@//", "@@//")):
        raise LoadingError(f"bad include label '{label}': include() takes a label in the main repository, "
                           "starting with '//'", location=where)
    try:
        parsed = parse_label(label.lstrip("@"), where=where)
    except LabelError as e:
        raise LoadingError(f"include(): {e.message}", location=where) from None
    if not parsed.name.endswith(".MODULE.bazel"):
        raise LoadingError(f"bad include label '{label}': the file to be included must have a name ending in "
                           "'.MODULE.bazel'", location=where)
    shown = parsed.relative_path()
    path = root_dir / shown
    if not path.is_file():
        raise LoadingError(f"include(\"{label}\"): file '{shown}' does not exist", location=where)
    return path, shown
