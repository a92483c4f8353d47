"""filegroup and alias."""

from __future__ import annotations

from kiln.core.attrs import Attr, AttrType
from kiln.core.depset import Depset
from kiln.core.providers import DefaultInfo, OutputGroupInfo
from kiln.core.rule_class import RuleClass
from kiln.core.runfiles import Runfiles, merge_all


def _filegroup(ctx):
    srcs = ctx.attr.srcs
    if ctx.attr.output_group:
        files = []
        for dep in srcs:
            groups = dep.get(OutputGroupInfo)
            group = groups.get(ctx.attr.output_group) if groups else None
            if group is None:
                raise ctx.error(f"'{dep.label}' has no output group '{ctx.attr.output_group}'", attribute="output_group")
            files.append(group)
        out = Depset(transitive=files)
    else:
        out = Depset(transitive=[d.default_info.files for d in srcs])
    runfiles = merge_all(
        [Runfiles(out)]
        + [d.default_info.runfiles for d in srcs]
        + [Runfiles(d.default_info.files).merge(d.default_info.runfiles) for d in ctx.attr.data]
    )
    return [DefaultInfo(files=out, runfiles=runfiles)]


FILEGROUP = RuleClass.make(
    "filegroup",
    _filegroup,
    [
        Attr("srcs", AttrType.LABEL_LIST),
        Attr("data", AttrType.LABEL_LIST),
        Attr("output_group", AttrType.STRING),
    ],
)


def forwarded_providers(actual):
    """The providers of `actual` a target that stands for it offers as its own (alias, label_flag)."""
    return [v for k, v in actual.providers.items() if not k.__name__.startswith("_")]


def _alias(ctx):
    return forwarded_providers(ctx.attr.actual)


ALIAS = RuleClass.make("alias", _alias, [Attr("actual", AttrType.LABEL, mandatory=True)])
