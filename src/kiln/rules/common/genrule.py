"""genrule: a bash command with declared srcs, outs and tools."""

from __future__ import annotations

from kiln.core.actions import HOST_DIRS, requirements_from_tags
from kiln.core.attrs import Attr, AttrType
from kiln.core.depset import Depset
from kiln.core.labels import Label
from kiln.core.providers import DefaultInfo, HostToolsInfo, TemplateVariableInfo
from kiln.core.rule_class import RuleClass
from kiln.core.runfiles import Runfiles
from kiln.rules.common.make_vars import PathsOf, expand, genrule_variables

# The shell genrules run in, as Bazel's genrule-setup does: fail on the first error.
BASH = "/bin/bash"
SHELL_PREAMBLE = "set -euo pipefail\n"


def paths_of(files) -> PathsOf:
    return PathsOf(
        tuple(f.exec_path for f in files),
        tuple(f.short_path for f in files),
        tuple(f.runfiles_path for f in files),
    )


def dependency_locations(ctx, attr_names) -> dict[Label, PathsOf]:
    """What $(location) may name: each prerequisite's executable, else its files."""
    table: dict[Label, PathsOf] = {}
    for name in attr_names:
        for dep in getattr(ctx.attr, name, None) or ():
            info = dep.default_info
            files = [info.executable] if info.executable is not None else info.files.to_list()
            table[dep.label] = paths_of(files)
    return table


def _genrule(ctx):
    cmd = ctx.attr.cmd_bash or ctx.attr.cmd
    if not cmd:
        raise ctx.error("genrule needs 'cmd' or 'cmd_bash' (kiln runs genrules with bash)", attribute="cmd")
    outs = ctx.outputs.outs
    if not outs:
        raise ctx.error("genrule must have at least one output", attribute="outs")
    srcs = ctx.files.srcs
    locations = dependency_locations(ctx, ("srcs", "tools", "exec_tools", "toolchains"))
    for label, art in zip(ctx.target.attrs["outs"], outs):
        locations[label] = paths_of([art])
    variables = dict(ctx.make_variables)
    variables.update(
        genrule_variables(
            [f.exec_path for f in srcs],
            [o.exec_path for o in outs],
            package=ctx.label.package_id,
            bin_dir=ctx.config.bin_dir,
            gen_dir=ctx.config.genfiles_dir,
            compilation_mode=ctx.config.compilation_mode,
            target_cpu=ctx.config.cpu,
        )
    )
    # Targets in `toolchains` offering make variables ($(PYTHON3) of current_py_toolchain) and their files.
    toolchain_files = []
    for dep in ctx.attr.toolchains:
        offered = dep.get(TemplateVariableInfo)
        if offered is not None:
            variables.update(dict(offered.variables))
            toolchain_files.append(dep.default_info.files)
    attribute = "cmd_bash" if ctx.attr.cmd_bash else "cmd"
    script = expand(
        cmd,
        package=ctx.label.package_id,
        attribute=attribute,
        locations=locations,
        variables=variables,
        location_means="execpath",
    )
    tools = list(ctx.attr.tools) + list(ctx.attr.exec_tools)
    requirements = requirements_from_tags(ctx.attr.tags)
    # Tools (and toolchains) running from the machine's own installations, e.g. a pyenv Python.
    host_dirs = sorted({d for dep in (*tools, *ctx.attr.toolchains) if dep.get(HostToolsInfo) is not None
                        for d in dep.get(HostToolsInfo).dirs})
    if host_dirs:
        requirements[HOST_DIRS] = ":".join(host_dirs)
    ctx.actions.run(
        outputs=outs,
        inputs=Depset(srcs, transitive=toolchain_files),
        tools=tools,
        argv=[BASH, "-c", SHELL_PREAMBLE + script],
        mnemonic="Genrule",
        progress_message=ctx.attr.message or f"Executing genrule {ctx.label}",
        execution_requirements=requirements,
        executable_outputs=ctx.attr.executable,
    )
    files = Depset(tuple(outs))
    executable = None
    if ctx.attr.executable:
        if len(outs) != 1:
            raise ctx.error("a genrule with executable = True must have exactly one output", attribute="executable")
        executable = outs[0]
    return [DefaultInfo(files=files, runfiles=Runfiles(files), executable=executable)]


GENRULE = RuleClass.make(
    "genrule",
    _genrule,
    [
        Attr("srcs", AttrType.LABEL_LIST),
        Attr("outs", AttrType.OUTPUT_LIST, mandatory=True),
        Attr("cmd", AttrType.STRING),
        Attr("cmd_bash", AttrType.STRING),
        Attr("cmd_ps", AttrType.STRING),
        Attr("cmd_bat", AttrType.STRING),
        Attr("tools", AttrType.LABEL_LIST, cfg="exec"),
        Attr("exec_tools", AttrType.LABEL_LIST, cfg="exec"),
        Attr("executable", AttrType.BOOL, False),
        Attr("output_to_bindir", AttrType.BOOL, False),
        Attr("local", AttrType.BOOL, False),
        Attr("message", AttrType.STRING),
        Attr("output_licenses", AttrType.STRING_LIST),
        Attr("stamp", AttrType.INT, 0),
    ],
    version="1",
)
