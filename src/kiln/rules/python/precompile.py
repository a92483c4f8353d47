"""Precompiling: a PyCompile action per Python source of py_library / py_binary / py_test, as rules_python does.

Whether a target's sources are compiled: its `precompile` attribute (enabled | disabled | inherit), inherit
taking --@rules_python//python/config_settings:precompile (auto = disabled; force_enabled / force_disabled
override the attribute). The pyc is named by the target runtime's pyc tag: `__pycache__/<stem>.<tag>.pyc`
beside a kept source, `<stem>.pyc` when the source is omitted (precompile_source_retention, attribute over
flag). A runtime without a pyc tag (the runtime-env toolchain) skips precompiling with one INFO line.
Invalidation mode: auto is unchecked_hash under -c opt, else checked_hash.

The pyc files always travel in PyInfo (direct_pyc_files, transitive_pyc_files); a library also adds its own
to its runfiles unless --precompile_add_to_runfiles=decided_elsewhere, in which case a binary's
pyc_collection (include_pyc | disabled | inherit -> --pyc_collection) decides whether it takes them all.

The compiler is the exec tools toolchain's `precompiler` when one is registered with it (a
py_interpreter_program runs on the toolchain's exec_interpreter and brings its execution requirements),
else kiln's (kiln.tools.precompiler) on the target runtime's interpreter, so the bytecode matches the runtime.
Each action takes its per-file arguments from a param file written for its spawn (its last argument), so that
a persistent worker can serve it; kiln's precompiler asks for a multiplexed JSON worker. Every PyCompile action
also takes the --@rules_python//tools/precompiler:execution_requirements entries.
"""

from __future__ import annotations

from dataclasses import dataclass

from kiln.analysis.providers import BuildSettingInfo
from kiln.core.artifacts import Artifact, kiln_tool_artifact
from kiln.core.actions import HOST_DIRS
from kiln.core.attrs import Attr, AttrType
from kiln.core.depset import EMPTY, Depset
from kiln.core.labels import parse_label
from kiln.core.providers import ExecutionInfo, HostToolsInfo
from kiln.rules.python.providers import PY_EXEC_TOOLS_TOOLCHAIN_TYPE, PyInterpreterProgramInfo, PyRuntimeInfo
from kiln.rules.python.py_runtime import python_runtime, runtime_command

_FLAGS = "@rules_python//python/config_settings"
EXECUTION_REQUIREMENTS_FLAG = "@rules_python//tools/precompiler:execution_requirements"

LIBRARY_PRECOMPILE_ATTRS = [
    Attr("precompile", AttrType.STRING, "inherit"),
    Attr("precompile_invalidation_mode", AttrType.STRING, "auto"),
    Attr("precompile_optimize_level", AttrType.INT, 0),
    Attr("precompile_source_retention", AttrType.STRING, "inherit"),
    Attr("_precompile_flag", AttrType.LABEL, default=parse_label(f"{_FLAGS}:precompile")),
    Attr("_precompile_source_retention_flag", AttrType.LABEL,
         default=parse_label(f"{_FLAGS}:precompile_source_retention")),
    Attr("_precompile_add_to_runfiles_flag", AttrType.LABEL,
         default=parse_label(f"{_FLAGS}:precompile_add_to_runfiles")),
    Attr("_precompiler_execution_requirements", AttrType.LABEL, default=parse_label(EXECUTION_REQUIREMENTS_FLAG)),
]
BINARY_PRECOMPILE_ATTRS = [
    Attr("pyc_collection", AttrType.STRING, "inherit"),
    Attr("_pyc_collection_flag", AttrType.LABEL, default=parse_label(f"{_FLAGS}:pyc_collection")),
]

_CHOICES = {
    "precompile": ("inherit", "enabled", "disabled"),
    "precompile_invalidation_mode": ("auto", "checked_hash", "unchecked_hash"),
    "precompile_source_retention": ("inherit", "keep_source", "omit_source"),
    "pyc_collection": ("inherit", "include_pyc", "disabled"),
}
# Asks for kiln's precompiler as a persistent, multiplexed, cancellable JSON worker (rules_python's defaults).
_WORKER_REQUIREMENTS = {"supports-workers": "1", "supports-multiplex-workers": "1",
                        "requires-worker-protocol": "json", "supports-multiplex-sandboxing": "1",
                        "supports-worker-cancellation": "1"}
