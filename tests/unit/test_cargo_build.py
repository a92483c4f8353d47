"""kiln.tools.cargo_build without cargo: manifests, TOML, flags, lock handling, ELF symbols."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import tomllib

import pytest

from kiln.tools import cargo_build, cargo_lock
from kiln.tools.cargo_build import ToolError, cargo_command, cargo_env, check_pyo3_module, find_artifact, package_name
from kiln.tools.cargo_elf import elf_dynamic_symbols, pyinit_symbols
from kiln.tools.cargo_lock import LockError
from kiln.tools.cargo_manifest import (
    HEADER, ManifestError, build_script, plan_workspace, rust_str, split_rustc_flags, sync_workspace, toml_str,
    write_if_changed,
)
from kiln.tools.cargo_spec import SpecError, parse_spec


def make_spec(tmp_path, crates=None, **over):
    data = {
        "workspace_dir": str(tmp_path / "ws"),
        "target_dir": str(tmp_path / "target"),
        "cargo": "/usr/bin/cargo",
        "profile": "dev",
        "lockfile": None,
        "crates": crates if crates is not None else [
            {"package": "util_pkg", "name": "util", "root": "/src/util/lib.rs", "edition": "2021", "kind": "lib",
             "features": ["fast", "default"], "rustc_flags": ["--cfg", "has_util", "-Copt-level=3"],
             "rustc_env": {"GREETING": "hi"}},
            {"package": "wc_rs", "name": "word_count", "root": "/src/wc/lib.rs", "edition": "2021", "kind": "cdylib",
             "deps": [{"package": "util_pkg", "name": "util"}],
             "registry_deps": [
                 {"name": "pyo3", "package": "pyo3", "version": "0.23", "features": ["extension-module"],
                  "default_features": True},
                 {"name": "rl", "package": "rayon", "version": "=1.10.0", "features": [], "default_features": False},
             ],
             "rustc_flags": ["-Dwarnings"]},
        ],
        "build": {"package": "wc_rs", "mode": "build"},
        "env": {"PATH": "/usr/bin"},
        "output": "out/word_count.so",
        "pyo3_module": None,
    }
    data.update(over)
    return parse_spec(data, base=str(tmp_path))


# --- manifests --------------------------------------------------------------

def test_workspace_manifest_golden(tmp_path):
    ws = plan_workspace(make_spec(tmp_path))
    assert ws.files["Cargo.toml"] == HEADER + textwrap.dedent("""\
        [workspace]
        members = ["util_pkg", "wc_rs"]
        resolver = "2"
        """)


def test_cdylib_manifest_golden(tmp_path):
    ws = plan_workspace(make_spec(tmp_path))
    assert ws.files["wc_rs/Cargo.toml"] == HEADER + textwrap.dedent("""\
        [package]
        name = "wc_rs"
        version = "0.0.0"
        edition = "2021"
        publish = false
        build = false
        autobins = false
        autoexamples = false
        autotests = false
        autobenches = false

        [lib]
        name = "word_count"
        path = "/src/wc/lib.rs"
        crate-type = ["cdylib"]

        [dependencies]
        pyo3 = { version = "0.23", package = "pyo3", features = ["extension-module"] }
        rl = { version = "=1.10.0", package = "rayon", default-features = false }
        util = { path = "../util_pkg", package = "util_pkg" }
        """)
    assert ws.rustc_args == ["-Dwarnings"]


def test_lib_manifest_features_and_build_script(tmp_path):
    ws = plan_workspace(make_spec(tmp_path))
    script = [name for name in ws.files if name.startswith("util_pkg/kiln_build_")]
    assert len(script) == 1
    script_name = script[0].split("/")[1]
    assert ws.files["util_pkg/Cargo.toml"] == HEADER + textwrap.dedent(f"""\
        [package]
        name = "util_pkg"
        version = "0.0.0"
        edition = "2021"
        publish = false
        build = "{script_name}"
        autobins = false
        autoexamples = false
        autotests = false
        autobenches = false

        [lib]
        name = "util"
        path = "/src/util/lib.rs"
        crate-type = ["rlib"]

        [features]
        default = ["fast"]
        fast = []
        """)
    text = ws.files[script[0]]
    assert f'println!("{{}}", "cargo::rerun-if-changed={script_name}");' in text
    assert 'println!("{}", "cargo::rustc-env=GREETING=hi");' in text
    assert 'println!("{}", "cargo::rustc-cfg=has_util");' in text
    assert 'println!("{}", "cargo::rustc-check-cfg=cfg(has_util)");' in text
    # -Copt-level=3 of a dependency cannot reach rustc: said, not silently dropped.
    assert len(ws.warnings) == 1 and "-Copt-level=3" in ws.warnings[0] and "'util'" in ws.warnings[0]


def test_bin_and_proc_macro_targets(tmp_path):
    spec = make_spec(tmp_path, crates=[
        {"package": "m", "name": "my_macros", "root": "/m.rs", "edition": "2018", "kind": "proc-macro"},
        {"package": "tool", "name": "my-tool", "root": "/main.rs", "edition": "2024", "kind": "bin",
         "deps": [{"package": "m", "name": "my_macros"}]},
    ], build={"package": "tool", "mode": "build"})
    files = plan_workspace(spec).files
    assert '[lib]\nname = "my_macros"\npath = "/m.rs"\nproc-macro = true\n' in files["m/Cargo.toml"]
    assert '[[bin]]\nname = "my-tool"\npath = "/main.rs"\n' in files["tool/Cargo.toml"]
    assert 'my_macros = { path = "../m", package = "m" }' in files["tool/Cargo.toml"]
    assert 'edition = "2024"' in files["tool/Cargo.toml"]


def test_same_spec_same_bytes_in_any_crate_order(tmp_path):
    spec = make_spec(tmp_path)
    reordered = make_spec(tmp_path, crates=list(reversed(json.loads(json.dumps([
        {"package": c.package, "name": c.name, "root": c.root, "edition": c.edition, "kind": c.kind,
         "features": list(c.features), "deps": [{"package": d.package, "name": d.name} for d in c.deps],
         "registry_deps": [{"name": r.name, "package": r.package, "version": r.version,
                            "features": list(r.features), "default_features": r.default_features}
                           for r in c.registry_deps],
         "rustc_flags": list(c.rustc_flags), "rustc_env": dict(c.rustc_env)} for c in spec.crates])))))
    assert plan_workspace(spec).files == plan_workspace(reordered).files


@pytest.mark.parametrize("value", [
    'plain', 'with "quotes"', "back\\slash", "C:\\dir\\file.rs", "tab\there", "new\nline", "cr\rx",
    "ctrl\x01\x1f\x7f", "unicode é ☃ 𝄞", "'single'", '"""triple"""', "#not a comment", "",
])
def test_toml_strings_round_trip(value):
    assert tomllib.loads(f"k = {toml_str(value)}\n")["k"] == value


def test_manifest_with_hostile_paths_parses_back(tmp_path):
    root = '/we"ird\\dir/new\nline/é #x/lib.rs'
    spec = make_spec(tmp_path, crates=[
        {"package": "p", "name": "c", "root": root, "edition": "2021", "kind": "lib",
         "features": ["a+b", "x.y"], "registry_deps": [{"name": "s", "package": "serde", "version": ">=1, <2"}]},
    ], build={"package": "p", "mode": "build"})
    parsed = tomllib.loads(plan_workspace(spec).files["p/Cargo.toml"])
    assert parsed["lib"]["path"] == root
    assert parsed["features"] == {"default": ["a+b", "x.y"], "a+b": [], "x.y": []}
    assert parsed["dependencies"]["s"] == {"version": ">=1, <2", "package": "serde"}


def test_bad_feature_name_is_a_user_error(tmp_path):
    spec = make_spec(tmp_path, crates=[
        {"package": "p", "name": "c", "root": "/c.rs", "edition": "2021", "kind": "lib", "features": ["bad name"]},
    ], build={"package": "p", "mode": "build"})
    with pytest.raises(ManifestError, match="'bad name'"):
        plan_workspace(spec)


# --- rustc_flags and build scripts -------------------------------------------

def test_split_rustc_flags():
    split = split_rustc_flags(["--cfg", "a", "--cfg=b", '--cfg=k="v"', "--cfg", 'feature="f"',
                               "-Copt-level=2", "-C", "debuginfo=0", "--cfg", "not valid!"])
    assert split.cfgs == (("a", None), ("b", None), ("k", "v"))
    assert split.features == ("f",)
    assert split.other == ("-Copt-level=2", "-C", "debuginfo=0", "--cfg", "not valid!")


def test_cfg_feature_flag_becomes_a_cargo_feature(tmp_path):
    spec = make_spec(tmp_path, crates=[
        {"package": "p", "name": "c", "root": "/c.rs", "edition": "2021", "kind": "lib",
         "rustc_flags": ["--cfg", 'feature="extra"']},
    ], build={"package": "p", "mode": "build"})
    ws = plan_workspace(spec)
    assert 'default = ["extra"]' in ws.files["p/Cargo.toml"]
    assert ws.rustc_args == [] and not any("kiln_build_" in f for f in ws.files)


def test_build_script_name_follows_its_text(tmp_path):
    spec = make_spec(tmp_path)
    crate = spec.crate("util_pkg")
    name, text = build_script(crate, (("k", 'v "q"'),))
    assert 'cargo::rustc-cfg=k=\\"v \\\\\\"q\\\\\\"\\"' in text
    other_name, _ = build_script(crate, (("k", "w"),))
    assert name != other_name and name.startswith("kiln_build_") and name.endswith(".rs")
    assert build_script(spec.crate("wc_rs"), ()) is None


def test_rustc_env_with_line_break_is_refused(tmp_path):
    spec = make_spec(tmp_path, crates=[
        {"package": "p", "name": "c", "root": "/c.rs", "edition": "2021", "kind": "lib",
         "rustc_env": {"X": "two\nlines"}},
    ], build={"package": "p", "mode": "build"})
    with pytest.raises(ManifestError, match="line break"):
        plan_workspace(spec)


def test_rust_str():
    assert rust_str('a"b\\c\nd{}') == '"a\\"b\\\\c\\nd{}"'
    assert rust_str("\x01") == '"\\u{1}"'


# --- writing ----------------------------------------------------------------

def test_write_if_changed_keeps_mtime(tmp_path):
    path = str(tmp_path / "d" / "f.toml")
    assert write_if_changed(path, "a = 1\n")
    os.utime(path, (1_000_000, 1_000_000))
    assert not write_if_changed(path, "a = 1\n")
    assert os.stat(path).st_mtime == 1_000_000
    assert write_if_changed(path, "a = 2\n")
    assert os.stat(path).st_mtime != 1_000_000
    assert not [p for p in os.listdir(tmp_path / "d") if ".tmp" in p]


def test_sync_workspace_writes_changes_only_and_prunes(tmp_path):
    spec = make_spec(tmp_path)
    ws = plan_workspace(spec)
    written = sync_workspace(spec.workspace_dir, ws)
    assert sorted(written) == sorted(ws.files)
    assert sync_workspace(spec.workspace_dir, ws) == []
    (tmp_path / "ws" / "stale_pkg").mkdir()
    (tmp_path / "ws" / "stale_pkg" / "Cargo.toml").write_text(HEADER + "[package]\n")
    (tmp_path / "ws" / "foreign").mkdir()
    (tmp_path / "ws" / "foreign" / "Cargo.toml").write_text("[package]\n")
    (tmp_path / "ws" / "util_pkg" / "kiln_build_0000.rs").write_text("old")
    assert sync_workspace(spec.workspace_dir, ws) == []
    assert not (tmp_path / "ws" / "stale_pkg").exists()
    assert (tmp_path / "ws" / "foreign").exists()
    assert not (tmp_path / "ws" / "util_pkg" / "kiln_build_0000.rs").exists()


# --- spec -------------------------------------------------------------------

def test_relative_paths_resolve_against_the_working_directory(tmp_path):
    spec = make_spec(tmp_path, workspace_dir="../../cargo/ws/x", report="r.json")
    assert spec.workspace_dir == os.path.normpath(str(tmp_path / "../../cargo/ws/x"))
    assert spec.output == str(tmp_path / "out" / "word_count.so")
    assert spec.report == str(tmp_path / "r.json")


@pytest.mark.parametrize("change", [
    {"build": {"package": "nope", "mode": "build"}},
    {"build": {"package": "wc_rs", "mode": "bench"}},
    {"profile": "opt"},
    {"crates": [{"package": "p", "name": "c", "root": "/c.rs", "kind": "staticlib"}]},
    {"crates": [{"package": "p", "name": "c", "root": "/c.rs", "kind": "lib", "deps": [{"package": "q", "name": "q"}]}]},
])
def test_bad_specs_are_internal_errors(tmp_path, change):
    with pytest.raises(SpecError):
        make_spec(tmp_path, **change)


# --- commands and cargo's messages -------------------------------------------

def test_cargo_command(tmp_path):
    spec = make_spec(tmp_path)
    cmd = cargo_command(spec, ["-Dwarnings"], locked=True)
    assert cmd == ["/usr/bin/cargo", "rustc", "--quiet", "--config", "term.progress.when='always'",
                   "--config", "term.progress.width=100", "-p", "wc_rs", "--lib", "--profile", "dev",
                   "--target-dir", str(tmp_path / "target"), "--manifest-path", str(tmp_path / "ws" / "Cargo.toml"),
                   "--message-format=json-render-diagnostics", "--offline", "--locked", "--", "-Dwarnings"]
    test_spec = make_spec(tmp_path, profile="release", build={"package": "wc_rs", "mode": "test"})
    cmd = cargo_command(test_spec, [], locked=False)
    assert cmd[cmd.index("--profile") + 1] == "bench" and "--" not in cmd and "--locked" not in cmd
    bin_spec = make_spec(tmp_path, crates=[{"package": "t", "name": "tool", "root": "/m.rs", "kind": "bin"}],
                         build={"package": "t", "mode": "test"})
    cmd = cargo_command(bin_spec, [], locked=False)
    assert cmd[9:13] == ["--bin", "tool", "--profile", "test"]


def test_package_name():
    assert package_name("registry+https://github.com/rust-lang/crates.io-index#pyo3@0.23.5") == "pyo3"
    assert package_name("path+file:///tmp/ws/a#0.0.0") == "a"
    assert package_name("path+file:///tmp/ws/dir#other@0.0.0") == "other"


def _artifact(pkg, name, kind, filenames, executable=None, test=False):
    return {"reason": "compiler-artifact", "package_id": f"path+file:///ws/{pkg}#0.0.0",
            "target": {"name": name, "kind": [kind]}, "profile": {"test": test},
            "filenames": filenames, "executable": executable, "fresh": False}


def test_find_artifact(tmp_path):
    spec = make_spec(tmp_path)
    msgs = [
        _artifact("util_pkg", "util", "rlib", ["/t/libutil.rlib"]),
        _artifact("wc_rs", "build-script-x", "custom-build", ["/t/build-script.so"]),
        _artifact("wc_rs", "word_count", "cdylib", ["/t/debug/libword_count.so"]),
        {"reason": "build-finished", "success": True},
    ]
    assert find_artifact(spec, msgs) == "/t/debug/libword_count.so"
    lib_spec = make_spec(tmp_path, build={"package": "util_pkg", "mode": "build"})
    assert find_artifact(lib_spec, msgs) == "/t/libutil.rlib"
    test_spec = make_spec(tmp_path, build={"package": "wc_rs", "mode": "test"})
    assert find_artifact(test_spec, [_artifact("wc_rs", "word_count", "cdylib", ["/t/wc-1"], "/t/wc-1", True)]) == "/t/wc-1"


def test_cargo_env_is_exactly_the_spec_plus_pyo3_config(tmp_path, monkeypatch):
    monkeypatch.setenv("SOMETHING_INHERITED", "1")
    spec = make_spec(tmp_path, pyo3_config="implementation=CPython\nversion=3.11\n")
    env = cargo_env(spec)
    path = env.pop("PYO3_CONFIG_FILE")
    assert env == {"PATH": "/usr/bin"}
    assert path.startswith(str(tmp_path / "target" / "kiln-pyo3"))
    assert open(path).read() == "implementation=CPython\nversion=3.11\n"
    other = make_spec(tmp_path, workspace_dir=str(tmp_path / "ws2"), pyo3_config="implementation=CPython\nversion=3.11\n")
    assert cargo_env(other)["PYO3_CONFIG_FILE"] == path       # one path per config: pyo3 is not rebuilt
    given = make_spec(tmp_path, pyo3_config="x=1\n", env={"PYO3_CONFIG_FILE": "/mine"})
    assert cargo_env(given) == {"PYO3_CONFIG_FILE": "/mine"}


# --- the lock file -----------------------------------------------------------

REG = "registry+https://github.com/rust-lang/crates.io-index"
USER_LOCK = f"""\
version = 4

