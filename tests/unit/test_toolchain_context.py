"""What analysis hands a rule from resolution: exec_properties on actions, ctx.toolchains, incompatibility."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiln.analysis.analyzer import Analyzer
from kiln.analysis.providers import IncompatiblePlatformInfo, PlatformInfo
from kiln.analysis.toolchains import ToolchainContext, ToolchainOptions
from kiln.core.config import Configuration
from kiln.core.errors import AnalysisError
from kiln.core.labels import Label, parse_label
from kiln.loading.loader import Loader
from kiln.loading.workspace import Workspace
from kiln.repos.host_repos import HostRepositories
from kiln.rules import default_registry

BUILD = '''
platform(name = "remote", exec_properties = {"container-image": "docker://a", "OSFamily": "Linux"})
genrule(name = "plain", outs = ["p.txt"], cmd = "touch $@")
genrule(name = "own", outs = ["o.txt"], cmd = "touch $@", exec_properties = {"container-image": "docker://b"})
constraint_setting(name = "os")
constraint_value(name = "windows", constraint_setting = ":os")
genrule(name = "win", outs = ["w.txt"], cmd = "touch $@", target_compatible_with = [":windows"])
filegroup(name = "uses_win_file", srcs = [":w.txt"])
'''


def analyzer(tmp_path: Path, options: ToolchainOptions = ToolchainOptions()) -> Analyzer:
    (tmp_path / "MODULE.bazel").write_text("")
    (tmp_path / "p").mkdir()
    (tmp_path / "p/BUILD").write_text(BUILD)
    loader = Loader(Workspace(tmp_path), default_registry(), report=lambda level, text: None,
                    repositories=HostRepositories(tmp_path / "kiln-external"))
    return Analyzer(loader, Configuration(), toolchain_options=options)


def spawn(ct):
    (action,) = ct.actions
    return action


def test_actions_carry_the_execution_platforms_exec_properties_overridden_by_the_targets(tmp_path):
    a = analyzer(tmp_path, ToolchainOptions(extra_execution_platforms=("//p:remote",)))
    assert spawn(a.analyze(parse_label("//p:plain"))).exec_properties == (
        ("OSFamily", "Linux"), ("container-image", "docker://a"))
    assert spawn(a.analyze(parse_label("//p:own"))).exec_properties == (
        ("OSFamily", "Linux"), ("container-image", "docker://b"))


def test_on_the_host_platform_only_the_targets_own_properties(tmp_path):
    a = analyzer(tmp_path)
    assert spawn(a.analyze(parse_label("//p:plain"))).exec_properties == ()
    assert spawn(a.analyze(parse_label("//p:own"))).exec_properties == (("container-image", "docker://b"),)


def test_a_file_of_an_incompatible_rule_makes_its_users_incompatible(tmp_path):
    a = analyzer(tmp_path)
    ct = a.analyze(parse_label("//p:uses_win_file"))
    info = ct[IncompatiblePlatformInfo]
    short = Configuration().short_id
    assert info.chain == (f"//p:uses_win_file ({short})", f"//p:w.txt ({short})", f"//p:win ({short})")
    assert info.missing == (Label("", "p", "windows"),)
    assert ct.actions == () and ct.files == []


def test_ctx_toolchains_names_the_types_a_rule_did_not_declare():
    ctx = ToolchainContext({Label("rules_python", "python", "toolchain_type"): None},
                           lambda: PlatformInfo(Label("", "p", "x"), ()), where="py_binary rule //a:b")
    assert ctx["@rules_python//python:toolchain_type"] is None  # an optional type nothing matched
    with pytest.raises(AnalysisError) as e:
        ctx["@rules_rust//rust:toolchain_type"]
    assert e.value.message == (
        "In py_binary rule //a:b, toolchain type @rules_rust//rust:toolchain_type was requested but only types "
        "[@rules_python//python:toolchain_type] are configured (declare it in the rule's toolchains)")
