"""WORKSPACE / WORKSPACE.bazel: the workspace's name, repository rules, rule sets' macros and registrations.

The WORKSPACE and the .bzl files it loads (kiln.loading.workspace_loads) are
evaluated as Bazel does; their builtins are bound to the file that names them,
so each call is located in its own file. Fetching a well-known rule set is a
no-op (kiln has it built in): its version is kept for messages. The repository
rules and helpers kiln.repos registered (RepositoryDefinitions' .bzls:
http_archive, local_repository, crates_repository, ...) are recorded like a
module extension's tags, with their attributes checked; kiln.repos fetches them
when a build needs them. Macros a rule set provides (python_register_toolchains)
declare repositories and register toolchains as if the file had written those
calls at the macro's line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
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
from kiln.loading.repository_resolver import RepositoryResolver
from kiln.loading.source_files import read_source
from kiln.loading.workspace_loads import BzlLoads, SourceFile


@dataclass(frozen=True)
class RuleSetArchive:
    """The http_archive (or other repository rule) a workspace wrote for a rule set kiln has built in."""

    version: str   # as its strip_prefix or URL says, "" if neither does
    location: Location

    def describe(self, repo: str) -> str:
        version = f"{repo} {self.version}" if self.version else f"{repo} (its version not given)"
        return f"{version}, declared at {self.location}"


def evaluate_workspace(path: Path, info: ModuleInfo, definitions: Definitions,
                       repositories: RepositoryResolver | None = None) -> None:
    WorkspaceReader(path, info, definitions, repositories).read()


class WorkspaceReader:
    """One evaluation of WORKSPACE and the .bzl files it loads."""

    def __init__(self, path: Path, info: ModuleInfo, definitions: Definitions,
                 repositories: RepositoryResolver | None = None):
        self.path = path
        self.root = path.parent
        self.info = info
        self.definitions = definitions
        # Fetches a repository a load() names (kiln.repos wires it in); None: nothing is fetched while reading.
        self.repositories = repositories
        self.rec = Recorder()
        self.rule_sets: dict[str, RuleSetArchive] = {}
        # Where a `maybe(rule, ...)` was called: the location of the repository rule it calls next.
        self.maybe_site: Location | None = None
        self.files_shown: list[str] = []
        self.loads = BzlLoads(self)

    def read(self) -> None:
        display = self.path.name
        self.info.files.append(str(self.path))
        text = read_source(self.path, display)
        f = SourceFile(display, text, "", "", CallSites(text))
        m = sl.Module()
        m.add_callable("workspace", self.rec.guard(self._workspace))
        for name, fn in self.native(f).items():
            m.add_callable(name, fn)
        self.evaluate(f, m)
        try:
            check_registered_repos(self.info, tuple(self.files_shown), self._visible)
        except KilnError as e:
            self.rec.errors.append(e)
        self.rec.finish()

    def evaluate(self, f: SourceFile, module: Any, parse: Callable[[str, str], Any] = sl.parse) -> bool:
        """Evaluates `f` into `module`; False (its error recorded) if Starlark stopped."""
        self.files_shown.append(f.display)
        try:
            ast = parse(f.display, f.text)
        except LoadingError as e:  # a construct the dialect's own checks refuse (kiln.loading.dialects)
            self.rec.errors.append(e)
            return False
        try:
            sl.eval(module, ast, GLOBALS, sl.FileLoader(lambda module_id: self.load(f, module_id)))
        except sl.StarlarkError as e:
            self.loads.explain(self.rec.stopped(e, f.text), f)
            return False
        return True

    def load(self, f: SourceFile, module_id: str) -> Any:
        try:
            return self.loads.load(f, module_id)
        except KilnError as e:
            self.rec.pending = e
            raise

    # ---- builtins, bound to the file that calls them ------------------------------------------------

    def native(self, f: SourceFile) -> dict[str, Callable[..., Any]]:
        """What WORKSPACE has without a load() and a .bzl as `native.<name>`."""
        out = {
            "register_toolchains": registrar("register_toolchains", f.display, f.sites, self.info.toolchains,
                                             dev=False),
            "register_execution_platforms": registrar("register_execution_platforms", f.display, f.sites,
                                                      self.info.execution_platforms, dev=False),
            "existing_rule": self._existing_rule,
            "existing_rules": lambda: {n: self._existing_rule(n) for n in [*self.rule_sets, *self.info.repos]},
        }
        for name in ("local_repository", "new_local_repository"):  # native in WORKSPACE files (Bazel 7)
            found = self.definitions.workspace_bzl("bazel_tools", "tools/build_defs/repo/local.bzl")
            rule = next((r for r in found.rules if r.name == name), None) if found else None
            if found is not None and rule is not None:
                out[name] = self.repository_rule(f, found, rule)
        guarded = {name: self.rec.guard(fn) for name, fn in out.items()}
        guarded["bind"] = self.rec.guard(unsupported("bind", f.display))
        return guarded

    def _workspace(self, name: str = "", **_: Any) -> None:
        self.info.name = self.info.name or name

    def _existing_rule(self, name: str) -> dict[str, Any] | None:
        decl = self.info.repos.get(name)
        if decl is not None:
            return {**decl.usage.tags[0].attrs, "name": name, "kind": decl.kind}
        if name in self.rule_sets:
            return {"name": name, "kind": "http_archive"}
        return None

    def repository_rule(self, f: SourceFile, bzl: WorkspaceBzl, rule: WorkspaceRule) -> Callable[..., None]:
        def record(**attrs: Any) -> None:
            where = self._site(f, rule.name)
            name = attrs.get("name")
            if not isinstance(name, str) or not name:
                raise LoadingError(f"{rule.name}() needs a name", location=where)
            if self.built_in(name):
                # Fetching a rule set kiln has built in is a no-op: its version is kept for messages.
                self.rule_sets.setdefault(wellknown.canonical_repo(name), RuleSetArchive(_version(attrs), where))
                return
            why = rule.problem(attrs)
            if why:
                raise LoadingError(why, location=where)
            key_lines = {}
            for attr in rule.keyed_attrs:
                if isinstance(attrs.get(attr), dict) and where.file == f.display:
                    key_lines.update(f.sites.key_lines(f.text, where.line, where.column, attr, list(attrs[attr])))
            self.declare(bzl, rule.name, attrs, where, key_lines)

        return record

    def macro(self, f: SourceFile, bzl: WorkspaceBzl, name: str, fn: Callable[..., MacroResult]) -> Callable[..., None]:
        def run(*args: Any, **kwargs: Any) -> None:
            where = self._site(f, name)
            if args:
                raise LoadingError(f"{name}() takes keyword arguments only", location=where)
            import inspect  # only for workspaces that call a macro

            if "_root" in inspect.signature(fn).parameters:  # a macro that reads the workspace's files
                kwargs["_root"] = self.root
            try:
                inspect.signature(fn).bind(**kwargs)
            except TypeError as e:  # a misspelt or missing argument
                raise LoadingError(f"{name}(): {e}", location=where) from None
            try:
                result = fn(**kwargs)
            except KilnError as e:
                raise LoadingError(e.message, location=where) from None
            for repo in result.repos:
                self.declare(bzl, repo.kind, {"name": repo.name, **repo.attrs}, where, {})
            for pattern in result.toolchains:
                self.info.toolchains.append(Registration(pattern, where, False))
            self.info.files.extend(result.files)
            self.info.env.extend(result.env)
            self.info.warnings.extend(f"{where}: {w}" for w in result.warnings)

        return run

    def maybe(self, f: SourceFile) -> Callable[[str], bool]:
        """`maybe(rule, name, ...)`'s question, asked where maybe is called: is `name` declared already?"""

        def defined(name: str) -> bool:
            self.maybe_site = f.at("maybe")
            # A built-in rule set's first declaration goes through: the rule records its version.
            known = name in self.info.repos or wellknown.canonical_repo(name) in self.rule_sets
            if known:
                self.maybe_site = None
            return known

        return defined

    def _site(self, f: SourceFile, fn: str) -> Location:
        where, self.maybe_site = self.maybe_site, None
        return where if where is not None else f.at(fn)

    # ---- declarations -------------------------------------------------------------------------------

    def declare(self, bzl: WorkspaceBzl, kind: str, attrs: dict[str, Any], where: Location,
                key_lines: dict[str, int]) -> None:
        name = attrs["name"]
        if name in self.info.repos:
            first = self.info.repos[name].location
            raise LoadingError(f"{kind}(name = \"{name}\"): the repository name '{name}' is already in use "
                               f"(declared at {first})", location=where)
        tag = Tag(kind, {k: v for k, v in attrs.items() if v is not None}, where.line, where.column, where.file,
                  key_lines)
        usage = ExtensionUsage(bzl_label=bzl.label, name=kind, repo=bzl.repo, path=bzl.path, file=where.file,
                               line=where.line, column=where.column, tags=[tag], imports={name: name})
        self.info.extensions.append(usage)
        self.info.repos[name] = RepoDecl(name, name, kind, usage, where)

    @staticmethod
    def built_in(name: str) -> bool:
        return wellknown.canonical_repo(name) in wellknown.WELL_KNOWN_REPOS or name in HARMLESS_MODULES

    def _visible(self, repo: str) -> bool:
        return repo == "" or repo in self.info.main_repo_names or repo in self.info.repos or self.built_in(repo)


_VERSION = re.compile(r"[-/]v?(\d+(?:\.\d+)+(?:-[A-Za-z]+\.?\d*)?)(?=$|/|\.tar|\.zip|\.tgz)")


def _version(attrs: dict[str, Any]) -> str:
    """A rule set's version as its http_archive writes it: in strip_prefix (`rules_python-0.31.0`), else in
    a URL (`.../download/0.57.0/rules_rust-v0.57.0.tar.gz`)."""
    urls = attrs.get("urls") if isinstance(attrs.get("urls"), list) else []
    for text in [attrs.get("strip_prefix"), attrs.get("url"), *urls, attrs.get("tag")]:
        if isinstance(text, str):
            m = _VERSION.search("/" + text)
            if m:
                return m.group(1)
    return ""
