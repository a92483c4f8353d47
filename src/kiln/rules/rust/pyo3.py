"""pyo3_extension and pyo3_module: Rust compiled into a module `import` finds.

The file name comes from the Python runtime kiln resolved (`<module><EXT_SUFFIX>`,
or `.abi3.so` with pyo3's abi3 feature); `pkg.sub` lands at `pkg/sub<suffix>`;
PyInfo carries the package directory as an import root, so every py_binary and
py_test depending on it finds the module in its runfiles.

As in rules_rust_pyo3: without pyo3 among its deps, pyo3_extension links the
pyo3 of the resolved rust_pyo3_toolchain (kiln.rules.rust.pyo3_toolchain);
`compilation_mode` (default "opt") is an incoming transition, so the extension
and what it depends on are built in that mode whatever `-c` says ("current"
keeps it); `stubs` writes `<module>.pyi` beside the module (kiln.tools.pyo3_stubs).
"""

from __future__ import annotations

import dataclasses

from kiln.core.artifacts import kiln_tool_artifact
from kiln.core.attrs import Attr, AttrType
from kiln.core.depset import Depset
from kiln.core.labels import parse_label
from kiln.core.providers import DefaultInfo
from kiln.core.rule_class import RuleClass, ToolchainTypeRequirement
from kiln.core.runfiles import Runfiles
from kiln.rules.python.providers import PY_TOOLCHAIN_TYPE, PyInfo
from kiln.rules.python.py_runtime import python_runtime, runtime_command
from kiln.rules.python.py_library import import_paths
from kiln.rules.rust.cargo_action import find_pyo3, pyo3_abi3, register_cargo_build
from kiln.rules.rust.crate import RUST_ATTRS, make_crate
from kiln.rules.rust.providers import (
    PYO3_TOOLCHAIN_TYPE, RUST_PYO3_TOOLCHAIN_TYPE, RUST_TOOLCHAIN_TYPE, RegistryCrateInfo,
)
from kiln.rules.rust.pyo3_config import extension_file_name, loads_abi3
from kiln.rules.rust.rust_rules import data_runfiles

PYO3_ATTRS = RUST_ATTRS + [
    Attr("module_name", AttrType.STRING),
    # rules_pyo3 spells it `module`, with an optional dotted `module_prefix`.
    Attr("module", AttrType.STRING),
    Attr("module_prefix", AttrType.STRING),
    Attr("imports", AttrType.STRING_LIST),
]


def _module_name(ctx) -> str:
    name = ctx.attr.module_name or ctx.attr.module or ctx.label.name
    if ctx.attr.module_prefix:
        name = f"{ctx.attr.module_prefix}.{name}"
    return name


def _toolchain_pyo3(ctx) -> RegistryCrateInfo:
    """The pyo3 of the resolved rust_pyo3_toolchain, for an extension whose deps name none."""
    toolchain = ctx.toolchains[RUST_PYO3_TOOLCHAIN_TYPE]
    if toolchain is None:
        raise ctx.error(f"no pyo3 among the deps and no PyO3 toolchain ({RUST_PYO3_TOOLCHAIN_TYPE}) to take it from: "
                        "list the pyo3 crate in deps (e.g. \"@crate_index//:pyo3\") or register a "
                        "rust_pyo3_toolchain (kiln registers one taking @crate_index//:pyo3 when the workspace "
                        "declares @crate_index)", attribute="deps")
    return toolchain.pyo3


def _extension(ctx, extra_registry=(), *, stubs=False):
    crate = make_crate(ctx, "cdylib", extra_registry=extra_registry)
    if find_pyo3(crate) is None:
        crate = dataclasses.replace(crate, registry_deps=crate.registry_deps + (_toolchain_pyo3(ctx),))
    runtime = python_runtime(ctx)
    # Whether this pyo3 has the abi3 feature asked for, and whether it fits the runtime, is
    # pyo3's and cargo's to say: they know the crate's features (see tools/cargo_build's hints).
    abi3 = pyo3_abi3(crate)
    if abi3 and not loads_abi3(runtime):
        ctx.warn(f"pyo3's abi3 feature is ignored for {runtime.describe()}, which cannot load abi3 modules: "
                 "the module is built for this runtime's version only (as pyo3 and maturin do)")
    module = _module_name(ctx)
    try:
        file_name = extension_file_name(module, runtime, abi3=abi3)
    except ValueError as e:
        raise ctx.error(str(e), attribute="module_name") from None
    out = ctx.actions.declare_file(file_name)
    register_cargo_build(ctx, crate, out, runtime=runtime, extension_module=True,
                         pyo3_module=module.rsplit(".", 1)[-1])
    outputs = [out]
    if stubs:
        outputs.append(_stub_file(ctx, runtime, module, out))
    files = Depset(tuple(outputs))
    own_root = ctx.label.repo or "_main"
    package_root = f"{own_root}/{ctx.label.package}" if ctx.label.package else own_root
    imports = [package_root, *import_paths(ctx)]
    py_info = PyInfo(transitive_sources=Depset(), imports=Depset(tuple(dict.fromkeys(imports))),
                     uses_shared_libraries=True)
    return [DefaultInfo(files=files, runfiles=Runfiles(files).merge(data_runfiles(ctx))), py_info, crate]


