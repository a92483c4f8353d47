"""config_setting, config_setting_group and skylib's build settings (string_flag, bool_flag, ...)."""

from __future__ import annotations

from kiln.analysis.providers import BuildSettingInfo, ConfigMatchingInfo, ConstraintValueInfo
from kiln.analysis.toolchain_resolution import missing_constraints
from kiln.core.attrs import Attr, AttrType
from kiln.core.config import CONFIGURATION_OPTIONS
from kiln.core.errors import AnalysisError
from kiln.core.rule_class import RuleClass

class FlagTypeError(AnalysisError):
    """A command-line value that is not of the setting's type: a bad option (exit 2), as in Bazel."""


_TRUE = ("true", "1", "yes", "True")
_FALSE = ("false", "0", "no", "False")


def _setting_value(ctx, kind):
    label = str(ctx.label)
    given = ctx.config.flag(label) if kind.endswith("flag") else None
    default = ctx.attr.build_setting_default
    if given is None:
        return default
    # A flag given several times holds every occurrence ("\0"-separated, kiln.cli.options): a repeatable
    # list flag takes each whole, any other the last.
    if kind.startswith("string_list") and getattr(ctx.attr, "repeatable", False):
        return given.split("\0")
    given = given.rpartition("\0")[2]
    if kind.startswith("bool"):
        if given in _TRUE:
            return True
        if given in _FALSE:
            return False
        raise FlagTypeError(f"Error setting {label}: '{given}' is not a boolean (use true or false)")
    if kind.startswith("int"):
        try:
            return int(given)
        except ValueError:
            raise FlagTypeError(f"Error setting {label}: '{given}' is not an integer") from None
    if kind.startswith("string_list"):
        return [v for v in given.split(",") if v]
    allowed = list(getattr(ctx.attr, "values", ()) or ())
    if allowed and given not in allowed:
        raise ctx.error(f"Error setting {label}: invalid value '{given}'. Allowed values are {allowed}")
    return given


def _make_setting(kind, default_type):
    def impl(ctx):
        allowed = list(getattr(ctx.attr, "values", ()) or ())
        if allowed and ctx.attr.build_setting_default not in allowed:
            raise ctx.error(f"Error setting {ctx.label}: invalid value '{ctx.attr.build_setting_default}' "
                            f"for build_setting_default. Allowed values are {allowed}")
        return [BuildSettingInfo(_setting_value(ctx, kind), str(ctx.label))]

    attrs = [Attr("build_setting_default", default_type, mandatory=True, configurable=False),
             Attr("scope", AttrType.STRING)]
    if kind in ("string_flag", "string_setting"):
        attrs.append(Attr("values", AttrType.STRING_LIST))
    if kind.endswith("list_flag"):
        attrs.append(Attr("repeatable", AttrType.BOOL, False))
    return RuleClass.make(kind, impl, attrs)


BUILD_SETTINGS = [
    _make_setting("string_flag", AttrType.STRING),
    _make_setting("string_setting", AttrType.STRING),
    _make_setting("bool_flag", AttrType.BOOL),
    _make_setting("bool_setting", AttrType.BOOL),
    _make_setting("int_flag", AttrType.INT),
    _make_setting("int_setting", AttrType.INT),
    _make_setting("string_list_flag", AttrType.STRING_LIST),
    _make_setting("string_list_setting", AttrType.STRING_LIST),
]


def _render(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(value)
    return str(value)


def _same_value(actual, expected):
    return actual == expected or (actual in _TRUE and expected in _TRUE) or (actual in _FALSE and expected in _FALSE)


def _config_setting(ctx):
    settings = set()
    mismatch = ""
    for name, expected in sorted(ctx.attr.values.items()):
        settings.add((name, expected))
        if name == "define":
            key, _, val = expected.partition("=")
            actual = ctx.config.define(key)
            ok = actual == val
        else:
            values = ctx.config.option_values(name)
            if values is None:
                raise ctx.error(f"unknown option: '{name}' (kiln's config_setting supports compilation_mode, cpu, "
                                f"platforms, define, {', '.join(CONFIGURATION_OPTIONS)})", attribute="values")
            actual = ",".join(values)
            # As Bazel: each comma-separated expected value must be among a repeatable option's values.
            ok = all(any(_same_value(v, part) for v in values) for part in expected.split(","))
        if not ok and not mismatch:
            mismatch = f"{name}={actual!r} (wants {expected!r})"
    for key, val in sorted(ctx.attr.define_values.items()):
        settings.add(("define", f"{key}={val}"))
        if ctx.config.define(key) != val and not mismatch:
            mismatch = f"define {key}={ctx.config.define(key)!r} (wants {val!r})"
    for flag_ct, expected in ctx.attr.flag_values.items():
        info = flag_ct.get(BuildSettingInfo)
        if info is None:
            raise ctx.error(f"'{flag_ct.label}' in flag_values is not a build setting", attribute="flag_values")
        settings.add((str(flag_ct.label), expected))
        actual = _render(info.value)
        if isinstance(info.value, bool):
            ok = (expected in _TRUE) == info.value and expected in _TRUE + _FALSE
        else:
            ok = actual == expected
        if not ok and not mismatch:
            mismatch = f"{flag_ct.label}={actual!r} (wants {expected!r})"
    platform = ctx.toolchains.target_platform() if ctx.toolchains else None
    for cv in ctx.attr.constraint_values:
        info = cv.get(ConstraintValueInfo)
        if info is None:
            raise ctx.error(f"'{cv.label}' in constraint_values is not a constraint_value", attribute="constraint_values")
        settings.add(("constraint", str(info.label)))
        present = platform is not None and not missing_constraints(platform, [info])
        if not present and not mismatch:
            mismatch = f"the target platform lacks {info.label}"
    if not settings:
        raise ctx.error("config_setting needs at least one of values, define_values, flag_values or constraint_values")
    return [ConfigMatchingInfo(not mismatch, frozenset(settings), mismatch)]


CONFIG_SETTING = RuleClass.make(
    "config_setting",
    _config_setting,
    [
        Attr("values", AttrType.STRING_DICT, configurable=False),
        Attr("define_values", AttrType.STRING_DICT, configurable=False),
        Attr("flag_values", AttrType.LABEL_KEYED_STRING_DICT, configurable=False),
        Attr("constraint_values", AttrType.LABEL_LIST, configurable=False),
    ],
)


def _config_setting_group(ctx):
    any_of = [c[ConfigMatchingInfo] for c in ctx.attr.match_any]
    all_of = [c[ConfigMatchingInfo] for c in ctx.attr.match_all]
    if bool(any_of) == bool(all_of):
        raise ctx.error("config_setting_group needs exactly one of match_any or match_all")
    settings = frozenset().union(*[i.settings for i in any_of + all_of])
    matches = any(i.matches for i in any_of) if any_of else all(i.matches for i in all_of)
    return [ConfigMatchingInfo(matches, settings, "" if matches else "no condition of the group matches")]


CONFIG_SETTING_GROUP = RuleClass.make(
    "config_setting_group",
    _config_setting_group,
    [
        Attr("match_any", AttrType.LABEL_LIST, configurable=False),
        Attr("match_all", AttrType.LABEL_LIST, configurable=False),
    ],
)
