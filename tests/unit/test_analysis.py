"""Tests for kiln.analysis.analyzer.Analyzer on small workspaces written into tmp_path.

Covers configured providers of py_library / py_binary (PyInfo, runfiles),
genrule actions and `$(location)`, select() resolution (compilation_mode,
string_flag values, most-specific match, ambiguity, no match,
config_setting_group), visibility (private, __pkg__, __subpackages__,
package_group with exclusions), dependency cycles and missing input files.
"""

from pathlib import Path

import pytest

from kiln.analysis.analyzer import Analyzer
from kiln.analysis.providers import BuildSettingInfo, ConfigMatchingInfo
from kiln.repos.host_repos import HostRepositories
from kiln.core.actions import ActionKind
from kiln.core.config import Configuration
from kiln.core.errors import AnalysisError, KilnError
from kiln.core.labels import parse_label
from kiln.core.providers import DefaultInfo, RunEnvironmentInfo
from kiln.loading.loader import Loader
from kiln.loading.workspace import Workspace
from kiln.rules import default_registry
from kiln.rules.python.providers import PyInfo

BIN = "kiln-out/k8-fastbuild/bin"


class World:
    """A tmp workspace with a loader and an analyzer for one configuration."""

    def __init__(self, root: Path, config: Configuration):
        self.root = root
        self.loader = Loader(Workspace(root), default_registry(), report=lambda level, text: None,
                  repositories=HostRepositories(root / "kiln-external"))
        self.analyzer = Analyzer(self.loader, config)

    def analyze(self, label: str):
        return self.analyzer.analyze(parse_label(label))

    def paths(self, label: str) -> list[str]:
        return [a.exec_path for a in self.analyze(label).files]

    def error(self, label: str) -> KilnError:
        with pytest.raises(KilnError) as info:
            self.analyze(label)
        return info.value


@pytest.fixture
def world(tmp_path):
    def make(files: dict[str, str], config: Configuration | None = None) -> World:
        root = tmp_path / "ws"
        for rel, text in {"MODULE.bazel": "", **files}.items():
            p = root / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text)
        return World(root, config or Configuration())

    return make


# =====================================================================================
# Python rules
# =====================================================================================

PY_FILES = {
    "lib/BUILD": (
        'py_library(name = "lib", srcs = ["src/pkg/mod.py"], imports = ["src"], data = ["data.txt"],\n'
        '           visibility = ["//visibility:public"])\n'
    ),
    "lib/src/pkg/mod.py": "", "lib/data.txt": "",
    "app/BUILD": (
        'py_library(name = "util", srcs = ["util.py"], deps = ["//lib"], imports = ["."])\n'
        'py_binary(name = "main", srcs = ["main.py"], deps = [":util"], data = ["//gen:out"])\n'
    ),
    "app/main.py": "", "app/util.py": "",
    "gen/BUILD": (
        'genrule(name = "out", srcs = ["in.txt"], outs = ["out.txt"], cmd = "cp $(location in.txt) $@",\n'
        '        visibility = ["//visibility:public"])\n'
    ),
    "gen/in.txt": "",
}


def test_py_library_pyinfo(world):
    w = world(PY_FILES)
    util = w.analyze("//app:util")
    info = util[PyInfo]
    assert [a.runfiles_path for a in info.transitive_sources.to_list()] == [
        "_main/lib/src/pkg/mod.py", "_main/app/util.py"]
    assert info.imports.to_list() == ["_main/lib/src", "_main/app"]
    assert not info.uses_shared_libraries
    assert [a.exec_path for a in util.files] == ["app/util.py"]
    assert util.actions == ()


def test_py_library_runfiles_include_data_and_deps(world):
    w = world(PY_FILES)
    entries = w.analyze("//app:util").default_info.runfiles.entries()
    assert sorted(entries) == ["_main/app/util.py", "_main/lib/data.txt", "_main/lib/src/pkg/mod.py"]
    assert entries["_main/lib/data.txt"].is_source


