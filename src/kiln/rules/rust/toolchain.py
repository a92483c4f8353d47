"""local_rust_toolchain: a Rust toolchain installed on this machine, as a toolchain implementation.

A repository rule probes the machine's rustc once and writes one of these
(kiln.repos.local_rust); a `toolchain()` of type @rules_rust//rust:toolchain_type
offers it, and Rust rules read it as ctx.toolchains[RUST_TOOLCHAIN_TYPE]. The
paths are the real binaries in the toolchain's sysroot, never rustup's
proxies (which read HOME and RUSTUP_* from the environment). The fingerprint
stands for the toolchain in action keys (kiln.repos.host_fingerprint).
"""

from __future__ import annotations

import os

from kiln.analysis.providers import ToolchainInfo
from kiln.core.attrs import Attr, AttrType
from kiln.core.rule_class import RuleClass

_PATHS = ("sysroot", "cargo", "rustc")


def _local_rust_toolchain(ctx):
    for name in _PATHS:
        if not getattr(ctx.attr, name).startswith("/"):
            raise ctx.error(f"{name} must be an absolute path, got {getattr(ctx.attr, name)!r}", attribute=name)
    return [ToolchainInfo(
        sysroot=ctx.attr.sysroot,
        cargo=ctx.attr.cargo,
        rustc=ctx.attr.rustc,
        bin_dir=os.path.dirname(ctx.attr.cargo),
        fingerprint=ctx.attr.fingerprint,
    )]


LOCAL_RUST_TOOLCHAIN = RuleClass.make(
    "local_rust_toolchain",
    _local_rust_toolchain,
    [Attr(name, AttrType.STRING, mandatory=True) for name in (*_PATHS, "fingerprint")],
)
