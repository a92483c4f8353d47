"""The Rust toolchain kiln drives: the machine's cargo and rustc, found once.

Rules get it through ctx.toolchains.rust(); actions then name the real
binaries in the toolchain's sysroot (never rustup's proxies, which read
HOME and RUSTUP_* from the environment).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass

from kiln.core.errors import LocalEnvironmentError


@dataclass(frozen=True)
class RustToolchainInfo:
    sysroot: str
    cargo: str
    rustc: str
    version: str      # "rustc 1.95.0 (...)"
    cargo_home: str   # registry and git caches, shared with the user's own cargo

    @property
    def bin_dir(self) -> str:
        return os.path.dirname(self.cargo)


def find_rust_toolchain() -> RustToolchainInfo:
    rustc = shutil.which("rustc") or os.path.expanduser("~/.cargo/bin/rustc")
    if not os.path.exists(rustc):
        raise LocalEnvironmentError("Rust targets need rustc and cargo on PATH (or in ~/.cargo/bin); none was found")
    try:
        sysroot = subprocess.run([rustc, "--print", "sysroot"], capture_output=True, text=True, check=True,
                                 timeout=60).stdout.strip()
        version = subprocess.run([rustc, "--version"], capture_output=True, text=True, check=True,
                                 timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError) as e:
        raise LocalEnvironmentError(f"cannot run {rustc}: {e}") from None
    cargo = os.path.join(sysroot, "bin", "cargo")
    if not os.path.exists(cargo):
        found = shutil.which("cargo")
        if not found:
            raise LocalEnvironmentError(f"no cargo next to rustc (looked in {sysroot}/bin)")
        cargo = found
    real_rustc = os.path.join(sysroot, "bin", "rustc")
    cargo_home = os.environ.get("CARGO_HOME") or os.path.expanduser("~/.cargo")
    return RustToolchainInfo(sysroot, cargo, real_rustc if os.path.exists(real_rustc) else rustc, version, cargo_home)
