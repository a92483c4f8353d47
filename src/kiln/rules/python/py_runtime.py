"""py_runtime and py_runtime_pair: a Python runtime, and the toolchain that offers it.

rules_python's attributes, plus what kiln needs to build extension modules
against a runtime and that rules_python leaves to a C toolchain (the
extension suffix, SOABI, headers and library directories): a local runtime
repository writes them from the interpreter's sysconfig.

An in-build runtime is an installation: `<prefix>/bin/python3` beside
`<prefix>/lib/python3.X/`, thousands of files. When the interpreter is a
source file in a `bin/` directory and runtime files lie under its `<prefix>`,
`<prefix>` itself becomes the runtime's `root`: runfiles trees link that one
directory instead of each file (rules_python #1653), and actions get it as one
directory input whose whole content is in their key. Files outside `<prefix>`
stay separate entries. The workspace's own root is never a prefix.
"""

from __future__ import annotations

from kiln.analysis.providers import ToolchainInfo
from kiln.core.artifacts import Artifact
from kiln.core.attrs import Attr, AttrType
from kiln.core.depset import Depset
from kiln.core.rule_class import RuleClass
from kiln.rules.python.providers import PY_TOOLCHAIN_TYPE, PyRuntimeInfo

_VERSION_KEYS = ("major", "minor", "micro")


def _version_info(ctx) -> tuple[int, int, int]:
    info = ctx.attr.interpreter_version_info
    missing = [k for k in ("major", "minor") if k not in info]
    if missing:
        raise ctx.error(f"interpreter_version_info needs {' and '.join(repr(k) for k in missing)} "
                        "(e.g. {\"major\": \"3\", \"minor\": \"11\"})", attribute="interpreter_version_info")
    try:
        return tuple(int(info.get(k, "0")) for k in _VERSION_KEYS)  # type: ignore[return-value]
    except ValueError:
        raise ctx.error(f"interpreter_version_info values must be numbers, got {dict(info)}",
                        attribute="interpreter_version_info") from None


def _installation_root(ctx, interpreter: Artifact, files: list[Artifact]) -> Artifact | None:
    """`<prefix>` of an interpreter at `<prefix>/bin/<name>` in a source repository, as a directory
    artifact, when runtime files lie under it."""
    head, _, _ = interpreter.path.rpartition("/")
    prefix, _, bin_dir = head.rpartition("/")
    if not interpreter.is_source or bin_dir != "bin" or not prefix:
        return None
    inside = prefix + "/"
    if not any(f.is_source and f.path.startswith(inside) for f in files):
        return None
    return Artifact("", prefix, ctx.label, is_directory=True)


def _py_runtime(ctx):
    interpreter = ctx.file.interpreter
    path = ctx.attr.interpreter_path
    if (interpreter is None) == (not path):
        raise ctx.error("exactly one of interpreter and interpreter_path must be set",
                        attribute="interpreter_path" if path else "interpreter")
    if path and not path.startswith("/"):
        raise ctx.error(f"interpreter_path must be absolute, got '{path}'", attribute="interpreter_path")
    if ctx.attr.python_version != "PY3":
        raise ctx.error(f"python_version must be \"PY3\", got {ctx.attr.python_version!r} "
                        "(Python 2 is not supported)", attribute="python_version")
    version = _version_info(ctx)
    pyc_tag = ctx.attr.pyc_tag or (f"cpython-{version[0]}{version[1]}" if ctx.attr.implementation_name == "cpython"
                                   else "")
    declared = ctx.files.files
    files = Depset(tuple(declared))
    runtime = PyRuntimeInfo(
        implementation_name=ctx.attr.implementation_name,
        version_info=version,
        pyc_tag=pyc_tag,
        abi_flags=ctx.attr.abi_flags,
        ext_suffix=ctx.attr.ext_suffix,
        soabi=ctx.attr.soabi,
        interpreter_path=path,
        interpreter=interpreter,
        files=files,
        include_dir=ctx.attr.include_dir,
        lib_dir=ctx.attr.lib_dir,
        ld_library=ctx.attr.ld_library,
        stub_shebang=ctx.attr.stub_shebang,
        gil_disabled="t" in ctx.attr.abi_flags,
        root=_installation_root(ctx, interpreter, declared) if interpreter is not None else None,
    )
    return [runtime]


