"""Module extensions and WORKSPACE symbols as loading sees them: names, tag classes, checks.

Loading knows what a MODULE.bazel or WORKSPACE may call, never what the
call means: a rule set (kiln.repos) registers each module extension it
implements with its tag classes, and each WORKSPACE .bzl whose symbols it
provides. A tag's attributes are checked by name (a misspelt `featurs` is an
error, not a silent no-op) and, for the kinds declared, by type.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

# Attribute kinds. "any" is accepted as written.
STRING, BOOL, INT, STRING_LIST, STRING_DICT, LABEL, LABEL_LIST, ANY = (
    "string", "bool", "int", "string_list", "string_dict", "label", "label_list", "any",
)


@dataclass(frozen=True)
class TagClass:
    attrs: dict[str, str] | None  # None: any attribute is accepted
    mandatory: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModuleExtension:
    """An extension `use_extension("@repo//path", "name")` may name, and the tags it takes."""

    repo: str   # canonical repository of the .bzl defining it
    paths: tuple[str, ...]  # the .bzl's path(s) inside it
    name: str
    tags: dict[str, TagClass]
    # The repositories the given usages of it generate, for checking use_repo; None: any name.
    generated_repos: Callable[[list[Any]], set[str]] | None = None
    # An extension that sees every module's usages, as rules_python's `python` does: run once all modules
    # are read, with each using module's usages (the root's first, then Bazel's BFS order); what it returns
    # is declared and registered, and use_repo may import only its repositories. Library modules may
    # use only such extensions.
    declare: Callable[[list[ModuleUsages]], MacroResult] | None = None


@dataclass(frozen=True)
class ModuleUsages:
    """One module's usages of an extension (kiln.loading.module_info.ExtensionUsage), as module_ctx.modules."""

    module: str
    root: bool
    usages: tuple[Any, ...]
    directory: Path  # the module's own: what its tags' labels name (python_version_file) is read from it


@dataclass(frozen=True)
class WorkspaceRule:
    """A repository rule WORKSPACE may call, or MODULE.bazel through use_repo_rule, from a .bzl a rule set provides."""

    name: str
    # Its attributes by name and kind (`name` is implied); None: any attribute.
    attrs: TagClass | None = None
    check: Callable[[dict[str, Any]], str | None] = lambda attrs: None
    # Attributes holding dicts whose keys deserve their own line in messages (crates_repository's packages).
    keyed_attrs: tuple[str, ...] = ()

    def problem(self, attrs: dict[str, Any]) -> str | None:
        """Why these attributes do not fit the rule, or None."""
        if self.attrs is not None:
            why = check_attrs(f"{self.name}(name = \"{attrs.get('name')}\")", self.attrs,
                              {k: v for k, v in attrs.items() if k != "name"})
            if why:
                return why
        return self.check(attrs)


@dataclass(frozen=True)
class DeclaredRepo:
    """A repository a WORKSPACE macro or a declaring module extension declares: the rule that makes it (its
    kind), its name, its attributes."""

    kind: str
    name: str
    attrs: dict[str, Any]


@dataclass(frozen=True)
class MacroResult:
    """What one call of a WORKSPACE macro (or a declaring extension) declares: repositories, then
    register_toolchains patterns."""

    repos: tuple[DeclaredRepo, ...] = ()
    toolchains: tuple[str, ...] = ()
    # Said to the user once the declarations are read (rules_python's "Ignoring toolchain ...").
    warnings: tuple[str, ...] = ()
    # Files read to make them (python_version_file): a change to one means reading the modules again.
    files: tuple[str, ...] = ()
    # Environment variables read to make them (python_version_env): the same for a change to one.
    env: tuple[str, ...] = ()


@dataclass(frozen=True)
class WorkspaceBzl:
    """What a rule set provides for one .bzl of repository rules (WORKSPACE load()s, use_repo_rule)."""

    repo: str
    path: str
    rules: tuple[WorkspaceRule, ...] = ()
    # Plain functions: name -> Python callable (its keyword arguments in, a value out).
    functions: dict[str, Callable[..., Any]] = field(default_factory=dict)
    # Starlark evaluated into the module after the functions are bound (e.g. a struct of them).
    starlark: str = ""
    # Setup macros (`rules_rust_dependencies()`) that have nothing to do in kiln: any arguments are accepted.
    setup_functions: tuple[str, ...] = ()
    # Macros that declare repositories and register toolchains (python_register_toolchains): keyword
    # arguments in; a KilnError they raise is reported at the macro's call.
    macros: dict[str, Callable[..., MacroResult]] = field(default_factory=dict)

    @property
    def symbols(self) -> tuple[str, ...]:
        """The public names a load() of this file may ask for, sorted."""
        from kiln.loading.call_sites import top_level_names

        names = [*(r.name for r in self.rules), *self.functions, *self.setup_functions, *self.macros,
                 *top_level_names(self.starlark)]
        return tuple(sorted(n for n in set(names) if not n.startswith("_")))

    @property
    def label(self) -> str:
        """The .bzl's label as users write it: `@rules_rust//crate_universe:defs.bzl`."""
        package, _, name = self.path.rpartition("/")
        return f"@{self.repo}//{package}:{name}"