def test_py_binary_providers_and_runfiles(world):
    w = world(PY_FILES)
    main = w.analyze("//app:main")
    info = main[PyInfo]
    assert [a.path for a in info.transitive_sources.to_list()] == ["lib/src/pkg/mod.py", "app/util.py", "app/main.py"]
    assert main.default_info.executable.exec_path == f"{BIN}/app/main"
    entries = main.default_info.runfiles.entries()
    assert sorted(entries) == [
        "_main/app/__init__.py",
        "_main/app/main",
        "_main/app/main.py",
        "_main/app/util.py",
        "_main/gen/out.txt",
        "_main/lib/__init__.py",
        "_main/lib/data.txt",
        "_main/lib/src/__init__.py",
        "_main/lib/src/pkg/__init__.py",
        "_main/lib/src/pkg/mod.py",
    ]
    # __init__.py files are empty entries; generated data comes from the bin dir.
    assert entries["_main/lib/src/pkg/__init__.py"] is None
    assert entries["_main/gen/out.txt"].exec_path == f"{BIN}/gen/out.txt"
    (launcher_action,) = main.actions
    assert launcher_action.kind is ActionKind.WRITE
    assert launcher_action.is_executable
    assert [o.exec_path for o in launcher_action.outputs] == [f"{BIN}/app/main"]
    assert b"_main/app/main.py" in launcher_action.content


def test_py_binary_without_init_files(world):
    w = world({"app/BUILD": 'py_binary(name = "m", srcs = ["m.py", "d/x.py"], legacy_create_init = 0)\n',
               "app/m.py": "", "app/d/x.py": ""})
    entries = w.analyze("//app:m").default_info.runfiles.entries()
    assert not any(p.endswith("__init__.py") for p in entries)


def test_py_binary_needs_its_main(world):
    w = world({"app/BUILD": 'py_binary(name = "m", srcs = ["other.py"])\n', "app/other.py": ""})
    e = w.error("//app:m")
    assert "corresponding default 'm.py' does not appear in srcs" in e.message
    assert e.target == "srcs attribute of py_binary rule //app:m"
    assert str(e.location) == "app/BUILD:1:1"


def test_py_import_above_repo_is_an_error(world):
    w = world({"app/BUILD": 'py_library(name = "l", imports = ["../.."])\n'})
    assert "path '../..' references a path above the execution root" in w.error("//app:l").message


def test_py_library_rejects_non_python_srcs(world):
    w = world({"app/BUILD": 'py_library(name = "l", srcs = ["x.txt"])\n', "app/x.txt": ""})
    assert w.error("//app:l").message == "'//app:x.txt' does not produce any py_library srcs files (expected .py, got 'x.txt')"


# =====================================================================================
# genrule
# =====================================================================================

def test_genrule_action(world):
    w = world({
        "gen/BUILD": (
            'genrule(\n'
            '    name = "g",\n'
            '    srcs = ["a.txt", "//other:b.txt"],\n'
            '    outs = ["out/x.txt", "y.txt"],\n'
            '    cmd = "cat $(location a.txt) $(location //other:b.txt) > $(location out/x.txt); echo $(SRCS) > $(execpath y.txt)",\n'
            ')\n'
        ),
        "gen/a.txt": "", "other/BUILD": 'exports_files(["b.txt"])\n', "other/b.txt": "",
    })
    ct = w.analyze("//gen:g")
    (action,) = ct.actions
    assert action.kind is ActionKind.SPAWN
    assert action.mnemonic == "Genrule"
    assert action.progress_message == "Executing genrule //gen:g"
    assert action.argv == (
        "/bin/bash", "-c",
        "set -euo pipefail\n"
        f"cat gen/a.txt other/b.txt > {BIN}/gen/out/x.txt; echo gen/a.txt other/b.txt > {BIN}/gen/y.txt",
    )
    assert [i.exec_path for i in action.input_list()] == ["gen/a.txt", "other/b.txt"]
    assert [o.exec_path for o in action.outputs] == [f"{BIN}/gen/out/x.txt", f"{BIN}/gen/y.txt"]
    assert [a.exec_path for a in ct.files] == [f"{BIN}/gen/out/x.txt", f"{BIN}/gen/y.txt"]