PY_RUNTIME = RuleClass.make(
    "py_runtime",
    _py_runtime,
    [
        Attr("interpreter", AttrType.LABEL),
        Attr("interpreter_path", AttrType.STRING),
        Attr("files", AttrType.LABEL_LIST),
        Attr("python_version", AttrType.STRING, "PY3"),
        Attr("implementation_name", AttrType.STRING, "cpython"),
        Attr("interpreter_version_info", AttrType.STRING_DICT),
        Attr("pyc_tag", AttrType.STRING),
        Attr("abi_flags", AttrType.STRING),
        Attr("stub_shebang", AttrType.STRING, "#!/usr/bin/env python3"),
        # rules_python's launcher templates and coverage tool: kiln writes its own launcher.
        Attr("bootstrap_template", AttrType.LABEL),
        Attr("stage2_bootstrap_template", AttrType.LABEL),
        Attr("zip_main_template", AttrType.LABEL),
        Attr("site_init_template", AttrType.LABEL),
        Attr("coverage_tool", AttrType.LABEL),
        Attr("supports_build_time_venv", AttrType.BOOL, True),
        # kiln's: what building an extension module for this runtime needs.
        Attr("ext_suffix", AttrType.STRING),
        Attr("soabi", AttrType.STRING),
        Attr("include_dir", AttrType.STRING),
        Attr("lib_dir", AttrType.STRING),
        Attr("ld_library", AttrType.STRING),
    ],
)


def _py_runtime_pair(ctx):
    if ctx.attr.py2_runtime is not None:
        raise ctx.error("Python 2 is not supported: leave py2_runtime unset", attribute="py2_runtime")
    runtime = None
    if ctx.attr.py3_runtime is not None:
        runtime = ctx.attr.py3_runtime.get(PyRuntimeInfo)
        if runtime is None:
            raise ctx.error(f"'{ctx.attr.py3_runtime.label}' is not a py_runtime", attribute="py3_runtime")
    return [ToolchainInfo(py3_runtime=runtime, py2_runtime=None, pair_label=str(ctx.label))]


PY_RUNTIME_PAIR = RuleClass.make(
    "py_runtime_pair",
    _py_runtime_pair,
    [Attr("py3_runtime", AttrType.LABEL), Attr("py2_runtime", AttrType.LABEL)],
)


def python_runtime(ctx) -> PyRuntimeInfo:
    """The Python runtime toolchain resolution chose for this target (PY_TOOLCHAIN_TYPE)."""
    toolchain = ctx.toolchains[PY_TOOLCHAIN_TYPE]
    if toolchain is None:
        raise ctx.error(f"no Python toolchain ({PY_TOOLCHAIN_TYPE}) matches this target's platform; "
                        "register one with register_toolchains()")
    if toolchain.py3_runtime is None:
        which = getattr(toolchain, "pair_label", "") or "a py_runtime_pair"
        raise ctx.error(f"the resolved Python toolchain ({PY_TOOLCHAIN_TYPE}) is {which}, a py_runtime_pair without "
                        "py3_runtime: set py3_runtime to a py_runtime")
    return toolchain.py3_runtime


def runtime_command(runtime: PyRuntimeInfo) -> tuple[str, tuple, dict[str, str]]:
    """How an action runs `runtime`'s interpreter: its path, the inputs that brings (an in-build interpreter),
    and the execution requirements (the installation directories a platform runtime needs mounted)."""
    from kiln.core.actions import HOST_DIRS

    if runtime.interpreter is not None:
        interpreter, own = runtime.interpreter.exec_path, (runtime.interpreter,)
    else:
        interpreter, own = runtime.interpreter_path, ()
    return interpreter, own, ({HOST_DIRS: ":".join(runtime.host_dirs)} if runtime.host_dirs else {})