def _stub_file(ctx, runtime, module: str, extension):
    """`<module>.pyi` beside the module, written by the runtime the module was built for, from what it imports."""
    stub = ctx.actions.declare_file(module.replace(".", "/") + ".pyi")
    tool = kiln_tool_artifact("pyo3_stubs.py")
    interpreter, own, requirements = runtime_command(runtime)
    ctx.actions.run(
        outputs=[stub],
        inputs=Depset((extension, tool, *own), [runtime.files]),
        # -s -E: no user site-packages, no PYTHON* variables; the script imports only the standard library.
        argv=[interpreter, "-s", "-E", tool.exec_path, module, extension.exec_path, stub.exec_path],
        mnemonic="PyO3StubGen",
        progress_message=f"Generating type stubs of {module} ({ctx.label})",
        execution_requirements=requirements,
    )
    return stub


def _stubs_wanted(ctx) -> bool:
    """rules_rust's `stubs`: True or False, or None for the PyO3 toolchain's default (the experimental_stubgen flag)."""
    value = ctx.attr.stubs
    if not isinstance(value, (bool, type(None))):
        raise ctx.error(f"stubs must be True, False or None, got {value!r}", attribute="stubs")
    if value is not None:
        return value
    toolchain = ctx.toolchains[PYO3_TOOLCHAIN_TYPE]
    return toolchain is not None and toolchain.experimental_stubgen


def _pyo3_extension(ctx):
    if ctx.attr.compilation_mode not in COMPILATION_MODES:
        raise ctx.error(f"compilation_mode must be one of {', '.join(COMPILATION_MODES)}, "
                        f"got {ctx.attr.compilation_mode!r}", attribute="compilation_mode")
    return _extension(ctx, stubs=_stubs_wanted(ctx))


def _pyo3_module(ctx):
    # The seed's macro added @crate_index//:pyo3 itself; so does this rule, unless deps name pyo3.
    extra = ()
    if ctx.attr.pyo3 is not None:
        info = ctx.attr.pyo3.get(RegistryCrateInfo)
        if info is None:
            raise ctx.error(f"'{ctx.attr.pyo3.label}' is not a registry crate", attribute="pyo3")
        extra = (info,)
    return _extension(ctx, extra)


COMPILATION_MODES = ("dbg", "fastbuild", "opt", "current")


def _compilation_mode_transition(config, attrs):
    """rules_rust_pyo3's transition: the extension (and its deps) built in its own compilation_mode."""
    mode = attrs.get("compilation_mode") or "opt"
    if mode == "current" or mode not in COMPILATION_MODES or mode == config.compilation_mode:
        return config
    return dataclasses.replace(config, compilation_mode=mode)


# A Python extension needs both toolchains.
_TOOLCHAINS = (ToolchainTypeRequirement(RUST_TOOLCHAIN_TYPE), ToolchainTypeRequirement(PY_TOOLCHAIN_TYPE))
# Optional, as kiln's default pyo3 toolchain exists only where @crate_index does; needed only without pyo3 in deps.
_PYO3_TOOLCHAINS = (ToolchainTypeRequirement(RUST_PYO3_TOOLCHAIN_TYPE, mandatory=False),
                    ToolchainTypeRequirement(PYO3_TOOLCHAIN_TYPE, mandatory=False))
PYO3_EXTENSION = RuleClass.make(
    "pyo3_extension",
    _pyo3_extension,
    PYO3_ATTRS + [
        Attr("compilation_mode", AttrType.STRING, default="opt", configurable=False),
        # True, False or None (the PyO3 toolchain decides), as rules_rust_pyo3's macro takes it.
        Attr("stubs", AttrType.ANY),
    ],
    toolchains=_TOOLCHAINS + _PYO3_TOOLCHAINS,
    transition=_compilation_mode_transition,
)
PYO3_MODULE = RuleClass.make(
    "pyo3_module",
    _pyo3_module,
    PYO3_ATTRS + [Attr("pyo3", AttrType.LABEL, default=parse_label("@crate_index//:pyo3"))],
    toolchains=_TOOLCHAINS + _PYO3_TOOLCHAINS[:1],
)
