"""py_binary and py_test: a launcher plus the runfiles tree it runs in."""

from __future__ import annotations

import shlex

from kiln.core.attrs import Attr, AttrType
from kiln.core.depset import Depset
from kiln.core.providers import DefaultInfo, HostToolsInfo, RunEnvironmentInfo
from kiln.core.rule_class import RuleClass
from kiln.core.runfiles import Runfiles
from kiln.rules.common.genrule import dependency_locations
from kiln.rules.common.make_vars import expand
from kiln.rules.python.launcher import launcher_script
from kiln.rules.python.py_library import LIBRARY_ATTRS, check_srcs, collect
from kiln.core.rule_class import ToolchainTypeRequirement
from kiln.rules.python.precompile import BINARY_PRECOMPILE_ATTRS, pyc_collection
from kiln.rules.python.providers import PY_EXEC_TOOLS_TOOLCHAIN_TYPE, PY_TOOLCHAIN_TYPE, PyRuntimeInfo
from kiln.rules.python.py_runtime import python_runtime


BINARY_ATTRS = LIBRARY_ATTRS + BINARY_PRECOMPILE_ATTRS + [
    Attr("main", AttrType.LABEL),
    Attr("python_version", AttrType.STRING),
    Attr("legacy_create_init", AttrType.INT, -1),
]


def _main_file(ctx, srcs):
    if ctx.attr.main is not None:
        mains = ctx.files.main
        if len(mains) != 1 or mains[0].extension != "py":
            raise ctx.error(f"main must name one .py file, got {[m.basename for m in mains]}", attribute="main")
        main = mains[0]
        if main not in srcs:
            raise ctx.error(f"main file '{ctx.attr.main.label}' must also be listed in srcs", attribute="main")
        return main
    wanted = f"{ctx.label.name}.py"
    for f in srcs:
        if f.repo_relative_path == (f"{ctx.label.package}/{wanted}" if ctx.label.package else wanted):
            return f
    candidates = [f for f in srcs if f.basename == wanted]
    if len(candidates) == 1:
        return candidates[0]
    raise ctx.error(
        f"corresponding default '{wanted}' does not appear in srcs. Add it or override default file name "
        "with a 'main' attribute",
        attribute="srcs",
    )


_VERSION_FLAG = "//python/config_settings:python_version"


def _check_version(ctx, runtime: PyRuntimeInfo) -> None:
    wanted = ctx.attr.python_version
    if wanted in ("", "PY3"):
        return
    if wanted == "PY2":
        raise ctx.error("Python 2 is not supported", attribute="python_version")
    if wanted != runtime.major_minor and ".".join(map(str, runtime.version_info)) != wanted:
        from kiln.repos.python_versions import known_versions, version_key

        versions = sorted({value for d in ctx.toolchains.registered(PY_TOOLCHAIN_TYPE)
                           for setting, value in ctx.toolchains.settings_tested(d.target_settings)
                           if setting.endswith(_VERSION_FLAG) and value}, key=version_key)
        registered = ", ".join(versions) if versions else "none"
        raise ctx.error(
            f"python_version '{wanted}': no registered Python toolchain provides it. Registered versions: "
            f"{registered}; without a version constraint: {runtime.describe()}. Register a runtime for {wanted} "
            f"(MODULE.bazel: python.toolchain(python_version = \"{wanted}\"), or a toolchain whose target_settings "
            f"include @rules_python//python/config_settings:is_python_{wanted}), or change python_version. "
            f"Versions kiln's python-build-standalone table knows: {known_versions()}",
            attribute="python_version",
        )


def init_files(runfiles: Runfiles) -> tuple[str, ...]:
    """Empty __init__.py for every directory holding Python code, as rules_python's legacy_create_init."""
    dirs: set[str] = set()
    entries = runfiles.entries()
    for path in entries:
        if not (path.endswith(".py") or path.endswith(".so")):
            continue
        parts = path.split("/")
        # Not the repo directory itself (`_main/__init__.py`), nor the runfiles root.
        for i in range(2, len(parts)):
            dirs.add("/".join(parts[:i]))
    return tuple(sorted(f"{d}/__init__.py" for d in dirs if f"{d}/__init__.py" not in entries))