@dataclass(frozen=True)
class GeneratedBzl:
    """A .bzl file the repositories of one kind hold (a crates_repository's defs.bzl, a pip hub's
    requirements.bzl), as WORKSPACE may load it before anything is fetched: its setup functions have nothing
    to do in kiln (the repositories they would declare are declared already), its constants are made from
    the declaration."""

    kind: str
    path: str
    setup_functions: tuple[str, ...] = ()
    # (repository name, its attributes) -> constants by name (`interpreter` of a Python toolchain's defs.bzl).
    constants: Callable[[str, dict[str, Any]], dict[str, Any]] | None = None


@dataclass(frozen=True)
class RepositoryDefinitions:
    """Everything the rule sets registered: module extensions and WORKSPACE .bzl symbols."""

    extensions: tuple[ModuleExtension, ...] = ()
    workspace_bzls: tuple[WorkspaceBzl, ...] = ()
    generated_bzls: tuple[GeneratedBzl, ...] = ()

    def extension(self, repo: str, path: str, name: str) -> ModuleExtension | None:
        for ext in self.extensions:
            if ext.repo == repo and path in ext.paths and ext.name == name:
                return ext
        return None

    def workspace_bzl(self, repo: str, path: str) -> WorkspaceBzl | None:
        for bzl in self.workspace_bzls:
            if bzl.repo == repo and bzl.path == path:
                return bzl
        return None

    def generated_bzl(self, kind: str, path: str) -> GeneratedBzl | None:
        return next((g for g in self.generated_bzls if g.kind == kind and g.path == path), None)


def check_attrs(what: str, tag: TagClass, attrs: dict[str, Any]) -> str | None:
    """Why these attributes do not fit the tag class, or None."""
    for name in tag.mandatory:
        if attrs.get(name) in (None, ""):
            return f"{what}: missing mandatory attribute '{name}'"
    if tag.attrs is None:
        return None
    for name, value in attrs.items():
        kind = tag.attrs.get(name)
        if kind is None:
            import difflib  # only for this message: a module off every command's start-up

            close = difflib.get_close_matches(name, list(tag.attrs), n=1, cutoff=0.75)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            return f"{what}: unknown attribute '{name}'{hint}"
        why = _check_type(kind, value)
        if why:
            return f"{what}: attribute '{name}' {why}"
    return None


_EXPECTED = {
    STRING: "a string", LABEL: "a label string", BOOL: "a bool", INT: "an int",
    STRING_LIST: "a list of strings", LABEL_LIST: "a list of label strings",
    STRING_DICT: "a dict of strings to strings",
}


def _check_type(kind: str, value: Any) -> str | None:
    if value is None or kind == ANY:
        return None
    if kind in (STRING, LABEL):
        ok = isinstance(value, str)
    elif kind == BOOL:
        ok = isinstance(value, bool)
    elif kind == INT:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind in (STRING_LIST, LABEL_LIST):
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    elif kind == STRING_DICT:
        ok = isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
    else:
        ok = True
    if ok:
        return None
    name = {bool: "bool", int: "int", str: "string", list: "list", dict: "dict", tuple: "tuple"}.get(
        type(value), type(value).__name__)
    return f"must be {_EXPECTED[kind]}, got {name}"


class LazyDefinitions:
    """RepositoryDefinitions made on first use: most MODULE.bazel files name no extension or repository rule,
    and importing every rule set's tables would cost each such command's start-up."""

    def __init__(self, make: Callable[[], RepositoryDefinitions]):
        self._make = make
        self._value: RepositoryDefinitions | None = None

    def _get(self) -> RepositoryDefinitions:
        if self._value is None:
            self._value = self._make()
        return self._value

    @property
    def workspace_bzls(self) -> tuple[WorkspaceBzl, ...]:
        return self._get().workspace_bzls

    def extension(self, repo: str, path: str, name: str) -> ModuleExtension | None:
        return self._get().extension(repo, path, name)

    def workspace_bzl(self, repo: str, path: str) -> WorkspaceBzl | None:
        return self._get().workspace_bzl(repo, path)

    def generated_bzl(self, kind: str, path: str) -> GeneratedBzl | None:
        return self._get().generated_bzl(kind, path)


# What evaluating MODULE.bazel and WORKSPACE is given.
Definitions = RepositoryDefinitions | LazyDefinitions
