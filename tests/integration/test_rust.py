"""Rust and PyO3 through the real `kiln` command: the two seed layouts, extension file names,
the Python pyo3 builds for, caching, rust_library/rust_binary/rust_test/rust_proc_macro,
compilation modes, crate.spec/from_specs and WORKSPACE's crates_repository.

Compiling pyo3 takes ~20-30 s in a fresh cargo target directory, and that directory lives in
the output base. So the tests of this module share ONE workspace with one output base (the
`rws` fixture): pyo3 is compiled once per profile (dev for the default -c fastbuild, release
for -c opt and pyo3_extension's default compilation_mode) and once more for the abi3 feature set. The crate.spec test has a small workspace of its own
with only `itoa` (compiles in well under a second); the WORKSPACE test repeats the seeds in
a MODULE.bazel-less workspace, so it compiles pyo3 once more (~30 s).

Needs rustc/cargo (skipped without them) and crates.io or a registry cache holding pyo3 0.23,
rayon and itoa. CARGO_HOME and RUSTUP_HOME are the machine's (HOME is a throwaway directory,
as in conftest's `ws`), so crates already downloaded are not fetched again.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

from conftest import Result, Workspace, unavailable

REPO = Path(__file__).resolve().parents[2]
WORD_COUNT_LOCK = REPO / "examples" / "word_count" / "Cargo.lock"
# The interpreter kiln runs on (conftest runs `sys.executable -m kiln`) is the runtime pyo3 builds for.
EXT_SUFFIX = sysconfig.get_config_var("EXT_SUFFIX")
# The machine's cargo registry cache and rustup toolchains, whatever HOME the kiln process gets.
CARGO_HOME = os.environ.get("CARGO_HOME") or os.path.expanduser("~/.cargo")
RUSTUP_HOME = os.environ.get("RUSTUP_HOME") or os.path.expanduser("~/.rustup")


def _have_rust() -> bool:
    return bool(shutil.which("rustc") or os.path.exists(os.path.join(CARGO_HOME, "bin", "rustc")))


@pytest.fixture(autouse=True)
def _need_rust():
    if not _have_rust():
        unavailable("no Rust toolchain (rustc) on this machine")


class RustWorkspace(Workspace):
    """conftest's Workspace, with the machine's Rust toolchain and cargo registry cache."""

    def kiln(self, *args: str, env: dict | None = None, **kw) -> Result:
        full = {"CARGO_HOME": CARGO_HOME, "RUSTUP_HOME": RUSTUP_HOME}
        path = os.environ.get("PATH", "")
        if os.path.join(CARGO_HOME, "bin") not in path.split(os.pathsep):
            full["PATH"] = path + os.pathsep + os.path.join(CARGO_HOME, "bin")
        full.update(env or {})
        return super().kiln(*args, env=full, timeout=kw.pop("timeout", 600), **kw)

    def out_dir(self, mode: str = "fastbuild") -> Path:
        """kiln-out/<cpu>-<mode> of the output base."""
        found = glob.glob(str(self.output_base / "execroot" / "_main" / "kiln-out" / f"*-{mode}"))
        assert len(found) == 1, f"expected one {mode} output directory, found {found}"
        return Path(found[0])

    def bin(self, mode: str = "fastbuild") -> Path:
        return self.out_dir(mode) / "bin"

    def test_log(self, label_path: str, mode: str = "fastbuild") -> str:
        return (self.out_dir(mode) / "testlogs" / label_path / "test.log").read_text()


def make_workspace(tmp_path_factory, name: str) -> RustWorkspace:
    base = tmp_path_factory.mktemp(name)
    (base / "ws").mkdir()
    (base / "home").mkdir()
    return RustWorkspace(base / "ws", base / "output_base")


def ok(r: Result) -> Result:
    assert r.code == 0, r.output
    assert "Traceback" not in r.output, r.output
    return r


def executed(r: Result) -> list[str]:
    """The `--explain=-` lines of actions that ran."""
    return [line for line in r.output.splitlines() if line.startswith("Executing action")]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def links_libpython(path: Path) -> str | None:
    """The libpython line of `ldd`, if the shared object links it."""
    ldd = shutil.which("ldd")
    if ldd is None:
        out = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True, check=True).stdout
    else:
        out = subprocess.run([ldd, str(path)], capture_output=True, text=True, check=True).stdout
    hits = [line.strip() for line in out.splitlines() if "libpython" in line]
    return hits[0] if hits else None


# ---- the shared workspace -----------------------------------------------------------------

MODULE = """
module(name = "rust_it")

bazel_dep(name = "rules_python", version = "1.5.0")
bazel_dep(name = "rules_rust", version = "0.61.0")
bazel_dep(name = "bazel_skylib", version = "1.7.1")

crate = use_extension("@rules_rust//crate_universe:extensions.bzl", "crate")
crate.from_cargo(
    name = "crate_index",
    cargo_lockfile = "//:Cargo.lock",
    manifests = ["//:Cargo.toml"],
)

# pyo3 with the stable ABI, for one extension only.
crate.spec(
    package = "pyo3",
    version = "0.23",
    features = ["abi3-py38"],
    repositories = ["pyo3_abi3"],
)
crate.from_specs(name = "pyo3_abi3")
use_repo(crate, "crate_index", "pyo3_abi3")

# A second CPython for py_tests that ask for python_version = "3.12" (written by the fixture when the
# machine has one).
register_toolchains("//pyver:all")
"""

# Seed 000: PyO3's word_count example, as the seed lays it out.
SEED000_CARGO_TOML = """
[package]
name = "word_count"
version = "0.1.0"
edition = "2021"

[lib]
name = "word_count"
crate-type = ["cdylib"]

[dependencies]
pyo3 = { version = "0.23", features = ["extension-module"] }
rayon = "1.10"
"""

SEED000_ROOT_BUILD = """
load("@crate_index//:defs.bzl", "all_crate_deps")
load("@rules_rust//rust:defs.bzl", "rust_shared_library")

