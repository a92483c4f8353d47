"""constraint_setting, platform, toolchain_type and toolchain analysed: the providers resolution reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiln.analysis.analyzer import Analyzer
from kiln.analysis.providers import (
    ConfigMatchingInfo,
    ConstraintValueInfo,
    DeclaredToolchainInfo,
    PlatformInfo,
    ToolchainTypeInfo,
)
from kiln.repos.host_repos import HostRepositories
from kiln.core.config import Configuration
from kiln.core.errors import KilnError
from kiln.core.labels import Label, parse_label
from kiln.loading.loader import Loader
from kiln.loading.workspace import Workspace
from kiln.rules import default_registry

CONSTRAINTS = '''
package(default_visibility = ["//visibility:public"])
constraint_setting(name = "os")
constraint_value(name = "linux", constraint_setting = ":os")
constraint_value(name = "macos", constraint_setting = ":os")
constraint_setting(name = "cpu")
constraint_value(name = "x86_64", constraint_setting = ":cpu")
constraint_value(name = "arm64", constraint_setting = ":cpu")
constraint_setting(name = "libc", default_constraint_value = ":glibc")
constraint_value(name = "glibc", constraint_setting = ":libc")
constraint_value(name = "musl", constraint_setting = ":libc")
'''


def c(name: str) -> Label:
    return Label("", "c", name)


def analyze(tmp_path: Path, files: dict[str, str], label: str):
    for rel, text in {"MODULE.bazel": "", "c/BUILD.bazel": CONSTRAINTS, **files}.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    loader = Loader(Workspace(tmp_path), default_registry(), report=lambda level, text: None,
                  repositories=HostRepositories(tmp_path / "kiln-external"))
    return Analyzer(loader, Configuration()).analyze(parse_label(label))


def error(tmp_path: Path, files: dict[str, str], label: str) -> KilnError:
    with pytest.raises(KilnError) as info:
        analyze(tmp_path, files, label)
    return info.value


def test_constraint_values_carry_their_settings_default(tmp_path):
    musl = analyze(tmp_path, {}, "//c:musl").get(ConstraintValueInfo)
    assert musl == ConstraintValueInfo(c("musl"), c("libc"), c("glibc"))
    assert analyze(tmp_path, {}, "//c:linux").get(ConstraintValueInfo).setting_default is None


def test_platform_inherits_parent_values_and_merges_exec_properties(tmp_path):
    build = '''
platform(name = "base", constraint_values = ["//c:linux", "//c:x86_64"],
         exec_properties = {"OSFamily": "Linux", "pool": "small", "gone": "x"})
platform(name = "child", parents = [":base"], constraint_values = ["//c:arm64", "//c:musl"],
         exec_properties = {"pool": "large", "gone": ""})
'''
    info = analyze(tmp_path, {"p/BUILD.bazel": build}, "//p:child").get(PlatformInfo)
    assert {(v.setting, v.label) for v in info.constraints} == {
        (c("os"), c("linux")), (c("cpu"), c("arm64")), (c("libc"), c("musl"))}
    assert info.exec_properties == (("OSFamily", "Linux"), ("pool", "large"))


def test_platform_with_two_values_of_one_setting(tmp_path):
    build = 'platform(name = "p", constraint_values = ["//c:linux", "//c:x86_64", "//c:macos"])\n'
    e = error(tmp_path, {"p/BUILD.bazel": build}, "//p:p")
    assert e.message == "Duplicate constraint values detected: constraint_setting //c:os has [//c:linux, //c:macos]"
    assert e.target == "constraint_values attribute of platform rule //p:p"
    assert (e.location.file, e.location.line) == ("p/BUILD.bazel", 1)


def test_platform_with_two_parents(tmp_path):
    build = 'platform(name = "a")\nplatform(name = "b")\nplatform(name = "p", parents = [":a", ":b"])\n'
    e = error(tmp_path, {"p/BUILD.bazel": build}, "//p:p")
    assert e.message == "a platform can have at most one parent (as in Bazel), got //p:a, //p:b"


def test_default_value_must_be_in_the_settings_package(tmp_path):
    e = error(tmp_path, {"d/BUILD.bazel": 'constraint_setting(name = "s", default_constraint_value = "//c:linux")\n'},
              "//d:s")
    assert e.message == "the default value '//c:linux' must be in the same package as the constraint_setting"


TOOLCHAINS = '''
toolchain_type(name = "type")
config_setting(name = "opt", values = {"compilation_mode": "opt"})
toolchain(
    name = "tc",
    toolchain_type = ":type",
    toolchain = ":impl",
    target_compatible_with = ["//c:linux", "//c:musl"],
    exec_compatible_with = ["//c:x86_64"],
    target_settings = [":opt"],
)
toolchain(name = "bad", toolchain_type = "//c:linux", toolchain = "//elsewhere:impl")
'''


def test_toolchain_type_and_declared_toolchain(tmp_path):
    files = {"t/BUILD.bazel": TOOLCHAINS}
    assert analyze(tmp_path, files, "//t:type").get(ToolchainTypeInfo) == ToolchainTypeInfo(Label("", "t", "type"))
    info = analyze(tmp_path, files, "//t:tc").get(DeclaredToolchainInfo)
    assert info.toolchain_type == Label("", "t", "type")
    # The implementation is named, not analysed (there is no //t:impl target).
    assert info.toolchain == Label("", "t", "impl")
    assert [v.label for v in info.target_compatible_with] == [c("linux"), c("musl")]
    assert info.target_compatible_with[1].setting_default == c("glibc")
    assert [v.label for v in info.exec_compatible_with] == [c("x86_64")]
    assert info.target_settings == (Label("", "t", "opt"),)


def test_toolchain_whose_type_is_not_a_toolchain_type(tmp_path):
    e = error(tmp_path, {"t/BUILD.bazel": TOOLCHAINS}, "//t:bad")
    assert e.message == "'//c:linux' is not a toolchain_type (toolchain //t:bad names it as its toolchain_type)"
    assert e.target == "toolchain_type attribute of toolchain rule //t:bad"
    assert e.location.line == 12


def test_config_setting_constraint_values_honour_setting_defaults(tmp_path):
    # The (host) target platform says nothing about //c:libc, so it has the default, glibc.
    build = '''
config_setting(name = "glibc", constraint_values = ["//c:glibc"])
config_setting(name = "musl", constraint_values = ["//c:musl"])
'''
    files = {"s/BUILD.bazel": build}
    assert analyze(tmp_path, files, "//s:glibc").get(ConfigMatchingInfo).matches
    musl = analyze(tmp_path, files, "//s:musl").get(ConfigMatchingInfo)
    assert (musl.matches, musl.mismatch) == (False, "the target platform lacks //c:musl")
