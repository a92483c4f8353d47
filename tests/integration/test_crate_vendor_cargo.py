"""The crate index repository vendors its Cargo.lock's crates when loaded, and real cargo builds from them offline."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from conftest import unavailable

ITOA_CHECKSUM = "49f1f14873335454500d59611f1cf4a4b0f786f9ac11f4312a78e4cf2566695b"  # itoa-1.0.11.crate

MODULE = """
module(name = "vendored")

bazel_dep(name = "rules_rust", version = "0.61.0")

crate = use_extension("@rules_rust//crate_universe:extensions.bzl", "crate")
crate.from_cargo(
    name = "crate_index",
    cargo_lockfile = "//:Cargo.lock",
    manifests = ["//:Cargo.toml"],
)
use_repo(crate, "crate_index")
"""

BUILD = """
load("@rules_rust//rust:defs.bzl", "rust_binary")

filegroup(name = "plain", srcs = ["notes.txt"])

rust_binary(
    name = "app",
    srcs = ["src/main.rs"],
    deps = ["@crate_index//:itoa"],
)
"""

CARGO_TOML = """
[package]
name = "app"
version = "0.1.0"
edition = "2021"

[dependencies]
itoa = "1"
"""

MAIN_RS = """
fn main() {
    let mut buf = itoa::Buffer::new();
    println!("itoa says {}", buf.format(1234567u64));
}
"""


def cargo_lock(checksum: str | None) -> str:
    itoa = ['[[package]]', 'name = "itoa"', 'version = "1.0.11"',
            'source = "registry+https://github.com/rust-lang/crates.io-index"']
    if checksum:
        itoa.append(f'checksum = "{checksum}"')
    return "\n".join(["version = 4", "", '[[package]]', 'name = "app"', 'version = "0.1.0"',
                      'dependencies = [', ' "itoa",', ']', "", *itoa, ""])


@pytest.fixture
def crates_io() -> None:
    try:
        socket.create_connection(("static.crates.io", 443), timeout=5).close()
    except OSError:
        unavailable("static.crates.io is not reachable from this machine")


@pytest.fixture
def cargo() -> str:
    found = shutil.which("cargo")
    if found is None:
        unavailable("no cargo on this machine")
    return found


def write_workspace(ws, checksum: str | None) -> None:
    ws.write("MODULE.bazel", MODULE)
    ws.write("BUILD.bazel", BUILD)
    ws.write("notes.txt", "no crates here\n")
    ws.write("Cargo.toml", CARGO_TOML)
    ws.write("Cargo.lock", cargo_lock(checksum))
    ws.write("src/main.rs", MAIN_RS)


def vendor_dirs(ws) -> list[Path]:
    return sorted(ws.output_base.glob("external/*/vendor"))


def test_loading_the_crate_index_vendors_its_crates_and_cargo_builds_from_them_offline(ws, crates_io, cargo,
                                                                                        tmp_path):
    write_workspace(ws, ITOA_CHECKSUM)
    r = ws.kiln("build", "//:plain")
    assert r.code == 0, r.output
    assert vendor_dirs(ws) == []  # @crate_index was not loaded: nothing fetched

    cache = tmp_path / "repository_cache"
    r = ws.kiln("query", f"--repository_cache={cache}", "deps(//:app)")
    assert r.code == 0, r.output
    [vendor] = vendor_dirs(ws)
    assert sorted(os.listdir(vendor)) == ["itoa-1.0.11"]
    assert json.loads((vendor / "itoa-1.0.11" / ".cargo-checksum.json").read_text()) == {
        "files": {}, "package": ITOA_CHECKSUM}
    # In the repository cache --repository_cache names, by the lock's checksum.
    assert (cache / "content_addressable" / "sha256" / ITOA_CHECKSUM / "file").is_file()

    cargo_home = tmp_path / "empty_cargo_home"
    cargo_home.mkdir()
    env = {**os.environ, "CARGO_HOME": str(cargo_home), "CARGO_TARGET_DIR": str(tmp_path / "target")}
    build = subprocess.run(
        [cargo, "build", "--offline", "--locked",
         "--config", 'source.crates-io.replace-with="kiln"',
         "--config", f'source.kiln.directory="{vendor}"'],
        cwd=ws.root, env=env, capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr
    assert "Compiling itoa v1.0.11" in build.stderr
    assert not (cargo_home / "registry").exists()  # cargo downloaded nothing
    run = subprocess.run([tmp_path / "target" / "debug" / "app"], capture_output=True, text=True)
    assert run.stdout == "itoa says 1234567\n"


def test_a_lock_file_without_checksums_is_refused_with_its_lines(ws):
    write_workspace(ws, None)
    r = ws.kiln("query", "deps(//:app)")
    assert r.code != 0
    assert "Traceback" not in r.output
    assert ("ERROR: BUILD.bazel:6:5: cannot load '@crate_index//:itoa', referenced by '//:app' (attribute 'deps'): "
            "Cargo.lock records no checksum for these crates.io packages, so kiln cannot verify them "
            "(regenerate the lock file with `cargo generate-lockfile` or `cargo update`):\n"
            "  Cargo.lock:10: crate 'itoa' 1.0.11") in r.output, r.output
