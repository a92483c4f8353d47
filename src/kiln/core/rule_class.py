"""Rule classes: a rule's name, attribute schema and implementation.

Rule sets under kiln.rules build RuleClass values and register them in a
RuleRegistry; loading exposes them to Starlark, analysis calls `impl(ctx)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from kiln.core.attrs import Attr, AttrType
from kiln.core.labels import Label

# Where a target may be built and run (platform constraints): common to all rules, except that a
# toolchain() declares its own attributes of these names, saying where the toolchain applies.
TARGET_COMPATIBLE_WITH = Attr("target_compatible_with", AttrType.LABEL_LIST)
EXEC_COMPATIBLE_WITH = Attr("exec_compatible_with", AttrType.LABEL_LIST, configurable=False)

COMMON_ATTRS: tuple[Attr, ...] = (
    Attr("name", AttrType.STRING, mandatory=True, configurable=False),
    Attr("visibility", AttrType.LABEL_LIST, configurable=False),
    Attr("tags", AttrType.STRING_LIST, configurable=False),
    Attr("testonly", AttrType.BOOL, False, configurable=False),
    Attr("deprecation", AttrType.STRING),
    Attr("features", AttrType.STRING_LIST),
    Attr("compatible_with", AttrType.LABEL_LIST, configurable=False),
    Attr("restricted_to", AttrType.LABEL_LIST, configurable=False),
    TARGET_COMPATIBLE_WITH,
    EXEC_COMPATIBLE_WITH,
    Attr("exec_properties", AttrType.STRING_DICT),
    Attr("toolchains", AttrType.LABEL_LIST),
    Attr("licenses", AttrType.STRING_LIST),
    Attr("applicable_licenses", AttrType.LABEL_LIST, configurable=False),
    Attr("package_metadata", AttrType.LABEL_LIST, configurable=False),
    Attr("aspect_hints", AttrType.LABEL_LIST),
    Attr("distribs", AttrType.STRING_LIST),
    Attr("generator_name", AttrType.STRING, configurable=False),
    Attr("generator_function", AttrType.STRING, configurable=False),
    Attr("generator_location", AttrType.STRING, configurable=False),
)

BINARY_ATTRS: tuple[Attr, ...] = (
    Attr("args", AttrType.STRING_LIST),
    Attr("env", AttrType.STRING_DICT),
    Attr("output_licenses", AttrType.STRING_LIST),
    Attr("stamp", AttrType.INT, -1),
)

TEST_ATTRS: tuple[Attr, ...] = BINARY_ATTRS + (
    Attr("size", AttrType.STRING, "medium", configurable=False),
    Attr("timeout", AttrType.STRING, "", configurable=False),
    Attr("flaky", AttrType.BOOL, False, configurable=False),
    Attr("shard_count", AttrType.INT, -1, configurable=False),
    Attr("local", AttrType.BOOL, False),
    Attr("env_inherit", AttrType.STRING_LIST),
)


@dataclass(frozen=True)
class ToolchainTypeRequirement:
    """A toolchain type a rule needs (Bazel's config_common.toolchain_type(type, mandatory = ...))."""

    toolchain_type: Label
    mandatory: bool = True


@dataclass(frozen=True)
class RuleClass:
    name: str
    attrs: dict[str, Attr]
    impl: Callable[[Any], Any]
    executable: bool = False
    test: bool = False
    # Bumped when the implementation changes what it produces; part of every action key.
    version: str = "1"
    doc: str = ""
    # Attributes whose values name files this rule creates (genrule outs, copy_file out).
    output_attrs: tuple[str, ...] = field(default=())
    # An incoming transition: (configuration, the target's attribute values as written) -> the
    # configuration the target is analysed in (py_binary's python_version). A pure function.
    transition: Callable[[Any, dict[str, Any]], Any] | None = None
    # The toolchain types the implementation reads as ctx.toolchains[type].
    toolchains: tuple[ToolchainTypeRequirement, ...] = ()
    # Attributes whose value the configuration decides, not the BUILD file (Bazel's late-bound
    # attributes: the target a label_flag is set to): (name, fn(configuration, target, parse) -> value),
    # `parse` reading a label written on the command line. Analysed without a visibility check: the
    # target did not name them.
    late_bound: tuple[tuple[str, Callable[[Any, Any, Callable[[str], Label]], Any]], ...] = ()

    def constrained(self, attribute: Attr) -> bool:
        """Whether this rule's targets carry the common platform constraint `attribute` (not a rule's own)."""
        return self.attrs.get(attribute.name) is attribute

    @staticmethod
    def make(
        name: str,
        impl: Callable[[Any], Any],
        attrs: Iterable[Attr],
        *,
        executable: bool = False,
        test: bool = False,
        version: str = "1",
        doc: str = "",
        transition: Callable[[Any, dict[str, Any]], Any] | None = None,
        toolchains: Iterable[ToolchainTypeRequirement] = (),
        late_bound: Iterable[tuple[str, Callable[[Any, Any, Callable[[str], Label]], Any]]] = (),
    ) -> "RuleClass":
        table: dict[str, Attr] = {a.name: a for a in COMMON_ATTRS}
        if test:
            table.update({a.name: a for a in TEST_ATTRS})
        elif executable:
            table.update({a.name: a for a in BINARY_ATTRS})
        for a in attrs:
            table[a.name] = a
        outs = tuple(a.name for a in table.values() if a.type in (AttrType.OUTPUT, AttrType.OUTPUT_LIST))
        return RuleClass(name, table, impl, executable or test, test, version, doc, outs, transition,
                         tuple(toolchains), tuple(late_bound))


class RuleRegistry:
    """The rule classes kiln knows, by name."""

    def __init__(self) -> None:
        self._rules: dict[str, RuleClass] = {}
        # Toolchains the rule sets register themselves, as (toolchain type, target pattern): considered
        # after the user's (Bazel's order puts modules other than the root last), and loaded only when a
        # target asks for that type.
        self.default_toolchains: list[tuple[Label, str]] = []

    def register(self, rule: RuleClass) -> RuleClass:
        self._rules[rule.name] = rule
        return rule

    def get(self, name: str) -> RuleClass | None:
        return self._rules.get(name)

    def __contains__(self, name: str) -> bool:
        return name in self._rules

    def names(self) -> list[str]:
        return sorted(self._rules)