_ENV = {"PYTHONHASHSEED": "0", "PYTHONNOUSERSITE": "1", "PYTHONSAFEPATH": "1"}


@dataclass(frozen=True)
class Compiled:
    """What precompiling a target's sources gave: the pyc files, the sources its runfiles keep, and whether
    its own pyc files go into its runfiles."""

    pycs: tuple[Artifact, ...] = ()
    kept_sources: tuple[Artifact, ...] = ()
    pycs_in_runfiles: bool = False


def _flag(ctx, attr: str) -> str:
    dep = getattr(ctx.attr, attr, None)
    info = dep.get(BuildSettingInfo) if dep is not None else None
    return "" if info is None else info.value


def _check(ctx, attr: str) -> str:
    value = getattr(ctx.attr, attr)
    if value not in _CHOICES[attr]:
        raise ctx.error(f"{attr} must be one of {', '.join(_CHOICES[attr])}, got '{value}'", attribute=attr)
    return value


def _enabled(ctx) -> bool:
    flag = _flag(ctx, "_precompile_flag") or "auto"
    own = _check(ctx, "precompile")
    if flag.startswith("force_"):
        return flag == "force_enabled"
    if own != "inherit":
        return own == "enabled"
    return flag == "enabled"


def precompile(ctx, srcs: list[Artifact]) -> Compiled:
    """The PyCompile actions of `srcs` (their .py files) for this target, when precompiling is on."""
    py_srcs = [f for f in srcs if f.extension == "py"]
    if not py_srcs or not _enabled(ctx):
        return Compiled((), tuple(srcs), False)
    runtime = python_runtime(ctx)
    from kiln.repos.local_runtime import RUNTIME_ENV_SCRIPT

    # The runtime-env toolchain's Python is whichever python3 PATH finds when the program runs: no pyc tag is
    # known at build time, as in rules_python.
    if not runtime.pyc_tag or runtime.interpreter_path.endswith(RUNTIME_ENV_SCRIPT):
        ctx.info(f"Precompiling skipped: no pyc tag is known at build time for the Python runtime "
                 f"{runtime.describe()} (a runtime-env toolchain's is found when the program runs); its targets run "
                 "from their sources")
        return Compiled((), tuple(srcs), False)
    retention = _check(ctx, "precompile_source_retention")
    if retention == "inherit":
        retention = _flag(ctx, "_precompile_source_retention_flag") or "auto"
    keep = retention != "omit_source"
    mode = _check(ctx, "precompile_invalidation_mode")
    if mode == "auto":
        mode = "unchecked_hash" if ctx.config.compilation_mode == "opt" else "checked_hash"
    command = _compiler(ctx, runtime)
    requirements = dict(command.requirements)
    for entry in _flag(ctx, "_precompiler_execution_requirements") or ():
        key, _, value = str(entry).partition("=")
        requirements[key] = value
    pycs = []
    version = "%d.%d" % tuple(runtime.version_info[:2])
    for src in py_srcs:
        pyc = ctx.actions.declare_file(_pyc_name(ctx, src, runtime.pyc_tag, keep))
        ctx.actions.run(
            outputs=[pyc],
            inputs=Depset((src, *command.inputs), [command.transitive]),
            tools=command.tools,
            argv=command.argv,
            params=["--invalidation_mode", mode, "--src", src.exec_path, "--src_name", src.short_path,
                    "--pyc", pyc.exec_path, "--optimize", str(ctx.attr.precompile_optimize_level),
                    "--python_version", version],
            env={**_ENV, **dict(command.env)},
            mnemonic="PyCompile",
            progress_message=f"Python precompiling {src.short_path} into {pyc.short_path}",
            execution_requirements=requirements,
        )
        pycs.append(pyc)
    kept = tuple(srcs) if keep else tuple(f for f in srcs if f.extension != "py")
    in_runfiles = (_flag(ctx, "_precompile_add_to_runfiles_flag") or "always") == "always"
    return Compiled(tuple(pycs), kept, in_runfiles)