rust_shared_library(
    name = "word_count_rs",
    srcs = glob(["src/**/*.rs"]),
    deps = all_crate_deps(normal = True),
    visibility = ["//visibility:public"],
)
"""

SEED000_LIB_RS = """
use pyo3::prelude::*;
use rayon::prelude::*;

/// Searches for the word, parallelized by rayon
#[pyfunction]
fn search(contents: &str, needle: &str) -> usize {
    contents
        .par_lines()
        .map(|line| count_line(line, needle))
        .sum()
}

/// Searches for a word in a classic sequential fashion
#[pyfunction]
fn search_sequential(contents: &str, needle: &str) -> usize {
    contents.lines().map(|line| count_line(line, needle)).sum()
}

#[pyfunction]
fn search_sequential_allow_threads(py: Python<'_>, contents: &str, needle: &str) -> usize {
    py.allow_threads(|| search_sequential(contents, needle))
}

fn matches(word: &str, needle: &str) -> bool {
    let mut needle = needle.chars();
    for ch in word.chars().skip_while(|ch| !ch.is_alphabetic()) {
        match needle.next() {
            None => {
                return !ch.is_alphabetic();
            }
            Some(expect) => {
                if ch.to_lowercase().next() != Some(expect) {
                    return false;
                }
            }
        }
    }
    needle.next().is_none()
}

/// Count the occurrences of needle in line, case insensitive
fn count_line(line: &str, needle: &str) -> usize {
    let mut total = 0;
    for word in line.split(' ') {
        if matches(word, needle) {
            total += 1;
        }
    }
    total
}

#[pymodule]
fn word_count(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(search, m)?)?;
    m.add_function(wrap_pyfunction!(search_sequential, m)?)?;
    m.add_function(wrap_pyfunction!(search_sequential_allow_threads, m)?)?;
    Ok(())
}
"""

# word_count/BUILD exactly as in the seed (no `imports`).
SEED000_PKG_BUILD = """
load("@bazel_skylib//rules:copy_file.bzl", "copy_file")
load("@rules_python//python:defs.bzl", "py_library")

copy_file(
    name = "word_count_so",
    src = "//:word_count_rs",
    out = "word_count.so",
    allow_symlink = True,
)

py_library(
    name = "word_count",
    srcs = ["__init__.py"],
    data = ["word_count_so"],
    visibility = ["//visibility:public"],
)
"""

# As in PyO3's example: the package re-exports the extension submodule word_count.word_count.
SEED000_INIT = """
from .word_count import search, search_sequential, search_sequential_allow_threads

__all__ = ["search", "search_sequential", "search_sequential_allow_threads"]
"""

SEED000_TESTS_BUILD = """
load("@rules_python//python:defs.bzl", "py_test")

py_test(
    name = "test_word_count",
    srcs = ["test_word_count.py"],
    deps = ["//word_count"],
)
"""

# The seed's tests do `import word_count` and call word_count.search(...): the package is found
# from the runfiles' main repository root (`_main`), and the .so is its submodule `word_count.word_count`.
SEED000_TEST = """
import os
import sys
import unittest

import word_count
from word_count import word_count as extension

TEXT = "The quick brown fox. The lazy dog, the end!\\n" * 100


class WordCountTest(unittest.TestCase):
    def test_counts(self):
        self.assertEqual(word_count.search(TEXT, "the"), 300)
        self.assertEqual(word_count.search_sequential(TEXT, "the"), 300)
        self.assertEqual(word_count.search_sequential_allow_threads(TEXT, "the"), 300)

    def test_import_paths(self):
        main_root = os.path.join(os.environ["RUNFILES_DIR"], "_main")
        self.assertEqual(word_count.__file__, os.path.join(main_root, "word_count", "__init__.py"))
        self.assertEqual(extension.__file__, os.path.join(main_root, "word_count", "word_count.so"))
        self.assertIn(main_root, sys.path)
        print("SEED000-IMPORTED", extension.__file__)


if __name__ == "__main__":
    unittest.main()
"""

# Seed 001: the pyo3_module "macro" as a native rule, used from a py_binary in another package.
MY_MODULE_BUILD = """
pyo3_module(
    name = "my_module",
    srcs = glob(["src/**/*.rs"]),
    module_name = "my_module",
    visibility = ["//python:__subpackages__"],
)
"""

MY_MODULE_RS = """
use pyo3::prelude::*;

#[pyfunction]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[pymodule]
fn my_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(add, m)?)?;
    m.add("GREETING", "hello from rust")?;
    Ok(())
}
"""

APP_BUILD = """
load("@rules_python//python:defs.bzl", "py_binary")

py_binary(
    name = "app",
    srcs = ["app.py"],
    deps = ["//rust/my_module:my_module"],
)
"""

APP_PY = """
import sys

import my_module

print("add:", my_module.add(2, 40))
print("greeting:", my_module.GREETING)
print("file:", my_module.__file__)
print("python:", sys.executable)
"""

SUB_BUILD = """
load("@rules_python//python:defs.bzl", "py_binary")

pyo3_module(
    name = "sub",
    srcs = ["lib.rs"],
    module_name = "pkg.sub",
)

py_binary(
    name = "use_sub",
    srcs = ["use_sub.py"],
    deps = [":sub"],
)
"""

SUB_RS = """
use pyo3::prelude::*;

#[pyfunction]
fn where_am_i() -> &'static str {
    "pkg.sub"
}

#[pymodule]
fn sub(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(where_am_i, m)?)?;
    Ok(())
}
"""

USE_SUB_PY = """
import pkg.sub

print("sub says:", pkg.sub.where_am_i())
print("file:", pkg.sub.__file__)
"""

STABLE_BUILD = """
load("@rules_python//python:defs.bzl", "py_binary")
load("@rules_rust_pyo3//:defs.bzl", "pyo3_extension")

