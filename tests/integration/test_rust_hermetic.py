"""The CargoBuild action's identity: the Rust toolchain it runs and kiln's own tool code are in its key.

A local_rust_toolchain (registered from MODULE.bazel) points at a wrapper
`rustc` that prints its own `--version` and otherwise runs the real one; its
`version` is what the wrapper prints, as kiln's probe of the machine's rustc
records it. Another version must re-run the action, even though no source
changed. Needs rustc and cargo (a crate without registry dependencies: no
network); skipped without them, failed instead under CI=true.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest

from conftest import unavailable

from kiln.core.artifacts import SourceTree, kiln_tool_artifact


@pytest.fixture
def sysroot() -> str:
    rustc = shutil.which("rustc") or os.path.expanduser("~/.cargo/bin/rustc")
    if not os.path.exists(rustc):
        unavailable("no Rust toolchain (rustc) on this machine")
    return subprocess.run([rustc, "--print", "sysroot"], capture_output=True, text=True, check=True).stdout.strip()


def write_toolchain(ws, sysroot: str, version: str) -> None:
    real = os.path.join(sysroot, "bin", "rustc")
    wrapper = ws.write("wrapped_rust/bin/rustc", (
        "#!/bin/sh\n"
        f'if [ "$1" = "--version" ]; then echo "{version}"; exit 0; fi\n'
        f'exec {real} "$@"\n'), executable=True)
    probed = subprocess.run([str(wrapper), "--version"], capture_output=True, text=True, check=True).stdout.strip()
    ws.write("wrapped_rust/BUILD.bazel", f"""
local_rust_toolchain(
    name = "impl",
    sysroot = {json.dumps(sysroot)},
    cargo = {json.dumps(os.path.join(sysroot, "bin", "cargo"))},
    rustc = {json.dumps(str(wrapper))},
    version = {json.dumps(probed)},
    cargo_home = "/nonexistent/cargo-home",
)
toolchain(name = "wrapped", toolchain = ":impl", toolchain_type = "@rules_rust//rust:toolchain_type")
""")


def cargo_runs(result) -> int:
    return len(re.findall(r"Executing action 'Compiling Rust", result.output))


def test_another_rustc_version_reruns_the_cargo_action(ws, sysroot):
    ws.write("MODULE.bazel", 'register_toolchains("//wrapped_rust:all")\n')
    ws.write("app/BUILD.bazel", 'rust_binary(name = "app", srcs = ["main.rs"])\n')
    ws.write("app/main.rs", 'fn main() { println!("hi"); }\n')
    write_toolchain(ws, sysroot, "rustc 1.0.0-wrapped-a")
    first = ws.kiln("build", "--explain=-", "//app")
    assert first.code == 0, first.output
    assert cargo_runs(first) == 1, first.output
    again = ws.kiln("build", "--explain=-", "//app")
    assert again.code == 0 and cargo_runs(again) == 0, again.output

    write_toolchain(ws, sysroot, "rustc 1.0.0-wrapped-b")
    changed = ws.kiln("build", "--explain=-", "//app")
    assert changed.code == 0, changed.output
    assert cargo_runs(changed) == 1, changed.output


def test_kiln_tool_code_is_an_input_read_from_kilns_own_package():
    import kiln.tools.cargo_build

    art = kiln_tool_artifact("cargo_build.py")
    assert art.exec_path == "external/kiln_tools/cargo_build.py"
    from kiln.cli.session import KILN_TOOLS_DIR

    sources = SourceTree("/nonexistent", (("kiln_tools", KILN_TOOLS_DIR),))
    assert os.path.samefile(sources.path(art), kiln.tools.cargo_build.__file__)


@pytest.mark.parametrize("strategy", ["linux-sandbox", "processwrapper-sandbox"])
def test_cargos_target_directory_outlives_the_sandbox(ws, sysroot, strategy):
    if strategy == "linux-sandbox" and shutil.which("bwrap") is None:
        unavailable("bubblewrap is not installed")
    ws.write("MODULE.bazel", 'register_toolchains("//wrapped_rust:all")\n')
    ws.write("app/BUILD.bazel", 'rust_binary(name = "app", srcs = ["main.rs"])\n')
    ws.write("app/main.rs", 'fn main() { println!("one"); }\n')
    write_toolchain(ws, sysroot, "rustc 1.0.0-wrapped")
    r = ws.kiln("build", f"--spawn_strategy={strategy}", "//app")
    assert r.code == 0, r.output
    cache = ws.output_base / "caches" / "cargo"
    (fingerprints,) = list((cache / "target" / "debug" / ".fingerprint").glob("k_app_app-*"))
    first = {p.name: p.stat().st_mtime_ns for p in fingerprints.iterdir()}

    ws.write("app/main.rs", 'fn main() { println!("two"); }\n')
    r = ws.kiln("run", f"--spawn_strategy={strategy}", "//app")
    assert r.code == 0 and r.stdout == "two\n", r.output
    # The same unit of the same target directory, rebuilt in place: cargo saw its own earlier state.
    assert list((cache / "target" / "debug" / ".fingerprint").glob("k_app_app-*")) == [fingerprints]
    assert {p.name for p in fingerprints.iterdir()} == set(first)
    assert (cache / "ws" / "k_app_app" / "_src" / "app" / "main.rs").read_text() == 'fn main() { println!("two"); }\n'
    # Nothing of the sandboxes is left, and nothing in the exec root points into one.
    assert not any((ws.output_base / "sandbox").glob("*/caches"))