def test_generated_file_target_is_the_rule_output(world):
    w = world({"gen/BUILD": 'genrule(name = "g", outs = ["o.txt"], cmd = "touch $@")\n'})
    out = w.analyze("//gen:o.txt")
    assert [a.exec_path for a in out.files] == [f"{BIN}/gen/o.txt"]
    assert out.files == list(w.analyze("//gen:g").actions[0].outputs)


def test_genrule_location_of_unknown_label(world):
    w = world({"gen/BUILD": 'genrule(name = "g", outs = ["o"], cmd = "cat $(location :nope) > $@")\n'})
    e = w.error("//gen:g")
    assert isinstance(e, AnalysisError)
    assert "$(location :nope)" in e.message
    assert "genrule rule //gen:g" in e.render()


def test_genrule_tool_with_runfiles(world):
    w = world({
        "gen/BUILD": (
            'py_binary(name = "tool", srcs = ["tool.py"])\n'
            'genrule(name = "g", outs = ["o"], tools = [":tool"], cmd = "$(location :tool) > $@")\n'
        ),
        "gen/tool.py": "",
    })
    (action,) = w.analyze("//gen:g").actions
    # A genrule's tools are built in the exec configuration, into an output directory of their own.
    exec_bin = Configuration().exec_configuration().bin_dir
    assert exec_bin.startswith("kiln-out/k8-opt-exec-") and exec_bin != BIN
    assert action.argv[2] == f"set -euo pipefail\n{exec_bin}/gen/tool > {BIN}/gen/o"
    (exe, runfiles) = action.tool_runfiles[0]
    assert exe.exec_path == f"{exec_bin}/gen/tool"
    assert "_main/gen/tool.py" in runfiles.entries()
    assert f"{exec_bin}/gen/tool" in [i.exec_path for i in action.input_list()]


# =====================================================================================
# select()
# =====================================================================================

CFG_BUILD = (
    'load("@bazel_skylib//rules:common_settings.bzl", "string_flag")\n'
    'package(default_visibility = ["//visibility:public"])\n'
    'string_flag(name = "mode", build_setting_default = "slow", values = ["slow", "fast"])\n'
    'config_setting(name = "fast", flag_values = {":mode": "fast"})\n'
    'config_setting(name = "opt", values = {"compilation_mode": "opt"})\n'
    'config_setting(name = "dbg", values = {"compilation_mode": "dbg"})\n'
    'config_setting(name = "opt_k8", values = {"compilation_mode": "opt", "cpu": "k8"})\n'
    'config_setting(name = "k8", values = {"cpu": "k8"})\n'
    'config_setting_group(name = "opt_or_fast", match_any = [":opt", ":fast"])\n'
    'config_setting_group(name = "opt_and_fast", match_all = [":opt", ":fast"])\n'
)

SELECT_FILES = {
    "cfg/BUILD": CFG_BUILD,
    "s/BUILD": (
        'filegroup(name = "by_mode", srcs = select({"//cfg:opt": ["a.txt"], "//cfg:dbg": ["c.txt"], "//conditions:default": ["b.txt"]}))\n'
        'filegroup(name = "by_flag", srcs = ["d.txt"] + select({"//cfg:fast": ["a.txt"], "//conditions:default": ["b.txt"]}))\n'
        'filegroup(name = "specific", srcs = select({"//cfg:opt": ["a.txt"], "//cfg:opt_k8": ["b.txt"]}))\n'
        'filegroup(name = "ambiguous", srcs = select({"//cfg:opt": ["a.txt"], "//cfg:k8": ["b.txt"]}))\n'
        'filegroup(name = "nomatch", srcs = select({"//cfg:opt": ["a.txt"]}))\n'
        'filegroup(name = "nomatch_custom", srcs = select({"//cfg:opt": ["a.txt"]}, no_match_error = "use -c opt"))\n'
        'filegroup(name = "any", srcs = select({"//cfg:opt_or_fast": ["a.txt"], "//conditions:default": ["b.txt"]}))\n'
        'filegroup(name = "all", srcs = select({"//cfg:opt_and_fast": ["a.txt"], "//conditions:default": ["b.txt"]}))\n'
        'filegroup(name = "not_a_condition", srcs = select({":by_mode": ["a.txt"]}))\n'
        'genrule(name = "g", outs = ["o"], cmd = "echo " + select({"//cfg:opt": "OPT", "//conditions:default": "OTHER"}) + " > $@")\n'
    ),
    "s/a.txt": "", "s/b.txt": "", "s/c.txt": "", "s/d.txt": "",
}

