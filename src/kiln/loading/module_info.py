"""What MODULE.bazel and WORKSPACE declare, as values: the module, its extensions, repositories, registrations.

Extension usages are recorded, not run: tags with their attributes and lines,
and the repositories `use_repo` imports. kiln.repos reads them to generate
repositories; loading only needs the names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from kiln.core.errors import Location


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
    (`rules_rust`, `crate_universe/extensions.bzl`). A WORKSPACE repository
    rule call (crates_repository) is recorded as a usage of the .bzl it was
    loaded from, named after the rule, with one tag of that name.
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


@dataclass(frozen=True)
class BazelDep:
    """A `bazel_dep` as written: the module, the name it is seen by (`repo_name`), and where."""

    name: str
    repo_name: str
    version: str
    dev_dependency: bool
    location: Location

    @property
    def apparent_name(self) -> str:
        return self.repo_name or self.name


@dataclass(frozen=True)
class LocalPathOverride:
    """`local_path_override(module_name, path)` of the root module, or --override_module: `directory` is `path`
    made absolute."""

    module_name: str
    path: str
    directory: Path
    location: Location | None
    # How it was given, when not by local_path_override() (`--override_module=name=path`): what messages name.
    given_as: str = ""

    def describe(self, *, with_path: bool = True) -> str:
        path = f", path = \"{self.path}\"" if with_path else ""
        return self.given_as or f"local_path_override(module_name = \"{self.module_name}\"{path})"


@dataclass(frozen=True)
class LocalModule:
    """A module on the local disk, in the dependency graph: its repository is named after the module.

    `repo_mapping` maps the apparent names its BUILD and .bzl files may use (its own name and its
    bazel_deps) to canonical repository names."""

    name: str
    version: str
    directory: Path
    repo_mapping: Mapping[str, str]
    module_file: str
    # Its usages of the extensions that see every module's (ModuleExtension.declare).
    extensions: tuple[ExtensionUsage, ...] = ()


@dataclass
class ModuleInfo:
    name: str = ""
    version: str = ""
    repo_name: str = ""
    bazel_deps: dict[str, str] = field(default_factory=dict)  # apparent name -> module name
    deps: list[BazelDep] = field(default_factory=list)
    overrides: dict[str, LocalPathOverride] = field(default_factory=dict)  # by module name
    # The modules on the local disk the root depends on (transitively), by repository name, in BFS order.
    local_modules: dict[str, LocalModule] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    # Files looked for and absent (WORKSPACE.bzlmod, ...): creating one changes what is read.
    absent_files: list[str] = field(default_factory=list)
    # Environment variables whose values decided what the files declare (kiln.core.env_reads).
    env: list[str] = field(default_factory=list)
    extensions: list[ExtensionUsage] = field(default_factory=list)
    repos: dict[str, RepoDecl] = field(default_factory=dict)
    # In Bazel's order: the root module's MODULE.bazel, then WORKSPACE, then the other modules' in BFS order.
    toolchains: list[Registration] = field(default_factory=list)
    execution_platforms: list[Registration] = field(default_factory=list)
    # Said once the files are read: what module extensions report (ModuleExtension.declare).
    warnings: list[str] = field(default_factory=list)

    @property
    def main_repo_names(self) -> frozenset[str]:
        """Apparent names of the main repository (`@<module name>//`)."""
        return frozenset(n for n in (self.name, self.repo_name) if n)
