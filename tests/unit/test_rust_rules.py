"""Analysis of the Rust and PyO3 rules, without running cargo.

Checks the CrateInfo each rule provides, the CargoBuild action's spec (profile,
environment, pyo3 configuration and features) and the file names of PyO3
extensions, using a fake Rust toolchain so no rustc is needed.
"""

import json
import sysconfig
from pathlib import Path

import pytest

from kiln.analysis.analyzer import Analyzer
from kiln.core.actions import ActionKind
from kiln.core.config import Configuration
from kiln.core.errors import KilnError
from kiln.core.labels import parse_label
from kiln.loading.loader import Loader
from kiln.loading.workspace import Workspace
from kiln.rules import default_registry
from kiln.rules.python.providers import PyInfo
from kiln.rules.rust.providers import CrateInfo
from kiln.repos.host_repos import HostRepositories

# A Rust toolchain registered by the workspace: resolution prefers it to the machine's.
FAKE_RUST = '''
local_rust_toolchain(name = "impl", sysroot = "/rust", cargo = "/rust/bin/cargo", rustc = "/rust/bin/rustc",
                     fingerprint = "f1")
toolchain(name = "fake", toolchain = ":impl", toolchain_type = "@rules_rust//rust:toolchain_type")
'''

CRATES = '''
package(default_visibility = ["//visibility:public"])
rust_registry_crate(name = "pyo3", version = "=0.23.5", features = ["extension-module"], lockfile = "Cargo.lock",
                    vendor = ":vendor")
filegroup(name = "vendor", srcs = glob(["vendor/**"]))
rust_registry_crate(name = "pyo3_26", package = "pyo3", crate_name = "pyo3", version = "=0.26.0", lockfile = "Cargo.lock",
                    vendor = ":vendor")
rust_registry_crate(name = "pyo3_abi3", package = "pyo3", crate_name = "pyo3", version = "0.23", features = ["abi3-py38"],
                    lockfile = "Cargo.lock", vendor = ":vendor")
rust_registry_crate(name = "rayon", version = "1.10", lockfile = "Cargo.lock", vendor = ":vendor")
rust_registry_crate(name = "unvendored", version = "1")
rust_registry_crate(name = "unlocked", version = "1", lock_error = "crate 'unlocked' is missing from Cargo.lock")
'''


def world(tmp_path: Path, files: dict[str, str], config: Configuration | None = None):
    root = tmp_path / "ws"
    for rel, text in {"MODULE.bazel": 'register_toolchains("//fake_rust:all")', "fake_rust/BUILD": FAKE_RUST,
                      "third_party/BUILD": CRATES, "Cargo.lock": "",
                      "third_party/vendor/pyo3-0.23.5/src/lib.rs": "", **files}.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    loader = Loader(Workspace(root), default_registry(), report=lambda level, text: None,
                    repositories=HostRepositories(tmp_path / "external"))
    return Analyzer(loader, config or Configuration())


def spec_of(ct) -> dict:
    (write,) = [a for a in ct.actions if a.kind is ActionKind.WRITE and a.outputs[0].path.endswith(".cargo.json")]
    return json.loads(write.content)


def cargo_action(ct):
    (run,) = [a for a in ct.actions if a.mnemonic == "CargoBuild"]
    return run