OPT = Configuration(compilation_mode="opt")
FAST = Configuration(flags=(("//cfg:mode", "fast"),))
OPT_FAST = Configuration(compilation_mode="opt", flags=(("//cfg:mode", "fast"),))


@pytest.mark.parametrize(
    "config, expected",
    [(Configuration(), "s/b.txt"), (OPT, "s/a.txt"), (Configuration(compilation_mode="dbg"), "s/c.txt")],
)
def test_select_by_compilation_mode(world, config, expected):
    assert world(SELECT_FILES, config).paths("//s:by_mode") == [expected]


@pytest.mark.parametrize("config, expected", [(Configuration(), "s/b.txt"), (FAST, "s/a.txt")])
def test_select_by_string_flag(world, config, expected):
    w = world(SELECT_FILES, config)
    assert w.paths("//s:by_flag") == ["s/d.txt", expected]
    want = "fast" if config is FAST else "slow"
    assert w.analyze("//cfg:mode")[BuildSettingInfo].value == want


def test_select_concatenated_string(world):
    (action,) = world(SELECT_FILES, OPT).analyze("//s:g").actions
    assert action.argv[2].endswith("echo OPT > " + "kiln-out/k8-opt/bin/s/o")
    (action,) = world(SELECT_FILES).analyze("//s:g").actions
    assert "echo OTHER > " in action.argv[2]


DICT_UNION_FILES = {
    "s/BUILD": (
        'py_binary(name = "sel_first", srcs = ["m.py"], main = "m.py",\n'
        '          env = select({"//conditions:default": {"K": "sel", "A": "1"}}) | {"K": "plain"})\n'
        'py_binary(name = "plain_first", srcs = ["m.py"], main = "m.py",\n'
        '          env = {"K": "plain", "B": "2"} | select({"//conditions:default": {"K": "sel"}}))\n'
    ),
    "s/m.py": "",
}


def test_dict_union_with_select_right_operand_wins(world):
    env = dict(world(DICT_UNION_FILES).analyze("//s:plain_first")[RunEnvironmentInfo].environment)
    assert env == {"K": "sel", "B": "2"}


def test_dict_union_select_then_plain_right_operand_wins(world):
    env = dict(world(DICT_UNION_FILES).analyze("//s:sel_first")[RunEnvironmentInfo].environment)
    assert env == {"K": "plain", "A": "1"}


def test_invalid_flag_value(world):
    w = world(SELECT_FILES, Configuration(flags=(("//cfg:mode", "bogus"),)))
    e = w.error("//s:by_flag")
    assert e.message == "Error setting //cfg:mode: invalid value 'bogus'. Allowed values are ['slow', 'fast']"


def test_most_specific_match_wins(world):
    assert world(SELECT_FILES, OPT).paths("//s:specific") == ["s/b.txt"]


