"""@rules_python//python/bin:python: a Python interpreter as a runnable target.

`kiln run @rules_python//python/bin:python` starts the interpreter toolchain
resolution chose for the configuration (so `--@rules_python//python/config_settings:python_version=3.12`
picks that version's runtime) — or, when `binary` (the label flag
`@rules_python//python/bin:python_src`) names a py_binary or py_test, the
runtime that target runs on, in its own configuration (its python_version).
The interpreter is a platform runtime's `interpreter_path`, or an in-build
runtime's interpreter from the runfiles tree.

Also `sentinel`, rules_python's "no target" (@rules_python//python:none).
"""

from __future__ import annotations

import shlex

from kiln.core.attrs import Attr, AttrType
from kiln.core.depset import Depset
from kiln.core.providers import DefaultInfo, HostToolsInfo
from kiln.core.rule_class import RuleClass, ToolchainTypeRequirement
from kiln.core.runfiles import Runfiles
from kiln.rules.common.label_settings import setting_target
from kiln.rules.python.providers import PY_TOOLCHAIN_TYPE, PyRuntimeInfo, SentinelInfo
from kiln.rules.python.py_runtime import python_runtime

_IN_RUNFILES = '''#!/bin/sh
# kiln: the in-build Python interpreter of {label}
here="$0.runfiles"
[ -d "$here" ] || here="${{RUNFILES_DIR:?kiln: cannot find the runfiles of $0}}"
exec "$here/{interpreter}" "$@"
'''


def _runtime(ctx) -> PyRuntimeInfo:
    binary = ctx.attr.binary
    if binary is None or binary.get(SentinelInfo) is not None:
        return python_runtime(ctx)
    runtime = binary.get(PyRuntimeInfo)
    if runtime is None:
        chosen = setting_target(binary)
        via = f" (the value of {binary.label})" if chosen is not binary else ""
        raise ctx.error(f"'{chosen.label}'{via} is a {chosen.kind} and has no Python runtime: name a py_binary "
                        "or py_test, whose runtime's interpreter this target runs", attribute="binary")
    return runtime


def _python(ctx):
    runtime = _runtime(ctx)
    launcher = ctx.actions.declare_file(ctx.label.name)
    if runtime.interpreter is not None:
        script = _IN_RUNFILES.format(label=ctx.label, interpreter=runtime.interpreter.runfiles_path)
        runfiles = Runfiles(Depset((launcher,), [runtime.runfiles_files()]))
    else:
        script = f"#!/bin/sh\nexec {shlex.quote(runtime.interpreter_path)} \"$@\"\n"
        runfiles = Runfiles(Depset((launcher,)))
    ctx.actions.write(launcher, script, is_executable=True, mnemonic="PyInterpreterLauncher")
    return [DefaultInfo(files=Depset((launcher,)), runfiles=runfiles, executable=launcher),
            HostToolsInfo(runtime.host_dirs)]


PY_INTERPRETER = RuleClass.make("py_interpreter", _python, [Attr("binary", AttrType.LABEL)], executable=True,
                                toolchains=(ToolchainTypeRequirement(PY_TOOLCHAIN_TYPE),))

SENTINEL = RuleClass.make("sentinel", lambda ctx: [SentinelInfo()], [])
