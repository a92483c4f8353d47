"""Toolchain resolution and platform compatibility through the real command.

A workspace registers its own Python runtime and toolchain types; rules get
what resolution chose (py_binary runs the registered interpreter), the order
of registrations is Bazel's, a missing mandatory toolchain lists candidates,
and targets incompatible with the target platform are skipped or refused.
"""

from __future__ import annotations

import glob
import os

import pytest

from kiln.core.config import Configuration

CONSTRAINTS = '''
package(default_visibility = ["//visibility:public"])
constraint_setting(name = "os")
constraint_value(name = "linux", constraint_setting = ":os")
constraint_value(name = "windows", constraint_setting = ":os")
platform(name = "win", constraint_values = [":windows"])
'''


def _other_python() -> str:
    """An interpreter other than the one kiln runs on, for a workspace-registered runtime."""
    found = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12")))
    if not found:
        if os.environ.get("CI") == "true":
            pytest.fail("CPython 3.12 from pyenv is required under CI")
        pytest.skip("no CPython 3.12 under ~/.pyenv/versions on this machine")
    return found[-1]


def _runtime_build(interpreter: str, minor: str, name: str = "py312") -> str:
    return f'''
py_runtime(
    name = "{name}_runtime",
    interpreter_path = "{interpreter}",
    interpreter_version_info = {{"major": "3", "minor": "{minor}"}},
)
py_runtime_pair(name = "{name}_pair", py3_runtime = ":{name}_runtime")
toolchain(
    name = "{name}",
    toolchain = ":{name}_pair",
    toolchain_type = "@rules_python//python:toolchain_type",
)
'''


def _version_app(ws) -> None:
    ws.write("app/main.py", "import sys\nprint('running on %d.%d' % sys.version_info[:2])\n")
    ws.write("app/BUILD.bazel", 'py_binary(name = "main", srcs = ["main.py"])\n')


def test_a_registered_python_runtime_is_the_one_py_binary_runs_with(ws):
    interpreter = _other_python()
    ws.write("MODULE.bazel", 'register_toolchains("//tc:all")\n')
    ws.write("tc/BUILD.bazel", _runtime_build(interpreter, "12"))
    _version_app(ws)
    r = ws.kiln("run", "//app:main")
    assert r.code == 0, r.output
    assert "running on 3.12" in r.stdout
    # The resolution is visible: the registered toolchain is selected before kiln's own.
    r = ws.kiln("build", "//app:main", "--toolchain_resolution_debug=@rules_python//python:toolchain_type")
    assert r.code == 0, r.output
    assert ("INFO: ToolchainResolution: type @rules_python//python:toolchain_type: target platform "
            "@platforms//host:host: execution platform @platforms//host:host: Selected toolchain //tc:py312_pair"
            ) in r.stderr
    assert ("execution platform @platforms//host:host: Skipped toolchain @kiln_local_python//:runtime_pair; "
            "//tc:py312_pair comes first") in r.stderr


def test_extra_toolchains_come_before_registered_ones(ws):
    interpreter = _other_python()
    ws.write("MODULE.bazel", 'register_toolchains("//tc:py312")\n')
    ws.write("tc/BUILD.bazel", _runtime_build(interpreter, "12")
             + _runtime_build(os.path.realpath(os.sys.executable), "11", name="mine"))
    _version_app(ws)
    r = ws.kiln("run", "//app:main")
    assert "running on 3.12" in r.stdout, r.output
    r = ws.kiln("run", "//app:main", "--extra_toolchains=//tc:mine")
    assert r.code == 0, r.output
    assert "running on 3.11" in r.stdout


def test_without_a_registration_kiln_runs_the_interpreter_it_runs_on(ws):
    _version_app(ws)
    r = ws.kiln("run", "//app:main")
    assert r.code == 0, r.output
    assert "running on %d.%d" % os.sys.version_info[:2] in r.stdout


MISSING_TYPE = '''
toolchain_type(name = "compiler")
toolchain(
    name = "win_compiler",
    toolchain = ":nothing",
    toolchain_type = ":compiler",
    target_compatible_with = ["//c:windows"],
)
genrule(name = "g", outs = ["g.txt"], cmd = "echo hi > $@", toolchains = [":compiler"])
'''