pyo3_extension(
    name = "stable",
    srcs = ["lib.rs"],
    module_name = "stable",
    deps = ["@pyo3_abi3//:pyo3"],
)

py_binary(
    name = "use_stable",
    srcs = ["use_stable.py"],
    deps = [":stable"],
)
"""

STABLE_RS = """
use pyo3::prelude::*;

#[pyfunction]
fn abi() -> &'static str {
    "stable"
}

#[pymodule]
fn stable(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(abi, m)?)?;
    Ok(())
}
"""

USE_STABLE_PY = """
import sys

import stable

print("abi:", stable.abi())
print("file:", stable.__file__)
print("python:", sys.executable)
"""

COUNTER_BUILD = """
load("@rules_python//python:defs.bzl", "py_binary")

pyo3_module(
    name = "counter",
    srcs = ["lib.rs"],
    module_name = "counter",
)

py_binary(
    name = "show",
    srcs = ["show.py"],
    deps = [":counter"],
)
"""

COUNTER_RS = """
use pyo3::prelude::*;

#[pyfunction]
fn value() -> i64 {
    VALUE
}

const VALUE: i64 = 1;

#[pymodule]
fn counter(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(value, m)?)?;
    Ok(())
}
"""

SHOW_PY = """
import counter

print("counter value:", counter.value())
"""

RS_BUILD = """
load("@rules_rust//rust:defs.bzl", "rust_binary", "rust_library", "rust_proc_macro", "rust_test")

rust_proc_macro(
    name = "answer_macro",
    srcs = ["answer_macro.rs"],
)

rust_library(
    name = "greet",
    srcs = ["greet.rs"],
    crate_features = ["loud"],
    rustc_env = {"GREETING": "hello from rustc_env"},
    proc_macro_deps = [":answer_macro"],
)

rust_binary(
    name = "hello",
    srcs = ["main.rs"],
    deps = [":greet"],
)

rust_test(
    name = "greet_test",
    srcs = ["greet_test.rs"],
    deps = [":greet"],
)

# rules_rust's unit-test form: the library's own #[cfg(test)] tests.
rust_test(
    name = "greet_unit_test",
    crate = ":greet",
)

rust_test(
    name = "failing_test",
    srcs = ["failing_test.rs"],
)
"""

ANSWER_MACRO_RS = """
use proc_macro::TokenStream;

/// `answer!()` expands to the literal 42.
#[proc_macro]
pub fn answer(_input: TokenStream) -> TokenStream {
    "42".parse().unwrap()
}
"""

GREET_RS = """
pub fn greeting() -> String {
    let base = env!("GREETING");
    if cfg!(feature = "loud") {
        base.to_uppercase()
    } else {
        base.to_string()
    }
}

pub fn answer() -> u32 {
    answer_macro::answer!()
}

pub fn debug_assertions() -> bool {
    cfg!(debug_assertions)
}

#[cfg(test)]
mod tests {
    #[test]
    fn unit_answer_is_42() {
        assert_eq!(super::answer(), 42);
    }
}
"""

MAIN_RS = """
fn main() {
    println!("greeting={}", greet::greeting());
    println!("answer={}", greet::answer());
    println!("lib_debug_assertions={}", greet::debug_assertions());
    println!("bin_debug_assertions={}", cfg!(debug_assertions));
}
"""

GREET_TEST_RS = """
#[test]
fn greets_loudly_with_rustc_env() {
    assert_eq!(greet::greeting(), "HELLO FROM RUSTC_ENV");
}

#[test]
fn proc_macro_answers() {
    assert_eq!(greet::answer(), 42);
}
"""

FAILING_TEST_RS = """
#[test]
fn this_one_passes() {}

#[test]
fn fails_on_purpose() {
    assert_eq!(1 + 1, 3, "kiln-rust-failure-marker");
}
"""


def write_seed000(w: Workspace) -> None:
    w.write("Cargo.toml", SEED000_CARGO_TOML)
    shutil.copyfile(WORD_COUNT_LOCK, w.root / "Cargo.lock")
    w.write("BUILD.bazel", SEED000_ROOT_BUILD)
    w.write("src/lib.rs", SEED000_LIB_RS)
    w.write("word_count/BUILD", SEED000_PKG_BUILD)
    w.write("word_count/__init__.py", SEED000_INIT)
    w.write("tests/BUILD", SEED000_TESTS_BUILD)
    w.write("tests/test_word_count.py", SEED000_TEST)


def write_seed001(w: Workspace) -> None:
    w.write("rust/my_module/BUILD.bazel", MY_MODULE_BUILD)
    w.write("rust/my_module/src/lib.rs", MY_MODULE_RS)
    w.write("python/my_app/BUILD.bazel", APP_BUILD)
    w.write("python/my_app/app.py", APP_PY)


PY312 = next(iter(sorted(Path(os.path.expanduser("~/.pyenv/versions")).glob("3.12.*/bin/python3.12"))), None)

_INTROSPECT = """
import json, sys, sysconfig
v = sys.version_info
print(json.dumps({"version": [str(v.major), str(v.minor), str(v.micro)], "tag": sys.implementation.cache_tag,
                  "impl": sys.implementation.name, "abiflags": getattr(sys, "abiflags", ""),
                  "ext": sysconfig.get_config_var("EXT_SUFFIX"), "soabi": sysconfig.get_config_var("SOABI") or "",
                  "include": sysconfig.get_config_var("INCLUDEPY"), "libdir": sysconfig.get_config_var("LIBDIR"),
                  "ldlibrary": sysconfig.get_config_var("LDLIBRARY")}))
