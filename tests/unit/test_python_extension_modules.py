"""The bzlmod `python` extension as MODULE.bazel files see it: which module's choices win, what a library may
set, the repositories and registrations it makes, and the messages of rules_python's rules."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kiln.core.errors import LoadingError, Location
from kiln.loading.module_files import read_module_files
from kiln.loading.module_info import ModuleInfo
from kiln.repos.definitions import default_definitions
from kiln.repos.python_tool_versions import MINOR_MAPPING

USE = 'python = use_extension("@rules_python//python/extensions:python.bzl", "python")\n'
LIB_DEP = 'bazel_dep(name = "lib")\nlocal_path_override(module_name = "lib", path = "../lib")\n'


def read(tmp_path: Path, root: str, lib: str | None = None) -> ModuleInfo:
    files = {"root/MODULE.bazel": 'module(name = "app")\n' + (LIB_DEP if lib is not None else "") + USE + root}
    if lib is not None:
        files["lib/MODULE.bazel"] = 'module(name = "lib")\n' + USE + lib
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(textwrap.dedent(text))
    return read_module_files(tmp_path / "root", default_definitions())


def error(tmp_path: Path, root: str, lib: str | None = None) -> LoadingError:
    with pytest.raises(LoadingError) as caught:
        read(tmp_path, root, lib)
    return caught.value


def registered(info: ModuleInfo) -> list[str]:
    """The toolchain repositories registered, in order, once each."""
    out: list[str] = []
    for r in info.toolchains:
        repo = r.pattern.split("//")[0].lstrip("@")
        if repo not in out:
            out.append(repo)
    return out


def constrained(info: ModuleInfo, version_repo: str) -> bool:
    (tag,) = info.repos[f"{version_repo}_toolchains"].usage.tags
    return tag.attrs["set_python_version_constraint"]


def test_root_default_is_registered_last_and_unconstrained(tmp_path):
    info = read(tmp_path, 'python.toolchain(python_version = "3.12")\npython.toolchain(python_version = "3.11")\n'
                          'python.defaults(python_version = "3.12")\n')
    assert registered(info) == ["python_3_11_toolchains", "python_3_12_toolchains"]
    assert constrained(info, "python_3_11") and not constrained(info, "python_3_12")
    for name in ("python_3_11", "python_3_11_host", "python_3_12", "pythons_hub", "python_versions",
                 "python_3_12_x86_64-unknown-linux-gnu"):
        assert name in info.repos, name
    (hub,) = info.repos["pythons_hub"].usage.tags
    assert hub.attrs["default_python_version"] == "3.12"
    assert hub.attrs["minor_mapping"]["3.11"] == MINOR_MAPPING["3.11"]
    (versions,) = info.repos["python_versions"].usage.tags
    assert versions.attrs["python_versions"] == {"3.11": "python_3_11", "3.12": "python_3_12"}
    assert info.warnings == []


def test_single_root_toolchain_is_the_default(tmp_path):
    info = read(tmp_path, 'python.toolchain(python_version = "3.12")\n')
    # rules_python's own 3.11 is registered too, before the default.
    assert registered(info) == ["python_3_11_toolchains", "python_3_12_toolchains"]
    assert not constrained(info, "python_3_12")


def test_is_default_picks_the_default_among_several(tmp_path):
    info = read(tmp_path, 'python.toolchain(python_version = "3.13", is_default = True)\n'
                          'python.toolchain(python_version = "3.12")\n')
    assert registered(info)[-1] == "python_3_13_toolchains"


def test_without_a_root_choice_rules_pythons_3_11_is_the_default(tmp_path):
    info = read(tmp_path, "", lib='python.toolchain(python_version = "3.12")\n')
    assert registered(info) == ["python_3_12_toolchains", "python_3_11_toolchains"]
    assert not constrained(info, "python_3_11") and constrained(info, "python_3_12")


def test_a_version_the_root_also_asks_for_is_registered_once_with_rules_pythons_message(tmp_path):
    info = read(tmp_path, 'python.toolchain(python_version = "3.12")\n',
                lib='python.toolchain(python_version = "3.12")\npython.toolchain(python_version = "3.13")\n'
                    'use_repo(python, "python_3_13")\n')
    assert registered(info) == ["python_3_13_toolchains", "python_3_11_toolchains", "python_3_12_toolchains"]
    assert info.warnings == [
        "Ignoring toolchain 'python_3_12' from module 'lib': Toolchain 'python_3_12' from module 'app' already "
        "registered Python version 3.12 and has precedence."]
    # The library sees what it imported.
    assert info.local_modules["lib"].repo_mapping["python_3_13"] == "python_3_13"


@pytest.mark.parametrize("tag, name", [
    ('python.defaults(python_version = "3.13")', "defaults"),
    ('python.override(base_url = "https://mirror.example/pbs")', "override"),
    ('python.single_version_override(python_version = "3.13.1", sha256 = {"x86_64-unknown-linux-gnu": "00"}, '
     'urls = ["x"])', "single_version_override"),
])
def test_root_only_tags_of_a_library_are_ignored_with_a_warning_naming_it(tmp_path, tag, name):
    info = read(tmp_path, 'python.toolchain(python_version = "3.12")\n',
                lib=f'python.toolchain(python_version = "3.13")\n{tag}\n')
    assert info.warnings == [f"../lib/MODULE.bazel:4:8: python.{name}() of module 'lib' is ignored: only the root "
                             f"module's python.{name}() takes effect, as in rules_python"]
    assert registered(info)[-1] == "python_3_12_toolchains"
    (runtime,) = info.repos["python_3_13_x86_64-unknown-linux-gnu"].usage.tags
    assert runtime.attrs["python_version"] == MINOR_MAPPING["3.13"]
    assert runtime.attrs["urls"][0].startswith("https://github.com/astral-sh/python-build-standalone/")


@pytest.mark.parametrize("root, lib, message, location", [
    ('python.toolchain(python_version = "3.11", is_default = True)\n'
     'python.toolchain(python_version = "3.12", is_default = True)\n', None,
     "Multiple default toolchains: only one toolchain can have is_default=True.\n"
     "Module 'app' contains 2 toolchains with is_default=True: 3.11, 3.12", ("MODULE.bazel", 4)),
    ('python.toolchain(python_version = "3.12")\n',
     'python.toolchain(python_version = "3.11")\npython.toolchain(python_version = "3.11")\n',
     "Duplicate module toolchain version: module 'lib' attempted to use version '3.11' multiple times in itself",
     ("../lib/MODULE.bazel", 4)),
    ('python.toolchain(python_version = "3.11")\npython.toolchain(python_version = "3.12")\n'
     'python.defaults(python_version = "3.13")\n', None,
     "No default Python toolchain configured: the root module's default version '3.13' is not one it asks for "
     "with python.toolchain()", ("MODULE.bazel", 5)),
    ('python.toolchain(python_version = "3.11")\npython.defaults(python_version = "3.11")\n'
     'python.defaults(python_version = "3.12")\n', None,
     "Multiple python_version entries in defaults: First default was python_version '3.11'. Second was "
     "python_version '3.12'", ("MODULE.bazel", 5)),
])
def test_rules_pythons_errors_about_defaults_and_duplicates(tmp_path, root, lib, message, location):
    e = error(tmp_path, root, lib)
    assert e.message == message
    assert e.location == Location(*location, 8)


def test_use_repo_of_a_repository_the_extension_does_not_make(tmp_path):
    e = error(tmp_path, 'python.toolchain(python_version = "3.12")\nuse_repo(python, "python_3_10")\n')
    assert e.message.startswith("module extension 'python' from @rules_python//python/extensions:python.bzl does "
                                "not generate repository 'python_3_10', yet use_repo() imports it; it generates: ")
    assert "python_3_12_host" in e.message
    assert e.location == Location("MODULE.bazel", 4, 1)


@pytest.mark.parametrize("tag, message", [
    ('python.single_version_override(python_version = "3.12")',
     "The 'python_version' attribute needs to specify the full version in at least 'X.Y.Z' format, got: '3.12'"),
    ('python.single_version_override(python_version = "3.12.1", urls = ["x"])',
     "Both `sha256` and `urls` overrides need to be provided together"),
    ('python.override(minor_mapping = {"3": "3.12.1"})', "Expected the key to be of `X.Y` format but got `3`"),
    ('python.override(available_python_versions = ["3.99.0"])', "unknown version '3.99.0', known versions are: "),
    ('python.toolchain(python_version = "3.12")', "Duplicate module toolchain version: module 'app' attempted to "
                                                  "use version '3.12' multiple times in itself"),
])
def test_bad_root_tags(tmp_path, tag, message):
    e = error(tmp_path, f'python.toolchain(python_version = "3.12")\n{tag}\n')
    assert e.message.startswith(message), e.message
    assert e.location == Location("MODULE.bazel", 4, 8)


def test_python_version_file_sets_the_default_and_is_watched(tmp_path):
    (tmp_path / "root").mkdir()
    (tmp_path / "root/.python-version").write_text("3.13\n")
    info = read(tmp_path, 'python.toolchain(python_version = "3.12")\npython.toolchain(python_version = "3.13")\n'
                          'python.defaults(python_version_file = "//:.python-version")\n')
    assert registered(info)[-1] == "python_3_13_toolchains"
    assert str(tmp_path / "root/.python-version") in info.files


@pytest.mark.parametrize("version_file, extra, message", [
    (None, "", 'python.defaults(python_version_file = "//:.python-version"): the file .python-version does not '
               "exist"),
    ("\n", "", 'python.defaults(python_version_file = "//:.python-version"): the file .python-version is empty'),
    ("3.13\n", ', python_version = "3.12"', "Unique value needed, got both '3.12' and '3.13', which are different "
                                            "(python_version and the python_version_file //:.python-version)"),
])
def test_bad_python_version_file(tmp_path, version_file, extra, message):
    (tmp_path / "root").mkdir()
    if version_file is not None:
        (tmp_path / "root/.python-version").write_text(version_file)
    e = error(tmp_path, 'python.toolchain(python_version = "3.12")\n'
                        f'python.defaults(python_version_file = "//:.python-version"{extra})\n')
    assert e.message == message
    assert e.location == Location("MODULE.bazel", 4, 8)


@pytest.mark.parametrize("tag, message", [
    ('python.single_version_override(python_version = "3.12.1", patches = ["//:fix.patch"])',
     "python.single_version_override(): kiln does not support 'patches' yet"),
    ('python.single_version_platform_override(python_version = "3.12.1", platform = "x86_64-unknown-linux-gnu", '
     'patches = ["//:fix.patch"])', "python.single_version_platform_override(): kiln does not support 'patches' yet"),
    ('python.single_version_override(python_version = "3.99.1")',
     "python.single_version_override(python_version = \"3.99.1\"): Python 3.99.1 is not in kiln's table: give its "
     "sha256 and urls"),
])
def test_what_kiln_does_not_do_yet_fails_at_the_tag(tmp_path, tag, message):
    e = error(tmp_path, f'python.toolchain(python_version = "3.12")\n{tag}\n')
    assert e.message == message
    assert e.location == Location("MODULE.bazel", 4, 8)


def test_a_version_the_table_lacks_is_skipped_with_a_warning_unless_it_is_the_default(tmp_path):
    info = read(tmp_path, 'python.toolchain(python_version = "3.12")\n',
                lib='python.toolchain(python_version = "3.7")\n')
    assert "python_3_7" not in info.repos
    (warning,) = info.warnings
    assert warning.startswith("../lib/MODULE.bazel:3:8: The actual toolchain for python_version '3.7' has not been "
                              "registered, but was requested by module 'lib': Python 3.7 is not in kiln's "
                              "python-build-standalone table (rules_python's versions.bzl); known versions: 3.9, ")
    e = error(tmp_path, 'python.toolchain(python_version = "3.7")\n')
    assert e.message.startswith('python.toolchain(python_version = "3.7"): the default version: Python 3.7 is not in '
                                "kiln's python-build-standalone table")
    assert e.location == Location("MODULE.bazel", 3, 8)


def test_python_version_env_picks_the_default_when_set_and_is_watched(tmp_path, monkeypatch):
    tags = ('python.toolchain(python_version = "3.12")\npython.toolchain(python_version = "3.13")\n'
            'python.defaults(python_version = "3.12", python_version_env = "APP_PYTHON")\n')
    monkeypatch.setenv("APP_PYTHON", "3.13")
    info = read(tmp_path, tags)
    assert registered(info)[-1] == "python_3_13_toolchains"
    assert info.env == ["APP_PYTHON"]
    monkeypatch.delenv("APP_PYTHON")
    assert registered(read(tmp_path, tags))[-1] == "python_3_12_toolchains"


def test_two_python_version_env_names(tmp_path):
    e = error(tmp_path, 'python.toolchain(python_version = "3.12")\npython.defaults(python_version_env = "A")\n'
                        'python.defaults(python_version_env = "B")\n')
    assert e.message == ("Multiple python_version_env entries in defaults: First default was python_version_env 'A'. "
                         "Second was python_version_env 'B'")
    assert e.location == Location("MODULE.bazel", 5, 8)


def test_register_all_versions_registers_every_version_and_minor_version_quietly(tmp_path):
    info = read(tmp_path, 'python.toolchain(python_version = "3.12")\npython.override(register_all_versions = True)\n',
                lib='python.toolchain(python_version = "3.11")\n')
    from kiln.repos.python_tool_versions import TOOL_VERSIONS

    names = {"python_" + v.replace(".", "_") + "_toolchains" for v in [*TOOL_VERSIONS, *MINOR_MAPPING]}
    assert set(registered(info)) == names
    assert registered(info)[-1] == "python_3_12_toolchains"
    assert info.warnings == []


def test_configure_coverage_tool_is_accepted_and_said_to_change_nothing(tmp_path):
    info = read(tmp_path, 'python.toolchain(python_version = "3.12", configure_coverage_tool = True)\n')
    assert info.warnings == ["MODULE.bazel:3:8: python.toolchain(configure_coverage_tool = True) changes nothing in "
                             "kiln: kiln has no `coverage` command yet"]


def test_minor_mapping_is_the_newest_patch_and_override_has_the_last_word(tmp_path):
    info = read(tmp_path, 'python.toolchain(python_version = "3.12")\n'
                          'python.override(minor_mapping = {"3.11": "3.11.4"})\n')
    (hub,) = info.repos["pythons_hub"].usage.tags
    assert hub.attrs["minor_mapping"]["3.12"] == "3.12.12"
    assert hub.attrs["minor_mapping"]["3.11"] == "3.11.4"
    (runtime,) = info.repos["python_3_11_x86_64-unknown-linux-gnu"].usage.tags
    assert runtime.attrs["python_version"] == "3.11.4"


def test_versions_the_minor_mapping_points_at_are_registered_before_other_patch_versions(tmp_path):
    info = read(tmp_path, 'python.toolchain(python_version = "3.12.1")\npython.toolchain(python_version = "3.12")\n'
                          'python.toolchain(python_version = "3.13", is_default = True)\n')
    assert registered(info) == ["python_3_12_toolchains", "python_3_11_toolchains", "python_3_12_1_toolchains",
                                "python_3_13_toolchains"]


SEED_PLATFORM = '''python.single_version_platform_override(
    platform = "my-platform",
    python_version = "3.13.3",
    sha256 = "01d08b9bc8a96698b9d64c2fc26da4ecc4fa9e708ce0a34fb88f11ab7e552cbd",
    os_name = "linux",
    arch = "x86_64",
    target_settings = ["@@//:runtime=my-custom-runtime"],
    urls = ["https://github.com/astral-sh/python-build-standalone/releases/download/20250409/cpython-3.13.3+20250409-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz"],
    strip_prefix = "python",
)
python.toolchain(python_version = "3.13.3")
'''


def test_seed_custom_runtime_is_a_platform_of_its_own_considered_first(tmp_path):
    info = read(tmp_path, 'python.toolchain(python_version = "3.12")\n' + SEED_PLATFORM)
    (runtime,) = info.repos["python_3_13_3_my-platform"].usage.tags
    assert runtime.attrs["urls"] == ["https://github.com/astral-sh/python-build-standalone/releases/download/20250409/"
                                     "cpython-3.13.3+20250409-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz"]
    assert runtime.attrs["sha256"] == "01d08b9bc8a96698b9d64c2fc26da4ecc4fa9e708ce0a34fb88f11ab7e552cbd"
    assert runtime.attrs["release_filename"].endswith("-install_only_stripped.tar.gz")
    (toolchains,) = info.repos["python_3_13_3_toolchains"].usage.tags
    assert toolchains.attrs["platforms"] == ["my-platform"]
    assert toolchains.attrs["custom_platforms"] == {"my-platform": {
        "compatible_with": ["@platforms//os:linux", "@platforms//cpu:x86_64"],
        "target_settings": ["@@//:runtime=my-custom-runtime"], "os_name": "linux", "arch": "x86_64"}}
    # 3.13.3 is not in kiln's table: the custom platform is its only one; other versions do not get it.
    assert "python_3_12_my-platform" not in info.repos


def test_a_custom_platform_of_a_known_version_comes_before_kilns_own(tmp_path):
    info = read(tmp_path, 'python.toolchain(python_version = "3.12")\n' + SEED_PLATFORM.replace("3.13.3", "3.13.1"))
    (toolchains,) = info.repos["python_3_13_1_toolchains"].usage.tags
    assert toolchains.attrs["platforms"][0] == "my-platform"
    assert "x86_64-unknown-linux-gnu" in toolchains.attrs["platforms"]
    patterns = [r.pattern for r in info.toolchains if r.pattern.startswith("@python_3_13_1_toolchains//")]
    assert patterns[0] == "@python_3_13_1_toolchains//:my-platform_toolchain"


def test_overriding_a_known_platforms_archive_keeps_it_a_known_platform(tmp_path):
    info = read(tmp_path, 'python.toolchain(python_version = "3.12.1")\n'
                          'python.single_version_platform_override(python_version = "3.12.1", '
                          'platform = "x86_64-unknown-linux-gnu", sha256 = "ab" * 32, '
                          'urls = ["https://mirror.example/py.tar.gz"])\n')
    (runtime,) = info.repos["python_3_12_1_x86_64-unknown-linux-gnu"].usage.tags
    assert runtime.attrs["urls"] == ["https://mirror.example/py.tar.gz"]
    assert runtime.attrs["sha256"] == "ab" * 32
    (toolchains,) = info.repos["python_3_12_1_toolchains"].usage.tags
    assert "custom_platforms" not in toolchains.attrs
    (other,) = info.repos["python_3_12_1_aarch64-unknown-linux-gnu"].usage.tags
    assert other.attrs["urls"][0].startswith("https://github.com/astral-sh/python-build-standalone/")


@pytest.mark.parametrize("tag, message", [
    ('python.single_version_platform_override(python_version = "3.13.99", platform = "p", sha256 = "00", '
     'urls = ["https://x/y.tar.gz"])',
     "When introducing a new python_version '3.13.99', 'sha256', 'strip_prefix' and 'urls' must be specified"),
    ('python.single_version_platform_override(python_version = "3.13.1", platform = "p", os_name = "linux")',
     'python.single_version_platform_override(python_version = "3.13.1", platform = "p"): Python 3.13.1 has no '
     "archive for 'p' to start from: give its `urls` and `sha256`"),
    ('python.single_version_platform_override(python_version = "3.13.1", platform = "p", sha256 = "00", '
     'urls = ["https://x/y.tar.gz"], target_settings = ["//:custom"])',
     "python.single_version_platform_override(): the label '//:custom' must be absolute (`@@//pkg:name` for the "
     "main repository)"),
    ('python.single_version_platform_override(python_version = "3.13", platform = "p")',
     "The 'python_version' attribute needs to specify the full version in at least 'X.Y.Z' format, got: '3.13'"),
])
def test_bad_single_version_platform_override(tmp_path, tag, message):
    e = error(tmp_path, f'python.toolchain(python_version = "3.12")\n{tag}\n')
    assert e.message == message
    assert e.location == Location("MODULE.bazel", 4, 8)