def test_no_toolchain_of_a_mandatory_type_lists_candidates_and_reasons(ws):
    ws.write("MODULE.bazel", 'register_toolchains("//t:all")\n')
    ws.write("c/BUILD.bazel", CONSTRAINTS)
    ws.write("t/BUILD.bazel", MISSING_TYPE)
    r = ws.kiln("build", "//t:g")
    assert r.code == 1, r.output
    assert ("ERROR: t/BUILD.bazel:8:1: in genrule rule //t:g: No matching toolchains found for types //t:compiler. "
            "Target platform: @platforms//host:host.\n"
            "Candidates of //t:compiler:\n"
            "  Rejected toolchain //t:nothing; mismatching values: windows\n"
            "To debug, rerun with --toolchain_resolution_debug='//t:compiler'") in r.stderr
    assert "Traceback" not in r.output


def test_a_bad_extra_toolchains_pattern_is_a_command_line_error(ws):
    _version_app(ws)
    r = ws.kiln("build", "//app:main", "--extra_toolchains=//nowhere:tc")
    assert r.code == 2, r.output
    assert ("ERROR: --extra_toolchains=//nowhere:tc: no such package '//nowhere': directory does not exist: nowhere"
            in r.stderr)
    assert "Traceback" not in r.output


def test_a_registration_naming_a_non_toolchain_names_the_module_file_line(ws):
    ws.write("MODULE.bazel", 'module(name = "m")\n\nregister_toolchains("//app:main")\n')
    _version_app(ws)
    r = ws.kiln("build", "//app:main")
    assert r.code == 1, r.output
    assert ("ERROR: MODULE.bazel:3:1: in py_binary rule //app:main: register_toolchains('//app:main'): "
            "'//app:main' is a py_binary, not a toolchain() target") in r.stderr


def test_exec_compatible_with_no_execution_platform(ws):
    ws.write("c/BUILD.bazel", CONSTRAINTS)
    ws.write("t/BUILD.bazel", 'genrule(name = "g", outs = ["g.txt"], cmd = "echo hi > $@", '
                              'exec_compatible_with = ["//c:windows"])\n')
    r = ws.kiln("build", "//t:g")
    assert r.code == 1, r.output
    assert ("in genrule rule //t:g: Unable to find an execution platform for target platform @platforms//host:host "
            "from available execution platforms [@platforms//host:host]\n"
            "  @platforms//host:host: mismatching values: windows") in r.stderr
    ws.write("p/BUILD.bazel", 'platform(name = "win_exec", constraint_values = ["//c:windows"])\n')
    r = ws.kiln("build", "//t:g", "--extra_execution_platforms=//p:win_exec", "--spawn_strategy=local")
    assert r.code == 0, r.output


COMPAT = '''
genrule(name = "linux_only", outs = ["l.txt"], cmd = "echo l > $@", target_compatible_with = ["//c:linux"])
genrule(name = "win_only", outs = ["w.txt"], cmd = "echo w > $@",
        target_compatible_with = select({"//c:is_linux": ["//c:windows"], "//conditions:default": []}))
genrule(name = "uses_win", srcs = [":win_only"], outs = ["u.txt"], cmd = "cp $< $@")
genrule(name = "never", outs = ["n.txt"], cmd = "echo n > $@", target_compatible_with = ["@platforms//:incompatible"])
py_test(name = "win_test", srcs = ["win_test.py"], target_compatible_with = ["//c:windows"])
py_test(name = "any_test", srcs = ["any_test.py"])
'''


@pytest.fixture
def cws(ws):
    ws.write("c/BUILD.bazel", CONSTRAINTS + '''
platform(name = "lin", constraint_values = [":linux"])
config_setting(name = "is_linux", constraint_values = [":linux"])
''')
    ws.write("t/BUILD.bazel", COMPAT)
    ws.write("t/win_test.py", "raise SystemExit(1)\n")
    ws.write("t/any_test.py", "")
    return ws


def test_wildcards_skip_incompatible_targets_and_their_dependents(cws):
    r = cws.kiln("build", "//t:all", "--platforms=//c:lin")
    assert r.code == 0, r.output
    skipped = {line for line in r.stderr.splitlines() if line.endswith(" was skipped")}
    assert skipped == {f"Target //t:{n} was skipped" for n in ("win_only", "uses_win", "never", "win_test")}
    assert (cws.root / "kiln-bin/t/l.txt").exists()
    assert not (cws.root / "kiln-bin/t/w.txt").exists() and not (cws.root / "kiln-bin/t/u.txt").exists()
    # On the host platform (no //c:os value) the linux-only target is the incompatible one; the select()
    # in win_only's target_compatible_with takes its default.
    r = cws.kiln("build", "//t:all")
    assert r.code == 0, r.output
    skipped = {line for line in r.stderr.splitlines() if line.endswith(" was skipped")}
    assert skipped == {f"Target //t:{n} was skipped" for n in ("linux_only", "never", "win_test")}