"""

# The other runtimes the extension is built for, when the machine has them: (name, interpreter,
# the python_version that selects it). A debug CPython shares 3.11 with kiln's own, so it is picked by
# its full version, through a config_setting of the fixture's own.
PYPY = shutil.which("pypy3")
PY_DBG = shutil.which("python3.11-dbg")


def _runtime(name: str, interpreter: str, setting: str) -> str:
    info = json.loads(subprocess.run([interpreter, "-c", _INTROSPECT], capture_output=True, text=True,
                                     check=True).stdout)
    major, minor, micro = info["version"]
    return f"""
py_runtime(
    name = "{name}",
    interpreter_path = "{interpreter}",
    implementation_name = "{info['impl']}",
    interpreter_version_info = {{"major": "{major}", "minor": "{minor}", "micro": "{micro}"}},
    pyc_tag = "{info['tag']}",
    abi_flags = "{info['abiflags']}",
    ext_suffix = "{info['ext']}",
    soabi = "{info['soabi']}",
    include_dir = "{info['include']}",
    lib_dir = "{info['libdir']}",
    ld_library = "{info['ldlibrary']}",
)
py_runtime_pair(name = "{name}_pair", py3_runtime = ":{name}")
toolchain(
    name = "{name}_toolchain",
    toolchain = ":{name}_pair",
    toolchain_type = "@rules_python//python:toolchain_type",
    target_settings = ["{setting}"],
)
"""


def runtimes_build() -> str:
    """py_runtimes for the machine's other Pythons (what a local runtime repository would introspect),
    each toolchain applying under its python_version."""
    text = 'load("@rules_python//python:defs.bzl", "py_runtime", "py_runtime_pair")\n'
    if PY312 is not None:
        text += _runtime("py312", str(PY312), "@rules_python//python/config_settings:is_python_3.12")
    if PYPY is not None:
        text += _runtime("pypy", PYPY, "@rules_python//python/config_settings:is_python_3.9")
    if PY_DBG is not None:
        text += ('config_setting(name = "is_debug", '
                 'flag_values = {"@rules_python//python/config_settings:python_version": "3.11.2"})\n')
        text += _runtime("dbg", PY_DBG, ":is_debug")
    return text


MULTI_BUILD = """
load("@rules_python//python:defs.bzl", "py_test")
load("@rules_rust_pyo3//:defs.bzl", "pyo3_extension")

pyo3_extension(name = "ext", srcs = ["lib.rs"], module_name = "ext", deps = ["@crate_index//:pyo3"])

py_test(name = "on_default", srcs = ["check.py"], main = "check.py", deps = [":ext"], size = "small")
py_test(name = "on_312", srcs = ["check.py"], main = "check.py", deps = [":ext"], python_version = "3.12",
        size = "small")
py_test(name = "on_pypy", srcs = ["check.py"], main = "check.py", deps = [":ext"], python_version = "3.9",
        size = "small")
py_test(name = "on_debug", srcs = ["check.py"], main = "check.py", deps = [":ext"], python_version = "3.11.2",
        size = "small")

# abi3 asked for, on a runtime that cannot load abi3 modules.
pyo3_extension(name = "stable_ext", srcs = ["stable.rs"], module_name = "stable_ext", deps = ["@pyo3_abi3//:pyo3"])
py_test(name = "stable_on_pypy", srcs = ["stable_check.py"], main = "stable_check.py", deps = [":stable_ext"],
        python_version = "3.9", size = "small")
"""

MULTI_STABLE_RS = """
use pyo3::prelude::*;

#[pymodule]
fn stable_ext(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("ANSWER", 42)?;
    Ok(())
}
"""

MULTI_STABLE_CHECK_PY = """
import sys, sysconfig
import stable_ext
print(sys.implementation.name, "imported", stable_ext.__file__)
assert stable_ext.__file__.endswith(sysconfig.get_config_var("EXT_SUFFIX")), stable_ext.__file__
"""

MULTI_RS = """
use pyo3::prelude::*;

