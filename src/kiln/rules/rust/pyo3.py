"""pyo3_extension and pyo3_module: Rust compiled into a module `import` finds.

The file name comes from the Python runtime kiln resolved (`<module><EXT_SUFFIX>`,
or `.abi3.so` with pyo3's abi3 feature); `pkg.sub` lands at `pkg/sub<suffix>`;
PyInfo carries the package directory as an import root, so every py_binary and
py_test depending on it finds the module in its runfiles.
"""

from __future__ import annotations

from kiln.core.attrs import Attr, AttrType
from kiln.core.depset import Depset
from kiln.core.labels import parse_label
from kiln.core.providers import DefaultInfo
from kiln.core.rule_class import RuleClass, ToolchainTypeRequirement
from kiln.core.runfiles import Runfiles
from kiln.rules.python.providers import PY_TOOLCHAIN_TYPE, PyInfo
from kiln.rules.python.py_runtime import python_runtime
from kiln.rules.python.py_library import import_paths
from kiln.rules.rust.cargo_action import find_pyo3, pyo3_abi3, register_cargo_build
from kiln.rules.rust.crate import RUST_ATTRS, make_crate
from kiln.rules.rust.providers import RUST_TOOLCHAIN_TYPE, RegistryCrateInfo
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


def _extension(ctx, extra_registry=()):
    crate = make_crate(ctx, "cdylib", extra_registry=extra_registry)
    pyo3 = find_pyo3(crate)
    if pyo3 is None:
        raise ctx.error("a PyO3 extension needs the pyo3 crate among its deps (e.g. \"@crate_index//:pyo3\")",
                        attribute="deps")
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
    files = Depset((out,))
    own_root = ctx.label.repo or "_main"
    package_root = f"{own_root}/{ctx.label.package}" if ctx.label.package else own_root
    imports = [package_root, *import_paths(ctx)]
    py_info = PyInfo(transitive_sources=Depset(), imports=Depset(tuple(dict.fromkeys(imports))),
                     uses_shared_libraries=True)
    return [DefaultInfo(files=files, runfiles=Runfiles(files).merge(data_runfiles(ctx))), py_info, crate]


def _pyo3_extension(ctx):
    return _extension(ctx)


def _pyo3_module(ctx):
    # The seed's macro added @crate_index//:pyo3 itself; so does this rule, unless deps name pyo3.
    extra = ()
    if ctx.attr.pyo3 is not None:
        info = ctx.attr.pyo3.get(RegistryCrateInfo)
        if info is None:
            raise ctx.error(f"'{ctx.attr.pyo3.label}' is not a registry crate", attribute="pyo3")
        extra = (info,)
    return _extension(ctx, extra)


# A Python extension needs both toolchains.
_TOOLCHAINS = (ToolchainTypeRequirement(RUST_TOOLCHAIN_TYPE), ToolchainTypeRequirement(PY_TOOLCHAIN_TYPE))
PYO3_EXTENSION = RuleClass.make("pyo3_extension", _pyo3_extension, PYO3_ATTRS, toolchains=_TOOLCHAINS)
PYO3_MODULE = RuleClass.make(
    "pyo3_module",
    _pyo3_module,
    PYO3_ATTRS + [Attr("pyo3", AttrType.LABEL, default=parse_label("@crate_index//:pyo3"))],
    toolchains=_TOOLCHAINS,
)