def test_library_crate_info_and_spec(tmp_path):
    a = world(tmp_path, {
        "lib/BUILD": 'rust_library(name = "my-lib", srcs = ["src/lib.rs", "src/util.rs"], crate_features = ["fast"],'
                     ' rustc_env = {"K": "V"}, deps = ["//third_party:rayon"], visibility = ["//visibility:public"])',
        "lib/src/lib.rs": "", "lib/src/util.rs": "",
    })
    ct = a.analyze(parse_label("//lib:my-lib"))
    crate = ct[CrateInfo]
    assert crate.name == "my_lib" and crate.kind == "lib"
    assert crate.root.path == "lib/src/lib.rs"
    assert [f.basename for f in ct.files] == ["libmy_lib.rlib"]
    spec = spec_of(ct)
    assert spec["profile"] == "dev" and spec["build"] == {"mode": "build", "package": crate.package}
    (entry,) = spec["crates"]
    assert entry["features"] == ["fast"] and entry["rustc_env"] == {"K": "V"}
    assert [r["package"] for r in entry["registry_deps"]] == ["rayon"]
    assert entry["label"] == "//lib:my-lib"
    run = cargo_action(ct)
    # Sandboxed without network, cargo's state in a persistent cache, the toolchain mounted from the host.
    assert dict(run.execution_requirements) == {"kiln-persistent-cache": "cargo", "block-network": "1",
                                                "kiln-host-dirs": "/rust:/rust/bin", "kiln-reports-progress": "1"}
    assert "online" not in spec and spec["vendor_dir"] == "third_party/vendor"
    assert spec["workspace_dir"] == f"../../caches/cargo/ws/{crate.package}"
    assert spec["target_dir"] == "../../caches/cargo/target"
    # Sources by exec path, read from the exec root; kiln's own tool code is an input too.
    assert spec["sources"] == ["lib/src/lib.rs", "lib/src/util.rs"] and entry["root"] == "lib/src/lib.rs"
    paths = {i.path for i in run.input_list()}
    assert paths >= {"lib/src/lib.rs", "lib/src/util.rs", "external/kiln_tools/cargo_build.py",
                     "external/kiln_tools/cargo_inputs.py", "external/kiln_tools/cargo_manifest.py"}
    assert spec["toolchain"] == "f1"


def test_environment_is_fixed_and_names_the_real_toolchain(tmp_path):
    a = world(tmp_path, {"b/BUILD": 'rust_binary(name = "b", srcs = ["main.rs"])', "b/main.rs": ""})
    env = spec_of(a.analyze(parse_label("//b:b")))["env"]
    # No CARGO_HOME: the tool makes a private one.
    assert env == {"PATH": "/rust/bin:/usr/bin:/bin", "RUSTC": "/rust/bin/rustc",
                   "CARGO_TERM_COLOR": "never"}


def test_opt_maps_to_release(tmp_path):
    a = world(tmp_path, {"b/BUILD": 'rust_binary(name = "b", srcs = ["main.rs"])', "b/main.rs": ""},
              Configuration(compilation_mode="opt"))
    assert spec_of(a.analyze(parse_label("//b:b")))["profile"] == "release"


def test_crate_root_must_be_identifiable(tmp_path):
    a = world(tmp_path, {"l/BUILD": 'rust_library(name = "l", srcs = ["a.rs", "b.rs"])', "l/a.rs": "", "l/b.rs": ""})
    with pytest.raises(KilnError, match="crate root"):
        a.analyze(parse_label("//l:l"))


def test_binary_cannot_be_a_dependency(tmp_path):
    a = world(tmp_path, {
        "b/BUILD": 'rust_binary(name = "tool", srcs = ["main.rs"])\nrust_library(name = "l", srcs = ["lib.rs"], deps = [":tool"])',
        "b/main.rs": "", "b/lib.rs": "",
    })
    with pytest.raises(KilnError, match="only libraries can be dependencies"):
        a.analyze(parse_label("//b:l"))


def test_pyo3_extension_file_name_config_and_imports(tmp_path):
    a = world(tmp_path, {
        "py/BUILD": 'pyo3_extension(name = "ext", srcs = ["lib.rs"], module_name = "pkg.fast",'
                    ' deps = ["//third_party:pyo3"])',
        "py/lib.rs": "",
    })
    ct = a.analyze(parse_label("//py:ext"))
    (so,) = ct.files
    assert so.path == "py/pkg/fast" + sysconfig.get_config_var("EXT_SUFFIX")
    assert ct[PyInfo].imports.to_list() == ["_main/py"]
    spec = spec_of(ct)
    assert spec["pyo3_module"] == "fast"
    assert "abi3=false" in spec["pyo3_config"] and "suppress_build_script_link_lines=true" in spec["pyo3_config"]
    assert spec["env"]["PYO3_BUILD_EXTENSION_MODULE"] == "1"
    # pyo3 0.23 predates PYO3_BUILD_EXTENSION_MODULE: the feature is added too.
    (pyo3,) = spec["crates"][0]["registry_deps"]
    assert "extension-module" in pyo3["features"]
    assert spec["lockfile"] == "Cargo.lock"
    # cargo takes pyo3 from the vendored directory, one directory input of the action.
    assert spec["vendor_dir"] == "third_party/vendor"
    vendor = [i for i in cargo_action(ct).input_list() if i.path.startswith("third_party/vendor")]
    assert [(i.path, i.is_directory, i.is_source) for i in vendor] == [("third_party/vendor", True, True)]
    assert ("block-network", "1") in cargo_action(ct).execution_requirements