[[package]]
name = "pyo3"
version = "0.23.5"
source = "{REG}"

[[package]]
name = "libc"
version = "0.2.170"
source = "{REG}"

[[package]]
name = "my_crate"
version = "0.1.0"
dependencies = ["pyo3"]
"""


def test_missing_registry_crate_is_named(tmp_path):
    spec = make_spec(tmp_path, lockfile="/p/Cargo.lock")
    packages = cargo_lock.parse_lock(USER_LOCK, "/p/Cargo.lock")
    missing = cargo_lock.missing_registry_crates(spec, packages)
    assert missing == ["rayon"]
    assert cargo_lock.missing_message(missing, "/p/Cargo.lock").startswith(
        "crate 'rayon' is not in Cargo.lock (/p/Cargo.lock); run `cargo update`")


def test_unpinned_packages_after_update():
    user = cargo_lock.parse_lock(USER_LOCK, "u")
    resolved = [
        {"name": "pyo3", "version": "0.23.5", "source": REG},
        {"name": "libc", "version": "0.2.171", "source": REG},
        {"name": "memchr", "version": "2.7.0", "source": REG},
        {"name": "wc_rs", "version": "0.0.0"},
    ]
    problems = cargo_lock.unpinned(user, resolved, "/u/Cargo.lock")
    assert len(problems) == 2
    assert problems[0].startswith("Cargo.lock (/u/Cargo.lock) pins libc 0.2.170, but the build needs libc 0.2.171")
    assert problems[1].startswith("crate 'memchr' is not in Cargo.lock (/u/Cargo.lock)")


def test_unreadable_lock():
    with pytest.raises(LockError, match="cannot read the lock file"):
        cargo_lock.parse_lock("[[package]\n", "x.lock")


FAKE_CARGO = """\
#!{python}
import json, os, sys
with open(os.environ["FAKE_LOG"], "a") as f:
    f.write(json.dumps(sys.argv[1:]) + "\\n")
