"""Bad Rust/PyO3 input through the real `kiln` command: each failure exits non-zero, names the
file or target at fault, says what is wrong, and shows no Python traceback.

One workspace with one output base for the module (`ews`): the module_name check needs a
real pyo3 build (~20 s, once); the other cases fail before or right after cargo starts.
"""

from __future__ import annotations

import re
import shutil
import sys

import pytest

from conftest import unavailable
from test_rust import EXT_SUFFIX, SEED000_CARGO_TOML, WORD_COUNT_LOCK, RustWorkspace, _have_rust, make_workspace


@pytest.fixture(autouse=True)
def _need_rust():
    if not _have_rust():
        unavailable("no Rust toolchain (rustc) on this machine")


MODULE = """
module(name = "rust_errors")

bazel_dep(name = "rules_python", version = "1.5.0")
bazel_dep(name = "rules_rust", version = "0.61.0")

crate = use_extension("@rules_rust//crate_universe:extensions.bzl", "crate")
crate.from_cargo(
    name = "crate_index",
    cargo_lockfile = "//:Cargo.lock",
    manifests = ["//:Cargo.toml"],
)

# abi3 features pyo3 0.23 does not have (its newest is abi3-py312).
crate.spec(package = "pyo3", version = "0.23", features = ["abi3-py315"], repositories = ["pyo3_py315"])
crate.from_specs(name = "pyo3_py315")
crate.spec(package = "pyo3", version = "0.23", features = ["abi3-py399"], repositories = ["pyo3_py399"])
crate.from_specs(name = "pyo3_py399")
# An abi3 feature pyo3 0.23 has, one Python minor above the runtime's.
crate.spec(package = "pyo3", version = "0.23", features = ["{newer}"], repositories = ["pyo3_newer"])
crate.from_specs(name = "pyo3_newer")
use_repo(crate, "crate_index", "pyo3_py315", "pyo3_py399", "pyo3_newer")
"""

# pyo3 0.23's abi3 features stop at abi3-py312.
NEWER_MINOR = sys.version_info[1] + 1
NEWER_ABI3 = f"abi3-py3{min(NEWER_MINOR, 12)}"

# word_count's manifest plus itoa, with word_count's lock file: itoa is not locked.
CARGO_TOML = SEED000_CARGO_TOML + 'itoa = "1"\n'

BUILD = """
load("@rules_rust//rust:defs.bzl", "rust_binary", "rust_library")
load("@rules_rust_pyo3//:defs.bzl", "pyo3_extension", "rust_pyo3_toolchain")

rust_library(
    name = "compile_error",
    srcs = ["broken.rs"],
)

rust_binary(
    name = "uses_broken",
    srcs = ["main.rs"],
    deps = [":compile_error"],
)

pyo3_module(
    name = "mismatch",
    srcs = ["mismatch/lib.rs"],
    module_name = "expected_name",
)

pyo3_module(
    name = "bad_module_name",
    srcs = ["mismatch/lib.rs"],
    module_name = "my-module",
)

rust_library(
    name = "unlocked",
    srcs = ["plain.rs"],
    deps = ["@crate_index//:itoa"],
)

pyo3_extension(
    name = "future_abi3_py315",
    srcs = ["stable/lib.rs"],
    module_name = "stable",
    deps = ["@pyo3_py315//:pyo3"],
)

pyo3_extension(
    name = "future_abi3_py399",
    srcs = ["stable/lib.rs"],
    module_name = "stable",
    deps = ["@pyo3_py399//:pyo3"],
)

pyo3_extension(
    name = "newer_abi3",
    srcs = ["stable/lib.rs"],
    module_name = "stable",
    deps = ["@pyo3_newer//:pyo3"],
)

pyo3_extension(
    name = "no_pyo3",
    srcs = ["plain.rs"],
    module_name = "plain",
)

# PyO3 toolchains (--extra_toolchains) whose pyo3 is not the pyo3 crate.
filegroup(name = "plain_files", srcs = ["plain.rs"])

rust_pyo3_toolchain(name = "files_as_pyo3_impl", pyo3 = ":plain_files")

toolchain(name = "files_as_pyo3", toolchain = ":files_as_pyo3_impl",
          toolchain_type = "@rules_rust_pyo3//:rust_toolchain_type")

rust_pyo3_toolchain(name = "rayon_as_pyo3_impl", pyo3 = "@crate_index//:rayon")

toolchain(name = "rayon_as_pyo3", toolchain = ":rayon_as_pyo3_impl",
          toolchain_type = "@rules_rust_pyo3//:rust_toolchain_type")
"""

BROKEN_RS = """
pub fn value() -> u32 {
    let s: u32 = "not a number";
    s
}
"""

MAIN_RS = """
fn main() {
    println!("{}", compile_error::value());
}
"""

MISMATCH_RS = """
use pyo3::prelude::*;

#[pymodule]
fn actual_name(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    Ok(())
}
"""

STABLE_RS = """
use pyo3::prelude::*;

#[pymodule]
fn stable(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    Ok(())
}
"""


@pytest.fixture(scope="module")
def ews(tmp_path_factory) -> RustWorkspace:
    w = make_workspace(tmp_path_factory, "rust_errors_ws")
    w.write("MODULE.bazel", MODULE.replace("{newer}", NEWER_ABI3))
    w.write("Cargo.toml", CARGO_TOML)
    shutil.copyfile(WORD_COUNT_LOCK, w.root / "Cargo.lock")
    w.write("bad/BUILD.bazel", BUILD)
    w.write("bad/broken.rs", BROKEN_RS)
    w.write("bad/main.rs", MAIN_RS)
    w.write("bad/mismatch/lib.rs", MISMATCH_RS)
    w.write("bad/stable/lib.rs", STABLE_RS)
    w.write("bad/plain.rs", "pub fn f() {}\n")
    return w


