"""label_flag and label_setting: build settings whose value is a target.

A dependency on one stands for the target it is set to, in the depender's
configuration: it offers that target's providers as its own, as Bazel's do.
A label_flag's value comes from the configuration (`--//pkg:flag=//other:target`
on the command line, where the label is read in the main repository), else
from `build_setting_default`; a label_setting always has its default.
"""

from __future__ import annotations

from kiln.core.attrs import Attr, AttrType
from kiln.core.errors import KilnError
from kiln.core.rule_class import RuleClass
from kiln.rules.common.filegroup import forwarded_providers
from kiln.rules.common.settings import FlagTypeError

LABEL_SETTING_KINDS = ("label_flag", "label_setting")


def _chosen_label(config, target, parse):
    default = target.attrs["build_setting_default"]
    given = config.flag(str(target.label)) if target.rule_class.name == "label_flag" else None
    given = given.rpartition("\0")[2] if given is not None else None  # the last occurrence wins
    if given is None:
        return default
    try:
        return parse(given)
    except KilnError as e:
        raise FlagTypeError(f"Error setting {target.label}: '{given}' is not a label ({e.message})") from None


def _label_setting(ctx):
    return forwarded_providers(ctx.attr._actual)


def setting_target(dep):
    """The configured target a label_flag or label_setting dependency stands for (`dep` itself otherwise)."""
    while dep.target.rule_kind in LABEL_SETTING_KINDS:
        dep = dict(dep.dependencies)["_actual"]
    return dep


def _make(kind):
    return RuleClass.make(kind, _label_setting, [
        Attr("build_setting_default", AttrType.LABEL, mandatory=True, configurable=False),
        Attr("scope", AttrType.STRING),
        Attr("_actual", AttrType.LABEL),
    ], late_bound=(("_actual", _chosen_label),))


LABEL_SETTINGS = [_make(kind) for kind in LABEL_SETTING_KINDS]
