"""`python -m kiln.tools.cargo_build` driving the real cargo.

All tests share one cargo target directory (as kiln's targets do), so pyo3 is
compiled once per session. The tool always runs cargo offline with a CARGO_HOME
of its own: the pyo3 tests hand it the crates of examples/word_count/Cargo.lock,
vendored as the crate index vendors them (kiln.repos.crate_vendor), so they
need crates.io or a repository cache holding those crates; they are skipped
only when crates.io cannot be reached, and fail instead under CI=true.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import unavailable

import functools
import tempfile

from kiln.analysis.analyzer import Analyzer
from kiln.core.config import Configuration
from kiln.core.errors import KilnError
from kiln.core.labels import parse_label
from kiln.loading.loader import Loader
from kiln.loading.workspace import Workspace
from kiln.repos.host_repos import HostRepositories
from kiln.rules import default_registry
from kiln.rules.python.providers import PyRuntimeInfo
from kiln.rules.rust.pyo3_config import config_file_text, extension_file_name
from kiln.tools.cargo_elf import pyinit_symbols


@functools.cache
def host_runtime() -> PyRuntimeInfo:
    """The runtime kiln registers for the interpreter it runs on, as analysis sees it."""
    root = Path(tempfile.mkdtemp(prefix="kiln-runtime-"))
    (root / "MODULE.bazel").write_text("")
    loader = Loader(Workspace(root), default_registry(), report=lambda level, text: None,
                    repositories=HostRepositories(root / "external"))
    return Analyzer(loader, Configuration()).analyze(parse_label("@kiln_local_python//:runtime"))[PyRuntimeInfo]


@pytest.fixture(scope="session")
def rust():
    rustc = shutil.which("rustc") or os.path.expanduser("~/.cargo/bin/rustc")
    if not os.path.exists(rustc):
        unavailable("no Rust toolchain")
    sysroot = subprocess.run([rustc, "--print", "sysroot"], capture_output=True, text=True, check=True).stdout.strip()
    # The toolchain's own binaries, as kiln's Rust toolchain gives them: rustup's proxies would need RUSTUP_HOME.
    return {"cargo": os.path.join(sysroot, "bin", "cargo"), "rustc": os.path.join(sysroot, "bin", "rustc"),
            "bin": os.path.join(sysroot, "bin")}


@pytest.fixture(scope="session")
def shared(tmp_path_factory, rust):
    root = tmp_path_factory.mktemp("cargo_shared")
    (root / "home").mkdir()
    env = {
        "PATH": f"{rust['bin']}:/usr/bin:/bin",
        "RUSTC": rust["rustc"],
        "HOME": str(root / "home"),
        "CARGO_TERM_COLOR": "never",
    }
    return {"target": str(root / "target"), "env": env, "root": root}


@pytest.fixture(scope="session")
def vendored(shared) -> str:
    """The crates of examples/word_count/Cargo.lock (pyo3 0.23.5 and its dependencies), vendored."""
    from kiln.repos.crate_cargo import read_lock
    from kiln.repos.crate_vendor import vendor_crates
    from kiln.repos.downloader import Downloader
    from kiln.repos.repository_cache import RepositoryCache, default_repository_cache_dir

    lock = read_lock(Path(__file__).parents[2] / "examples" / "word_count" / "Cargo.lock", "Cargo.lock")
    dest = shared["root"] / "vendor"
    try:
        vendor_crates(lock, dest, lambda: Downloader(RepositoryCache(default_repository_cache_dir(os.environ))))
    except KilnError as e:
        try:
            socket.create_connection(("static.crates.io", 443), timeout=5).close()
        except OSError:
            unavailable(f"static.crates.io is not reachable and the repository cache lacks crates: {e.message}")
        raise
    return str(dest)


class Tool:
    """A throwaway exec root: sources, specs and the tool run from it."""

    def __init__(self, root: Path, rust: dict, shared: dict):
        self.root = root
        self.rust = rust
        self.shared = shared

    def write(self, rel: str, text: str) -> Path:
        p = self.root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text).lstrip("\n"))
        return p

    def spec(self, name: str, crates: list[dict], package: str, *, mode="build", output=None, **extra) -> dict:
        spec = {
            "workspace_dir": f"cargo/ws/{name}",
            "target_dir": self.shared["target"],
            "cargo": self.rust["cargo"],
            "profile": "dev",
            "lockfile": None,
            "crates": crates,
            "build": {"package": package, "mode": mode},
            "env": dict(self.shared["env"]),
            "output": output or f"bin/{name}.out",
            "pyo3_module": None,
            "report": f"reports/{name}.json",
        }
        spec.update(extra)
        return spec

    def run(self, spec: dict):
        # The action declares every source of its crates: here, every file written under src/.
        spec = {**spec}
        spec.setdefault("sources", sorted(str(p.relative_to(self.root)) for p in (self.root / "src").rglob("*")
                                          if p.is_file()))
        path = self.root / "specs" / f"{spec['workspace_dir'].rsplit('/', 1)[-1]}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(spec))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CARGO", "RUST", "PYO3"))}
        proc = subprocess.run([sys.executable, "-m", "kiln.tools.cargo_build", str(path)], cwd=self.root,
                              env=env, capture_output=True, text=True, timeout=600)
        report_path = self.root / spec["report"]
        report = json.loads(report_path.read_text()) if report_path.exists() else None
        if report_path.exists():
            report_path.unlink()
        return proc, report


@pytest.fixture
def tool(tmp_path, rust, shared):
    return Tool(tmp_path, rust, shared)


def crate(package, name, root, kind="lib", **kw):
    return {"package": package, "name": name, "root": root, "edition": "2021", "kind": kind,
            "features": [], "deps": [], "registry_deps": [], "rustc_flags": [], "rustc_env": {}, **kw}


def compiled_units(report) -> dict[str, bool]:
    return {u["package"]: u["fresh"] for u in report["units"] if u["kind"] != "custom-build"}


def touch(path: Path, text: str | None = None):
    if text is not None:
        path.write_text(text)
    future = time.time() + 5
    os.utime(path, (future, future))


# --- crates without registry dependencies ------------------------------------

def lib_and_cdylib(tool: Tool, ws: str):
    tool.write("src/util/lib.rs", """
        pub fn greeting() -> &'static str { "hello" }
    """)
    cdylib = tool.write("src/shout/lib.rs", """
        #[no_mangle]
        pub extern "C" fn shout_len() -> usize { util::greeting().len() }
    """)
    crates = [
        crate(f"{ws}_util", "util", "src/util/lib.rs"),
        crate(f"{ws}_shout", "shout", "src/shout/lib.rs", kind="cdylib",
              deps=[{"package": f"{ws}_util", "name": "util"}]),
    ]
    return cdylib, tool.spec(ws, crates, f"{ws}_shout", output="out/libshout.so")


def test_build_noop_and_touch(tool):
    cdylib_src, spec = lib_and_cdylib(tool, "incr")
    proc, report = tool.run(spec)
    assert proc.returncode == 0, proc.stderr
    out = tool.root / "out" / "libshout.so"
    assert out.exists() and "shout_len" in open(out, "rb").read().decode("latin-1")
    assert compiled_units(report) == {"incr_util": False, "incr_shout": False}
    # A copy, not a link into cargo's target directory.
    assert os.stat(out).st_ino != os.stat(report["artifact"]).st_ino and os.stat(out).st_nlink == 1

    proc, report = tool.run(spec)
    assert proc.returncode == 0, proc.stderr
    assert report["written"] == []                  # same spec, same manifests, same mtimes
    assert compiled_units(report) == {"incr_util": True, "incr_shout": True}
    assert report["compiled"] == []

    touch(cdylib_src, cdylib_src.read_text() + "\n// edited\n")
    proc, report = tool.run(spec)
    assert proc.returncode == 0, proc.stderr
    assert compiled_units(report) == {"incr_util": True, "incr_shout": False}
    assert report["compiled"] == ["incr_shout"]


def test_compile_error_shows_rustc_message(tool):
    cdylib_src, spec = lib_and_cdylib(tool, "broken")
    proc, _ = tool.run(spec)
    assert proc.returncode == 0, proc.stderr
    cdylib_src.write_text(cdylib_src.read_text() + "\npub fn oops() -> u32 { \"text\" }\n")
    proc, _ = tool.run(spec)
    assert proc.returncode not in (0, 1)            # cargo's own exit code
    assert "error[E0308]: mismatched types" in proc.stderr
    assert "src/shout/lib.rs" in proc.stderr
    assert "ERROR: cargo failed to build crate 'shout' (package broken_shout)" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tool.root / "out" / "libshout.so").exists()      # the earlier build's file is gone


def test_cdylibs_with_one_crate_name_in_two_targets(tool):
    # cargo names a cdylib lib<name>.so without a hash: the second target's build replaces the
    # first one's file while cargo still holds the first unit fresh.
    specs = {}
    for x in ("one", "two"):
        tool.write(f"src/{x}.rs", f'#[no_mangle] pub extern "C" fn made_by_{x}() {{}}\n')
        specs[x] = tool.spec(f"same_{x}", [crate(f"same_{x}", "same", f"src/{x}.rs", kind="cdylib")],
                             f"same_{x}", output=f"out/{x}/libsame.so")

    def exports(x):
        proc, report = tool.run(specs[x])
        assert proc.returncode == 0, proc.stderr
        names = open(tool.root / "out" / x / "libsame.so", "rb").read()
        return [n for n in ("made_by_one", "made_by_two") if n.encode() in names], report

    assert exports("one")[0] == ["made_by_one"]
    assert exports("two")[0] == ["made_by_two"]
    names, report = exports("one")
    assert names == ["made_by_one"] and report["compiled"] == ["same_one"]
    names, report = exports("one")
    assert names == ["made_by_one"] and report["compiled"] == []


def test_bin_with_features_env_and_cfg(tool):
    tool.write("src/greet/lib.rs", """
        pub fn greeting() -> String {
            let mut s = String::from(env!("GREETING"));
            if cfg!(feature = "loud") { s = s.to_uppercase(); }
            if cfg!(polite) { s.push_str(", please"); }
            s
        }
    """)
    tool.write("src/main.rs", """
        fn main() { println!("{} from {}", greet::greeting(), env!("WHO")); }
    """)
    lib = crate("env_greet", "greet", "src/greet/lib.rs", features=["loud"],
                rustc_flags=["--cfg", "polite"], rustc_env={"GREETING": "hi \"there\""})
    main = crate("env_main", "say-hi", "src/main.rs", kind="bin", deps=[{"package": "env_greet", "name": "greet"}],
                 rustc_env={"WHO": "kiln"}, rustc_flags=["-Dwarnings"])
    spec = tool.spec("envbin", [lib, main], "env_main", output="bin/say-hi")
    proc, report = tool.run(spec)
    assert proc.returncode == 0, proc.stderr
    exe = tool.root / "bin" / "say-hi"
    assert os.access(exe, os.X_OK)
    assert subprocess.run([exe], capture_output=True, text=True).stdout == 'HI "THERE", please from kiln\n'

    proc, report = tool.run(spec)
    assert report["compiled"] == [], proc.stderr    # env set by the build scripts is stable for cargo

    lib["rustc_env"] = {"GREETING": "bye"}
    proc, report = tool.run(spec)
    assert proc.returncode == 0, proc.stderr
    assert report["compiled"] == ["env_greet", "env_main"]
    assert subprocess.run([exe], capture_output=True, text=True).stdout == "BYE, please from kiln\n"

    # Extra flags reach the built crate: -Dwarnings turns an unused variable into an error.
    tool.write("src/main.rs", """
        fn main() { let unused = 1; println!("{} from {}", greet::greeting(), env!("WHO")); }
    """)
    proc, report = tool.run(spec)
    assert proc.returncode != 0
    assert "unused variable" in proc.stderr and "-D unused-variables" in proc.stderr


def test_dependency_flags_other_than_cfg_are_reported(tool):
    tool.write("src/a.rs", "pub fn a() -> u8 { 1 }\n")
    tool.write("src/m.rs", "fn main() { std::process::exit(a::a() as i32 - 1) }\n")
    spec = tool.spec("depflags", [
        crate("df_a", "a", "src/a.rs", rustc_flags=["-Copt-level=2"]),
        crate("df_m", "m", "src/m.rs", kind="bin", deps=[{"package": "df_a", "name": "a"}]),
    ], "df_m")
    proc, _ = tool.run(spec)
    assert proc.returncode == 0, proc.stderr
    assert "WARNING: rustc_flags -Copt-level=2 of crate 'a' are not applied" in proc.stderr


def test_test_mode_builds_a_test_executable(tool):
    tool.write("src/calc/lib.rs", """
        pub fn add(a: i32, b: i32) -> i32 { a + b }
        #[cfg(test)]
        mod tests {
            #[test] fn adds() { assert_eq!(super::add(2, 2), 4); }
            #[test] fn feature_is_on() { assert!(cfg!(feature = "extra")); }
        }
    """)
    spec = tool.spec("calc_test", [crate("calc_t", "calc", "src/calc/lib.rs", features=["extra"])], "calc_t",
                     mode="test", output="bin/calc_test")
    proc, report = tool.run(spec)
    assert proc.returncode == 0, proc.stderr
    exe = tool.root / "bin" / "calc_test"
    assert os.access(exe, os.X_OK)
    run = subprocess.run([exe], capture_output=True, text=True)
    assert run.returncode == 0 and "test result: ok. 2 passed" in run.stdout


def test_a_reverted_source_with_an_old_mtime_is_rebuilt(tool):
    # In a sandbox, a source is a link to a stored blob whose mtime is when the blob was stored: going
    # back to an earlier content hands cargo an old mtime. The tool's mirror gives cargo a new one.
    src = tool.write("src/rev/main.rs", 'fn main() { println!("first"); }\n')
    spec = tool.spec("revert", [crate("rev_m", "rev", "src/rev/main.rs", kind="bin")], "rev_m", output="bin/rev")
    old = time.time() - 3600
    os.utime(src, (old, old))
    assert tool.run(spec)[0].returncode == 0
    touch(src, 'fn main() { println!("second"); }\n')
    assert tool.run(spec)[0].returncode == 0
    src.write_text('fn main() { println!("first"); }\n')
    os.utime(src, (old, old))
    proc, report = tool.run(spec)
    assert proc.returncode == 0, proc.stderr
    assert report["mirrored"] == ["src/rev/main.rs"] and report["compiled"] == ["rev_m"]
    assert subprocess.run([tool.root / "bin" / "rev"], capture_output=True, text=True).stdout == "first\n"


def test_a_source_no_longer_declared_is_not_found(tool):
    tool.write("src/gone/lib.rs", "mod extra;\npub fn f() -> u8 { extra::X }\n")
    tool.write("src/gone/extra.rs", "pub const X: u8 = 1;\n")
    spec = tool.spec("gone", [crate("gone_l", "gone", "src/gone/lib.rs")], "gone_l", output="out/libgone.rlib")
    assert tool.run(spec)[0].returncode == 0
    (tool.root / "src/gone/extra.rs").unlink()
    proc, _ = tool.run(spec)
    assert proc.returncode != 0
    assert "file not found for module `extra`" in proc.stderr, proc.stderr
    # rustc names the file as the action declared it, under the mirror of the cargo workspace.
    assert "_src/src/gone/lib.rs" in proc.stderr


# --- pyo3 from crates.io -------------------------------------------------------

WORD_COUNT = """
    use pyo3::prelude::*;

    #[pyfunction]
    fn count_words(text: &str) -> usize { text.split_whitespace().count() }

    #[pymodule]
    fn word_count(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add_function(wrap_pyfunction!(count_words, m)?)?;
        Ok(())
    }
