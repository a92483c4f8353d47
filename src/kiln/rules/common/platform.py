"""constraint_setting, constraint_value and platform, as Bazel defines them.

A platform inherits its parent's constraint values except for the settings it
sets itself, and its parent's exec_properties under its own (an empty value
removes a key). A constraint_setting's default value is what a platform
without a value for that setting has; each constraint_value carries it so
matching needs nothing else.
"""

from __future__ import annotations

from kiln.analysis.providers import ConstraintSettingInfo, ConstraintValueInfo, PlatformInfo
from kiln.analysis.host import host_os_and_cpu
from kiln.core.attrs import Attr, AttrType
from kiln.core.errors import KilnError
from kiln.core.labels import parse_label
from kiln.core.rule_class import RuleClass


def nodep_label(ctx, attribute):
    """A label attribute kept as text so it is not analysed as a dependency (Bazel's nodep label)."""
    raw = getattr(ctx.attr, attribute)
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise ctx.error(f"expected a label, got {raw!r}", attribute=attribute)
    try:
        return parse_label(raw, base=ctx.label.package_id)
    except KilnError as e:
        raise ctx.error(e.message, attribute=attribute) from None


def _constraint_setting(ctx):
    # Not a dependency: the default value depends on this setting.
    default = nodep_label(ctx, "default_constraint_value")
    if default is None:
        return [ConstraintSettingInfo(ctx.label, None)]
    if default.package_id != ctx.label.package_id:
        raise ctx.error(f"the default value '{default}' must be in the same package as the constraint_setting",
                        attribute="default_constraint_value")
    return [ConstraintSettingInfo(ctx.label, default)]


CONSTRAINT_SETTING = RuleClass.make(
    "constraint_setting",
    _constraint_setting,
    [Attr("default_constraint_value", AttrType.ANY, configurable=False)],
)


def _constraint_value(ctx):
    setting = ctx.attr.constraint_setting
    info = setting.get(ConstraintSettingInfo)
    if info is None:
        raise ctx.error(f"'{setting.label}' is not a constraint_setting", attribute="constraint_setting")
    return [ConstraintValueInfo(ctx.label, setting.label, info.default_value)]


CONSTRAINT_VALUE = RuleClass.make(
    "constraint_value",
    _constraint_value,
    [Attr("constraint_setting", AttrType.LABEL, mandatory=True, configurable=False)],
)


def _platform(ctx):
    if len(ctx.attr.parents) > 1:
        raise ctx.error("a platform can have at most one parent (as in Bazel), got "
                        + ", ".join(str(p.label) for p in ctx.attr.parents), attribute="parents")
    constraints: dict = {}
    properties: dict[str, str] = {}
    for parent in ctx.attr.parents:
        info = parent.get(PlatformInfo)
        if info is None:
            raise ctx.error(f"'{parent.label}' is not a platform", attribute="parents")
        constraints.update((c.setting, c) for c in info.constraints)
        properties.update(info.exec_properties)
    own: dict = {}
    for cv in ctx.attr.constraint_values:
        info = cv.get(ConstraintValueInfo)
        if info is None:
            raise ctx.error(f"'{cv.label}' is not a constraint_value", attribute="constraint_values")
        own.setdefault(info.setting, []).append(info)
    for setting, values in own.items():
        if len(values) > 1:
            raise ctx.error(f"Duplicate constraint values detected: constraint_setting {setting} has "
                            f"[{', '.join(str(v.label) for v in values)}]", attribute="constraint_values")
        constraints[setting] = values[0]
    for key, value in (ctx.attr.exec_properties or {}).items():
        if value:
            properties[key] = value
        else:
            properties.pop(key, None)
    return [PlatformInfo(ctx.label, tuple(constraints.values()), tuple(sorted(properties.items())))]


PLATFORM = RuleClass.make(
    "platform",
    _platform,
    [
        Attr("constraint_values", AttrType.LABEL_LIST, configurable=False),
        Attr("parents", AttrType.LABEL_LIST, configurable=False),
        Attr("exec_properties", AttrType.STRING_DICT, configurable=False),
        Attr("flags", AttrType.STRING_LIST),
    ],
)


def _host_constraints() -> tuple:
    """This machine's OS and CPU as @platforms constraint values (Bazel's HOST_CONSTRAINTS)."""
    system, cpu = host_os_and_cpu()
    return (parse_label(f"@platforms//os:{system}"), parse_label(f"@platforms//cpu:{cpu}"))


# @platforms//host: a platform whose constraint values are detected on this machine.
HOST_PLATFORM = RuleClass.make(
    "host_platform",
    _platform,
    [
        Attr("constraint_values", AttrType.LABEL_LIST, default=_host_constraints(), configurable=False),
        Attr("parents", AttrType.LABEL_LIST, configurable=False),
        Attr("exec_properties", AttrType.STRING_DICT, configurable=False),
    ],
)