def test_kiln_test_reports_incompatible_tests_as_skipped(cws):
    r = cws.kiln("test", "//t:all", "--platforms=//c:lin")
    assert r.code == 0, r.output
    assert any(l.startswith("//t:win_test") and l.split()[-1] == "SKIPPED" for l in r.output.splitlines()), r.output
    assert "Executed 1 out of 2 tests: 1 test passes and 1 was skipped." in r.output


def test_an_incompatible_target_named_on_the_command_line_fails_naming_the_constraint(cws):
    r = cws.kiln("build", "//t:uses_win", "--platforms=//c:lin")
    assert r.code == 1, r.output
    config = Configuration(platform="//c:lin").short_id
    assert (f"ERROR: Target //t:uses_win is incompatible and cannot be built, but was explicitly requested.\n"
            f"Dependency chain:\n"
            f"    //t:uses_win ({config})\n"
            f"    //t:win_only ({config})   <-- target platform (//c:lin) didn't satisfy constraint //c:windows"
            ) in r.stderr
    assert "Traceback" not in r.output


def test_a_cycle_through_an_exec_dependency_is_printed_with_configurations(ws):
    ws.write("p/tool.py", "")
    ws.write("p/BUILD.bazel", '''
py_binary(name = "tool", srcs = ["tool.py"], data = [":g"])
genrule(name = "g", outs = ["g.txt"], tools = [":tool"], cmd = "touch $@")
''')
    r = ws.kiln("build", "//p:g")
    assert r.code == 1, r.output
    top, exec_ = Configuration().short_id, Configuration().exec_configuration().short_id
    assert ("cycle in dependency graph:\n"
            f"    .-> //p:tool ({exec_})\n"
            f"    |   //p:g ({exec_})\n"
            f"    `-- //p:tool ({exec_})") in r.stderr
    # The top-level genrule is outside the cycle: its tool is analysed in the exec configuration.
    assert f"//p:g ({top})" not in r.stderr.split("cycle in dependency graph:")[1]


def test_an_unknown_cfg_value_in_a_bzl_attribute(ws):
    ws.write("t/defs.bzl", 'ATTRS = {"tool": attr.label(cfg = "host")}\n')
    ws.write("t/BUILD.bazel", 'load(":defs.bzl", "ATTRS")\n')
    r = ws.kiln("build", "//t:all")
    assert r.code == 1, r.output
    assert ("ERROR: t/defs.bzl:1: attr.label(): cfg = \"host\" is not a configuration kiln knows "
            "(use \"exec\", \"target\" or a transition)") in r.stderr
    assert "Traceback" not in r.output


def test_target_settings_choose_a_toolchain_by_flag(ws):
    interpreter = _other_python()
    ws.write("MODULE.bazel", 'register_toolchains("//tc:all")\n')
    ws.write("tc/BUILD.bazel", '''
load("@bazel_skylib//rules:common_settings.bzl", "string_flag")
string_flag(name = "py", build_setting_default = "default")
config_setting(name = "is_312", flag_values = {":py": "3.12"})
py_runtime(name = "r312", interpreter_path = "%s", interpreter_version_info = {"major": "3", "minor": "12"})
py_runtime_pair(name = "p312", py3_runtime = ":r312")
toolchain(name = "t312", toolchain = ":p312", toolchain_type = "@rules_python//python:toolchain_type",
          target_settings = [":is_312"])
''' % interpreter)
    _version_app(ws)
    r = ws.kiln("run", "//app:main")
    assert "running on %d.%d" % os.sys.version_info[:2] in r.stdout, r.output
    r = ws.kiln("run", "//app:main", "--//tc:py=3.12")
    assert r.code == 0, r.output
    assert "running on 3.12" in r.stdout
    r = ws.kiln("build", "//app:main", "--toolchain_resolution_debug=python")
    assert "Rejected toolchain //tc:p312; mismatching config settings: //tc:is_312" in r.stderr, r.output
