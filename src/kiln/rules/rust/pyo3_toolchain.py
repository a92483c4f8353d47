"""rust_pyo3_toolchain and pyo3_toolchain: the two PyO3 toolchains of rules_rust_pyo3 (and rules_pyo3).

rust_pyo3_toolchain names the pyo3 crate a pyo3_extension links when its deps
list none (`@rules_rust_pyo3//:rust_toolchain_type`); kiln registers one taking
`@crate_index//:pyo3` after the workspace's own (kiln.repos.host_repos writes it
when the workspace declares @crate_index). pyo3_toolchain
(`@rules_rust_pyo3//:toolchain_type`) carries PyO3's build settings: in kiln
the Python side of PyO3's configuration comes from the resolved Python runtime
(kiln.rules.rust.pyo3_config), so what is left is whether extensions get type
stubs by default (`--@rules_rust_pyo3//settings:experimental_stubgen`).
"""

from __future__ import annotations

from kiln.analysis.providers import BuildSettingInfo, ToolchainInfo
from kiln.core.attrs import Attr, AttrType
from kiln.core.labels import parse_label
from kiln.core.rule_class import RuleClass
from kiln.rules.rust.providers import CrateInfo, RegistryCrateInfo

STUBGEN_FLAG = "@rules_rust_pyo3//settings:experimental_stubgen"


def _rust_pyo3_toolchain(ctx):
    dep = ctx.attr.pyo3
    crate = dep.get(RegistryCrateInfo)
    if crate is None:
        what = "a Rust crate built from sources" if dep.get(CrateInfo) is not None else f"a {dep.kind}"
        raise ctx.error(f"'{dep.label}' is {what}, not a crate of a crate index: pyo3 must name the pyo3 crate "
                        "of a crate index (e.g. \"@crate_index//:pyo3\")", attribute="pyo3")
    if crate.package != "pyo3":
        raise ctx.error(f"'{dep.label}' is the crate '{crate.package}', not pyo3", attribute="pyo3")
    if crate.lock_error:
        raise ctx.error(crate.lock_error, attribute="pyo3")
    return [ToolchainInfo(pyo3=crate, pyo3_label=dep.label)]


RUST_PYO3_TOOLCHAIN = RuleClass.make(
    "rust_pyo3_toolchain",
    _rust_pyo3_toolchain,
    [
        Attr("pyo3", AttrType.LABEL, mandatory=True),
        # rules_rust builds its stub generator from this crate; kiln's stubs come from the built module
        # (kiln.tools.pyo3_stubs), so it is accepted, as written, and not analysed.
        Attr("pyo3_introspection", AttrType.ANY),
    ],
    doc="The pyo3 crate PyO3 extensions link when their deps name none.",
)


def _pyo3_toolchain(ctx):
    setting = ctx.attr._experimental_stubgen.get(BuildSettingInfo)
    return [ToolchainInfo(experimental_stubgen=bool(setting.value) if setting is not None else False)]


PYO3_TOOLCHAIN = RuleClass.make(
    "pyo3_toolchain",
    _pyo3_toolchain,
    [Attr("_experimental_stubgen", AttrType.LABEL, default=parse_label(STUBGEN_FLAG))],
    doc="PyO3's build settings: whether extensions get .pyi stubs unless their `stubs` says otherwise.",
)