def test_ambiguous_match(world):
    w = world(SELECT_FILES, OPT)
    e = w.error("//s:ambiguous")
    assert isinstance(e, AnalysisError)
    assert e.message == (
        'illegal ambiguous match on configurable attribute "srcs" in //s:ambiguous: //cfg:opt, //cfg:k8. '
        "Multiple matches are not allowed unless one is unambiguously more specialized.")
    assert e.target == "filegroup rule //s:ambiguous"
    assert str(e.location) == "s/BUILD:4:1"
    # In fastbuild only //cfg:k8 matches: no ambiguity.
    assert world(SELECT_FILES).paths("//s:ambiguous") == ["s/b.txt"]


def test_no_match(world):
    w = world(SELECT_FILES)
    e = w.error("//s:nomatch")
    assert e.message == (
        'configurable attribute "srcs" in //s:nomatch doesn\'t match this configuration. '
        "Would a default condition help?\n\nConditions checked:\n  //cfg:opt")
    assert w.error("//s:nomatch_custom").message == "use -c opt"
    assert world(SELECT_FILES, OPT).paths("//s:nomatch") == ["s/a.txt"]


def test_select_key_must_be_a_condition(world):
    e = world(SELECT_FILES).error("//s:not_a_condition")
    assert "'//s:by_mode' does not have mandatory providers: 'ConfigMatchingInfo'" in e.message


@pytest.mark.parametrize(
    "config, any_, all_",
    [(Configuration(), "b", "b"), (OPT, "a", "b"), (FAST, "a", "b"), (OPT_FAST, "a", "a")],
)
def test_config_setting_group(world, config, any_, all_):
    w = world(SELECT_FILES, config)
    assert w.paths("//s:any") == [f"s/{any_}.txt"]
    assert w.paths("//s:all") == [f"s/{all_}.txt"]


def test_select_key_through_module_name(world):
    w = world({
        "MODULE.bazel": 'module(name = "myws")\n',
        "cfg/BUILD": CFG_BUILD,
        "s/BUILD": 'filegroup(name = "fg", srcs = select({"@myws//cfg:opt": ["a.txt"], "//conditions:default": ["b.txt"]}))\n',
        "s/a.txt": "", "s/b.txt": "",
    }, OPT)
    assert w.paths("//s:fg") == ["s/a.txt"]


def test_config_setting_matching_info(world):
    info = world(SELECT_FILES, OPT).analyze("//cfg:opt_k8")[ConfigMatchingInfo]
    assert info.matches
    assert info.settings == frozenset({("compilation_mode", "opt"), ("cpu", "k8")})
    miss = world(SELECT_FILES).analyze("//cfg:opt")[ConfigMatchingInfo]
    assert not miss.matches and "compilation_mode='fastbuild'" in miss.mismatch


def test_config_setting_group_needs_one_list(world):
    w = world({"c/BUILD": 'config_setting_group(name = "g")\n'})
    assert w.error("//c:g").message == "config_setting_group needs exactly one of match_any or match_all"


def test_skylib_selects_config_setting_group(world):
    w = world({
        "cfg/BUILD": CFG_BUILD,
        "s/BUILD": (
            'load("@bazel_skylib//lib:selects.bzl", "selects")\n'
            'selects.config_setting_group(name = "either", match_any = ["//cfg:opt", "//cfg:dbg"])\n'
            'filegroup(name = "fg", srcs = selects.with_or({("//cfg:opt", "//cfg:dbg"): ["a.txt"], "//conditions:default": ["b.txt"]}))\n'
            'filegroup(name = "g2", srcs = select({":either": ["a.txt"], "//conditions:default": ["b.txt"]}))\n'
        ),
        "s/a.txt": "", "s/b.txt": "",
    }, Configuration(compilation_mode="dbg"))
    assert w.paths("//s:fg") == ["s/a.txt"]
    assert w.paths("//s:g2") == ["s/a.txt"]


# =====================================================================================
# visibility
# =====================================================================================

