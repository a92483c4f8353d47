"""The machine's Rust toolchain as a repository: rustc probed once, written as a BUILD file.

@kiln_local_rust holds one local_rust_toolchain target naming the real cargo
and rustc of the toolchain's sysroot; it is written only when a build needs
a Rust toolchain (a toolchain() in @kiln_toolchains//rust points at it).
"""

from __future__ import annotations

import json
import os

from kiln.core.errors import LocalEnvironmentError


def local_rust_build_file() -> tuple[str, tuple[str, ...]]:
    """The BUILD file's text, and the files whose change means probing again (the rustc binaries)."""
    import shutil
    import subprocess

    rustc = shutil.which("rustc") or os.path.expanduser("~/.cargo/bin/rustc")
    if not os.path.exists(rustc):
        raise LocalEnvironmentError("Rust targets need rustc and cargo on PATH (or in ~/.cargo/bin); none was found")
    try:
        sysroot = _run(rustc, "--print", "sysroot")
        version = _run(rustc, "--version")
    except (OSError, subprocess.SubprocessError) as e:
        raise LocalEnvironmentError(f"cannot run {rustc}: {e}") from None
    cargo = os.path.join(sysroot, "bin", "cargo")
    if not os.path.exists(cargo):
        found = shutil.which("cargo")
        if not found:
            raise LocalEnvironmentError(f"no cargo next to rustc (looked in {sysroot}/bin)")
        cargo = found
    real_rustc = os.path.join(sysroot, "bin", "rustc")
    if not os.path.exists(real_rustc):
        real_rustc = rustc
    cargo_home = os.environ.get("CARGO_HOME") or os.path.expanduser("~/.cargo")
    text = (
        "# Written by kiln from the machine's rustc; rewritten when it changes.\n"
        'package(default_visibility = ["//visibility:public"])\n\n'
        "local_rust_toolchain(\n"
        '    name = "rust_toolchain",\n'
        f"    sysroot = {json.dumps(sysroot)},\n"
        f"    cargo = {json.dumps(cargo)},\n"
        f"    rustc = {json.dumps(real_rustc)},\n"
        f"    version = {json.dumps(version)},\n"
        f"    cargo_home = {json.dumps(cargo_home)},\n"
        ")\n"
    )
    return text, (rustc, real_rustc, cargo)


def _run(*argv: str) -> str:
    import subprocess

    return subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60).stdout.strip()
