"""constraint_setting, constraint_value and platform."""

from __future__ import annotations

from kiln.analysis.providers import ConstraintSettingInfo, ConstraintValueInfo, PlatformInfo
from kiln.core.attrs import Attr, AttrType
from kiln.core.rule_class import RuleClass


def _constraint_setting(ctx):
    return [ConstraintSettingInfo(ctx.label, ctx.attr.default_constraint_value)]


CONSTRAINT_SETTING = RuleClass.make(
    "constraint_setting",
    _constraint_setting,
    [Attr("default_constraint_value", AttrType.ANY, configurable=False)],
)


def _constraint_value(ctx):
    setting = ctx.attr.constraint_setting
    if setting.get(ConstraintSettingInfo) is None:
        raise ctx.error(f"'{setting.label}' is not a constraint_setting", attribute="constraint_setting")
    return [ConstraintValueInfo(ctx.label, setting.label)]


CONSTRAINT_VALUE = RuleClass.make(
    "constraint_value",
    _constraint_value,
    [Attr("constraint_setting", AttrType.LABEL, mandatory=True, configurable=False)],
)


def _platform(ctx):
    constraints = {}
    for parent in ctx.attr.parents:
        info = parent.get(PlatformInfo)
        if info is None:
            raise ctx.error(f"'{parent.label}' is not a platform", attribute="parents")
        for c in info.constraints:
            constraints[c.setting] = c
    for cv in ctx.attr.constraint_values:
        info = cv.get(ConstraintValueInfo)
        if info is None:
            raise ctx.error(f"'{cv.label}' is not a constraint_value", attribute="constraint_values")
        constraints[info.setting] = info
    return [PlatformInfo(ctx.label, tuple(constraints.values()))]


PLATFORM = RuleClass.make(
    "platform",
    _platform,
    [
        Attr("constraint_values", AttrType.LABEL_LIST, configurable=False),
        Attr("parents", AttrType.LABEL_LIST, configurable=False),
        Attr("exec_properties", AttrType.STRING_DICT),
        Attr("flags", AttrType.STRING_LIST),
    ],
)