@dataclass(frozen=True)
class _Command:
    argv: tuple[str, ...]
    inputs: tuple[Artifact, ...]
    transitive: Depset
    requirements: dict[str, str]
    tools: tuple = ()  # what the compiler runs: artifacts, or executables whose runfiles come along
    env: tuple[tuple[str, str], ...] = ()


def _compiler(ctx, runtime: PyRuntimeInfo) -> _Command:
    """The exec tools toolchain's precompiler, else kiln's on the target runtime's interpreter."""
    tools = ctx.toolchains[PY_EXEC_TOOLS_TOOLCHAIN_TYPE] if PY_EXEC_TOOLS_TOOLCHAIN_TYPE in ctx.toolchains else None
    exec_tools = getattr(tools, "exec_tools", None)
    precompiler = getattr(exec_tools, "precompiler", None)
    if precompiler is not None and precompiler.default_info.executable is not None:
        return _custom_compiler(precompiler, getattr(exec_tools, "exec_interpreter", None), runtime)
    interpreter, own, requirements = runtime_command(runtime)
    # precompiler.py imports its siblings from its own directory: all three are the worker's tools.
    tools = tuple(kiln_tool_artifact(f"{m}.py") for m in ("precompiler", "precompiler_worker", "precompiler_marshal"))
    return _Command((interpreter, "-s", tools[0].exec_path), own, runtime.files,
                    {**requirements, **_WORKER_REQUIREMENTS}, tools)


def _custom_compiler(precompiler, exec_interpreter, runtime: PyRuntimeInfo) -> _Command:
    """A precompiler target: a py_interpreter_program runs on the toolchain's exec_interpreter (else the target
    runtime's interpreter) with its interpreter arguments and environment; anything else runs as it is. Its
    ExecutionInfo (e.g. supports-workers) is what the actions ask for."""
    own_info = precompiler.get(ExecutionInfo)
    requirements = dict(own_info.requirements) if own_info is not None else {}
    program = precompiler.get(PyInterpreterProgramInfo)
    executable = precompiler.default_info.executable
    if program is None:
        argv, inputs, transitive, tools = (executable.exec_path,), (), EMPTY, (precompiler,)
        shown = precompiler  # a py_binary precompiler runs on its own runtime: its installation is shown
    elif exec_interpreter is not None and exec_interpreter.default_info.executable is not None:
        interpreter = exec_interpreter.default_info.executable.exec_path
        argv = (interpreter, *program.interpreter_args, executable.exec_path)
        inputs, transitive, tools, shown = (), EMPTY, (exec_interpreter, precompiler), exec_interpreter
    else:
        interpreter, inputs, host = runtime_command(runtime)
        argv = (interpreter, *program.interpreter_args, executable.exec_path)
        transitive, tools, shown = runtime.files, (precompiler,), None
        requirements.update(host)
    host = shown.get(HostToolsInfo) if shown is not None else None
    if host is not None and host.dirs:
        requirements[HOST_DIRS] = ":".join(host.dirs)
    return _Command(argv, inputs, transitive, requirements, tools, program.env if program is not None else ())


def _pyc_name(ctx, src: Artifact, tag: str, keep: bool) -> str:
    """Relative to the target's package: `sub/__pycache__/mod.<tag>.pyc` or `sub/mod.pyc`."""
    package = ctx.label.package
    path = src.repo_relative_path
    inside = path[len(package) + 1:] if package and path.startswith(package + "/") else path
    directory, _, name = inside.rpartition("/")
    stem = name[:-3]
    prefix = f"{directory}/" if directory else ""
    return f"{prefix}__pycache__/{stem}.{tag}.pyc" if keep else f"{prefix}{stem}.pyc"


def pyc_collection(ctx) -> bool:
    """Whether a binary or test takes the pyc files of everything it depends on into its runfiles."""
    own = _check(ctx, "pyc_collection")
    if own == "inherit":
        own = _flag(ctx, "_pyc_collection_flag") or "disabled"
    return own == "include_pyc"


def transitive_pycs(infos) -> Depset:
    return Depset((), [i.transitive_pyc_files for i in infos if i]) if infos else EMPTY