VIS_FILES = {
    "v/BUILD": (
        'filegroup(name = "private")\n'
        'filegroup(name = "explicit_private", visibility = ["//visibility:private"])\n'
        'filegroup(name = "public", visibility = ["//visibility:public"])\n'
        'filegroup(name = "for_a", visibility = ["//a:__pkg__"])\n'
        'filegroup(name = "for_a_tree", visibility = ["//a:__subpackages__"])\n'
        'filegroup(name = "for_group", visibility = [":friends"])\n'
        'package_group(name = "friends", packages = ["//a/...", "-//a/secret"], includes = [":more"])\n'
        'package_group(name = "more", packages = ["//extra"])\n'
        'filegroup(name = "same_pkg_user", srcs = [":private", ":explicit_private"])\n'
        'genrule(name = "g", outs = ["gen.txt"], cmd = "touch $@")\n'
    ),
}


def vis_world(world, user_pkg, dep):
    files = dict(VIS_FILES)
    files[f"{user_pkg}/BUILD"] = f'filegroup(name = "user", srcs = ["//v:{dep}"])\n'
    return world(files)


@pytest.mark.parametrize(
    "user_pkg, dep, visible",
    [
        ("a", "private", False),
        ("a", "explicit_private", False),
        ("a", "public", True),
        ("a", "for_a", True),
        ("a/sub", "for_a", False),
        ("b", "for_a", False),
        ("a", "for_a_tree", True),
        ("a/sub/deeper", "for_a_tree", True),
        ("ab", "for_a_tree", False),
        ("a/sub", "for_group", True),
        ("a", "for_group", True),
        ("a/secret", "for_group", False),
        ("extra", "for_group", True),
        ("extra/sub", "for_group", False),
        ("b", "for_group", False),
        ("a", "gen.txt", False),  # generated files take their rule's visibility
    ],
)
def test_visibility(world, user_pkg, dep, visible):
    w = vis_world(world, user_pkg, dep)
    label = f"//{user_pkg}:user"
    if visible:
        assert w.analyze(label).label == parse_label(label)
        return
    e = w.error(label)
    assert isinstance(e, AnalysisError)
    assert e.message == (
        f"target '//v:{dep}' is not visible from target '{label}'. Check the visibility declaration "
        "of the former target if you think the dependency is legitimate")
    assert e.target == f"srcs attribute of filegroup rule {label}"
    assert str(e.location) == f"{user_pkg}/BUILD:1:1"


def test_same_package_is_always_visible(world):
    w = world(VIS_FILES)
    assert w.analyze("//v:same_pkg_user").label == parse_label("//v:same_pkg_user")


def test_visibility_check_can_be_disabled(world):
    w = vis_world(world, "b", "private")
    unchecked = Analyzer(w.loader, Configuration(), check_visibility=False)
    assert unchecked.analyze(parse_label("//b:user")).label == parse_label("//b:user")


# =====================================================================================
# cycles, missing files, caching
# =====================================================================================

def test_cycle_message(world):
    w = world({
        "cyc/BUILD": (
            'filegroup(name = "a", srcs = [":b"])\n'
            'filegroup(name = "b", srcs = [":c"])\n'
            'filegroup(name = "c", srcs = [":a"])\n'
        ),
    })
    e = w.error("//cyc:a")
    assert isinstance(e, AnalysisError)
    # Each step names its configuration: a target and the same label in the exec configuration differ.
    c = Configuration().short_id
    assert e.message == (
        "cycle in dependency graph:\n"
        f"    .-> //cyc:a ({c})\n"
        f"    |   //cyc:b ({c})\n"
        f"    |   //cyc:c ({c})\n"
        f"    `-- //cyc:a ({c})"
    )
    assert e.location.file == "cyc/BUILD"


def test_self_dependency_cycle(world):
    w = world({"cyc/BUILD": 'filegroup(name = "a", srcs = [":a"])\n'})
    c = Configuration().short_id
    assert w.error("//cyc:a").message == f"cycle in dependency graph:\n    .-> //cyc:a ({c})\n    `-- //cyc:a ({c})"


