"""@rules_python//python/bin:python: the resolved Python interpreter as a runnable target.

`kiln run @rules_python//python/bin:python` starts the interpreter toolchain
resolution chose for the configuration (so `--@rules_python//python/config_settings:python_version=3.12`
picks that version's runtime): a platform runtime's `interpreter_path`, or an
in-build runtime's interpreter from the runfiles tree.
"""

from __future__ import annotations

import shlex

from kiln.core.depset import Depset
from kiln.core.providers import DefaultInfo, HostToolsInfo
from kiln.core.rule_class import RuleClass, ToolchainTypeRequirement
from kiln.core.runfiles import Runfiles
from kiln.rules.python.providers import PY_TOOLCHAIN_TYPE
from kiln.rules.python.py_runtime import python_runtime

_IN_RUNFILES = '''#!/bin/sh
# kiln: the in-build Python interpreter of {label}
here="$0.runfiles"
[ -d "$here" ] || here="${{RUNFILES_DIR:?kiln: cannot find the runfiles of $0}}"
exec "$here/{interpreter}" "$@"
'''


def _python(ctx):
    runtime = python_runtime(ctx)
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


PY_INTERPRETER = RuleClass.make("py_interpreter", _python, [], executable=True,
                                toolchains=(ToolchainTypeRequirement(PY_TOOLCHAIN_TYPE),))