#[pymodule]
fn ext(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("ANSWER", 42)?;
    Ok(())
}
"""

MULTI_CHECK_PY = """
import sys, sysconfig
import ext
print(sys.implementation.name, "%d.%d" % sys.version_info[:2], "imported", ext.__file__)
assert ext.__file__.endswith(sysconfig.get_config_var("EXT_SUFFIX")), ext.__file__
"""


@pytest.fixture(scope="module")
def rws(tmp_path_factory) -> RustWorkspace:
    w = make_workspace(tmp_path_factory, "rust_ws")
    w.write("MODULE.bazel", MODULE)
    write_seed000(w)
    write_seed001(w)
    # Naming.
    w.write("naming/sub/BUILD.bazel", SUB_BUILD)
    w.write("naming/sub/lib.rs", SUB_RS)
    w.write("naming/sub/use_sub.py", USE_SUB_PY)
    w.write("naming/stable/BUILD.bazel", STABLE_BUILD)
    w.write("naming/stable/lib.rs", STABLE_RS)
    w.write("naming/stable/use_stable.py", USE_STABLE_PY)
    # Caching.
    w.write("cache/BUILD.bazel", COUNTER_BUILD)
    w.write("cache/lib.rs", COUNTER_RS)
    w.write("cache/show.py", SHOW_PY)
    # One extension module, built once per Python runtime that imports it.
    w.write("pyver/BUILD.bazel", runtimes_build())
    w.write("multi/BUILD.bazel", MULTI_BUILD)
    w.write("multi/lib.rs", MULTI_RS)
    w.write("multi/check.py", MULTI_CHECK_PY)
    w.write("multi/stable.rs", MULTI_STABLE_RS)
    w.write("multi/stable_check.py", MULTI_STABLE_CHECK_PY)
    # PyO3 toolchains, compilation_mode and stubs.
    w.write("pyo3tc/BUILD.bazel", PYO3TC_BUILD)
    w.write("pyo3tc/nodep.rs", NODEP_RS)
    w.write("pyo3tc/nodep_dbg.rs", NODEP_DBG_RS)
    w.write("pyo3tc/show.py", PYO3TC_SHOW_PY)
    # Plain Rust.
    w.write("rs/BUILD.bazel", RS_BUILD)
    w.write("rs/answer_macro.rs", ANSWER_MACRO_RS)
    w.write("rs/greet.rs", GREET_RS)
    w.write("rs/main.rs", MAIN_RS)
    w.write("rs/greet_test.rs", GREET_TEST_RS)
    w.write("rs/failing_test.rs", FAILING_TEST_RS)
    return w


# ---- 1. seed 000 ------------------------------------------------------------------------


def test_seed000_layout_builds_and_imports_unchanged(rws):
    r = ok(rws.kiln("test", "-c", "opt", "//tests:test_word_count"))
    assert re.search(r"//tests:test_word_count\s+PASSED", r.output), r.output
    log = rws.test_log("tests/test_word_count", "opt")
    assert "SEED000-IMPORTED" in log, log
    assert re.search(r"Ran 2 tests.*\n+OK", log, re.S), log
    # copy_file put the cdylib at word_count/word_count.so; it is a real extension that links no libpython.
    so = rws.bin("opt") / "word_count" / "word_count.so"
    assert so.is_file()
    assert links_libpython(so) is None, links_libpython(so)
    # Built with cargo's release profile.
    assert glob.glob(str(rws.output_base / "caches" / "cargo" / "target" / "release" / "deps" / "libpyo3-*.rlib"))



def test_one_pyo3_extension_is_built_once_per_python_runtime_that_imports_it(rws):
    if PY312 is None:
        unavailable("no CPython 3.12 under ~/.pyenv/versions")
    r = ok(rws.kiln("test", "//multi:on_default", "//multi:on_312"))
    assert re.search(r"//multi:on_default\s+PASSED", r.output) and re.search(r"//multi:on_312\s+PASSED", r.output), r.output
    default_log = rws.test_log("multi/on_default")
    assert f"cpython {sys.version_info[0]}.{sys.version_info[1]} imported" in default_log, default_log
    assert EXT_SUFFIX in default_log
    text = rws.test_log("multi/on_312")
    assert "cpython 3.12 imported" in text and ".cpython-312-" in text, text
    # Two extension modules, one per runtime, each in its configuration's output directory.
    ext_312 = subprocess.run([str(PY312), "-c", "import sysconfig; print(sysconfig.get_config_var('EXT_SUFFIX'))"],
                             capture_output=True, text=True, check=True).stdout.strip()
    built = sorted(p.name for p in (rws.output_base / "execroot" / "_main").glob("kiln-out/*/bin/multi/ext*.so"))
    assert built == sorted([f"ext{EXT_SUFFIX}", f"ext{ext_312}"]), built


def test_pypy_and_a_debug_cpython_get_their_own_builds_and_abi3_falls_back_on_pypy(rws):
    for have, what in ((PYPY, "pypy3 (Debian package pypy3)"), (PY_DBG, "python3.11-dbg (Debian package)")):
        if have is None:
            unavailable(f"no {what}")
    r = ok(rws.kiln("test", "//multi:on_pypy", "//multi:on_debug", "//multi:stable_on_pypy"))
    for name in ("on_pypy", "on_debug", "stable_on_pypy"):
        assert re.search(rf"//multi:{name}\s+PASSED", r.output), r.output
    assert ".pypy39-pp73-" in rws.test_log("multi/on_pypy") and "pypy 3.9 imported" in rws.test_log("multi/on_pypy")
    debug = rws.test_log("multi/on_debug")
    assert "cpython 3.11 imported" in debug and ".cpython-311d-" in debug, debug
    assert "pypy imported" in rws.test_log("multi/stable_on_pypy")
    # The abi3 request is ignored for PyPy, with a warning naming the target.
    assert re.search(r"WARNING: multi/BUILD.bazel:\d+:\d+: in pyo3_extension rule //multi:stable_ext: pyo3's abi3 "
                     r"feature is ignored for pypy 3\.9\.\d+ at \S+pypy3, which cannot load abi3 modules", r.stderr), \
        r.stderr


# ---- 2. seed 001 ------------------------------------------------------------------------


def test_seed001_pyo3_module_imports_via_kiln_run(rws):
    r = ok(rws.kiln("run", "//python/my_app:app"))
    assert "add: 42" in r.stdout, r.output
    assert "greeting: hello from rust" in r.stdout, r.output
    assert f"/_main/rust/my_module/my_module{EXT_SUFFIX}" in r.stdout, r.output


# ---- 3. naming --------------------------------------------------------------------------


def test_extension_file_name_is_module_plus_runtime_ext_suffix(rws):
    assert EXT_SUFFIX and EXT_SUFFIX.endswith(".so")
    r = ok(rws.kiln("build", "//rust/my_module"))
    assert f"rust/my_module/my_module{EXT_SUFFIX}" in r.output, r.output
    pkg = rws.bin() / "rust" / "my_module"
    so = pkg / f"my_module{EXT_SUFFIX}"
    assert so.is_file()
    # Only the correctly named file: no lib<crate>.so or abi3 variant beside it.
    assert sorted(p.name for p in pkg.glob("*.so")) == [so.name]
    assert links_libpython(so) is None, links_libpython(so)


def test_dotted_module_name_lands_in_package_directory(rws):
    r = ok(rws.kiln("run", "//naming/sub:use_sub"))
    assert "sub says: pkg.sub" in r.stdout, r.output
    assert f"/_main/naming/sub/pkg/sub{EXT_SUFFIX}" in r.stdout, r.output
    so = rws.bin() / "naming" / "sub" / "pkg" / f"sub{EXT_SUFFIX}"
    assert so.is_file()
    assert links_libpython(so) is None


# ---- 4. the right Python (must run before anything else builds the abi3 pyo3) ------------


def test_python3_on_path_is_never_consulted(rws, tmp_path):
    shim_dir = tmp_path / "shim"
    shim_dir.mkdir()
    marker = tmp_path / "shim-was-run"
    for name in ("python3", "python"):
        shim = shim_dir / name
        shim.write_text(f"#!/bin/sh\necho \"fake {name} ran: $@\" >&2\ntouch {marker}\nexit 1\n")
        shim.chmod(0o755)
    env = {
        "PATH": f"{shim_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        # pyo3's build script would also honour these; kiln must not hand them over either.
        "PYO3_PYTHON": str(shim_dir / "python3"),
        "PYTHON_SYS_EXECUTABLE": str(shim_dir / "python3"),
    }
    start = time.time()
    r = ok(rws.kiln("build", "--explain=-", "//naming/stable:use_stable", env=env))
    # This build really ran cargo, and pyo3's build scripts with it (abi3 pyo3 is new to this output base).
    assert any("//naming/stable:stable" in line for line in executed(r)), r.output
    # (pyo3_extension builds in compilation_mode "opt" unless told otherwise, as rules_rust_pyo3's does.)
    outputs = glob.glob(str(rws.output_base / "caches" / "cargo" / "target" / "release" / "build" / "pyo3-*" / "output"))
    assert any(os.path.getmtime(p) >= start for p in outputs), "pyo3's build scripts did not run in this build"
    assert not marker.exists(), r.output
    # What pyo3 was told instead: the interpreter kiln runs on, by absolute path.
    configs = [p.read_text() for p in (rws.output_base / "caches" / "cargo" / "target" / "kiln-pyo3").glob("*.txt")]
    # (The workspace also builds extensions for its other registered runtimes: their configs name those.)
    # (kiln's default runtime is an empty virtual environment of the interpreter kiln runs on.)
    base = str(rws.output_base / "external" / "kiln_local_python" / "venv" / "bin" / "python3")
    runtimes = {base, str(PY312), str(PYPY), str(PY_DBG)}
    assert configs and all(any(f"executable={r}\n" in c for r in runtimes) for c in configs), configs
    default = [c for c in configs if f"executable={base}\n" in c]
    assert any("abi3=true" in c for c in default), default
    assert all(f"version={sys.version_info[0]}.{sys.version_info[1]}\n" in c for c in default), default
    r = ok(rws.kiln("run", "//naming/stable:use_stable", env=env))
    assert "abi: stable" in r.stdout, r.output
    assert f"python: {base}\n" in r.stdout, r.output
    assert not marker.exists()


def test_abi3_feature_names_the_file_abi3_so(rws):
    r = ok(rws.kiln("run", "//naming/stable:use_stable"))
    assert "abi: stable" in r.stdout, r.output
    assert "/_main/naming/stable/stable.abi3.so" in r.stdout, r.output
    # A pyo3_extension is built in its compilation_mode, "opt" by default.
    pkg = rws.bin("opt") / "naming" / "stable"
    assert sorted(p.name for p in pkg.glob("*.so")) == ["stable.abi3.so"]
    assert links_libpython(pkg / "stable.abi3.so") is None


# ---- 5. caching -------------------------------------------------------------------------


def _counter_so(rws) -> Path:
    return rws.bin() / "cache" / f"counter{EXT_SUFFIX}"


def test_noop_rebuild_of_pyo3_target_runs_nothing(rws):
    ok(rws.kiln("build", "//cache:counter"))
    so = _counter_so(rws)
    before = (so.stat().st_mtime_ns, sha(so))
    manifests = {p: p.stat().st_mtime_ns for p in (rws.output_base / "caches" / "cargo" / "ws").rglob("Cargo.toml")}
    r = ok(rws.kiln("build", "--explain=-", "//cache:counter"))
    assert re.search(r"\b0 actions executed\b", r.output), r.output
    assert executed(r) == [], r.output
    assert (so.stat().st_mtime_ns, sha(so)) == before
    # The tool never ran: the generated cargo workspace was not even looked at again.
    assert {p: p.stat().st_mtime_ns for p in manifests} == manifests
    # A new mtime with the same bytes is no change either (action keys hold digests).
    src = rws.root / "cache" / "lib.rs"
    os.utime(src, ns=(time.time_ns(), time.time_ns() + 5_000_000_000))
    r = ok(rws.kiln("build", "--explain=-", "//cache:counter"))
    assert re.search(r"\b0 actions executed\b", r.output), r.output
    assert executed(r) == [], r.output
    assert (so.stat().st_mtime_ns, sha(so)) == before


def test_editing_one_rs_file_reruns_exactly_one_cargo_build(rws):
    ok(rws.kiln("build", "//cache:counter"))
    so = _counter_so(rws)
    old = sha(so)
    src = rws.root / "cache" / "lib.rs"
    text = src.read_text()
    value = int(re.search(r"const VALUE: i64 = (\d+);", text).group(1))
    src.write_text(text.replace(f"const VALUE: i64 = {value};", f"const VALUE: i64 = {value + 1};"))
    r = ok(rws.kiln("build", "--explain=-", "//cache:counter"))
    assert re.search(r"\b1 action executed\b", r.output), r.output
    lines = executed(r)
    assert len(lines) == 1 and "Rust" in lines[0] and "//cache:counter" in lines[0], r.output
    assert "cache/lib.rs" in lines[0], r.output
    assert sha(so) != old
    r = ok(rws.kiln("run", "//cache:show"))
    assert f"counter value: {value + 1}" in r.stdout, r.output


def test_unrelated_environment_change_reruns_nothing(rws, tmp_path):
    ok(rws.kiln("build", "//cache:counter"))
    so = _counter_so(rws)
    before = so.stat().st_mtime_ns
    (tmp_path / "extra").mkdir()
    for env in ({"FOO": "bar"},
                {"PATH": f"{tmp_path / 'extra'}{os.pathsep}{os.environ.get('PATH', '')}",
                 "RUSTFLAGS": "-C opt-level=1", "CARGO_TARGET_DIR": str(tmp_path / "elsewhere")}):
        r = ok(rws.kiln("build", "--explain=-", "//cache:counter", env=env))
        assert re.search(r"\b0 actions executed\b", r.output), (env, r.output)
        assert executed(r) == [], (env, r.output)
    assert so.stat().st_mtime_ns == before


# ---- 6. rust_library, rust_binary, rust_test, rust_proc_macro -------------------------------


def test_rust_binary_with_library_features_rustc_env_and_proc_macro(rws):
    r = ok(rws.kiln("run", "//rs:hello"))
    assert "greeting=HELLO FROM RUSTC_ENV" in r.stdout, r.output   # rustc_env + crate_features = ["loud"]
    assert "answer=42" in r.stdout, r.output                        # proc_macro_deps


def test_rust_test_passes(rws):
    r = ok(rws.kiln("test", "//rs:greet_test"))
    assert re.search(r"//rs:greet_test\s+PASSED", r.output), r.output
    log = rws.test_log("rs/greet_test")
    assert "test greets_loudly_with_rustc_env ... ok" in log, log
    assert "test proc_macro_answers ... ok" in log, log
    assert "2 passed; 0 failed" in log, log


def test_rust_test_crate_attribute_runs_the_library_unit_tests(rws):
    r = ok(rws.kiln("test", "//rs:greet_unit_test"))
    assert re.search(r"//rs:greet_unit_test\s+PASSED", r.output), r.output
    log = rws.test_log("rs/greet_unit_test")
    assert "test tests::unit_answer_is_42 ... ok" in log, log


def test_failing_rust_test_is_failed_with_exit_3(rws):
    r = rws.kiln("test", "//rs:failing_test")
    assert r.code == 3, r.output
    assert re.search(r"//rs:failing_test\s+FAILED", r.output), r.output
    assert "Traceback" not in r.output
    log = rws.test_log("rs/failing_test")
    assert "test fails_on_purpose ... FAILED" in log, log
    assert "kiln-rust-failure-marker" in log, log
    assert "1 passed; 1 failed" in log, log


# ---- 7. compilation modes ---------------------------------------------------------------


def test_compilation_modes_pick_cargo_profiles(rws):
    dev = ok(rws.kiln("run", "//rs:hello"))
    assert "lib_debug_assertions=true" in dev.stdout and "bin_debug_assertions=true" in dev.stdout, dev.output
    dbg = ok(rws.kiln("run", "-c", "dbg", "//rs:hello"))
    assert "bin_debug_assertions=true" in dbg.stdout, dbg.output
    opt = ok(rws.kiln("run", "-c", "opt", "//rs:hello"))
    assert "lib_debug_assertions=false" in opt.stdout and "bin_debug_assertions=false" in opt.stdout, opt.output
    # Still HELLO...: features and rustc_env reach the crate in release too.
    assert "greeting=HELLO FROM RUSTC_ENV" in opt.stdout, opt.output


# ---- 7b. PyO3 toolchains, compilation_mode and stubs ----------------------------------------

PYO3TC_BUILD = """
load("@rules_python//python:defs.bzl", "py_binary")
load("@rules_rust_pyo3//:defs.bzl", "pyo3_extension", "rust_pyo3_toolchain")

