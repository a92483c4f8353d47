"""toolchain_type and toolchain: the declarations toolchain resolution chooses among.

A toolchain() target only declares; its `toolchain` implementation is a
label analysed later, for the execution platform resolution picks, so it is
not a dependency here (Bazel's nodep label).
"""

from __future__ import annotations

from kiln.analysis.providers import ConstraintValueInfo, DeclaredToolchainInfo, ToolchainTypeInfo
from kiln.core.attrs import Attr, AttrType
from kiln.core.rule_class import RuleClass
from kiln.rules.common.platform import nodep_label


def _toolchain_type(ctx):
    return [ToolchainTypeInfo(ctx.label)]


TOOLCHAIN_TYPE = RuleClass.make("toolchain_type", _toolchain_type, [])


def _constraints(ctx, attribute):
    values = []
    for cv in getattr(ctx.attr, attribute):
        info = cv.get(ConstraintValueInfo)
        if info is None:
            raise ctx.error(f"'{cv.label}' is not a constraint_value", attribute=attribute)
        values.append(info)
    return tuple(values)


def _toolchain(ctx):
    type_info = ctx.attr.toolchain_type.get(ToolchainTypeInfo)
    if type_info is None:
        raise ctx.error(f"'{ctx.attr.toolchain_type.label}' is not a toolchain_type "
                        f"(toolchain {ctx.label} names it as its toolchain_type)", attribute="toolchain_type")
    return [DeclaredToolchainInfo(
        type_info.label,
        nodep_label(ctx, "toolchain"),
        _constraints(ctx, "target_compatible_with"),
        _constraints(ctx, "exec_compatible_with"),
        tuple(s.label for s in ctx.attr.target_settings),
    )]


TOOLCHAIN = RuleClass.make(
    "toolchain",
    _toolchain,
    [
        Attr("toolchain_type", AttrType.LABEL, mandatory=True, configurable=False),
        Attr("toolchain", AttrType.ANY, mandatory=True, configurable=False),
        # Here they say where the toolchain applies; they do not make the toolchain() target incompatible.
        Attr("target_compatible_with", AttrType.LABEL_LIST, configurable=False),
        Attr("exec_compatible_with", AttrType.LABEL_LIST, configurable=False),
        Attr("target_settings", AttrType.LABEL_LIST, configurable=False),
    ],
)
