"""rules_python's toolchain rules beside py_runtime_pair, and the targets that forward what resolved.

- py_cc_toolchain(headers, libs, python_version): the C headers and libraries of a runtime,
  implementing @rules_python//python/cc:toolchain_type.
- py_exec_tools_toolchain(exec_interpreter, precompiler): tools run at build time,
  implementing @rules_python//python:exec_tools_toolchain_type.
- current_py_toolchain: the Python toolchain resolved for this configuration, with the make
  variables $(PYTHON3) and $(PYTHON3_ROOTPATH) for a genrule's `toolchains`.
- current_py_cc_headers / current_py_cc_libs: the resolved py_cc_toolchain's files.
"""

from __future__ import annotations

from kiln.analysis.providers import ToolchainInfo
from kiln.core.attrs import Attr, AttrType
from kiln.core.depset import Depset
from kiln.core.providers import DefaultInfo, HostToolsInfo, TemplateVariableInfo
from kiln.core.rule_class import RuleClass, ToolchainTypeRequirement
from kiln.core.runfiles import Runfiles
from kiln.rules.python.providers import (PY_CC_TOOLCHAIN_TYPE, PY_TOOLCHAIN_TYPE, PyCcToolchainInfo,
                                         PyExecToolsInfo)
from kiln.rules.python.py_runtime import python_runtime


def _files(deps) -> Depset:
    return Depset(transitive=[d.default_info.files for d in deps])


def _py_cc_toolchain(ctx):
    if ctx.attr.headers is None:
        raise ctx.error("py_cc_toolchain needs 'headers' (the runtime's C headers)", attribute="headers")
    info = PyCcToolchainInfo(
        headers=_files([ctx.attr.headers]),
        libs=_files([ctx.attr.libs]) if ctx.attr.libs is not None else Depset(),
        python_version=ctx.attr.python_version,
    )
    return [ToolchainInfo(py_cc_toolchain=info)]


PY_CC_TOOLCHAIN = RuleClass.make(
    "py_cc_toolchain",
    _py_cc_toolchain,
    [Attr("headers", AttrType.LABEL), Attr("libs", AttrType.LABEL), Attr("python_version", AttrType.STRING)],
)


def _py_exec_tools_toolchain(ctx):
    info = PyExecToolsInfo(exec_interpreter=ctx.attr.exec_interpreter, precompiler=ctx.attr.precompiler)
    return [ToolchainInfo(exec_tools=info)]


PY_EXEC_TOOLS_TOOLCHAIN = RuleClass.make(
    "py_exec_tools_toolchain",
    _py_exec_tools_toolchain,
    [Attr("exec_interpreter", AttrType.LABEL, cfg="exec"), Attr("precompiler", AttrType.LABEL, cfg="exec")],
)


def _current_py_toolchain(ctx):
    runtime = python_runtime(ctx)
    if runtime.interpreter is not None:
        python3, rootpath = runtime.interpreter.exec_path, runtime.interpreter.short_path
        files = Depset((runtime.interpreter,), transitive=[runtime.files])
    else:
        python3 = rootpath = runtime.interpreter_path
        files = Depset()
    return [
        ctx.toolchains[PY_TOOLCHAIN_TYPE],
        TemplateVariableInfo((("PYTHON3", python3), ("PYTHON3_ROOTPATH", rootpath))),
        HostToolsInfo(runtime.host_dirs),
        DefaultInfo(files=files, runfiles=Runfiles(files)),
    ]


CURRENT_PY_TOOLCHAIN = RuleClass.make(
    "current_py_toolchain", _current_py_toolchain, [],
    toolchains=(ToolchainTypeRequirement(PY_TOOLCHAIN_TYPE),),
)


def _current_cc(part: str):
    def impl(ctx):
        toolchain = ctx.toolchains[PY_CC_TOOLCHAIN_TYPE]
        if toolchain is None:
            raise ctx.error(f"no Python C toolchain ({PY_CC_TOOLCHAIN_TYPE}) matches this target's platform; "
                            "register a py_cc_toolchain with register_toolchains()")
        files = getattr(toolchain.py_cc_toolchain, part)
        return [DefaultInfo(files=files, runfiles=Runfiles(files))]

    return impl


_CC = (ToolchainTypeRequirement(PY_CC_TOOLCHAIN_TYPE, mandatory=False),)
CURRENT_PY_CC_HEADERS = RuleClass.make("current_py_cc_headers", _current_cc("headers"), [], toolchains=_CC)
CURRENT_PY_CC_LIBS = RuleClass.make("current_py_cc_libs", _current_cc("libs"), [], toolchains=_CC)