# No pyo3 in deps: it comes from the PyO3 toolchain (kiln's default: @crate_index//:pyo3).
# compilation_mode unset: "opt", as in rules_rust_pyo3.
pyo3_extension(name = "nodep", srcs = ["nodep.rs"], module_name = "nodep", stubs = True)
pyo3_extension(name = "nodep_dbg", srcs = ["nodep_dbg.rs"], module_name = "nodep_dbg", compilation_mode = "dbg")

py_binary(name = "show", srcs = ["show.py"], deps = [":nodep", ":nodep_dbg"])

# A PyO3 toolchain of the workspace's own (--extra_toolchains=//pyo3tc:abi3_pyo3): the stable-ABI pyo3.
rust_pyo3_toolchain(name = "abi3_pyo3_impl", pyo3 = "@pyo3_abi3//:pyo3")
toolchain(name = "abi3_pyo3", toolchain = ":abi3_pyo3_impl", toolchain_type = "@rules_rust_pyo3//:rust_toolchain_type")
"""

NODEP_RS = """
use pyo3::prelude::*;

/// Adds b to a.
#[pyfunction]
#[pyo3(signature = (a, b=1))]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[pyfunction]
fn debug_assertions() -> bool {
    cfg!(debug_assertions)
}

/// Counts up from where it starts.
#[pyclass]
struct Counter {
    n: i64,
}

