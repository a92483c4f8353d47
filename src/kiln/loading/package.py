"""The products of loading: packages and their targets (rules and files).

Attribute values here are coerced but unconfigured: they may hold selects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kiln.core.attrs import labels_in
from kiln.core.errors import Location
from kiln.core.labels import Label, PackageId
from kiln.core.rule_class import RuleClass

PUBLIC = Label("", "visibility", "public")
PRIVATE = Label("", "visibility", "private")


@dataclass(eq=False)
class RuleTarget:
    label: Label
    rule_class: RuleClass
    attrs: dict[str, Any]
    location: Location
    # The macro call stack that created it, innermost last, for messages.
    call_stack: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        return f"{self.rule_class.name} rule"

    @property
    def rule_kind(self) -> str:
        return self.rule_class.name

    @property
    def visibility(self) -> tuple[Label, ...]:
        return self.attrs["visibility"]

    @property
    def is_test(self) -> bool:
        return self.rule_class.test

    @property
    def tags(self) -> tuple[str, ...]:
        return self.attrs.get("tags", ())

    def dependency_labels(self) -> list[tuple[str, Label]]:
        """(attribute, label) for every label attribute value, every select branch included."""
        out: list[tuple[str, Label]] = []
        for name, attr in self.rule_class.attrs.items():
            if name in ("visibility", "applicable_licenses", "package_metadata", "compatible_with", "restricted_to"):
                continue
            if attr.type.name.startswith("OUTPUT"):
                continue
            value = self.attrs.get(name)
            if value is None:
                continue
            for label in labels_in(attr, value):
                out.append((name, label))
        return out


@dataclass(eq=False)
class FileTarget:
    label: Label
    location: Location
    visibility: tuple[Label, ...] = (PUBLIC,)
    # For output files: the rule that creates it.
    generating_rule: Label | None = None

    @property
    def kind(self) -> str:
        return "generated file" if self.generating_rule else "source file"

    @property
    def rule_kind(self) -> str:
        return self.kind

    @property
    def tags(self) -> tuple[str, ...]:
        return ()

    @property
    def is_test(self) -> bool:
        return False

    def dependency_labels(self) -> list[tuple[str, Label]]:
        return [("generating_rule", self.generating_rule)] if self.generating_rule else []


@dataclass(eq=False)
class PackageGroup:
    label: Label
    location: Location
    packages: tuple[str, ...]
    includes: tuple[Label, ...]

    @property
    def kind(self) -> str:
        return "package_group"

    @property
    def rule_kind(self) -> str:
        return "package_group"

    visibility: tuple[Label, ...] = (PUBLIC,)
    tags: tuple[str, ...] = ()
    is_test = False

    def dependency_labels(self) -> list[tuple[str, Label]]:
        return [("includes", l) for l in self.includes]


Target = RuleTarget | FileTarget | PackageGroup


@dataclass(eq=False)
class Package:
    id: PackageId
    build_file: str  # workspace-relative path
    build_text: str
    targets: dict[str, Target] = field(default_factory=dict)
    default_visibility: tuple[Label, ...] = (PRIVATE,)
    default_testonly: bool = False
    # .bzl files this package loaded (transitively), for cache invalidation and messages.
    loads: tuple[Label, ...] = ()
    # (directory, entries) listings the package's globs depended on.
    glob_dirs: tuple[str, ...] = ()

    def rules(self) -> list[RuleTarget]:
        return [t for t in self.targets.values() if isinstance(t, RuleTarget)]
