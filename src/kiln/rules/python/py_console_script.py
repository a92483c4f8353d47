"""py_console_script_binary (@rules_python//python/entry_points:py_console_script_binary.bzl): a py_binary
(or, with binary_rule = py_test, a test) running a console script a package's wheel declares.

The entry point is read from the `console_scripts` of the entry_points.txt files among `pkg`'s runfiles (a
pip hub's package brings its .dist-info), by a build action (kiln.tools.console_script), which writes the
main module: `from <module> import <object>` and `sys.exit(<object>.<attr>())`. `script` names the console
script, the target's name by default.
"""

from __future__ import annotations

from kiln.core.attrs import Attr, AttrType
from kiln.core.artifacts import kiln_tool_artifact
from kiln.core.depset import Depset
from kiln.core.rule_class import RuleClass, ToolchainTypeRequirement
from kiln.rules.python.providers import PY_EXEC_TOOLS_TOOLCHAIN_TYPE, PY_TOOLCHAIN_TYPE
from kiln.rules.python.py_binary import BINARY_ATTRS, executable, python_version_transition
from kiln.rules.python.py_library import check_srcs
from kiln.rules.python.py_runtime import python_runtime, runtime_command

def _console_script(ctx):
    srcs = check_srcs(ctx)
    runtime = python_runtime(ctx)
    script = ctx.attr.script or ctx.label.name
    found = [a for a in ctx.attr.pkg.default_info.runfiles.artifacts()
             if a.basename == "entry_points.txt" and ".dist-info/" in a.path]
    if ctx.attr.entry_points_txt is not None:
        found = ctx.files.entry_points_txt
    if not found:
        raise ctx.error(f"'{ctx.attr.pkg.label}' brings no .dist-info/entry_points.txt: name a package of a pip hub "
                        "(requirement(\"...\")) or give entry_points_txt", attribute="pkg")
    main = ctx.actions.declare_file(f"rules_python_entry_point_{ctx.label.name}.py")
    tool = kiln_tool_artifact("console_script.py")
    interpreter, own, requirements = runtime_command(runtime)
    ctx.actions.run(
        outputs=[main],
        inputs=Depset((tool, *own, *found), [runtime.files]),
        argv=[interpreter, "-s", "-E", tool.exec_path, script, main.exec_path, str(ctx.attr.pkg.label),
              *(f.exec_path for f in found)],
        mnemonic="PyConsoleScriptGen",
        progress_message=f"Writing the entry point of console script {script} ({ctx.label})",
        execution_requirements=requirements,
    )
    return executable(ctx, [*srcs, main], main, runtime, extra_deps=(ctx.attr.pkg,))


_ATTRS = [a for a in BINARY_ATTRS if a.name != "main"] + [
    Attr("pkg", AttrType.LABEL, mandatory=True),
    Attr("script", AttrType.STRING),
    Attr("entry_points_txt", AttrType.LABEL),
]
_TOOLCHAINS = (ToolchainTypeRequirement(PY_TOOLCHAIN_TYPE),
               ToolchainTypeRequirement(PY_EXEC_TOOLS_TOOLCHAIN_TYPE, mandatory=False))
PY_CONSOLE_SCRIPT_BINARY = RuleClass.make("py_console_script_binary", _console_script, _ATTRS, executable=True,
                                          toolchains=_TOOLCHAINS, transition=python_version_transition)
