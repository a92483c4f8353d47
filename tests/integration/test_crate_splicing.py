"""A crate index without a lock file (crate.spec + from_specs) is locked and vendored at repository time.

The repository layer has the machine's cargo resolve a spliced manifest into
`@crates//:Cargo.lock` (the network is allowed there, as for any fetch); the
crates of that lock are vendored like a user's, and the CargoBuild action runs
`--offline --locked` without network. Needs rustc, cargo and crates.io (index
and downloads); skipped without them, failed instead under CI=true.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket

import pytest

from conftest import unavailable
from test_rust import ITOA_MAIN as MAIN_RS, SPECS_MODULE

BUILD = """
load("@rules_rust//rust:defs.bzl", "rust_binary")

rust_binary(
    name = "fmt",
    srcs = ["main.rs"],
    deps = ["@crates//:itoa"],
)
"""


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    for host in ("index.crates.io", "static.crates.io"):
        try:
            socket.create_connection((host, 443), timeout=5).close()
        except OSError:
            unavailable(f"{host} is not reachable from this machine")
    rustc = shutil.which("rustc") or os.path.expanduser("~/.cargo/bin/rustc")
    if not os.path.exists(rustc):
        unavailable("no Rust toolchain (rustc) on this machine")
    (tmp_path / "cargo_home").mkdir()
    # An empty CARGO_HOME: the offline attempt finds no index, so the lock is resolved online.
    return {"PATH": f"{os.path.dirname(rustc)}:/usr/bin:/bin", "CARGO_HOME": str(tmp_path / "cargo_home"),
            "RUSTUP_HOME": os.environ.get("RUSTUP_HOME") or os.path.expanduser("~/.rustup")}


def write_workspace(ws, version: str) -> None:
    ws.write("MODULE.bazel", SPECS_MODULE.replace('version = "1"', f'version = "{version}"'))
    ws.write("BUILD.bazel", BUILD)
    ws.write("main.rs", MAIN_RS)


def crates_repo(ws):
    (lock,) = ws.output_base.glob("external/*/Cargo.lock")
    return lock.parent


def locked_itoa(lock_text: str) -> str:
    return re.search(r'name = "itoa"\nversion = "([^"]+)"', lock_text).group(1)


def test_specs_without_a_lock_file_are_locked_vendored_and_built_offline(ws, env, tmp_path):
    write_workspace(ws, "1")
    r = ws.kiln("run", "--explain=-", "//:fmt", env=env)
    assert r.code == 0, r.output
    assert "itoa says 1234567" in r.stdout
    repo = crates_repo(ws)
    lock = (repo / "Cargo.lock").read_text()
    version = locked_itoa(lock)
    assert version.startswith("1.") and 'checksum = "' in lock
    assert os.listdir(repo / "vendor") == [f"itoa-{version}"]
    build = (repo / "BUILD.bazel").read_text()
    assert 'spliced_lockfile = ":Cargo.lock"' in build and 'vendor = ":vendor"' in build
    assert f'version = "={version}"' in build
    # The action read the lock and the vendored crate; cargo itself downloaded no crate.
    (spec,) = (ws.root / "kiln-bin").glob("*.cargo.json")
    data = json.loads(spec.read_text())
    assert data["lockfile"].endswith("/Cargo.lock") and data["lockfile"].startswith("external/")
    assert data["vendor_dir"].endswith("/vendor") and "online" not in data
    assert not (tmp_path / "cargo_home" / "registry" / "cache").exists()

    # Loading again (a fresh output tree, same repository): the lock is kept, not resolved again.
    stamp = (repo / "Cargo.lock").stat().st_mtime_ns
    ws.write("BUILD.bazel", BUILD + "# edited\n")
    r = ws.kiln("build", "//:fmt", env=env)
    assert r.code == 0, r.output
    assert (repo / "Cargo.lock").stat().st_mtime_ns == stamp

    # Another requirement: a new manifest, a new lock, a new vendored crate.
    write_workspace(ws, "=1.0.10")
    r = ws.kiln("run", "//:fmt", env=env)
    assert r.code == 0 and "itoa says 1234567" in r.stdout, r.output
    assert locked_itoa((repo / "Cargo.lock").read_text()) == "1.0.10"
    assert os.listdir(repo / "vendor") == ["itoa-1.0.10"]


def test_a_spec_cargo_cannot_resolve_names_the_universe_and_cargos_reason(ws, env):
    ws.write("MODULE.bazel", SPECS_MODULE.replace('package = "itoa"',
                                                                'package = "kiln-no-such-crate-4f2a"'))
    ws.write("BUILD.bazel", BUILD.replace("@crates//:itoa", "@crates//:kiln-no-such-crate-4f2a"))
    ws.write("main.rs", MAIN_RS)
    r = ws.kiln("build", "//:fmt", env=env)
    assert r.code != 0
    assert "Traceback" not in r.output
    assert "crate universe 'crates' has no lock file, and cargo could not resolve its crates (MODULE.bazel:" \
        in r.output, r.output
    assert "no matching package named `kiln-no-such-crate-4f2a` found" in r.output, r.output


def test_an_edit_rebuilds_only_the_edited_crate_in_a_sandbox_of_its_own_each_run(ws, env):
    """processwrapper-sandbox stages every run in a new directory: cargo must still find the vendored
    crates where it compiled them (a fixed link in the persistent cache), or it rebuilds them all."""
    write_workspace(ws, "1")
    r = ws.kiln("build", "--spawn_strategy=processwrapper-sandbox", "//:fmt", env=env)
    assert r.code == 0, r.output
    fingerprints = ws.output_base / "caches" / "cargo" / "target" / "debug" / ".fingerprint"
    (itoa,) = fingerprints.glob("itoa-*")
    before = {p.name: p.stat().st_mtime_ns for p in itoa.iterdir()}

    ws.write("main.rs", MAIN_RS.replace("itoa says", "itoa now says"))
    r = ws.kiln("run", "--spawn_strategy=processwrapper-sandbox", "//:fmt", env=env)
    assert r.code == 0 and "itoa now says 1234567" in r.stdout, r.output
    assert {p.name: p.stat().st_mtime_ns for p in itoa.iterdir()} == before
    (link,) = (ws.output_base / "caches" / "cargo" / "vendor").iterdir()
    assert link.is_symlink() and link.name.endswith("_vendor")