"""
PYO3 = {"name": "pyo3", "package": "pyo3", "version": "0.23", "features": ["extension-module"],
        "default_features": True}


@pytest.fixture(scope="session")
def pyo3_env(shared):
    config = shared["root"] / "pyo3-config.txt"
    config.write_text(config_file_text(host_runtime(), abi3=False))
    return {**shared["env"], "PYO3_CONFIG_FILE": str(config)}


def pyo3_spec(tool: Tool, ws: str, module: str, env: dict, vendor_dir: str, **extra) -> dict:
    tool.write("src/wc/lib.rs", WORD_COUNT)
    out = "py/" + extension_file_name(module, host_runtime(), abi3=False)
    crates = [crate("wc_rs", "word_count", "src/wc/lib.rs", kind="cdylib", registry_deps=[PYO3])]
    return tool.spec(ws, crates, "wc_rs", output=out, env=env, pyo3_module=module, vendor_dir=vendor_dir, **extra)


def test_pyo3_module_builds_and_imports(tool, vendored, pyo3_env):
    spec = pyo3_spec(tool, "pyo3_wc", "word_count", pyo3_env, vendored)
    proc, report = tool.run(spec)
    assert proc.returncode == 0, proc.stderr
    out = tool.root / spec["output"]
    assert pyinit_symbols(str(out)) == ["PyInit_word_count"]
    check = subprocess.run([sys.executable, "-c", "import word_count; print(word_count.count_words('a b  c'))"],
                           cwd=out.parent, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    assert check.stdout == "3\n"
    proc, report = tool.run(spec)
    assert proc.returncode == 0 and report["compiled"] == [], proc.stderr
    assert report["command"][-1] != "--locked"      # no lock file given: cargo keeps the workspace's own
    assert (tool.root / "cargo/ws/pyo3_wc/Cargo.lock").exists()


def test_pyo3_module_name_mismatch(tool, vendored, pyo3_env):
    spec = pyo3_spec(tool, "pyo3_wrong", "pkg.wrong_name", pyo3_env, vendored)
    proc, _ = tool.run(spec)
    assert proc.returncode == 1
    assert ("ERROR: module_name 'pkg.wrong_name' does not match the #[pymodule] in the Rust code, "
            "which defines 'word_count' (PyInit_word_count)") in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tool.root / spec["output"]).exists()


def test_pyo3_with_the_users_lock_file(tool, vendored, pyo3_env):
    # The lock file of a first build stands in for the user's (its member is another package).
    first = pyo3_spec(tool, "pyo3_lock_src", "word_count", pyo3_env, vendored)
    proc, _ = tool.run(first)
    assert proc.returncode == 0, proc.stderr
    user_lock = tool.root / "user" / "Cargo.lock"
    user_lock.parent.mkdir()
    shutil.copy(tool.root / "cargo/ws/pyo3_lock_src/Cargo.lock", user_lock)
    pinned = (tool.root / "user" / "Cargo.lock").read_text()

    env = {k: v for k, v in pyo3_env.items() if k != "PYO3_CONFIG_FILE"}
    spec = pyo3_spec(tool, "pyo3_locked", "word_count", env, vendored, lockfile="user/Cargo.lock",
                     pyo3_config=config_file_text(host_runtime(), abi3=False))
    spec["crates"][0]["package"] = "wc_locked"
    spec["build"]["package"] = "wc_locked"
    proc, report = tool.run(spec)
    assert proc.returncode == 0, proc.stderr
    assert report["command"][-1] == "--locked"
    assert user_lock.read_text() == pinned                          # the user's file is never written
    ws_lock = (tool.root / "cargo/ws/pyo3_locked/Cargo.lock").read_text()
    assert 'name = "wc_locked"' in ws_lock and 'name = "wc_rs"' not in ws_lock
    proc, report = tool.run(spec)
    assert proc.returncode == 0 and report["compiled"] == [], proc.stderr

    spec["crates"][0]["registry_deps"].append({"name": "rayon", "package": "rayon", "version": "1"})
    proc, _ = tool.run(spec)
    assert proc.returncode == 1
    assert f"crate 'rayon' is not in Cargo.lock ({user_lock})" in proc.stderr
    assert "Traceback" not in proc.stderr
