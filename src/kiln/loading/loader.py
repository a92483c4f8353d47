"""Evaluates BUILD and .bzl files with starlark-pyo3 into Packages.

User files are only ever evaluated as Starlark. Builtins are Python callables
bound to the package under construction, except depset() and `type`, written in
Starlark (kiln.loading.starlark_lib); .bzl modules are evaluated once
and frozen; loads from well-known rule repositories resolve to kiln's rules.
"""

from __future__ import annotations

import itertools
import os
import sys
from pathlib import Path
from typing import Any, Callable, Mapping

import starlark as sl

from kiln.core.env_reads import env_dependency
from kiln.core.errors import KilnError, LoadingError, Location
from kiln.core.labels import Label, PackageId, parse_label
from kiln.core.rule_class import RuleClass, RuleRegistry
from kiln.core.select import Select
from kiln.loading import dialects, wellknown
from kiln.loading.markers import SelectTable
from kiln.loading.extension_schema import Definitions, RepositoryDefinitions
from kiln.loading.module_files import read_module_files
from kiln.loading.module_info import Registration
from kiln.loading.repo_mapping import ModuleRepoMapping, main_repo_mapping
from kiln.loading.repository_resolver import RepositoryResolver
from kiln.loading.package import Package
from kiln.loading.package_builder import PackageBuilder
from kiln.loading.source_files import read_source
from kiln.loading.starlark_errors import to_kiln_error
from kiln.loading.starlark_lib import (BZL_PRELUDE_TEMPLATE, CAPTURE_JSON_BZL, CAPTURE_TYPE_BZL, CONFIG_COMMON,
                                      DEPSET_BZL, JSON_BZL, STARLARK_SYMBOLS, json_indent)
from kiln.loading.workspace import Workspace, find_build_file

_GLOBALS = sl.Globals.extended_by([sl.LibraryExtension.StructType, sl.LibraryExtension.Json])
_UNBOUND = object()


class NoSuchPackage(LoadingError):
    pass


class NoSuchTarget(LoadingError):
    pass