#[pymethods]
impl Counter {
    #[new]
    fn new(start: i64) -> Self {
        Counter { n: start }
    }

    /// One more.
    fn bump(&mut self) -> i64 {
        self.n += 1;
        self.n
    }
}

#[pymodule]
fn nodep(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(add, m)?)?;
    m.add_function(wrap_pyfunction!(debug_assertions, m)?)?;
    m.add_class::<Counter>()?;
    m.add("VERSION", "1.0")?;
    Ok(())
}
"""

NODEP_DBG_RS = """
use pyo3::prelude::*;

#[pyfunction]
fn debug_assertions() -> bool {
    cfg!(debug_assertions)
}

#[pymodule]
fn nodep_dbg(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(debug_assertions, m)?)?;
    Ok(())
}
"""

PYO3TC_SHOW_PY = """
import nodep
import nodep_dbg

print("nodep:", nodep.__file__)
print("nodep debug_assertions:", nodep.debug_assertions())
print("nodep_dbg debug_assertions:", nodep_dbg.debug_assertions())
print("add:", nodep.add(2), nodep.add(2, 3), nodep.Counter(41).bump())
"""

# What the stubs of //pyo3tc:nodep say: PyO3's recorded signatures and the docstrings, untyped.
NODEP_PYI = '''# Type stubs of the extension module nodep, written by kiln from the built module.
from typing import Any


class Counter:
    """Counts up from where it starts."""
    def __init__(self, start) -> None: ...
    def bump(self) -> Any:
        """One more."""
        ...

VERSION: str

def add(a, b=1) -> Any:
    """Adds b to a."""
    ...

def debug_assertions() -> Any: ...
'''


def _cargo_spec(rws, mode: str, name: str) -> dict:
    return json.loads((rws.bin(mode) / "pyo3tc" / f"{name}.cargo.json").read_text())


def test_pyo3_from_the_default_toolchain_compilation_modes_and_stubs(rws):
    r = ok(rws.kiln("run", "//pyo3tc:show"))
    # Built and imported without pyo3 in deps; nodep in "opt" (no debug assertions) under -c fastbuild,
    # nodep_dbg in "dbg".
    assert f"/_main/pyo3tc/nodep{EXT_SUFFIX}" in r.stdout, r.output
    assert "nodep debug_assertions: False" in r.stdout, r.output
    assert "nodep_dbg debug_assertions: True" in r.stdout, r.output
    assert "add: 3 5 42" in r.stdout, r.output
    # cargo built @crate_index//:pyo3 (pyo3 as Cargo.lock pins it, with extension-module), in each mode's profile.
    nodep = _cargo_spec(rws, "opt", "nodep")
    assert nodep["profile"] == "release"
    assert [(d["package"], d["version"], d["features"]) for d in nodep["crates"][0]["registry_deps"]] == \
        [("pyo3", "=0.23.5", ["extension-module"])]
    assert _cargo_spec(rws, "dbg", "nodep_dbg")["profile"] == "dev"
    # stubs = True: nodep.pyi beside the module, written from the built module.
    assert (rws.bin("opt") / "pyo3tc" / "nodep.pyi").read_text() == NODEP_PYI


def test_a_registered_rust_pyo3_toolchain_wins_over_kilns_default(rws):
    r = ok(rws.kiln("run", "--extra_toolchains=//pyo3tc:abi3_pyo3", "//pyo3tc:show"))
    # The toolchain's pyo3 has abi3-py38: the module is a stable-ABI one.
    assert "/_main/pyo3tc/nodep.abi3.so" in r.stdout, r.output
    assert "add: 3 5 42" in r.stdout, r.output
    nodep = _cargo_spec(rws, "opt", "nodep")
    assert [(d["package"], d["features"]) for d in nodep["crates"][0]["registry_deps"]] == \
        [("pyo3", ["abi3-py38", "extension-module"])]
    assert "abi3=true" in nodep["pyo3_config"]


# ---- 8. crate.spec + crate.from_specs ------------------------------------------------------

SPECS_MODULE = """
module(name = "specs_ws")

