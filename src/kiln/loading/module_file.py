"""MODULE.bazel and WORKSPACE: the workspace's name and the rule sets it uses.

kiln provides the well-known rule sets itself, so `bazel_dep` on them (and
WORKSPACE's `http_archive` of them) is accepted without fetching anything.
Every other directive fails with a message naming it, never silently.

Module extensions are recorded, not run: `use_extension` of an extension kiln
implements (see kiln.repos.crate_tags) returns a proxy whose tag calls are
recorded with their attributes and lines, and `use_repo` records which of the
extension's repositories the module imports. kiln.repos.crate_universe turns
the crate_universe usages (and WORKSPACE's `crates_repository`) into crate
repositories. Any other extension is reported at its `use_extension` call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import starlark as sl

from kiln.core.errors import KilnError, LabelError, LoadingError, Location
from kiln.core.labels import PackageId, parse_label
from kiln.core.patterns import parse_pattern
from kiln.loading import wellknown
from kiln.loading.call_sites import CallSites
from kiln.loading.source_files import read_source
from kiln.loading.starlark_errors import call_frames, parse_location, to_kiln_error
from kiln.repos import crate_tags

GLOBALS = sl.Globals.extended_by([sl.LibraryExtension.StructType, sl.LibraryExtension.Json])

# Modules whose names Bazel users depend on that kiln needs nothing from.
HARMLESS_MODULES = frozenset({"rules_cc", "rules_license", "rules_shell", "rules_pkg", "protobuf", "rules_proto"})

# Directives the next issues implement; until then they are named in the error.
_LATER = {
    "use_repo_rule": "repository rules (use_repo_rule)",
    "single_version_override": "single_version_override",
    "multiple_version_override": "multiple_version_override",
    "archive_override": "archive_override",
    "git_override": "git_override",
    "local_path_override": "local_path_override",
    "include": "include()",
    "inject_repo": "inject_repo",
    "override_repo": "override_repo",
}

# Where WORKSPACE's crate_universe rules come from; their calls are recorded as
# an ExtensionUsage of this "file" named after the rule, with one tag of the same name.
CRATE_UNIVERSE_DEFS = "@rules_rust//crate_universe:defs.bzl"
WORKSPACE_CRATE_RULES = ("crates_repository", "crates_vendor")

_PRELUDE_NAME = "<kiln MODULE.bazel prelude>"

# Evaluated in the MODULE.bazel module before the user's text. A tag call
# becomes `_kiln_tag(usage index, tag name, kwargs)`; a Starlark struct of
# functions cannot cross into Python, so use_repo passes the usage index.
_MODULE_PRELUDE = '''
def _kiln_bind(usage, tag):
    return lambda **kwargs: _kiln_tag(usage, tag, kwargs)

def use_extension(extension_bzl_file, extension_name, dev_dependency = False, isolate = False):
    usage = _kiln_use_extension(extension_bzl_file, extension_name, dev_dependency, isolate)
    return struct(_kiln_usage = usage[0], **{tag: _kiln_bind(usage[0], tag) for tag in usage[1]})

def use_repo(extension_proxy, *args, **kwargs):
    if type(extension_proxy) != "struct" or not hasattr(extension_proxy, "_kiln_usage"):
        _kiln_not_a_proxy("use_repo", extension_proxy)
    _kiln_use_repo(extension_proxy._kiln_usage, args, kwargs)
'''


@dataclass
class Tag:
    """One tag call on an extension proxy (`crate.spec(...)`), or one WORKSPACE rule call."""

    name: str
    attrs: dict[str, Any]
    line: int = 0
    column: int = 0
    file: str = ""
    # Lines of dict keys inside the call, e.g. "packages.pyo3" -> 18 (WORKSPACE crates_repository).
    key_lines: dict[str, int] = field(default_factory=dict)

    @property
    def location(self) -> Location:
        return Location(self.file, self.line, self.column)

    def key_location(self, attr: str, key: str) -> Location:
        line = self.key_lines.get(f"{attr}.{key}")
        return Location(self.file, line, 0) if line else self.location


@dataclass
class ExtensionUsage:
    """A `use_extension` call and everything done through its proxy.

    `bzl_label` is as written; `repo`/`path` name the .bzl canonically
    (`rules_rust`, `crate_universe/extensions.bzl`). WORKSPACE's
    crates_repository/crates_vendor calls are recorded as usages of
    CRATE_UNIVERSE_DEFS named after the rule.
    """

    bzl_label: str
    name: str
    dev_dependency: bool = False
    isolate: bool = False
    tags: list[Tag] = field(default_factory=list)
    # use_repo: apparent name in this module -> repository name the extension generates.
    imports: dict[str, str] = field(default_factory=dict)
    repo: str = ""
    path: str = ""
    file: str = ""
    line: int = 0
    column: int = 0

    @property
    def location(self) -> Location:
        return Location(self.file, self.line, self.column)

    def tags_named(self, name: str) -> list[Tag]:
        return [t for t in self.tags if t.name == name]

    @property
    def is_crate_universe(self) -> bool:
        return crate_tags.is_crate_extension(self.repo, self.path, self.name) or (
            self.bzl_label == CRATE_UNIVERSE_DEFS and self.name in WORKSPACE_CRATE_RULES
        )


@dataclass
class RepoDecl:
    """A repository the workspace declares and BUILD files may name as `@name`."""

    name: str            # apparent name (`@name//...` in BUILD files)
    generated_name: str  # the name its extension or rule gives it
    kind: str            # extension name ("crate", "rust", ...) or WORKSPACE rule ("crates_repository")
    usage: ExtensionUsage
    location: Location


@dataclass(frozen=True)
class Registration:
    """A register_toolchains / register_execution_platforms target pattern, as written, and where."""

    pattern: str
    location: Location
    dev_dependency: bool = False


@dataclass
class ModuleInfo:
    name: str = ""
    version: str = ""
    repo_name: str = ""
    bazel_deps: dict[str, str] = field(default_factory=dict)  # apparent name -> module name
    files: list[str] = field(default_factory=list)
    extensions: list[ExtensionUsage] = field(default_factory=list)
    repos: dict[str, RepoDecl] = field(default_factory=dict)
    # In Bazel's order: the root module's MODULE.bazel, then WORKSPACE (kiln reads no other module's).
    toolchains: list[Registration] = field(default_factory=list)
    execution_platforms: list[Registration] = field(default_factory=list)
    rust_edition: str = ""  # rust.toolchain(edition) / rust_register_toolchains(edition)

    def crate_universe_usages(self) -> list[ExtensionUsage]:
        return [u for u in self.extensions if u.is_crate_universe]

    @property
    def main_repo_names(self) -> frozenset[str]:
        """Apparent names of the main repository (`@<module name>//`)."""
        return frozenset(n for n in (self.name, self.repo_name) if n)


def read_module_files(root: Path) -> ModuleInfo:
    info = ModuleInfo()
    module_file = root / "MODULE.bazel"
    if module_file.is_file():
        _evaluate_module(module_file, info)
    for name in ("WORKSPACE.bazel", "WORKSPACE"):
        ws = root / name
        if ws.is_file():
            from kiln.loading.workspace_file import evaluate_workspace  # WORKSPACE is rare: load on demand

            evaluate_workspace(ws, info)
            break
    return info


class Recorder:
    def __init__(self) -> None:
        self.pending: KilnError | None = None

    def guard(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except KilnError as e:
                self.pending = e
                raise

        return wrapper

    def run(self, path: Path, display: str, module: Any, loader: Any = None, *, text: str | None = None,
            prelude: str | None = None) -> None:
        source = read_source(path, display) if text is None else text
        try:
            if prelude is not None:
                sl.eval(module, sl.parse(_PRELUDE_NAME, prelude), GLOBALS)
            ast = sl.parse(display, source)
            sl.eval(module, ast, GLOBALS, loader)
        except sl.StarlarkError as e:
            err = to_kiln_error(str(e), self.pending, source)
            _relocate_prelude_error(err, str(e), source)
            raise err from None


def _relocate_prelude_error(err: KilnError, text: str, source: str) -> None:
    """An error inside the prelude's use_extension/use_repo/tag wrappers is the error of the user's call."""
    arrow = parse_location(text)
    if arrow is None or arrow.file != _PRELUDE_NAME:
        return
    user = [f for f in call_frames(text) if f[0] != _PRELUDE_NAME]
    if not user:
        return
    file, line, _ = user[-1]
    suffix = f" (called from {user[0][0]}:{user[0][1]})"
    if err.message.endswith(suffix):
        err.message = err.message[: -len(suffix)]
    if err.location is None or err.location.file == _PRELUDE_NAME:
        lines = source.splitlines()
        column = 0
        if 0 < line <= len(lines):
            text_line = lines[line - 1]
            column = len(text_line) - len(text_line.lstrip()) + 1
        err.location = Location(file, line, column)


def registrar(fn: str, file: str, sites: CallSites, into: list[Registration], *, dev: bool) -> Callable[..., None]:
    """register_toolchains / register_execution_platforms: patterns recorded with their line."""

    def register(*patterns: Any, **kwargs: Any) -> None:
        line, column = sites.call(fn)
        where = Location(file, line, column)
        extra = set(kwargs) - ({"dev_dependency"} if dev else set())
        if extra:
            raise LoadingError(f"{fn}() got an unexpected keyword argument '{sorted(extra)[0]}'", location=where)
        dev_dependency = kwargs.get("dev_dependency", False)
        if not isinstance(dev_dependency, bool):
            raise LoadingError(f"{fn}(): dev_dependency must be a bool", location=where)
        for pattern in patterns:
            if not isinstance(pattern, str):
                raise LoadingError(f"{fn}() takes target patterns as strings, got {pattern!r}", location=where)
            try:
                parse_pattern(pattern)
            except LabelError as e:
                raise LoadingError(f"{fn}(\"{pattern}\"): {e.message}", location=where) from None
            into.append(Registration(pattern, where, dev_dependency))

    return register


def check_registered_repos(info: ModuleInfo, file: str, visible: Callable[[str], bool]) -> None:
    """Each registration of `file` names a repository the file can see (checked once all of it is read)."""
    for fn, registrations in (("register_toolchains", info.toolchains),
                              ("register_execution_platforms", info.execution_platforms)):
        for r in registrations:
            repo = parse_pattern(r.pattern).repo
            if r.location.file == file and not visible(repo):
                raise LoadingError(f"{fn}(\"{r.pattern}\"): no repository '@{repo}' is visible from {file}",
                                   location=r.location)


def unsupported(what: str, file: str) -> Callable[..., Any]:
    def fail(*args: Any, **kwargs: Any) -> None:
        raise LoadingError(f"kiln does not support {what} in {file} yet")

    return fail


# ---- MODULE.bazel -----------------------------------------------------------


def _evaluate_module(path: Path, info: ModuleInfo) -> None:
    info.files.append(str(path))
    rec = Recorder()
    display = "MODULE.bazel"
    text = read_source(path, display)
    sites = CallSites(text)
    specs: list[crate_tags.ExtensionSpec] = []

    def module(name: str = "", version: str = "", compatibility_level: int = 0, repo_name: str = "",
               bazel_compatibility: Any = None) -> None:
        info.name, info.version, info.repo_name = name, version, repo_name

    def bazel_dep(name: str, version: str = "", max_compatibility_level: int = -1, repo_name: str = "",
                  dev_dependency: bool = False) -> None:
        canonical = wellknown.canonical_repo(name)
        if canonical not in wellknown.WELL_KNOWN_REPOS and name not in HARMLESS_MODULES:
            known = ", ".join(sorted(wellknown.WELL_KNOWN_REPOS))
            raise LoadingError(
                f"bazel_dep(name = \"{name}\"): kiln cannot fetch modules yet; it provides these rule sets "
                f"itself: {known}"
            )
        info.bazel_deps[repo_name or name] = canonical

    def use_extension(bzl: Any, name: Any, dev_dependency: Any = False, isolate: Any = False) -> list[Any]:
        line, column = sites.call("use_extension")
        where = Location(display, line, column)
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
        spec = crate_tags.find_extension(repo, label.relative_path(), name)
        if spec is None:
            raise LoadingError(f"kiln does not implement the module extension '{name}' from {bzl} yet",
                               location=where)
        usage = ExtensionUsage(
            bzl_label=bzl, name=name, dev_dependency=bool(dev_dependency), isolate=bool(isolate),
            repo=repo, path=label.relative_path(), file=display, line=line, column=column,
        )
        info.extensions.append(usage)
        specs.append(spec)
        return [len(info.extensions) - 1, sorted(spec.tags)]

    def tag(index: int, tag_name: str, attrs: dict[str, Any]) -> None:
        usage, spec = info.extensions[index], specs[index]
        line, column = sites.method(tag_name)
        where = Location(display, line, column)
        why = crate_tags.check_attrs(f"{usage.name}.{tag_name}()", spec.tags[tag_name], attrs)
        if why:
            raise LoadingError(why, location=where)
        usage.tags.append(Tag(tag_name, dict(attrs), line, column, display))
        if spec is crate_tags.RUST_EXTENSION and tag_name == "toolchain" and isinstance(attrs.get("edition"), str):
            info.rust_edition = attrs["edition"]

    def use_repo(index: int, args: list[Any], kwargs: dict[str, Any]) -> None:
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

    def visible(repo: str) -> bool:
        return repo == "" or repo in info.main_repo_names or repo in info.bazel_deps or repo in info.repos

    m = sl.Module()
    m.add_callable("module", rec.guard(module))
    m.add_callable("bazel_dep", rec.guard(bazel_dep))
    m.add_callable("_kiln_use_extension", rec.guard(use_extension))
    m.add_callable("_kiln_tag", rec.guard(tag))
    m.add_callable("_kiln_use_repo", rec.guard(use_repo))
    m.add_callable("register_toolchains", rec.guard(
        registrar("register_toolchains", display, sites, info.toolchains, dev=True)))
    m.add_callable("register_execution_platforms", rec.guard(
        registrar("register_execution_platforms", display, sites, info.execution_platforms, dev=True)))
    m.add_callable("_kiln_not_a_proxy", rec.guard(_not_a_proxy))
    for fn, what in _LATER.items():
        m.add_callable(fn, rec.guard(unsupported(what, "MODULE.bazel")))
    try:
        rec.run(path, display, m, text=text, prelude=_MODULE_PRELUDE)
    except KilnError as e:
        _explain_proxy_error(e, info, text)
        raise
    _check_crate_imports(info)
    check_registered_repos(info, display, visible)


def _not_a_proxy(fn: str, value: Any) -> None:
    raise LoadingError(f"{fn}() takes the value use_extension() returned first, got {value!r}")


_NO_ATTR = re.compile(r"^Object of type `struct` has no attribute `(\w+)`(?:, did you mean `(\w+)`\?)?$")


def _explain_proxy_error(err: KilnError, info: ModuleInfo, text: str) -> None:
    """Starlark's own messages for misused extension proxies, in the terms of module extensions."""
    if err.location is None or err.location.file != "MODULE.bazel":
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
            spec = crate_tags.find_extension(usage.repo, usage.path, usage.name)
            tags = ", ".join(sorted(spec.tags)) if spec else ""
            hint = f" (did you mean '{m.group(2)}'?)" if m.group(2) else ""
            err.message = (f"module extension '{usage.name}' from {usage.bzl_label} has no tag class "
                           f"'{m.group(1)}'{hint}; its tags are: {tags}")
            return


def _check_crate_imports(info: ModuleInfo) -> None:
    """use_repo of the crate extension must name a repository one of its from_cargo/from_specs tags makes."""
    usages = [u for u in info.extensions if crate_tags.is_crate_extension(u.repo, u.path, u.name)]
    generated: list[str] = []
    for usage in usages:
        for t in usage.tags:
            if t.name in ("from_cargo", "from_specs"):
                generated.append(t.attrs.get("name") or crate_tags.DEFAULT_CRATE_REPO)
    for decl in info.repos.values():
        if decl.usage in usages and decl.generated_name not in generated:
            made = ", ".join(sorted(set(generated))) or "none (it needs crate.from_cargo() or crate.from_specs())"
            raise LoadingError(
                f"module extension 'crate' from {decl.usage.bzl_label} does not generate repository "
                f"'{decl.generated_name}', yet use_repo() imports it; it generates: {made}",
                location=decl.location,
            )