class Loader:
    """Loads packages of the main repository, caching them for one command."""

    def __init__(
        self,
        workspace: Workspace,
        registry: RuleRegistry,
        *,
        report: Callable[[str, str], None] | None = None,
        disallow_empty_glob: bool = True,
        external_repos: dict[str, Path] | None = None,
        repositories: RepositoryResolver | None = None,
        definitions: Definitions = RepositoryDefinitions(),
        enable_bzlmod: bool = True,
        module_overrides: Mapping[str, str] | None = None,
    ):
        self.workspace = workspace
        self.registry = registry
        # Repositories generated on disk (e.g. @crate_index from crate_universe), by name.
        self.external_repos = dict(external_repos or {})
        # The repository resolver the command layer wires in (kiln.repos).
        self.repositories = repositories
        # Every external repository resolved so far, by name: where its files are.
        self.repo_dirs: dict[str, Path] = {}
        self.report = report or (lambda level, text: print(f"{level}: {text}", file=sys.stderr))
        self.disallow_empty_glob = disallow_empty_glob
        self.selects = SelectTable()
        self.packages: dict[PackageId, Package] = {}
        self._package_errors: dict[PackageId, KilnError] = {}
        self._bzl: dict[Label, Any] = {}
        self._bzl_loads: dict[Label, tuple[Label, ...]] = {}
        self._builder: PackageBuilder | None = None
        self._pending: KilnError | None = None
        # Files being evaluated, innermost last: relative loads resolve against the top.
        self._stack: list[Label] = []
        self._loads_seen: list[Label] = []
        # What this session read, for caching its results: files and listed directories.
        self.files_read: set[str] = set()
        self.dirs_read: set[str] = set()
        self.module = read_module_files(workspace.root, definitions, enable_bzlmod=enable_bzlmod,
                                        repositories=repositories, module_overrides=module_overrides)
        self.files_read.update(self.module.files, self.module.absent_files)
        self.files_read.update(env_dependency(name) for name in self.module.env)
        for warning in self.module.warnings:
            self.report("WARNING", warning)
        # The main repository's mapping (`@<module name>//...` is the main repository, as in Bazel); each
        # local module's files see their own (repo_mapping_for).
        self.repo_mapping = main_repo_mapping(self.module)
        self._repo_mappings: dict[str, Mapping[str, str]] = {
            name: ModuleRepoMapping(name, m.repo_mapping) for name, m in self.module.local_modules.items()}
        self._builtins = self._make_builtins()
        self._rule_fns = {name: self._rule_fn(registry.get(name)) for name in registry.names()}
        native_fields = ", ".join(f"{n} = _kiln_native_{n}" for n in [*self._rule_fns, *self._native_only()])
        self._prelude = sl.parse("<kiln prelude>", BZL_PRELUDE_TEMPLATE.format(native_fields=native_fields))
        self._capture_type = sl.parse("<kiln type>", CAPTURE_TYPE_BZL)
        self._capture_json = sl.parse("<kiln json>", CAPTURE_JSON_BZL)
        self._json_lib = sl.parse("<kiln json>", JSON_BZL)
        # kiln's own Starlark may use what Bazel's builtins do: depset's `transitive` is keyword-only.
        self._depset_lib = sl.parse("<kiln depset>", DEPSET_BZL, dialects.BZL)
        self._depset_ids = itertools.count()
        self._config_common = sl.parse("<kiln config_common>", CONFIG_COMMON)

    # ---- public API ------------------------------------------------------

    def load_package(self, pkg_id: PackageId) -> Package:
        pkg = self.packages.get(pkg_id)
        if pkg is not None:
            return pkg
        err = self._package_errors.get(pkg_id)
        if err is not None:
            raise err
        try:
            pkg = self._load(pkg_id)
        except KilnError as e:
            self._package_errors[pkg_id] = e
            raise
        self.packages[pkg_id] = pkg
        return pkg

    def get_target(self, label: Label, *, needed_by: str = "") -> Any:
        try:
            pkg = self.load_package(label.package_id)
        except NoSuchPackage as e:
            raise NoSuchPackage(
                f"no such package '{label.package_id}': {e.message.split(': ', 1)[-1]}"
                + (f" (needed by {needed_by})" if needed_by else "")
            ) from None
        target = pkg.targets.get(label.name)
        if target is not None:
            return target
        where = f" (needed by {needed_by})" if needed_by else ""
        msg = f"no such target '{label}': target '{label.name}' not declared in package '{label.package}' defined by {pkg.build_file}"
        if os.path.exists(os.path.join(self.repo_root(label.repo) or self.workspace.root, label.package, label.name)):
            msg += (
                f"; however, a source file of this name exists. (Perhaps add "
                f"'exports_files([\"{label.name}\"])' to {pkg.build_file}?)"
            )
        raise NoSuchTarget(msg + where)

    def toolchain_registrations(self) -> tuple[Registration, ...]:
        """register_toolchains() patterns in Bazel's order (root module, then WORKSPACE); the caller puts
        --extra_toolchains first and expands each pattern."""
        return tuple(self.module.toolchains)

    def execution_platform_registrations(self) -> tuple[Registration, ...]:
        """register_execution_platforms() patterns, ordered as toolchain_registrations()."""
        return tuple(self.module.execution_platforms)

    def repo_mapping_for(self, repo: str) -> Mapping[str, str]:
        """The apparent repository names the files of `repo` may use, mapped to canonical names."""
        return self._repo_mappings.get(repo, self.repo_mapping)

    # ---- packages --------------------------------------------------------

    def repo_root(self, repo: str) -> Path | None:
        """Where a repository's files are: the workspace, or kiln's copy of a well-known repo."""
        if repo == "":
            return self.workspace.root
        found = self.repo_dirs.get(repo)
        if found is None:
            found = self._find_repo(repo)
            if found is not None:
                self.repo_dirs[repo] = found
        return found

    def _find_repo(self, repo: str) -> Path | None:
        if repo in self.external_repos:
            return self.external_repos[repo]
        found = self.repositories(repo, self.module) if self.repositories is not None else None
        if found is not None:
            self.files_read.update(found.files)
            self.external_repos[repo] = found.directory
            return found.directory
        canonical = wellknown.canonical_repo(repo)
        if canonical in wellknown.WELL_KNOWN_REPOS:
            return wellknown.BUILTIN_REPOS / canonical
        return None

    def _module_name(self, repo: str) -> str | None:
        """native.module_name(): the root module's name ("" if module() names none, as Bazel) for the
        main repo, None without MODULE.bazel (Bazel without Bzlmod); crate indexes never ask."""
        if repo == "":
            has_module_file = any(Path(f).name == "MODULE.bazel" for f in self.module.files)
            return self.module.name if has_module_file else None
        if repo in self.module.local_modules:
            return repo
        canonical = wellknown.canonical_repo(repo)
        return canonical if canonical in wellknown.WELL_KNOWN_REPOS else None

    def _load(self, pkg_id: PackageId) -> Package:
        root = self.repo_root(pkg_id.repo)
        if root is None:
            raise NoSuchPackage(
                f"no such package '{pkg_id}': repository '@{pkg_id.repo}' is not defined "
                "(declare it in MODULE.bazel or WORKSPACE, e.g. with http_archive or local_repository)"
            )
        build_file = find_build_file(root, pkg_id.package)
        if build_file is None:
            d = root / pkg_id.package
            why = "BUILD file not found in any of the following directories" if d.is_dir() else "directory does not exist"
            if pkg_id.repo and root.is_relative_to(wellknown.BUILTIN_REPOS):
                why = f"kiln's built-in @{wellknown.canonical_repo(pkg_id.repo)} has no such package"
            raise NoSuchPackage(f"no such package '{pkg_id}': {why}: {pkg_id.package or '.'}")
        display = build_file if not pkg_id.repo else f"@{pkg_id.repo}//{build_file}"
        self.files_read.add(str(root / build_file))
        text = read_source(root / build_file, display)
        builder = PackageBuilder(
            pkg_id, display, text, str(root / pkg_id.package), self.selects,
            disallow_empty_glob=self.disallow_empty_glob,
        )
        builder.coercer.repo_mapping = self.repo_mapping_for(pkg_id.repo)
        module = sl.Module()
        for name, fn in self._rule_fns.items():
            module.add_callable(name, fn)
        for name, fn in self._builtins.items():
            module.add_callable(name, fn)
        for name in UNSUPPORTED_NATIVE_RULES:
            module.add_callable(name, self._guard(_unsupported(f"the rule '{name}'")))
        self._add_depset(module, text)
        self._loads_seen = []
        self._builder = builder
        self._stack.append(Label(pkg_id.repo, pkg_id.package, build_file.rsplit("/", 1)[-1]))
        try:
            # Only BUILD files that name it pay for defining it.
            if "config_common" in text:
                sl.eval(module, self._config_common, _GLOBALS)
            if "indent" in text and "json" in text:
                module.add_callable("_kiln_json_indent", self._guard(json_indent))
                sl.eval(module, self._capture_json, _GLOBALS)
                sl.eval(module, self._json_lib, _GLOBALS)
            self._eval(module, display, text, dialects.parse_build)
        finally:
            self._builder = None
            self._stack.pop()
        package = builder.finish(tuple(dict.fromkeys(self._loads_seen)))
        base = root / pkg_id.package
        self.dirs_read.update(str(base / d) if d else str(base) for d in package.glob_dirs)
        return package

    def _eval(self, module: Any, filename: str, text: str, parse: Callable[[str, str], Any]) -> None:
        self._pending = None
        try:
            ast = parse(filename, text)
            self._check_well_known_loads(ast, filename, text)
            sl.eval(module, ast, _GLOBALS, sl.FileLoader(self._load_bzl_by_id))
        except sl.StarlarkError as e:
            pending, self._pending = self._pending, None
            raise to_kiln_error(str(e), pending, text) from None

    def _check_well_known_loads(self, ast: Any, filename: str, text: str) -> None:
        """Names a symbol kiln's copy of a well-known .bzl lacks (Starlark would only say 'no symbol')."""
        for load in ast.loads():
            module_id = load.module_id
            if not module_id.startswith("@"):
                continue
            try:
                label = parse_label(module_id)
            except KilnError:
                continue
            repo = wellknown.canonical_repo(label.repo)
            symbols = wellknown.module_symbols(repo, label.relative_path())
            if symbols is None:
                continue
            missing = sorted(set(load.symbols.values()) - set(symbols))
            if missing:
                line = text.count("\n", 0, max(text.find(module_id), 0)) + 1
                raise LoadingError(
                    f"kiln does not provide {', '.join(repr(m) for m in missing)} from '{module_id}' yet "
                    f"(it provides: {', '.join(symbols) or 'nothing'})",
                    location=Location(filename, line, 1),
                )

    # ---- .bzl files ------------------------------------------------------

    def _load_bzl_by_id(self, module_id: str) -> Any:
        try:
            return self._load_bzl(module_id)
        except KilnError as e:
            self._pending = e
            raise

    def _load_bzl(self, module_id: str) -> Any:
        current = self._stack[-1]
        label = parse_label(module_id, base=current.package_id, repo_mapping=self.repo_mapping_for(current.repo))
        if not label.name.endswith(".bzl"):
            raise LoadingError(f"the label '{module_id}' must name a .bzl file")
        self._loads_seen.append(label)
        cached = self._bzl.get(label)
        if cached is not None:
            self._loads_seen.extend(self._bzl_loads.get(label, ()))
            return cached
        if label in self._stack:
            cycle = " -> ".join(str(l) for l in self._stack[self._stack.index(label):] + [label])
            raise LoadingError(f"cycle in the load() graph: {cycle}")
        repo = wellknown.canonical_repo(label.repo)
        if label.repo and repo not in wellknown.WELL_KNOWN_REPOS and self.repo_root(label.repo) is not None:
            frozen = self._eval_bzl(label)
        elif repo in wellknown.WELL_KNOWN_REPOS:
            frozen = self._well_known_module(repo, label, module_id)
        elif label.repo:
            raise LoadingError(
                f"cannot load '{module_id}': repository '@{label.repo}' is not defined "
                "(declare it in MODULE.bazel or WORKSPACE, e.g. with http_archive or local_repository)"
            )
        else:
            frozen = self._eval_bzl(label)
        self._bzl[label] = frozen
        return frozen

    def _eval_bzl(self, label: Label) -> Any:
        root = self.repo_root(label.repo) or self.workspace.root
        path = root / label.relative_path()
        if label.package and find_build_file(root, label.package) is None:
            if not path.exists():
                raise LoadingError(f"cannot load '{label}': no such package '{label.package_id}'")
        if not path.is_file():
            raise LoadingError(f"cannot load '{label}': file '{label.relative_path()}' does not exist")
        self.files_read.add(str(path))
        display = f"@{label.repo}//{label.relative_path()}" if label.repo else label.relative_path()
        text = read_source(path, display)
        module = sl.Module()
        for name, fn in self._rule_fns.items():
            module.add_callable(f"_kiln_native_{name}", fn)
        for name, fn in self._builtins.items():
            module.add_callable(name, fn)
        self._add_prelude_callables(module)
        # print() in a macro names the .bzl it is written in, as Bazel does.
        module.add_callable("print", self._guard(self._print_for(label.relative_path())))
        start = len(self._loads_seen)
        self._stack.append(label)
        saved_pending = self._pending
        try:
            self._eval_prelude(module)
            self._add_depset(module, text)
            self._eval(module, display, text, dialects.parse_bzl)
        finally:
            self._stack.pop()
            self._pending = saved_pending
        self._bzl_loads[label] = tuple(self._loads_seen[start:])
        return module.freeze()

    def _well_known_module(self, repo: str, label: Label, module_id: str) -> Any:
        symbols = wellknown.module_symbols(repo, label.relative_path())
        if symbols is None:
            raise LoadingError(
                f"kiln does not provide '{module_id}' yet: it implements these files of @{repo}: "
                + ", ".join(sorted(f"//{p.rsplit('/', 1)[0]}:{p.rsplit('/', 1)[1]}" for r, p in wellknown.MODULES if r == repo))
            )
        module = sl.Module()
        starlark_parts = []
        for sym in symbols:
            if sym in self._rule_fns:
                module.add_callable(sym, self._rule_fns[sym])
            elif sym in wellknown.PLACEHOLDER_SYMBOLS:
                module[sym] = f"<provider {sym}>"
            elif sym in STARLARK_SYMBOLS:
                starlark_parts.append(STARLARK_SYMBOLS[sym])
            else:
                module.add_callable(sym, self._guard(_unsupported(f"'{sym}' from {module_id}")))
        if starlark_parts:
            module.add_callable("select", self._builtins["select"])
            for name, fn in self._rule_fns.items():
                module.add_callable(f"_kiln_native_{name}", fn)
            self._add_prelude_callables(module)
            self._eval_prelude(module)
            sl.eval(module, sl.parse(f"@{repo}//{label.package}:{label.name}", "\n".join(starlark_parts)), _GLOBALS)
        return module.freeze()

    # ---- builtins --------------------------------------------------------

    def _add_depset(self, module: Any, text: str) -> None:
        """depset() and a `type` that knows it (starlark_lib), where the text names either: code
        reaches a global only by its name, so most BUILD files skip the cost (~0.15 ms a file)."""
        if "depset" not in text and "type" not in text:
            return
        module.add_callable("_kiln_depset_id", self._depset_ids.__next__)
        sl.eval(module, self._capture_type, _GLOBALS)
        sl.eval(module, self._depset_lib, _GLOBALS)

    def _eval_prelude(self, module: Any) -> None:
        sl.eval(module, self._capture_json, _GLOBALS)
        sl.eval(module, self._prelude, _GLOBALS)

    def _add_prelude_callables(self, module: Any) -> None:
        """What the .bzl prelude refers to besides the rules: native-only builtins and stand-ins."""
        for name, fn in self._native_only().items():
            module.add_callable(f"_kiln_native_{name}", fn)
        module.add_callable("Label", self._builtins["Label"])  # config_common.toolchain_type resolves with it
        module.add_callable("_kiln_json_indent", self._guard(json_indent))
        module.add_callable("_kiln_unsupported_rule", self._guard(_unsupported("rules written with rule() in .bzl files")))
        module.add_callable(
            "_kiln_unsupported_repository_rule",
            self._guard(_unsupported("repository rules written with repository_rule()")),
        )

    def _print_for(self, file: str) -> Callable[..., None]:
        def print_(*args: Any, sep: str = " ") -> None:
            text = sep.join(a if isinstance(a, str) else repr(a) for a in args)
            self.report("DEBUG", f"{file}: {text}")

        return print_

    def _current(self, fn: str) -> PackageBuilder:
        if self._builder is None:
            raise LoadingError(f"{fn}() can only be used while evaluating a BUILD file (call it from a macro)")
        return self._builder

    def _guard(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Records the KilnError a builtin raises, since starlark-pyo3 drops it."""

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except KilnError as e:
                self._pending = e
                raise

        wrapper.__name__ = fn.__name__
        return wrapper

    def _rule_fn(self, rule: RuleClass | None) -> Callable[..., Any]:
        assert rule is not None

        def call(*args: Any, **kwargs: Any) -> None:
            if args:
                raise LoadingError(f"{rule.name}() takes only keyword arguments")
            self._current(rule.name).add_rule(rule, kwargs)

        call.__name__ = rule.name
        return self._guard(call)

    def _make_builtins(self) -> dict[str, Callable[..., Any]]:
        def glob(include: Any = (), exclude: Any = (), exclude_directories: int = 1, allow_empty: Any = _UNBOUND) -> Any:
            b = self._current("glob")
            return b.glob(include, exclude, exclude_directories, None if allow_empty is _UNBOUND else allow_empty)

        def select(conditions: Any, no_match_error: str = "") -> Any:
            if not isinstance(conditions, dict) or not conditions:
                raise LoadingError("select() expects a non-empty dict of conditions")
            for k in conditions:
                if not isinstance(k, str):
                    raise LoadingError(f"select(): condition keys must be label strings, got {k!r}")
            return self.selects.make(Select(tuple(conditions.items()), no_match_error))

        def package(**kwargs: Any) -> None:
            self._current("package").package(**kwargs)

        def exports_files(srcs: Any, visibility: Any = None, licenses: Any = None) -> None:
            self._current("exports_files").exports_files(srcs, visibility)

        def package_group(name: Any = None, packages: Any = (), includes: Any = ()) -> None:
            self._current("package_group").package_group(name, packages, includes)

        def package_name() -> str:
            return self._current("package_name").id.package

        def repository_name() -> str:
            return "@" + self._current("repository_name").id.repo

        def module_name() -> str | None:
            return self._module_name(self._current("module_name").id.repo)

        def licenses(*args: Any, **kwargs: Any) -> None:
            return None

        def existing_rule(name: str) -> Any:
            b = self._current("existing_rule")
            t = b.targets.get(name)
            if t is None or name not in b.raw_attrs:
                return None
            return {**b.raw_attrs[name], "kind": t.rule_class.name, "name": name}

        def existing_rules() -> Any:
            b = self._current("existing_rules")
            return {n: existing_rule(n) for n in b.raw_attrs}

        def subpackages(include: Any, exclude: Any = (), allow_empty: bool = False) -> Any:
            return self._current("subpackages").subpackages(include, exclude, allow_empty)

        def print_(*args: Any, sep: str = " ") -> None:
            where = self._builder.build_file if self._builder else ""
            self._print_for(where)(*args, sep=sep)

        def label_(text: str) -> str:
            current = self._stack[-1]
            return str(parse_label(text, base=current.package_id, repo_mapping=self.repo_mapping_for(current.repo)))

        def workspace(name: str = "", **kwargs: Any) -> None:
            return None

        def set_(*args: Any, **kwargs: Any) -> None:
            raise LoadingError("kiln does not support set() yet (Bazel 8.1 added it): a dict whose keys are the "
                               "elements, {x: True for x in xs}, serves in Bazel 7 and 8 alike")

        table = {
            "glob": glob, "select": select, "package": package, "exports_files": exports_files,
            "package_group": package_group, "package_name": package_name, "repository_name": repository_name,
            "module_name": module_name, "licenses": licenses, "existing_rule": existing_rule,
            "existing_rules": existing_rules, "subpackages": subpackages, "print": print_, "Label": label_,
            "workspace": workspace, "set": set_,
        }
        return {name: self._guard(fn) for name, fn in table.items()}

    def _native_only(self) -> dict[str, Callable[..., Any]]:
        keep = ("glob", "package_name", "repository_name", "module_name", "existing_rule", "existing_rules",
                "exports_files", "package_group", "subpackages", "licenses")
        return {k: self._builtins[k] for k in keep}


# Rules Bazel has natively that kiln does not build; calling one says so instead of "not found".
UNSUPPORTED_NATIVE_RULES = (
    "cc_library", "cc_binary", "cc_test", "cc_import", "cc_shared_library", "cc_toolchain",
    "java_library", "java_binary", "java_test", "java_import", "java_plugin",
    "sh_library", "sh_binary", "sh_test", "proto_library", "objc_library", "android_library",
    "android_binary",
    "environment", "environment_group", "starlark_doc_extract",
)


def _unsupported(what: str) -> Callable[..., Any]:
    def fail(*args: Any, **kwargs: Any) -> None:
        raise LoadingError(f"kiln does not support {what} yet")

    return fail