def test_cycle_through_a_generated_file(world):
    # A rule naming its own output as an input is refused when loading (as in Bazel);
    # through a second rule it is a cycle, drawn with the generated files on its path.
    w = world({"cyc/BUILD": 'genrule(name = "g", srcs = [":p"], outs = ["o"], cmd = "x")\n'
                            'genrule(name = "h", srcs = [":o"], outs = ["p"], cmd = "x")\n'})
    c = Configuration().short_id
    assert w.error("//cyc:g").message == (
        f"cycle in dependency graph:\n    .-> //cyc:g ({c})\n    |   //cyc:p ({c})\n    |   //cyc:h ({c})\n"
        f"    |   //cyc:o ({c})\n    `-- //cyc:g ({c})")


def test_rule_with_its_own_output_as_input(world):
    w = world({"cyc/BUILD": 'genrule(name = "g", srcs = [":o"], outs = ["o"], cmd = "x")\n'})
    err = w.error("//cyc:g")
    assert err.message == "rule 'g' has file 'o' as both an input and an output"
    assert str(err.location) == "cyc/BUILD:1:1"


def test_missing_input_file(world):
    w = world({"s/BUILD": 'filegroup(name = "m", srcs = ["nope.txt"])\n'})
    e = w.error("//s:m")
    assert isinstance(e, AnalysisError)
    assert e.message == "missing input file '//s:nope.txt'"
    assert e.render() == "s/BUILD:1:1: in srcs attribute of filegroup rule //s:m: missing input file '//s:nope.txt'"


def test_missing_package_of_a_dependency(world):
    w = world({"s/BUILD": 'filegroup(name = "m", srcs = ["//nowhere:x"])\n'})
    e = w.error("//s:m")
    assert "no such package '//nowhere'" in e.message
    assert e.target == "srcs attribute of filegroup rule //s:m"


def test_results_are_memoised_per_configuration(world):
    w = world(SELECT_FILES)
    first = w.analyze("//s:by_mode")
    assert w.analyze("//s:by_mode") is first
    opt = w.analyzer.analyze(parse_label("//s:by_mode"), OPT)
    assert opt is not first
    assert [a.path for a in opt.files] == ["s/a.txt"]
    assert first in w.analyzer.configured_targets() and opt in w.analyzer.configured_targets()


def test_failures_are_memoised(world):
    w = world({"s/BUILD": 'filegroup(name = "m", srcs = ["nope.txt"])\n'})
    assert w.error("//s:m") is w.error("//s:m")


def test_source_file_target_provides_itself(world):
    w = world({"s/BUILD": 'exports_files(["f.txt"])\n', "s/f.txt": ""})
    ct = w.analyze("//s:f.txt")
    (art,) = ct[DefaultInfo].files.to_list()
    assert art.is_source and art.exec_path == "s/f.txt" and art.runfiles_path == "_main/s/f.txt"


# =====================================================================================
# configurations and transitions
# =====================================================================================

def test_exec_tool_and_target_use_of_one_library_are_two_configured_targets(world):
    w = world({
        "x/BUILD": (
            'py_library(name = "lib", srcs = ["lib.py"])\n'
            'py_binary(name = "tool", srcs = ["tool.py"], deps = [":lib"])\n'
            'py_binary(name = "app", srcs = ["app.py"], deps = [":lib"])\n'
            'genrule(name = "g", srcs = [":app"], outs = ["o"], tools = [":tool"], cmd = "$(location :tool) > $@")\n'
        ),
        "x/lib.py": "", "x/tool.py": "", "x/app.py": "",
    })
    w.analyze("//x:g")
    configs = {ct.config for ct in w.analyzer.configured_targets() if str(ct.label) == "//x:lib"}
    target, exec_ = Configuration(), Configuration().exec_configuration()
    assert configs == {target, exec_}
    assert exec_.name.startswith("k8-opt-exec-") and exec_.compilation_mode == "opt"
    tool = w.analyzer.analyze(parse_label("//x:tool"), exec_)
    assert tool.default_info.executable.exec_path == f"{exec_.bin_dir}/x/tool"


