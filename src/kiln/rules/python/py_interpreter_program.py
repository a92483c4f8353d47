"""rules_python's py_interpreter_program: a Python program run by an interpreter the caller provides.

Not a binary of its own (no launcher, no toolchain): it names `main`, the interpreter arguments and the
environment to run it with (PyInterpreterProgramInfo) and the execution requirements its actions need
(ExecutionInfo, from the string_list_flag `execution_requirements` points at, as key=value entries).
rules_python makes its precompiler one; a py_exec_tools_toolchain's precompiler may be one, run on the
toolchain's exec_interpreter (kiln.rules.python.precompile).
"""

from __future__ import annotations

from kiln.analysis.providers import BuildSettingInfo
from kiln.core.attrs import Attr, AttrType
from kiln.core.depset import Depset
from kiln.core.labels import parse_label
from kiln.core.providers import DefaultInfo, ExecutionInfo
from kiln.core.rule_class import RuleClass
from kiln.core.runfiles import Runfiles
from kiln.rules.python.providers import PyInterpreterProgramInfo


def requirements_of(setting) -> tuple[tuple[str, str], ...]:
    """key=value entries of a string_list_flag (or none for rules_python's "no target")."""
    info = setting.get(BuildSettingInfo) if setting is not None else None
    value = info.value if info is not None else ()
    entries = [value] if isinstance(value, str) else list(value or ())
    return tuple(tuple(e.split("=", 1)) if "=" in e else (e, "") for e in entries if e.strip())


def _py_interpreter_program(ctx):
    main = ctx.attr.main
    if main is None:
        raise ctx.error("py_interpreter_program needs 'main', the program's .py file", attribute="main")
    files = main.default_info.files.to_list()
    if len(files) != 1:
        raise ctx.error(f"'main' must be one file, got {len(files)}", attribute="main")
    source = files[0]
    # A file of its own to be the executable (Bazel's rule requires one): <name>_.<ext>.
    executable = ctx.actions.declare_file(f"{ctx.label.name}_.{source.extension}")
    ctx.actions.copy(source, executable, is_executable=True)
    return [
        DefaultInfo(files=Depset((executable,)), runfiles=Runfiles(Depset((executable,))), executable=executable),
        PyInterpreterProgramInfo(env=tuple(sorted(ctx.attr.env.items())),
                                 interpreter_args=tuple(ctx.attr.interpreter_args), main=source),
        ExecutionInfo(requirements_of(ctx.attr.execution_requirements)),
    ]


PY_INTERPRETER_PROGRAM = RuleClass.make(
    "py_interpreter_program",
    _py_interpreter_program,
    [
        Attr("main", AttrType.LABEL),
        Attr("env", AttrType.STRING_DICT),
        Attr("interpreter_args", AttrType.STRING_LIST),
        Attr("execution_requirements", AttrType.LABEL, default=parse_label("@rules_python//python:none")),
    ],
)