def test_a_registry_crate_without_vendored_sources_is_refused(tmp_path):
    a = world(tmp_path, {
        "l/BUILD": 'rust_library(name = "l", srcs = ["lib.rs"], deps = ["//third_party:unvendored"])', "l/lib.rs": "",
    })
    with pytest.raises(KilnError) as e:
        a.analyze(parse_label("//l:l"))
    assert ("registry crates without a lock file and vendored sources: unvendored; kiln builds registry crates "
            "offline, from a crate index (crate.from_cargo, crate.from_specs) that locks and vendors them"
            ) in e.value.render()
    assert "l/BUILD" in e.value.render()


def test_newer_pyo3_gets_the_environment_switch_only(tmp_path):
    a = world(tmp_path, {
        "py/BUILD": 'pyo3_extension(name = "ext", srcs = ["lib.rs"], deps = ["//third_party:pyo3_26"])',
        "py/lib.rs": "",
    })
    spec = spec_of(a.analyze(parse_label("//py:ext")))
    (pyo3,) = spec["crates"][0]["registry_deps"]
    assert pyo3["features"] == [] and spec["env"]["PYO3_BUILD_EXTENSION_MODULE"] == "1"


def test_abi3_feature_names_the_file_abi3(tmp_path):
    a = world(tmp_path, {
        "py/BUILD": 'pyo3_extension(name = "ext", srcs = ["lib.rs"], deps = ["//third_party:pyo3_abi3"])',
        "py/lib.rs": "",
    })
    ct = a.analyze(parse_label("//py:ext"))
    assert [f.basename for f in ct.files] == ["ext.abi3.so"]
    assert "abi3=true" in spec_of(ct)["pyo3_config"]


def test_pyo3_extension_without_pyo3_and_without_a_pyo3_toolchain(tmp_path):
    # No pyo3 in deps, and no @crate_index for kiln's default PyO3 toolchain to take it from.
    a = world(tmp_path, {"py/BUILD": 'pyo3_extension(name = "ext", srcs = ["lib.rs"])', "py/lib.rs": ""})
    with pytest.raises(KilnError) as e:
        a.analyze(parse_label("//py:ext"))
    assert ("no pyo3 among the deps and no PyO3 toolchain (@rules_rust_pyo3//:rust_toolchain_type) to take it from: "
            "list the pyo3 crate in deps") in e.value.render()
    assert "py/BUILD" in e.value.render() and "//py:ext" in e.value.render()


def test_crate_missing_from_lock_is_reported_at_the_user(tmp_path):
    a = world(tmp_path, {
        "l/BUILD": 'rust_library(name = "l", srcs = ["lib.rs"], deps = ["//third_party:unlocked"])', "l/lib.rs": "",
    })
    with pytest.raises(KilnError) as info:
        a.analyze(parse_label("//l:l"))
    assert "missing from Cargo.lock" in info.value.message
    assert info.value.location.file == "l/BUILD"


def test_rust_test_of_a_crate_reuses_its_sources(tmp_path):
    a = world(tmp_path, {
        "l/BUILD": 'rust_library(name = "l", srcs = ["lib.rs"], deps = ["//third_party:rayon"])\n'
                   'rust_test(name = "l_test", crate = ":l")',
        "l/lib.rs": "",
    })
    ct = a.analyze(parse_label("//l:l_test"))
    spec = spec_of(ct)
    assert spec["build"]["mode"] == "test"
    (entry,) = spec["crates"]
    assert entry["root"].endswith("l/lib.rs") and entry["registry_deps"][0]["package"] == "rayon"
    assert ct.default_info.executable is not None