bazel_dep(name = "rules_rust", version = "0.61.0")

crate = use_extension("@rules_rust//crate_universe:extensions.bzl", "crate")
crate.spec(package = "itoa", version = "1")
crate.from_specs(name = "crates")
use_repo(crate, "crates")
"""

ITOA_MAIN = """
fn main() {
    let mut buf = itoa::Buffer::new();
    println!("itoa says {}", buf.format(1234567u64));
}
"""


def test_crate_spec_and_from_specs_without_cargo_toml(tmp_path_factory):
    w = make_workspace(tmp_path_factory, "specs_ws")
    w.write("MODULE.bazel", SPECS_MODULE)
    w.write("BUILD.bazel", """
        load("@rules_rust//rust:defs.bzl", "rust_binary")

        rust_binary(
            name = "fmt",
            srcs = ["main.rs"],
            deps = ["@crates//:itoa"],
        )
        """)
    w.write("main.rs", ITOA_MAIN)
    assert not (w.root / "Cargo.toml").exists()
    r = ok(w.kiln("run", "//:fmt"))
    assert "itoa says 1234567" in r.stdout, r.output


# ---- 9. WORKSPACE's crates_repository ---------------------------------------------------

# The seed's WORKSPACE, less python_register_toolchains (kiln has no WORKSPACE Python toolchains
# yet) and with a PYO3_PYTHON annotation that pyo3 must not need (kiln gives it a PYO3_CONFIG_FILE).
WORKSPACE_FILE = """
workspace(name = "pyo3_bazel_example")

load("@rules_rust//rust:repositories.bzl", "rules_rust_dependencies", "rust_register_toolchains")

rules_rust_dependencies()

rust_register_toolchains()

load("@rules_rust//crate_universe:repositories.bzl", "crate_universe_dependencies")

crate_universe_dependencies()

load("@rules_rust//crate_universe:defs.bzl", "crate", "crates_repository")

crates_repository(
    name = "crate_index",
    annotations = {
        "pyo3-build-config": [crate.annotation(
            build_script_env = {
                "PYO3_PYTHON": "/nonexistent/python3",
            },
        )],
    },
    cargo_lockfile = "//:Cargo.lock",
    manifests = ["//:Cargo.toml"],
)

load("@crate_index//:defs.bzl", "crate_repositories")

crate_repositories()
"""


def test_workspace_crates_repository_like_bzlmod(tmp_path_factory):
    """Seeds 000 and 001 again, with WORKSPACE instead of MODULE.bazel (and the dev profile)."""
    w = make_workspace(tmp_path_factory, "workspace_ws")
    (w.root / "MODULE.bazel").unlink()
    w.write("WORKSPACE", WORKSPACE_FILE)
    write_seed000(w)
    write_seed001(w)
    r = ok(w.kiln("test", "//tests:test_word_count"))
    assert re.search(r"//tests:test_word_count\s+PASSED", r.output), r.output
    assert "SEED000-IMPORTED" in w.test_log("tests/test_word_count")
    r = ok(w.kiln("run", "//python/my_app:app"))
    assert "add: 42" in r.stdout, r.output
    assert f"/_main/rust/my_module/my_module{EXT_SUFFIX}" in r.stdout, r.output
