"""The machine's Rust toolchain as a repository: rustc probed, fingerprinted, written as a BUILD file.

@kiln_local_rust holds one local_rust_toolchain target naming the real cargo
and rustc of the toolchain's sysroot, and the toolchain's fingerprint
(kiln.repos.host_fingerprint: `rustc -vV`, `cargo -vV` and the digest of the
files rustc and cargo run from), which Rust actions put in their key. It is
written only when a build needs a Rust toolchain (a toolchain() in
@kiln_toolchains//rust points at it).

The repository is probed again whenever a file or directory of the
fingerprinted tree changes its stat (they are the files it returns, which the
saved plan stats on every command). The tree is the sysroot's bin/, lib/,
libexec/ and etc/ (~100 files, 0.5 ms to stat) and not share/: rustup's
share/ is 52,000 files of documentation, man pages and shell completions
that no compilation reads, and stat-walking it would cost ~240 ms per
command.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from kiln.core.errors import LocalEnvironmentError

_SYSROOT_DIRS = ("bin", "lib", "libexec", "etc")


@dataclass(frozen=True)
class LocalRust:
    rustc: str        # what PATH calls rustc (often rustup's proxy)
    sysroot: str
    real_rustc: str   # the sysroot's own binaries, which need no rustup environment
    cargo: str


def probe_local_rust() -> LocalRust:
    """The machine's rustc (from PATH, else ~/.cargo/bin) and the real binaries of its sysroot."""
    import shutil
    import subprocess

    rustc = shutil.which("rustc") or os.path.expanduser("~/.cargo/bin/rustc")
    if not os.path.exists(rustc):
        raise LocalEnvironmentError("Rust targets need rustc and cargo on PATH (or in ~/.cargo/bin); none was found")
    try:
        sysroot = _run(rustc, "--print", "sysroot")
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
    return LocalRust(rustc, sysroot, real_rustc, cargo)


def rustc_version(rust: LocalRust) -> str:
    """The release `rustc -V` names: "1.83.0" ("1.85.0-nightly" for a nightly)."""
    import subprocess

    try:
        words = _run(rust.real_rustc, "-V").split()
    except (OSError, subprocess.SubprocessError) as e:
        raise LocalEnvironmentError(f"cannot run {rust.real_rustc}: {e}") from None
    return words[1] if len(words) > 1 else " ".join(words)


def local_rust_build_file() -> tuple[str, tuple[str, ...]]:
    """The BUILD file's text, and the files whose change means probing again."""
    import subprocess

    from kiln.repos.host_fingerprint import fingerprint, table_path, tree_digest
    from kiln.repos.repository_cache import user_cache_dir

    rust = probe_local_rust()
    sysroot, cargo, real_rustc = rust.sysroot, rust.cargo, rust.real_rustc
    try:
        versions = (_run(real_rustc, "-vV"), _run(cargo, "-vV"))
    except (OSError, subprocess.SubprocessError) as e:
        raise LocalEnvironmentError(f"cannot run {real_rustc} or {cargo}: {e}") from None
    # cargo or rustc from outside the sysroot (a cargo found on PATH) are fingerprinted as single files.
    roots = sorted({*(os.path.join(sysroot, d) for d in _SYSROOT_DIRS), cargo, real_rustc})
    roots = [r for r in roots if not any(r.startswith(o + "/") for o in roots)]
    tree = tree_digest(roots, table_path(user_cache_dir(os.environ) / "host_tools", roots))
    text = (
        "# Written by kiln from the machine's rustc; rewritten when a file of its toolchain changes.\n"
        f"# {versions[0].splitlines()[0]}\n"
        'package(default_visibility = ["//visibility:public"])\n\n'
        "local_rust_toolchain(\n"
        '    name = "rust_toolchain",\n'
        f"    sysroot = {json.dumps(sysroot)},\n"
        f"    cargo = {json.dumps(cargo)},\n"
        f"    rustc = {json.dumps(real_rustc)},\n"
        f"    fingerprint = {json.dumps(fingerprint(versions, tree))},\n"
        ")\n"
    )
    # `rustup default` switches toolchains behind the same proxy binary: its settings say which.
    rustup_settings = os.path.join(os.environ.get("RUSTUP_HOME") or os.path.expanduser("~/.rustup"), "settings.toml")
    return text, tuple(dict.fromkeys((rust.rustc, rustup_settings, *tree.paths)))


def _run(*argv: str) -> str:
    import subprocess

    return subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60).stdout.strip()