def test_cycle_through_an_exec_dependency_names_the_configurations(world):
    w = world({
        "x/BUILD": (
            'py_binary(name = "bin", srcs = ["bin.py"], data = [":gen"])\n'
            'genrule(name = "gen", outs = ["o"], tools = [":bin"], cmd = "$(location :bin) > $@")\n'
        ),
        "x/bin.py": "",
    })
    t, e = Configuration().short_id, Configuration().exec_configuration().short_id
    assert t != e
    assert w.error("//x:bin").message == (
        "cycle in dependency graph:\n"
        f"    .-> //x:bin ({e})\n"
        f"    |   //x:gen ({e})\n"
        f"    `-- //x:bin ({e})"
    )


def test_an_unknown_cfg_value_is_refused():
    from kiln.core.attrs import Attr, AttrType

    with pytest.raises(ValueError) as info:
        Attr("tools", AttrType.LABEL_LIST, cfg="host")
    assert str(info.value) == "attribute 'tools': cfg = 'host' is not a configuration kiln knows (use one of: target, exec)"


def test_configurations_differ_in_every_field_and_never_share_a_directory():
    top = Configuration()
    assert top.name == "k8-fastbuild"
    transitioned = top.with_flags({"@rules_python//python/config_settings:python_version": "3.12"})
    assert transitioned != top and transitioned.name.startswith("k8-fastbuild-ST-")
    assert len(transitioned.name) == len("k8-fastbuild-ST-") + 12
    other = top.with_flags({"@rules_python//python/config_settings:python_version": "3.11"})
    assert other.name != transitioned.name
    assert top.with_flags({}) is top
    # Fields once left out of equality are now part of it.
    assert Configuration(options=(("stamp", "1"),)) != top
    assert Configuration(options=(("stamp", "1"),)).short_id != top.short_id
    exec_ = top.exec_configuration()
    assert exec_.is_exec and exec_.output_dir != top.output_dir
    assert exec_.exec_configuration() == exec_


def test_a_rule_with_an_incoming_transition_is_analysed_in_the_configuration_it_chooses(tmp_path):
    from kiln.core.attrs import Attr, AttrType
    from kiln.core.depset import Depset
    from kiln.core.providers import DefaultInfo
    from kiln.core.rule_class import RuleClass

    flag = "//:version"

    def transition(config, attrs):
        return config.with_flags({flag: attrs["version"]}) if attrs.get("version") else config

    def impl(ctx):
        out = ctx.actions.declare_file(ctx.label.name + ".txt")
        ctx.actions.write(out, ctx.config.flag(flag) or "none")
        return [DefaultInfo(Depset((out,)))]

    registry = default_registry()
    registry.register(RuleClass.make("versioned", impl, [Attr("version", AttrType.STRING),
                                                         Attr("deps", AttrType.LABEL_LIST)], transition=transition))
    root = tmp_path / "ws"
    (root / "x").mkdir(parents=True)
    (root / "MODULE.bazel").write_text("")
    (root / "x/BUILD").write_text(
        'versioned(name = "a", version = "3.12", deps = [":plain"])\n'
        'versioned(name = "b", version = "3.12")\n'
        'versioned(name = "plain")\n'
    )
    analyzer = Analyzer(Loader(Workspace(root), registry, report=lambda level, text: None,
                  repositories=HostRepositories(root / "kiln-external")), Configuration())
    a = analyzer.analyze(parse_label("//x:a"))
    b = analyzer.analyze(parse_label("//x:b"))
    assert a.config == b.config == Configuration().with_flags({flag: "3.12"})
    assert a.config.name.startswith("k8-fastbuild-ST-")
    assert a.files[0].exec_path == f"{a.config.bin_dir}/x/a.txt"
    # The dependency is analysed in the configuration the transition chose; asking again is the same target.
    assert {ct.config for ct in analyzer.configured_targets() if str(ct.label) == "//x:plain"} == {a.config}
    assert analyzer.analyze(parse_label("//x:a")) is a
    plain = analyzer.analyze(parse_label("//x:plain"))
    assert plain.config == Configuration()
