"""MODULE.bazel and WORKSPACE evaluation: module extensions recorded, unknown ones reported at the call."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiln.core.errors import LoadingError, Location
from kiln.loading.module_files import read_module_files
from kiln.loading.module_info import ModuleInfo, Registration
from kiln.repos.crate_universe import is_crate_extension, is_workspace_crate_rule
from kiln.repos.crate_workspace import CRATE_UNIVERSE_DEFS
from kiln.repos.definitions import default_definitions

CRATE = '"@rules_rust//crate_universe:extensions.bzl", "crate"'


def evaluate(tmp_path: Path, module: str | None = None, workspace: str | None = None) -> ModuleInfo:
    if module is not None:
        (tmp_path / "MODULE.bazel").write_text(module)
    if workspace is not None:
        (tmp_path / "WORKSPACE").write_text(workspace)
    return read_module_files(tmp_path, default_definitions())


def error(tmp_path: Path, module: str | None = None, workspace: str | None = None) -> LoadingError:
    with pytest.raises(LoadingError) as info:
        evaluate(tmp_path, module, workspace)
    return info.value


def test_crate_tags_recorded_with_lines(tmp_path):
    info = evaluate(tmp_path, f'''module(name = "ws")
bazel_dep(name = "rules_rust", version = "0.57.0")

crate = use_extension({CRATE})
# crate.spec(package = "commented out") must not shift the lines
crate.spec(package = "pyo3", version = "0.23", features = ["abi3-py38"], default_features = False)
crate.spec(
    package = "rayon",
    version = "1.10",
)
crate.annotation(crate = "pyo3-build-config", build_script_env = {{"PYO3_PYTHON": "python3"}})
crate.from_specs(name = "crate_index")
use_repo(crate, "crate_index")
''')
    assert info.name == "ws"
    [usage] = info.extensions
    assert (usage.bzl_label, usage.name, usage.dev_dependency) == ("@rules_rust//crate_universe:extensions.bzl", "crate", False)
    assert (usage.repo, usage.path) == ("rules_rust", "crate_universe/extensions.bzl")
    assert usage.location == Location("MODULE.bazel", 4, 9)
    assert [(t.name, t.line) for t in usage.tags] == [("spec", 6), ("spec", 7), ("annotation", 11), ("from_specs", 12)]
    assert usage.tags[0].attrs == {"package": "pyo3", "version": "0.23", "features": ["abi3-py38"], "default_features": False}
    assert usage.tags[0].location == Location("MODULE.bazel", 6, 7)
    assert usage.tags[2].attrs["build_script_env"] == {"PYO3_PYTHON": "python3"}
    assert usage.imports == {"crate_index": "crate_index"}
    decl = info.repos["crate_index"]
    assert (decl.generated_name, decl.kind, decl.usage) == ("crate_index", "crate", usage)
    assert decl.location.line == 13
    assert [u for u in info.extensions if is_crate_extension(u)] == [usage]


def test_use_repo_aliases_and_dev_dependency(tmp_path):
    info = evaluate(tmp_path, f'''module(name = "ws")
crate = use_extension({CRATE}, dev_dependency = True)
crate.from_cargo(name = "crates", cargo_lockfile = "//:Cargo.lock", manifests = ["//:Cargo.toml"])
use_repo(crate, "crates", my_crates = "crates")
''')
    [usage] = info.extensions
    assert usage.dev_dependency is True
    assert usage.imports == {"crates": "crates", "my_crates": "crates"}
    assert info.repos["my_crates"].generated_name == "crates"
    assert usage.tags_named("from_cargo")[0].attrs["manifests"] == ["//:Cargo.toml"]


def test_default_crate_repo_name_is_crates(tmp_path):
    info = evaluate(tmp_path, f'crate = use_extension({CRATE})\ncrate.from_specs()\nuse_repo(crate, "crates")\n')
    assert list(info.repos) == ["crates"]


def test_unknown_extension_fails_at_use_extension(tmp_path):
    e = error(tmp_path, '''module(name = "ws")

uv = use_extension("@rules_python//python/uv:uv.bzl", "uv")
uv.toolchain(uv_version = "0.4.25")
''')
    assert e.message == ("kiln does not implement the module extension 'uv' from "
                         "@rules_python//python/uv:uv.bzl yet")
    assert e.location == Location("MODULE.bazel", 3, 6)


def test_unknown_extension_name_in_known_file(tmp_path):
    e = error(tmp_path, 'x = use_extension("@rules_rust//crate_universe:extensions.bzl", "crates")\n')
    assert "module extension 'crates' from @rules_rust//crate_universe:extensions.bzl" in e.message
    assert e.location.line == 1


def test_extension_through_repo_name_of_bazel_dep(tmp_path):
    info = evaluate(tmp_path, '''bazel_dep(name = "rules_rust", version = "0.57.0", repo_name = "rr")
crate = use_extension("@rr//crate_universe:extensions.bzl", "crate")
crate.from_specs()
''')
    assert info.extensions[0].repo == "rules_rust" and is_crate_extension(info.extensions[0])


def test_misspelt_tag_attribute(tmp_path):
    e = error(tmp_path, f'crate = use_extension({CRATE})\n\ncrate.spec(package = "pyo3", featurs = ["x"])\n')
    assert e.message == "crate.spec(): unknown attribute 'featurs' (did you mean 'features'?)"
    assert e.location == Location("MODULE.bazel", 3, 7)


def test_tag_attribute_type_and_mandatory(tmp_path):
    e = error(tmp_path, f'crate = use_extension({CRATE})\ncrate.spec(package = "pyo3", features = "abi3")\n')
    assert e.message == "crate.spec(): attribute 'features' must be a list of strings, got string"
    assert e.location.line == 2
    e = error(tmp_path, f'crate = use_extension({CRATE})\ncrate.spec(version = "1")\n')
    assert e.message == "crate.spec(): missing mandatory attribute 'package'"


def test_unknown_tag_class(tmp_path):
    e = error(tmp_path, f'crate = use_extension({CRATE})\ncrate.from_cargos(name = "x")\n')
    assert e.message.startswith("module extension 'crate' from @rules_rust//crate_universe:extensions.bzl has no "
                                "tag class 'from_cargos' (did you mean 'from_cargo'?); its tags are: annotation, annotation_select, "
                                "from_cargo, from_specs")
    assert e.location.line == 2


def test_tags_take_keywords_only(tmp_path):
    e = error(tmp_path, f'crate = use_extension({CRATE})\ncrate.spec("pyo3")\n')
    assert e.message == "module extension tags take keyword arguments only"
    assert e.location.line == 2


def test_use_repo_of_repo_the_extension_does_not_make(tmp_path):
    e = error(tmp_path, f'''crate = use_extension({CRATE})
crate.from_cargo(name = "crates", manifests = ["//:Cargo.toml"])
use_repo(crate, "crate_index")
''')
    assert e.message == ("module extension 'crate' from @rules_rust//crate_universe:extensions.bzl does not generate "
                         "repository 'crate_index', yet use_repo() imports it; it generates: crates")
    assert e.location.line == 3


def test_use_repo_errors(tmp_path):
    e = error(tmp_path, 'use_repo("crate", "crates")\n')
    assert e.message.startswith("use_repo() takes the value use_extension() returned first")
    assert e.location.line == 1
    e = error(tmp_path, f'''crate = use_extension({CRATE})
crate.from_specs()
use_repo(crate, "crates")
use_repo(crate, "crates")
''')
    assert "the repository name 'crates' is already in use" in e.message
    assert e.location.line == 4


def test_rust_toolchain_extension(tmp_path):
    info = evaluate(tmp_path, '''module(name = "ws")
bazel_dep(name = "rules_rust", version = "0.57.0")
register_toolchains("@rust_toolchains//:all")
rust = use_extension("@rules_rust//rust:extensions.bzl", "rust")
rust.toolchain(edition = "2021", versions = ["1.84.0"])
use_repo(rust, "rust_toolchains")
''')
    assert [r.pattern for r in info.toolchains] == ["@rust_toolchains//:all"]
    assert info.extensions[0].tags[0].attrs == {"edition": "2021", "versions": ["1.84.0"]}
    assert info.repos["rust_toolchains"].kind == "rust"
    assert not is_crate_extension(info.extensions[0])


def test_registering_from_a_repository_not_visible(tmp_path):
    e = error(tmp_path, 'module(name = "ws")\n\nregister_toolchains("@pythons_hub//:all")\n')
    assert e.message == 'register_toolchains("@pythons_hub//:all"): no repository \'@pythons_hub\' is visible from MODULE.bazel'
    assert e.location == Location("MODULE.bazel", 3, 1)


def test_use_repo_rule_declares_a_repository(tmp_path):
    info = evaluate(tmp_path, '''http_archive = use_repo_rule("@bazel_tools//tools/build_defs/repo:http.bzl", "http_archive")

http_archive(
    name = "zlib",
    urls = ["https://example.com/zlib.tar.gz"],
    sha256 = "ab" * 32,
    build_file = "//third_party:zlib.BUILD",
)
''')
    decl = info.repos["zlib"]
    assert (decl.kind, decl.location) == ("http_archive", Location("MODULE.bazel", 3, 1))
    assert decl.usage.tags[0].attrs == {"name": "zlib", "urls": ["https://example.com/zlib.tar.gz"],
                                        "sha256": "ab" * 32, "build_file": "//third_party:zlib.BUILD"}


def test_use_repo_rule_errors(tmp_path):
    e = error(tmp_path, 'x = use_repo_rule("@bazel_tools//tools/build_defs/repo:http.bzl", "ftp_archive")\n')
    assert e.message == ("kiln does not implement the repository rule 'ftp_archive' from "
                         "@bazel_tools//tools/build_defs/repo:http.bzl")
    assert e.location.line == 1
    e = error(tmp_path, '''http_archive = use_repo_rule("@bazel_tools//tools/build_defs/repo:http.bzl", "http_archive")
http_archive(name = "z", urls = ["https://x/z.zip"], sha265 = "00")
''')
    assert e.message == 'http_archive(name = "z"): unknown attribute \'sha265\' (did you mean \'sha256\'?)'
    assert e.location == Location("MODULE.bazel", 2, 1)
    e = error(tmp_path, '''http_archive = use_repo_rule("@bazel_tools//tools/build_defs/repo:http.bzl", "http_archive")
http_archive(name = "z", sha256 = "00")
''')
    assert e.message == 'http_archive(name = "z"): give url or urls'


def test_bazel_dep_unchanged(tmp_path):
    info = evaluate(tmp_path, 'module(name = "ws", version = "1.0")\nbazel_dep(name = "rules_python", version = "1")\n')
    assert (info.name, info.version, info.bazel_deps, info.extensions, info.repos) == (
        "ws", "1.0", {"rules_python": "rules_python"}, [], {})
    e = error(tmp_path, 'module(name = "ws")\n\nbazel_dep(name = "rules_go", version = "1")\n')
    assert e.message.startswith(
        'bazel_dep(name = "rules_go"): kiln cannot find the module \'rules_go\': kiln has no module registry yet. '
        'Give its directory in the root MODULE.bazel with local_path_override(module_name = "rules_go", '
        'path = "..."), or depend only on the rule sets kiln provides itself: aspect_bazel_lib, bazel_skylib')
    assert e.location == Location("MODULE.bazel", 3, 1)


# ---- WORKSPACE ----------------------------------------------------------------

WORKSPACE = '''workspace(name = "pyo3_example")

load("@rules_rust//rust:repositories.bzl", "rules_rust_dependencies", "rust_register_toolchains")
rules_rust_dependencies()
rust_register_toolchains(edition = "2018")

load("@rules_rust//crate_universe:repositories.bzl", "crate_universe_dependencies")
crate_universe_dependencies()

load("@rules_rust//crate_universe:defs.bzl", "crate", "crates_repository")

crates_repository(
    name = "crate_index",
    cargo_lockfile = "//:Cargo.lock",
    lockfile = "//:Cargo.Bazel.lock",
    manifests = ["//:Cargo.toml"],
    packages = {
        "pyo3": crate.spec(version = "0.23", features = ["extension-module"]),
    },
    annotations = {
        "pyo3-build-config": [crate.annotation(
            build_script_data = ["@python_3_11//:files"],
            build_script_env = {"PYO3_PYTHON": "$(execpath @python_3_11//:python3)"},
        )],
    },
)

load("@crate_index//:defs.bzl", "crate_repositories")
crate_repositories()
'''


def test_workspace_crates_repository(tmp_path):
    info = evaluate(tmp_path, workspace=WORKSPACE)
    assert info.name == "pyo3_example"
    [usage] = info.extensions
    assert (usage.bzl_label, usage.name) == (CRATE_UNIVERSE_DEFS, "crates_repository")
    assert is_workspace_crate_rule(usage)
    [tag] = usage.tags
    assert tag.location == Location("WORKSPACE", 12, 1)
    assert tag.attrs["packages"] == {"pyo3": {"version": "0.23", "features": ["extension-module"]}}
    assert tag.attrs["annotations"]["pyo3-build-config"][0]["build_script_env"] == {
        "PYO3_PYTHON": "$(execpath @python_3_11//:python3)"}
    assert tag.attrs["manifests"] == ["//:Cargo.toml"] and tag.attrs["lockfile"] == "//:Cargo.Bazel.lock"
    assert tag.key_location("packages", "pyo3").line == 18
    assert tag.key_location("annotations", "pyo3-build-config").line == 21
    assert info.repos["crate_index"].kind == "crates_repository"


def test_workspace_crate_helpers_check_attributes(tmp_path):
    e = error(tmp_path, workspace='''load("@rules_rust//crate_universe:defs.bzl", "crate", "crates_repository")
crates_repository(
    name = "crate_index",
    packages = {"pyo3": crate.spec(version = "0.23", feature = ["x"])},
)
''')
    assert e.message == "crate.spec(): unknown attribute 'feature' (did you mean 'features'?)"
    assert e.location.line == 4


def test_workspace_crates_vendor_and_duplicates(tmp_path):
    info = evaluate(tmp_path, workspace='''load("@rules_rust//crate_universe:defs.bzl", "crate", "crates_vendor")
crates_vendor(name = "vendor", packages = {"rayon": crate.spec(version = "1")}, mode = "remote")
''')
    assert info.extensions[0].name == "crates_vendor" and info.repos["vendor"].kind == "crates_vendor"
    e = error(tmp_path, workspace='''load("@rules_rust//crate_universe:defs.bzl", "crates_repository")
crates_repository(name = "c", packages = {})
crates_repository(name = "c", packages = {})
''')
    assert "the repository name 'c' is already in use" in e.message and e.location.line == 3
    e = error(tmp_path, workspace='''load("@rules_rust//crate_universe:defs.bzl", "crates_repository")
crates_repository(name = "c", packages = {"pyo3": "0.23"})
''')
    assert "'packages' must be a dict of crate names to crate.spec(...)" in e.message


def test_workspace_pip_parse_without_a_lock(tmp_path):
    from kiln.repos.pip_extension import host_platform_name

    e = error(tmp_path, workspace='load("@rules_python//python:pip.bzl", "pip_parse")\npip_parse(name = "pip")\n')
    host = host_platform_name()
    assert e.message == (f'pip_parse(name = "pip"): no lock for this machine ({host}): give requirements_lock, '
                         f"requirements_linux, or a requirements_by_platform entry matching {host}")
    assert e.location == Location("WORKSPACE", 2, 1)


# ---- register_toolchains / register_execution_platforms ----------------------

REG_MODULE = '''module(name = "ws")
bazel_dep(name = "platforms", version = "0.0.10")

register_toolchains("//toolchains:all")
register_execution_platforms("//platforms:linux_x86", "@platforms//host")
register_toolchains(
    "//tools:py",
    "@ws//more/...",
    dev_dependency = True,
)
'''

REG_WORKSPACE = '''workspace(name = "ws")
# register_toolchains("//commented:out")
register_toolchains("//ws_toolchains:a", "//ws_toolchains:b")
register_execution_platforms("//platforms:ws_exec")
'''


def test_module_registrations_in_order_with_lines_and_dev_dependency(tmp_path):
    info = evaluate(tmp_path, REG_MODULE)
    assert info.toolchains == [
        Registration("//toolchains:all", Location("MODULE.bazel", 4, 1)),
        Registration("//tools:py", Location("MODULE.bazel", 6, 1), dev_dependency=True),
        Registration("@ws//more/...", Location("MODULE.bazel", 6, 1), dev_dependency=True),
    ]
    assert info.execution_platforms == [
        Registration("//platforms:linux_x86", Location("MODULE.bazel", 5, 1)),
        Registration("@platforms//host", Location("MODULE.bazel", 5, 1)),
    ]


def test_workspace_registrations(tmp_path):
    info = evaluate(tmp_path, workspace=REG_WORKSPACE)
    assert info.toolchains == [
        Registration("//ws_toolchains:a", Location("WORKSPACE", 3, 1)),
        Registration("//ws_toolchains:b", Location("WORKSPACE", 3, 1)),
    ]
    assert info.execution_platforms == [Registration("//platforms:ws_exec", Location("WORKSPACE", 4, 1))]


def test_root_module_comes_before_workspace(tmp_path):
    info = evaluate(tmp_path, REG_MODULE, REG_WORKSPACE)
    assert [r.pattern for r in info.toolchains] == [
        "//toolchains:all", "//tools:py", "@ws//more/...", "//ws_toolchains:a", "//ws_toolchains:b"]
    assert [(r.pattern, r.location.file) for r in info.execution_platforms] == [
        ("//platforms:linux_x86", "MODULE.bazel"), ("@platforms//host", "MODULE.bazel"),
        ("//platforms:ws_exec", "WORKSPACE")]


def test_registration_before_its_use_repo_is_fine(tmp_path):
    info = evaluate(tmp_path, '''module(name = "ws")
bazel_dep(name = "rules_rust", version = "0.57.0")
register_execution_platforms("@rust_toolchains//:all")
rust = use_extension("@rules_rust//rust:extensions.bzl", "rust")
use_repo(rust, "rust_toolchains")
''')
    assert info.execution_platforms == [Registration("@rust_toolchains//:all", Location("MODULE.bazel", 3, 1))]


def test_bad_registrations(tmp_path):
    e = error(tmp_path, 'module(name = "ws")\nregister_toolchains("//a:b:c")\n')
    assert e.message.startswith('register_toolchains("//a:b:c"): invalid')
    assert e.location == Location("MODULE.bazel", 2, 1)
    e = error(tmp_path, 'module(name = "ws")\n\nregister_execution_platforms("@nowhere//:p")\n')
    assert e.message == ("register_execution_platforms(\"@nowhere//:p\"): no repository '@nowhere' "
                         "is visible from MODULE.bazel")
    assert e.location == Location("MODULE.bazel", 3, 1)
    e = error(tmp_path, 'module(name = "ws")\nregister_toolchains(3)\n')
    assert e.message == "register_toolchains() takes target patterns as strings, got 3"
    assert e.location.line == 2
    e = error(tmp_path, 'module(name = "ws")\nregister_toolchains("//a", dev_dependency = "yes")\n')
    assert e.message == "register_toolchains(): dev_dependency must be a bool"


def test_workspace_has_no_dev_dependency(tmp_path):
    (tmp_path / "MODULE.bazel").unlink(missing_ok=True)
    e = error(tmp_path, workspace='workspace(name = "ws")\n\nregister_toolchains("//a", dev_dependency = True)\n')
    assert e.message == "register_toolchains() got an unexpected keyword argument 'dev_dependency'"
    assert e.location == Location("WORKSPACE", 3, 1)
    e = error(tmp_path, workspace='register_execution_platforms("@nowhere//:p")\n')
    assert e.message == "register_execution_platforms(\"@nowhere//:p\"): no repository '@nowhere' is visible from WORKSPACE"