def _py_executable(ctx):
    srcs = check_srcs(ctx)
    return executable(ctx, srcs, _main_file(ctx, srcs), python_runtime(ctx))


def executable(ctx, srcs: list, main, runtime: PyRuntimeInfo, extra_deps: tuple = ()) -> list:
    """What py_binary and py_test return for `srcs` run as `main` on `runtime` (also for
    py_console_script_binary, whose main is generated)."""
    _check_version(ctx, runtime)
    py_info, runfiles = collect(ctx, srcs, extra_deps, keep=(main,))
    if pyc_collection(ctx):
        runfiles = runfiles.merge(Runfiles(py_info.transitive_pyc_files))
    launcher = ctx.actions.declare_file(ctx.label.name)
    imports = py_info.imports.to_list()
    # Each external repository's root is importable, as Bazel's --experimental_python_import_all_repositories
    # (on by default) makes it: `from pkg import x` reaches `@dep//pkg:x.py`.
    imports += sorted({a.repo for a in runfiles.artifacts() if a.repo} - set(imports))
    script = launcher_script(str(ctx.label), runtime, main.runfiles_path, imports)
    ctx.actions.write(launcher, script, is_executable=True, mnemonic="PyLauncher")
    runfiles = runfiles.merge(Runfiles(Depset((launcher,))))
    if ctx.attr.legacy_create_init != 0:
        runfiles = runfiles.merge(Runfiles(empty_files=init_files(runfiles)))
    if runtime.interpreter is not None:
        runfiles = runfiles.merge(Runfiles(runtime.runfiles_files()))
    locations = dependency_locations(ctx, ("srcs", "deps", "data"))

    def expanded(text: str, attribute: str) -> str:
        return expand(text, package=ctx.label.package_id, attribute=attribute, locations=locations,
                      variables=ctx.make_variables, location_means="rootpath")

    args = tuple(word for a in ctx.attr.args for word in shlex.split(expanded(a, "args")))
    env = tuple(sorted((k, expanded(v, "env")) for k, v in ctx.attr.env.items()))
    return [
        DefaultInfo(files=Depset((launcher,), [Depset(tuple(srcs))]), runfiles=runfiles, executable=launcher),
        py_info,
        RunEnvironmentInfo(args, env, tuple(getattr(ctx.attr, "env_inherit", ()) or ())),
        HostToolsInfo(runtime.host_dirs),
        # The runtime it runs on, as rules_python's executables offer it (@rules_python//python/bin:python_src).
        runtime,
    ]


PYTHON_VERSION_FLAG = "@rules_python//python/config_settings:python_version"


def python_version_transition(config, attrs):
    """python_version = "3.12" analyses the target (and what it depends on) with the flag
    @rules_python//python/config_settings:python_version set: toolchain resolution then picks the
    runtime registered for that version (its toolchain's target_settings), as rules_python does."""
    wanted = attrs.get("python_version")
    if not isinstance(wanted, str) or wanted in ("", "PY2", "PY3"):
        return config
    return config.with_flags({PYTHON_VERSION_FLAG: wanted})


_TOOLCHAINS = (ToolchainTypeRequirement(PY_TOOLCHAIN_TYPE),
               ToolchainTypeRequirement(PY_EXEC_TOOLS_TOOLCHAIN_TYPE, mandatory=False))
PY_BINARY = RuleClass.make("py_binary", _py_executable, BINARY_ATTRS, executable=True, toolchains=_TOOLCHAINS,
                           transition=python_version_transition)
PY_TEST = RuleClass.make("py_test", _py_executable, BINARY_ATTRS, test=True, toolchains=_TOOLCHAINS,
                         transition=python_version_transition)