if sys.argv[1] == "update":
    extra = os.environ.get("FAKE_ADD")
    if extra:
        with open("Cargo.lock", "a") as f:
            f.write(extra)
    sys.exit(0)
sys.stderr.write(os.environ.get("FAKE_STDERR", ""))
sys.exit(int(os.environ.get("FAKE_EXIT", "0")))
"""


@pytest.fixture
def fake_cargo(tmp_path):
    path = tmp_path / "fake-cargo"
    path.write_text(FAKE_CARGO.format(python=sys.executable))
    path.chmod(0o755)
    return str(path)


def _calls(log):
    return [json.loads(line)[0] for line in open(log)] if os.path.exists(log) else []


def test_lock_is_copied_and_updated_only_when_something_changed(tmp_path, fake_cargo):
    lock = tmp_path / "user" / "Cargo.lock"
    lock.parent.mkdir()
    lock.write_text(USER_LOCK)
    log = str(tmp_path / "log")
    crates = [{"package": "p", "name": "c", "root": "/c.rs", "kind": "lib",
               "registry_deps": [{"name": "pyo3", "package": "pyo3", "version": "0.23"}]}]
    spec = make_spec(tmp_path, crates=crates, build={"package": "p", "mode": "build"}, cargo=fake_cargo,
                     lockfile=str(lock), env={"FAKE_LOG": log})
    ws = plan_workspace(spec)
    sync_workspace(spec.workspace_dir, ws)
    assert cargo_build.prepare_lock(spec, spec.env, ws.files) is True
    assert _calls(log) == ["update"]
    assert (tmp_path / "ws" / "Cargo.lock").read_text() == USER_LOCK
    assert cargo_build.prepare_lock(spec, spec.env, ws.files) is True
    assert _calls(log) == ["update"]                                # nothing changed: no cargo update
    lock.write_text(USER_LOCK + "\n")
    cargo_build.prepare_lock(spec, spec.env, ws.files)
    assert _calls(log) == ["update", "update"]                      # the user's lock changed
    changed = plan_workspace(make_spec(tmp_path, crates=crates + [{"package": "q", "name": "d", "root": "/d.rs",
                                                                   "kind": "lib"}],
                                       build={"package": "p", "mode": "build"}))
    cargo_build.prepare_lock(spec, spec.env, changed.files)
    assert _calls(log) == ["update", "update", "update"]            # the manifests changed


def test_lock_update_that_adds_a_crate_fails(tmp_path, fake_cargo):
    lock = tmp_path / "Cargo.lock"
    lock.write_text(USER_LOCK)
    env = {"FAKE_LOG": str(tmp_path / "log"),
           "FAKE_ADD": f'\n[[package]]\nname = "indoc"\nversion = "2.0.5"\nsource = "{REG}"\n'}
    crates = [{"package": "p", "name": "c", "root": "/c.rs", "kind": "lib",
               "registry_deps": [{"name": "pyo3", "package": "pyo3", "version": "0.23"}]}]
    spec = make_spec(tmp_path, crates=crates, build={"package": "p", "mode": "build"}, cargo=fake_cargo,
                     lockfile=str(lock), env=env)
    ws = plan_workspace(spec)
    sync_workspace(spec.workspace_dir, ws)
    with pytest.raises(LockError, match=r"crate 'indoc' is not in Cargo.lock \("):
        cargo_build.prepare_lock(spec, spec.env, ws.files)
    assert cargo_lock.read_stamp(spec.workspace_dir) is None         # tried again next time


def test_cargo_failure_exit_code_and_summary(tmp_path, fake_cargo, capsys):
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps({
        "workspace_dir": str(tmp_path / "ws"), "target_dir": str(tmp_path / "t"), "cargo": fake_cargo,
        "profile": "dev", "lockfile": None, "output": str(tmp_path / "out.so"), "pyo3_module": None,
        "crates": [{"package": "p", "name": "c", "root": "/c.rs", "kind": "cdylib"}],
        "build": {"package": "p", "mode": "build"},
        "env": {"FAKE_LOG": str(tmp_path / "log"), "FAKE_EXIT": "101",
                "FAKE_STDERR": "error: rustup could not choose a version of cargo to run, no default toolchain\n"},
    }))
    assert cargo_build.main([str(spec_file)]) == 101
    err = capsys.readouterr().err
    assert "rustup could not choose" in err
    assert "ERROR: cargo failed to build crate 'c' (package p), exit code 101" in err
    assert "RUSTUP_HOME" in err
    assert not (tmp_path / "out.so").exists()


def test_missing_cargo_is_a_clear_error(tmp_path, capsys):
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps({
        "workspace_dir": str(tmp_path / "ws"), "target_dir": str(tmp_path / "t"), "cargo": "/no/such/cargo",
        "profile": "dev", "output": "o", "crates": [{"package": "p", "name": "c", "root": "/c.rs", "kind": "lib"}],
        "build": {"package": "p"}, "env": {},
    }))
    assert cargo_build.main([str(spec_file)]) == 1
    assert "ERROR: cannot run cargo (/no/such/cargo)" in capsys.readouterr().err


# --- ELF --------------------------------------------------------------------

C_SOURCE = """
#include <stdio.h>
void *PyInit_spam(void) { puts("hi"); return 0; }
int exported_data = 3;
static int private_fn(void) { return 1; }
__attribute__((visibility("hidden"))) int hidden_fn(void) { return private_fn(); }
int PyInit_helper_weak(void) __attribute__((weak));
int PyInit_helper_weak(void) { return hidden_fn(); }
"""


@pytest.fixture(scope="module")
def shared_lib(tmp_path_factory):
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        pytest.skip("no C compiler")
    d = tmp_path_factory.mktemp("elf")
    (d / "spam.c").write_text(C_SOURCE)
    subprocess.run([gcc, "-shared", "-fPIC", "-o", str(d / "libspam.so"), str(d / "spam.c")], check=True)
    return str(d / "libspam.so")


def test_elf_dynamic_symbols(shared_lib):
    names = set(elf_dynamic_symbols(shared_lib))
    assert {"PyInit_spam", "exported_data", "PyInit_helper_weak"} <= names
    assert "hidden_fn" not in names and "private_fn" not in names
    assert "puts" not in names                                      # undefined: imported, not exported


def test_pyinit_symbols(shared_lib):
    assert pyinit_symbols(shared_lib) == ["PyInit_helper_weak", "PyInit_spam"]


def test_pyinit_symbols_outside_elf(tmp_path):
    blob = tmp_path / "mod.dylib"
    blob.write_bytes(b"\xcf\xfa\xed\xfe junk\0_PyInit_eggs\0other\0xPyInit_no\0")
    assert pyinit_symbols(str(blob)) == ["PyInit_eggs"]


def test_module_name_check(shared_lib):
    check_pyo3_module("pkg.spam", shared_lib)
    with pytest.raises(ToolError) as e:
        check_pyo3_module("pkg.eggs", shared_lib)
    assert str(e.value) == (
        "module_name 'pkg.eggs' does not match the #[pymodule] in the Rust code, which defines "
        "'helper_weak' (PyInit_helper_weak), 'spam' (PyInit_spam)"
    )


def test_missing_abi3_feature_is_explained():
    from kiln.tools.cargo_build import CargoRun, _hint

    run = CargoRun(101)
    run.stderr_tail = [
        "error: failed to select a version for `pyo3`.\n",
        "versions that meet the requirements `^0.23` (locked to 0.23.5) are: 0.23.5\n",
        "package `wc` depends on `pyo3` with feature `abi3-py315` but `pyo3` does not have that feature.\n",
    ]
    hint = _hint(run)
    assert "pyo3 0.23.5 has no feature 'abi3-py315'" in hint
    assert "stable ABI" in hint
