"""crate_universe: Cargo manifests and lock files into a crate index and a generated repository."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import starlark as sl

from kiln.core.errors import LoadingError, Location
from kiln.loading.module_files import read_module_files
from kiln.repos.definitions import default_definitions
from kiln.repos.cargo_cfg import HostTarget, target_matches
from kiln.repos.cargo_versions import req_matches
from kiln.repos.crate_cargo import read_lock, read_manifest
from kiln.repos.crate_repo_files import render_build_file, render_defs_bzl, write_crate_repo
from kiln.repos.crate_universe import CrateIndex, build_crate_index, crate_universes

LINUX = HostTarget(
    "x86_64-unknown-linux-gnu",
    {"target_os": "linux", "target_family": "unix", "target_arch": "x86_64", "target_env": "gnu",
     "target_vendor": "unknown", "target_endian": "little", "target_pointer_width": "64"},
    frozenset({"unix"}),
)

REGISTRY = 'source = "registry+https://github.com/rust-lang/crates.io-index"'


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


def lock(*packages: tuple[str, str, list[str] | None]) -> str:
    """Cargo.lock text: (name, version, None) is a registry crate, (name, version, deps) a workspace member."""
    out = ["version = 4", ""]
    for name, version, deps in packages:
        out += ["[[package]]", f'name = "{name}"', f'version = "{version}"']
        if deps is None:
            out.append(REGISTRY)
        else:
            out.append("dependencies = [" + ", ".join(f'"{d}"' for d in deps) + "]")
        out.append("")
    return "\n".join(out)


def index(root: Path, repo: str = "crates") -> CrateIndex:
    return build_crate_index(read_module_files(root, default_definitions()), repo, root, host=LINUX)


MODULE_FROM_CARGO = '''module(name = "ws")
bazel_dep(name = "rules_rust", version = "0.57.0")
crate = use_extension("@rules_rust//crate_universe:extensions.bzl", "crate")
crate.from_cargo(
    name = "crates",
    cargo_lockfile = "//:Cargo.lock",
    manifests = ["//:Cargo.toml", "//word_count:Cargo.toml"],
)
crate.annotation(crate = "pyo3", crate_features = ["abi3-py38"])
crate.annotation(
    crate = "pyo3-build-config",
    build_script_env = {"PYO3_PYTHON": "$(execpath @python_3_11//:python3)"},
)
use_repo(crate, "crates")
'''

ROOT_MANIFEST = '''[workspace]
members = ["word_count", "helper"]

[workspace.dependencies]
pyo3 = { version = "0.23", default-features = false, features = ["macros"] }
'''

WORD_COUNT = '''[package]
name = "word_count"
version = "0.1.0"

[dependencies]
pyo3 = { workspace = true, features = ["extension-module"] }
rayon = "1.10"
helper = { path = "../helper" }
serde = { version = "1", optional = true }
rand07 = { package = "rand", version = "0.7" }

[target.'cfg(windows)'.dependencies]
winapi = "0.3"

[target.'cfg(unix)'.dependencies]
libc = "0.2"

[dev-dependencies]
criterion = "0.5"

[build-dependencies]
cc = "1"

[features]
default = ["fast"]
fast = ["pyo3/auto-initialize"]
json = ["dep:serde"]
'''

HELPER = '''[package]
name = "helper"
version = "0.1.0"

[dependencies]
serde_derive = "1"
rand = "0.8"
'''


@pytest.fixture
def cargo_ws(tmp_path: Path) -> Path:
    return write(tmp_path, {
        "MODULE.bazel": MODULE_FROM_CARGO,
        "Cargo.toml": ROOT_MANIFEST,
        "word_count/Cargo.toml": WORD_COUNT,
        "helper/Cargo.toml": HELPER,
        "Cargo.lock": lock(
            ("helper", "0.1.0", ["rand 0.8.5", "serde_derive"]),
            ("word_count", "0.1.0", ["cc", "criterion", "helper", "libc", "pyo3", "rand 0.7.3", "rayon", "winapi"]),
            ("cc", "1.2.0", None), ("criterion", "0.5.1", None), ("libc", "0.2.170", None),
            ("pyo3", "0.23.5", None), ("rand", "0.7.3", None), ("rand", "0.8.5", None),
            ("rayon", "1.10.0", None), ("serde_derive", "1.0.219", None), ("winapi", "0.3.9", None),
        ),
    })


def test_from_cargo_index(cargo_ws):
    idx = index(cargo_ws)
    assert sorted(idx.crates) == ["cc", "criterion", "libc", "pyo3", "rand-0.7.3", "rand-0.8.5", "rayon",
                                  "serde_derive"]
    pyo3 = idx.crates["pyo3"]
    # Workspace inheritance: the root's default-features = false and features, plus the member's;
    # the member's default feature enables pyo3/auto-initialize; the annotation adds abi3-py38.
    assert (pyo3.package, pyo3.version_req, pyo3.locked_version, pyo3.version) == ("pyo3", "0.23", "0.23.5", "=0.23.5")
    assert pyo3.features == ("abi3-py38", "auto-initialize", "extension-module", "macros")
    assert pyo3.default_features is False
    assert pyo3.declared_at == (Location("word_count/Cargo.toml", 6),)
    assert idx.crates["rand-0.7.3"].package == "rand" and idx.crates["rand-0.8.5"].locked_version == "0.8.5"
    assert idx.crates["serde_derive"].proc_macro is True
    assert idx.missing_from_lock == {}
    assert idx.lockfile == "Cargo.lock"
    assert idx.manifests == ["Cargo.toml", "word_count/Cargo.toml", "helper/Cargo.toml"]
    assert {str(cargo_ws / f) for f in ("Cargo.lock", "Cargo.toml", "word_count/Cargo.toml", "helper/Cargo.toml")} \
        == set(idx.files)


def test_dependency_tables_per_package(cargo_ws):
    idx = index(cargo_ws)
    # Optional serde is off (the json feature is not default); winapi is for Windows only;
    # helper is a path dependency on another member: a Bazel target, not a crate.
    assert idx.dependencies == {
        "word_count": {
            "normal": {"pyo3": "pyo3", "rayon": "rayon", "rand": "rand-0.7.3", "libc": "libc"},
            "normal_dev": {"criterion": "criterion"},
            "build": {"cc": "cc"},
        },
        "helper": {"proc_macro": {"serde_derive": "serde_derive"}, "normal": {"rand": "rand-0.8.5"}},
    }
    assert idx.aliases == {"word_count": {"normal": {"rand-0.7.3": "rand07"}}}
    assert idx.all_crate_deps("word_count") == ["pyo3", "rayon", "rand-0.7.3", "libc"]
    assert idx.all_crate_deps("word_count", normal_dev=True, build=True) == ["criterion", "cc"]
    assert idx.all_crate_deps("helper", proc_macro=True) == ["serde_derive"]
    assert idx.crate_deps(["rand07", "cc"], "word_count") == ["rand-0.7.3", "cc"]
    with pytest.raises(LoadingError, match="no Cargo.toml file"):
        idx.all_crate_deps("elsewhere")


def test_annotations_recorded(cargo_ws):
    idx = index(cargo_ws)
    build_config = [a for a in idx.annotations if a.crate == "pyo3-build-config"]
    assert build_config[0].build_script_env == {"PYO3_PYTHON": "$(execpath @python_3_11//:python3)"}
    assert build_config[0].location == Location("MODULE.bazel", 10, 7)
    assert [a.crate for a in idx.crates["pyo3"].annotations] == ["pyo3"]


def test_missing_from_lock(cargo_ws):
    (cargo_ws / "Cargo.lock").write_text(lock(
        ("helper", "0.1.0", ["rand 0.8.5", "serde_derive"]),
        ("word_count", "0.1.0", ["libc", "pyo3", "rand 0.7.3", "rayon"]),
        ("criterion", "0.5.1", None), ("libc", "0.2.170", None), ("pyo3", "0.22.0", None),
        ("rand", "0.7.3", None), ("rand", "0.8.5", None), ("rayon", "1.10.0", None), ("serde_derive", "1.0.219", None),
    ))
    idx = index(cargo_ws)
    assert sorted(idx.missing_from_lock) == ["cc", "criterion", "pyo3"]
    assert idx.crates["cc"].lock_error == (
        "crate 'cc' is missing from Cargo.lock; required at word_count/Cargo.toml:22; "
        "update the lock file (e.g. `cargo update --workspace`)")
    # Locked for something else, but not as a dependency of this member: cargo --locked would refuse it.
    assert idx.crates["criterion"].lock_error.startswith(
        "crate 'criterion' is missing from Cargo.lock as a dependency of 'word_count'; required at word_count/Cargo.toml:19")
    assert idx.crates["pyo3"].lock_error.startswith(
        "crate 'pyo3' 0.23 is missing from Cargo.lock (it locks pyo3 0.22.0); required at word_count/Cargo.toml:6")
    assert idx.crates["cc"].locked_version is None and idx.crates["cc"].version == "1"
    assert 'lock_error = "crate \'cc\' is missing from Cargo.lock' in render_build_file(idx)
    assert idx.crates["rayon"].lock_error == ""


def test_generated_build_file(cargo_ws):
    text = render_build_file(index(cargo_ws))
    assert text.startswith("# Crates of @crates, generated by kiln from from_cargo at MODULE.bazel:4:7. Do not edit.\n")
    assert '''
rust_registry_crate(
    name = "pyo3",
    package = "pyo3",
    version = "=0.23.5",
    features = ["abi3-py38", "auto-initialize", "extension-module", "macros"],
    default_features = False,
    lockfile = "Cargo.lock",
    vendor = ":vendor",
    visibility = ["//visibility:public"],
)
''' in text
    assert '''
rust_registry_crate(
    name = "rand-0.7.3",
    package = "rand",
    version = "=0.7.3",
    features = [],
    default_features = True,
    lockfile = "Cargo.lock",
    vendor = ":vendor",
    visibility = ["//visibility:public"],
)
''' in text
    assert text.count("rust_registry_crate(") == 8
    # The vendored crates, as one filegroup every registry crate names (unpacks in progress left out).
    assert '''
filegroup(
    name = "vendor",
    srcs = glob(["vendor/**"], exclude = ["vendor/.*/**"]),
    visibility = ["//visibility:public"],
)
''' in text


def eval_defs(text: str, package: str) -> sl.Module:
    globals_ = sl.Globals.extended_by([sl.LibraryExtension.StructType, sl.LibraryExtension.Json])
    module = sl.Module()
    sl.eval(module, sl.parse("<fake native>", f'native = struct(package_name = lambda: "{package}")\n'), globals_)
    sl.eval(module, sl.parse("defs.bzl", text), globals_)
    return module


def call(module: sl.Module, expr: str):
    globals_ = sl.Globals.extended_by([sl.LibraryExtension.StructType, sl.LibraryExtension.Json])
    return sl.eval(module, sl.parse("BUILD", expr), globals_)


def test_generated_defs_bzl(cargo_ws):
    idx = index(cargo_ws)
    m = eval_defs(render_defs_bzl(idx), "word_count")
    normal = ["@crates//:libc", "@crates//:pyo3", "@crates//:rand-0.7.3", "@crates//:rayon"]
    assert call(m, "all_crate_deps()") == normal
    assert call(m, "all_crate_deps(normal = True)") == normal
    assert call(m, "all_crate_deps(normal_dev = True)") == ["@crates//:criterion"]
    assert call(m, "all_crate_deps(build = True)") == ["@crates//:cc"]
    assert call(m, "all_crate_deps(proc_macro = True)") == []
    assert call(m, 'all_crate_deps(proc_macro = True, package_name = "helper")') == ["@crates//:serde_derive"]
    assert call(m, 'crate_deps(["pyo3", "criterion"])') == ["@crates//:pyo3", "@crates//:criterion"]
    assert call(m, 'crate_deps(["rand07"])') == ["@crates//:rand-0.7.3"]
    assert call(m, "crate_deps([])") == []
    assert call(m, "aliases()") == {"@crates//:rand-0.7.3": "rand07"}
    assert call(m, "aliases(normal_dev = True)") == {}
    assert call(m, "crate_repositories()") is None
    with pytest.raises(sl.StarlarkError, match="Could not find crates `\\[\"tokio\"\\]` among dependencies of `word_count`"):
        call(m, 'crate_deps(["tokio"])')
    with pytest.raises(sl.StarlarkError, match="Tried to get all_crate_deps for package other but that package had no"):
        call(eval_defs(render_defs_bzl(idx), "other"), "all_crate_deps()")


def test_defs_bzl_matches_python_lookup(cargo_ws):
    idx = index(cargo_ws)
    m = eval_defs(render_defs_bzl(idx, repo="my_crates"), "helper")
    expected = ["@my_crates//:" + t for t in idx.all_crate_deps("helper", normal=True, proc_macro=True)]
    assert call(m, "all_crate_deps(normal = True, proc_macro = True)") == expected


def test_write_crate_repo_only_rewrites_changes(cargo_ws, tmp_path):
    idx = index(cargo_ws)
    out = tmp_path / "out" / "crates"
    written = write_crate_repo(idx, out, cargo_ws)
    assert sorted(p.name for p in written) == ["BUILD.bazel", "REPO.bazel", "defs.bzl"]
    assert (out / "BUILD.bazel").read_text() == render_build_file(idx)
    assert (out / "defs.bzl").read_text() == render_defs_bzl(idx)
    os.utime(out / "defs.bzl", (1, 1))
    assert write_crate_repo(idx, out, cargo_ws) == []
    assert (out / "defs.bzl").stat().st_mtime == 1
    idx.crates["pyo3"].features = ("x",)
    assert write_crate_repo(idx, out, cargo_ws) == [out / "BUILD.bazel"]
    assert sorted(os.listdir(out)) == ["BUILD.bazel", "REPO.bazel", "defs.bzl"]


def test_root_package_is_a_member(tmp_path):
    write(tmp_path, {
        "MODULE.bazel": '''crate = use_extension("@rules_rust//crate_universe:extensions.bzl", "crate")
crate.from_cargo(cargo_lockfile = "//:Cargo.lock", manifests = ["//:Cargo.toml"])
use_repo(crate, "crates")
''',
        "Cargo.toml": '[package]\nname = "root"\nversion = "0.1.0"\n\n[dependencies]\nrayon = "1"\n',
        "Cargo.lock": lock(("root", "0.1.0", ["rayon"]), ("rayon", "1.10.0", None)),
    })
    idx = index(tmp_path)
    assert idx.dependencies == {"": {"normal": {"rayon": "rayon"}}}
    m = eval_defs(render_defs_bzl(idx), "")
    assert call(m, "all_crate_deps()") == ["@crates//:rayon"]


def test_from_specs_with_repositories(tmp_path):
    write(tmp_path, {"MODULE.bazel": '''crate = use_extension("@rules_rust//crate_universe:extensions.bzl", "crate")
crate.spec(package = "serde", version = "1.0", features = ["derive"])
crate.spec(package = "tokio", version = "1.38", default_features = False, features = ["macros"], repositories = ["other"])
crate.spec(package = "rand", package_alias = "rand07", version = "0.7")
crate.spec(package = "mylib", git = "https://github.com/x/mylib.git", rev = "abc123")
crate.from_specs()
crate.from_specs(name = "other")
use_repo(crate, "crates", "other")
'''})
    info = read_module_files(tmp_path, default_definitions())
    assert sorted(crate_universes(info)) == ["crates", "other"]
    crates = build_crate_index(info, "crates", tmp_path, host=LINUX)
    assert sorted(crates.crates) == ["mylib", "rand07", "serde"]
    assert crates.crates["serde"].version == "1.0" and crates.crates["serde"].locked_version is None
    assert crates.crates["serde"].lock_error == ""  # no lock file: nothing can be missing from it
    assert crates.crates["rand07"].package == "rand"
    assert (crates.crates["mylib"].git, crates.crates["mylib"].rev) == ("https://github.com/x/mylib.git", "abc123")
    assert crates.dependencies == {}
    assert 'git = "https://github.com/x/mylib.git",\n    rev = "abc123",' in render_build_file(crates)
    other = build_crate_index(info, "other", tmp_path, host=LINUX)
    assert sorted(other.crates) == ["mylib", "rand07", "serde", "tokio"]
    assert other.crates["tokio"].default_features is False and other.crates["tokio"].features == ("macros",)
    with pytest.raises(LoadingError, match="no crate universe generates the repository 'nope'"):
        build_crate_index(info, "nope", tmp_path)


def test_spec_for_unknown_repository(tmp_path):
    write(tmp_path, {"MODULE.bazel": '''crate = use_extension("@rules_rust//crate_universe:extensions.bzl", "crate")
crate.from_specs()
crate.spec(package = "serde", version = "1", repositories = ["crate_index"])
'''})
    with pytest.raises(LoadingError) as e:
        crate_universes(read_module_files(tmp_path, default_definitions()))
    assert e.value.message == "crate.spec() applies to repository 'crate_index', but the crate universes are: crates"
    assert e.value.location.line == 3


def test_workspace_crates_repository_index(tmp_path):
    write(tmp_path, {
        "WORKSPACE": '''load("@rules_rust//crate_universe:defs.bzl", "crate", "crates_repository")
crates_repository(
    name = "crate_index",
    cargo_lockfile = "//:Cargo.lock",
    packages = {
        "pyo3": crate.spec(version = "0.23", features = ["extension-module"]),
        "rayon": crate.spec(version = "1.10"),
    },
    annotations = {
        "pyo3": [crate.annotation(crate_features = ["abi3-py311"])],
    },
)
''',
        "Cargo.lock": lock(("direct-cargo-bazel-deps", "0.0.1", ["pyo3"]), ("pyo3", "0.23.5", None),
                           ("rayon", "1.10.0", None)),
    })
    idx = index(tmp_path, "crate_index")
    assert idx.kind == "crates_repository"
    assert idx.crates["pyo3"].features == ("abi3-py311", "extension-module")
    assert idx.crates["pyo3"].version == "=0.23.5"
    # cargo-bazel's spliced member lists the direct dependencies: rayon is not among them.
    assert idx.missing_from_lock == {"rayon": idx.crates["rayon"].lock_error}
    assert "required at WORKSPACE:7" in idx.crates["rayon"].lock_error


def test_universe_file_errors(tmp_path):
    write(tmp_path, {"MODULE.bazel": '''crate = use_extension("@rules_rust//crate_universe:extensions.bzl", "crate")

crate.from_cargo(cargo_lockfile = "//:Cargo.lock", manifests = ["//pkg:Cargo.toml"])
'''})
    with pytest.raises(LoadingError) as e:
        index(tmp_path)
    assert e.value.message == "crate universe 'crates': Cargo lock file 'Cargo.lock' does not exist"
    assert e.value.location == Location("MODULE.bazel", 3, 7)
    write(tmp_path, {"Cargo.lock": "version = 4\n"})
    with pytest.raises(LoadingError, match="Cargo manifest 'pkg/Cargo.toml' does not exist"):
        index(tmp_path)
    write(tmp_path, {"pkg/Cargo.toml": '[package]\nname = "p"\n\n[dependencies\nx = "1"\n'})
    with pytest.raises(LoadingError) as e:
        index(tmp_path)
    assert e.value.message.startswith("invalid TOML") and e.value.location.file == "pkg/Cargo.toml"
    assert e.value.location.line == 4


def test_manifest_from_another_repository(tmp_path):
    write(tmp_path, {"MODULE.bazel": '''crate = use_extension("@rules_rust//crate_universe:extensions.bzl", "crate")
crate.from_cargo(manifests = ["@other//:Cargo.toml"])
'''})
    with pytest.raises(LoadingError, match="kiln reads Cargo files only from the main repository"):
        index(tmp_path)


def test_workspace_inheritance_needs_the_entry(tmp_path):
    write(tmp_path, {
        "Cargo.toml": '[workspace]\nmembers = ["a"]\n',
        "a/Cargo.toml": '[package]\nname = "a"\n\n[dependencies]\n\npyo3.workspace = true\n',
    })
    m = read_manifest(tmp_path / "a/Cargo.toml", "a/Cargo.toml")
    root = read_manifest(tmp_path / "Cargo.toml", "Cargo.toml")
    with pytest.raises(LoadingError) as e:
        m.inherit(root)
    assert "dependency 'pyo3' is inherited from the workspace" in e.value.message
    assert e.value.location == Location("a/Cargo.toml", 6)


def test_manifest_parsing(tmp_path):
    write(tmp_path, {"Cargo.toml": '''[package]
name = "p"
version = "1.0.0"

[dependencies]
a = "1"
b = { version = "2", default_features = false }

[dependencies.c]
version = "3"
features = ["x"]

[target.x86_64-unknown-linux-gnu.build-dependencies]
d = "4"
'''})
    m = read_manifest(tmp_path / "Cargo.toml", "Cargo.toml")
    deps = {d.name: d for d in m.dependencies}
    assert (deps["a"].kind, deps["a"].version_req, deps["a"].line) == ("normal", "1", 6)
    assert deps["b"].default_features is False and deps["b"].line == 7
    assert (deps["c"].features, deps["c"].line) == (["x"], 9)
    assert (deps["d"].kind, deps["d"].target, deps["d"].line) == ("build", "x86_64-unknown-linux-gnu", 14)
    with pytest.raises(LoadingError, match="invalid version requirement 'one'"):
        write(tmp_path, {"Cargo.toml": '[package]\nname = "p"\n[dependencies]\na = "one"\n'})
        read_manifest(tmp_path / "Cargo.toml", "Cargo.toml")


def test_lock_parsing(tmp_path):
    write(tmp_path, {"Cargo.lock": lock(("m", "0.1.0", ["rand 0.8.5 (registry+https://x)", "rayon"]),
                                         ("rand", "0.8.5", None), ("rayon", "1.10.0", None))})
    parsed = read_lock(tmp_path / "Cargo.lock", "Cargo.lock")
    assert [(p.name, p.version, p.is_registry) for p in parsed.packages] == [
        ("m", "0.1.0", False), ("rand", "0.8.5", True), ("rayon", "1.10.0", True)]
    assert parsed.member("m").dependencies == ("rand 0.8.5 (registry+https://x)", "rayon")


@pytest.mark.parametrize("req, version, ok", [
    ("0.23", "0.23.5", True), ("0.23", "0.24.0", False), ("^1.2", "1.9.0", True), ("^1.2", "2.0.0", False),
    ("~1.2.3", "1.2.9", True), ("~1.2.3", "1.3.0", False), ("=0.23.5", "0.23.5", True), ("=0.23.5", "0.23.6", False),
    (">=1, <2", "1.5.0", True), (">=1, <2", "2.0.0", False), ("*", "5.0.0", True), ("1.*", "1.4.0", True),
    ("1.*", "2.0.0", False), ("0.0.3", "0.0.4", False), ("1.0", "2.0.0-alpha", False), (">1", "1.5.0", False),
    ("1.0.0", "1.0.1-rc.1", False), ("1.0.0-rc.1", "1.0.0-rc.2", True),
])
def test_version_requirements(req, version, ok):
    assert req_matches(req, version) is ok


@pytest.mark.parametrize("target, ok", [
    ("cfg(unix)", True), ("cfg(windows)", False), ('cfg(target_os = "linux")', True),
    ('cfg(all(unix, not(target_os = "macos")))', True), ('cfg(any(windows, target_arch = "wasm32"))', False),
    ("x86_64-unknown-linux-gnu", True), ("aarch64-apple-darwin", False), ("cfg(", False),
])
def test_target_cfg(target, ok):
    assert target_matches(target, LINUX) is ok