def failed(r, code: int = 1):
    assert r.code == code, r.output
    assert "Traceback" not in r.output, r.output
    return r


def test_rust_compile_error_shows_rustc_message_and_target(ews):
    r = failed(ews.kiln("build", "//bad:compile_error"))
    assert "error[E0308]: mismatched types" in r.output, r.output
    assert re.search(r"bad/broken\.rs:2:\d+", r.output), r.output
    assert 'let s: u32 = "not a number";' in r.output, r.output
    assert "//bad:compile_error" in r.output, r.output


def test_compile_error_in_a_dependency_shows_rustc_message(ews):
    r = failed(ews.kiln("build", "//bad:uses_broken"))
    assert "error[E0308]" in r.output, r.output
    assert re.search(r"bad/broken\.rs:2:\d+", r.output), r.output
    assert "//bad:uses_broken" in r.output, r.output


def test_compile_error_in_a_dependency_names_the_failing_library_target(ews):
    r = failed(ews.kiln("build", "//bad:uses_broken"))
    assert "//bad:compile_error" in r.output, r.output


def test_module_name_not_matching_pymodule_is_caught_at_build_time(ews):
    r = failed(ews.kiln("build", "//bad:mismatch"))
    assert "//bad:mismatch" in r.output, r.output
    assert "expected_name" in r.output and "actual_name" in r.output, r.output
    assert "#[pymodule]" in r.output, r.output
    # No importable-looking file is left behind.
    assert not list((ews.output_base / "execroot").rglob("expected_name*.so"))


def test_module_name_that_is_not_a_python_identifier(ews):
    r = failed(ews.kiln("build", "//bad:bad_module_name"))
    assert "//bad:bad_module_name" in r.output, r.output
    assert "my-module" in r.output, r.output


def test_crate_missing_from_cargo_lock_is_named(ews):
    r = failed(ews.kiln("build", "//bad:unlocked"))
    assert "//bad:unlocked" in r.output, r.output
    assert "'itoa'" in r.output or "`itoa`" in r.output, r.output
    assert "Cargo.lock" in r.output, r.output


@pytest.mark.parametrize("feature", ["abi3-py315", "abi3-py399"])
def test_abi3_feature_pyo3_lacks_is_reported_as_such(ews, feature):
    r = failed(ews.kiln("build", f"//bad:future_{feature.replace('-', '_')}"))
    assert "pyo3" in r.output and feature in r.output, r.output
    # cargo: "... depends on `pyo3` with feature `abi3-py315` but `pyo3` does not have that feature."
    assert re.search(r"does not have|doesn't have|has no|lacks|no such|unknown feature|not a feature of",
                     r.output), r.output
    assert not re.search(r"needs Python 3\.\d+ or newer", r.output), r.output


@pytest.mark.skipif(NEWER_MINOR > 12, reason="pyo3 0.23 has no abi3 feature above this Python")
def test_abi3_feature_newer_than_the_runtime_is_reported(ews):
    r = failed(ews.kiln("build", "//bad:newer_abi3"))
    assert "//bad:newer_abi3" in r.output, r.output
    assert NEWER_ABI3 in r.output, r.output
    # pyo3: "cannot set a minimum Python version 3.12 higher than the interpreter version 3.11 ..."
    assert f"3.{NEWER_MINOR}" in r.output and f"3.{sys.version_info[1]}" in r.output, r.output


@pytest.mark.parametrize("toolchain, message", [
    ("files_as_pyo3", "in pyo3 attribute of rust_pyo3_toolchain rule //bad:files_as_pyo3_impl: '//bad:plain_files' "
                      "is a filegroup, not a crate of a crate index: pyo3 must name the pyo3 crate of a crate index "
                      "(e.g. \"@crate_index//:pyo3\")"),
    ("rayon_as_pyo3", "in pyo3 attribute of rust_pyo3_toolchain rule //bad:rayon_as_pyo3_impl: "
                      "'@crate_index//:rayon' is the crate 'rayon', not pyo3"),
])
def test_pyo3_toolchain_whose_pyo3_is_not_the_pyo3_crate(ews, toolchain, message):
    # //bad:no_pyo3 lists no pyo3, so it takes the toolchain's.
    r = failed(ews.kiln("build", f"--extra_toolchains=//bad:{toolchain}", "//bad:no_pyo3"))
    assert re.search(r"ERROR: bad/BUILD.bazel:\d+:\d+: " + re.escape(message), r.output), r.output


def test_good_targets_still_build_beside_the_bad_ones(ews):
    """The failures above are about their targets: the same workspace builds a correct extension."""
    ews.write("good/BUILD.bazel", """
        pyo3_module(
            name = "actual_name",
            srcs = ["lib.rs"],
        )
        """)
    shutil.copyfile(ews.root / "bad" / "mismatch" / "lib.rs", ews.root / "good" / "lib.rs")
    r = ews.kiln("build", "//good:actual_name")
    assert r.code == 0, r.output
    assert (ews.bin() / "good" / f"actual_name{EXT_SUFFIX}").is_file()
