"""Flags: .bazelrc (sections, inheritance, --config, import/try-import, ~/.bazelrc,
--bazelrc), Starlark flags on the command line, -c opt, --define, `kiln info`, `kiln version`."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

import kiln
from conftest import KILN, Workspace

BUILD = """
load("@bazel_skylib//rules:common_settings.bzl", "bool_flag", "int_flag", "string_flag")
load("@rules_python//python:defs.bzl", "py_test")

string_flag(name = "color", build_setting_default = "red", values = ["red", "blue", "green"])
bool_flag(name = "loud", build_setting_default = True)
int_flag(name = "count", build_setting_default = 1)

config_setting(name = "blue", flag_values = {":color": "blue"})
config_setting(name = "green", flag_values = {":color": "green"})
config_setting(name = "loud_on", flag_values = {":loud": "true"})
config_setting(name = "count_3", flag_values = {":count": "3"})
config_setting(name = "opt", values = {"compilation_mode": "opt"})
config_setting(name = "defined", define_values = {"mode": "x"})

genrule(
    name = "report",
    outs = ["report.txt"],
    cmd = "echo color=" + select({":blue": "blue", ":green": "green", "//conditions:default": "red"}) + " > $@"
        + " && echo loud=" + select({":loud_on": "yes", "//conditions:default": "no"}) + " >> $@"
        + " && echo count=" + select({":count_3": "3", "//conditions:default": "other"}) + " >> $@"
        + " && echo mode=$(COMPILATION_MODE) >> $@"
        + " && echo opt=" + select({":opt": "yes", "//conditions:default": "no"}) + " >> $@"
        + " && echo define=" + select({":defined": "x", "//conditions:default": "none"}) + " >> $@",
)

py_test(name = "check", srcs = ["check.py"], data = [":report"], size = "small")
"""

CHECK = """
print("REPORT:" + open("f/report.txt").read().replace("\\n", ";"))
"""

DEFAULT = {"color": "red", "loud": "yes", "count": "other", "mode": "fastbuild", "opt": "no", "define": "none"}


def _setup(ws: Workspace, rc: str | None = None) -> None:
    ws.write("f/BUILD.bazel", BUILD)
    ws.write("f/check.py", CHECK)
    if rc is not None:
        ws.write(".bazelrc", rc)


def _parse(text: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in re.split(r"[;\n]", text) if "=" in item)


def _report(ws: Workspace, *args: str) -> dict[str, str]:
    r = ws.kiln(*args[:1] or ("build",), "//f:report", *args[1:])
    assert r.code == 0, r.output
    return _parse((ws.root / "kiln-bin/f/report.txt").read_text())


def _build(ws: Workspace, *flags: str) -> dict[str, str]:
    return _report(ws, "build", *flags)


def _test_report(ws: Workspace, *flags: str) -> dict[str, str]:
    r = ws.kiln("test", "//f:check", "--nocache_test_results", *flags)
    assert r.code == 0, r.output
    log = (ws.root / "kiln-testlogs/f/check/test.log").read_text()
    line = next(l for l in log.splitlines() if l.startswith("REPORT:"))
    return _parse(line[len("REPORT:"):])


def _with(**changes: str) -> dict[str, str]:
    return {**DEFAULT, **changes}


# --------------------------------------------------------------------------
# command-line flags (shared workspace, no rc file)
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fws(tmp_path_factory) -> Workspace:
    base = tmp_path_factory.mktemp("flags")
    (base / "ws").mkdir()
    (base / "home").mkdir()
    ws = Workspace(base / "ws", base / "output_base")
    _setup(ws)
    return ws


def test_defaults(fws):
    assert _build(fws) == DEFAULT


def test_starlark_string_flag(fws):
    assert _build(fws, "--//f:color=blue") == _with(color="blue")


def test_starlark_flag_last_value_wins(fws):
    assert _build(fws, "--//f:color=blue", "--//f:color=green") == _with(color="green")


def test_starlark_bool_flag_negation(fws):
    assert _build(fws, "--no//f:loud") == _with(loud="no")
    assert _build(fws, "--//f:loud=false") == _with(loud="no")
    assert _build(fws, "--no//f:loud", "--//f:loud") == DEFAULT


def test_starlark_int_flag(fws):
    assert _build(fws, "--//f:count=3") == _with(count="3")


def test_starlark_flag_wrong_type_is_a_command_line_error(fws):
    for flag in ("--//f:count=abc", "--//f:loud=maybe"):
        r = fws.kiln("build", "//f:report", flag)
        assert r.code == 2, r.output
        assert flag.split("=")[1] in r.stderr


def test_starlark_flag_bad_values(fws):
    r = fws.kiln("build", "//f:report", "--//f:count=abc")
    assert r.code != 0, r.output
    assert "abc" in r.stderr
    r = fws.kiln("build", "//f:report", "--//f:color=purple")
    assert r.code != 0, r.output
    assert "purple" in r.stderr
    r = fws.kiln("build", "//f:report", "--no//f:loud=1")
    assert r.code == 2, r.output


def test_unknown_starlark_flag(fws):
    r = fws.kiln("build", "//f:report", "--//f:nonexistent=1")
    assert r.code == 2, r.output
    assert "//f:nonexistent" in r.stderr
    r = fws.kiln("build", "//f:report", "--//f:report=1")
    assert r.code == 2, r.output
    assert "not a build setting" in r.stderr


def test_compilation_mode(fws):
    assert _build(fws, "-c", "opt") == _with(mode="opt", opt="yes")
    assert "k8-opt" in str((fws.root / "kiln-bin").resolve())
    assert _build(fws, "-c", "dbg") == _with(mode="dbg")
    assert _build(fws, "--compilation_mode=opt") == _with(mode="opt", opt="yes")
    assert _build(fws) == DEFAULT
    assert "k8-fastbuild" in str((fws.root / "kiln-bin").resolve())


def test_compilation_mode_bad_value(fws):
    r = fws.kiln("build", "//f:report", "-c", "fast")
    assert r.code == 2, r.output
    assert "fast" in r.stderr


def test_define(fws):
    assert _build(fws, "--define=mode=x") == _with(define="x")
    assert _build(fws, "--define", "mode=y") == DEFAULT


def test_unknown_option_and_command(fws):
    r = fws.kiln("build", "//f:report", "--frobnicate")
    assert r.code == 2, r.output
    assert "--frobnicate" in r.stderr
    r = fws.kiln("frobnicate")
    assert r.code == 2, r.output
    assert "frobnicate" in r.stderr


def test_option_with_value_in_next_word(fws):
    r = fws.kiln("build", "//f:report", "--jobs", "1")
    assert r.code == 0, r.output
    r = fws.kiln("build", "//f:report", "--jobs")
    assert r.code == 2, r.output


def test_ignored_bazel_options_are_accepted(fws):
    r = fws.kiln("build", "//f:report", "--enable_bzlmod", "--noenable_workspace", "--lockfile_mode=off")
    assert r.code == 0, r.output


def test_info(fws):
    r = fws.kiln("info")
    assert r.code == 0, r.output
    table = dict(line.split(": ", 1) for line in r.stdout.splitlines())
    assert table["workspace"] == str(fws.root)
    assert table["output_base"] == str(fws.output_base)
    assert table["execution_root"].startswith(str(fws.output_base) + "/")
    assert table["kiln-bin"].startswith(table["execution_root"] + "/")
    assert table["kiln-bin"].endswith("/k8-fastbuild/bin")
    assert table["release"] == f"kiln {kiln.__version__}"


def test_info_single_key(fws):
    r = fws.kiln("info", "output_base")
    assert r.code == 0, r.output
    assert r.stdout == f"{fws.output_base}\n"
    r = fws.kiln("info", "workspace", cwd=fws.root / "f")
    assert r.stdout == f"{fws.root}\n"


def test_info_takes_build_options(fws):
    r = fws.kiln("info", "kiln-bin", "-c", "opt")
    assert r.code == 0, r.output
    assert r.stdout.strip().endswith("/k8-opt/bin")
    r = fws.kiln("build", "//f:report", "-c", "opt")
    assert r.code == 0, r.output
    assert str((fws.root / "kiln-bin").resolve()) == fws.kiln("info", "kiln-bin", "-c", "opt").stdout.strip()


def test_info_unknown_key(fws):
    r = fws.kiln("info", "no_such_key")
    assert r.code == 2, r.output
    assert "no_such_key" in r.stderr
    assert r.stdout == ""


def test_version(fws):
    r = fws.kiln("version")
    assert r.code == 0, r.output
    assert r.stdout == f"kiln {kiln.__version__}\n"


def test_version_outside_a_workspace(tmp_path):
    proc = subprocess.run([*KILN, "version"], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"kiln {kiln.__version__}\n"


def test_help(fws):
    r = fws.kiln("help")
    assert r.code == 0, r.output
    assert "build" in r.stdout and "test" in r.stdout and "query" in r.stdout


# --------------------------------------------------------------------------
# .bazelrc
# --------------------------------------------------------------------------


def test_rc_build_line(ws):
    _setup(ws, "build --//f:color=blue\n")
    assert _build(ws) == _with(color="blue")


def test_rc_test_inherits_build(ws):
    _setup(ws, "build --//f:color=blue\nbuild --no//f:loud\n")
    assert _test_report(ws) == _with(color="blue", loud="no")


def test_rc_test_line_does_not_apply_to_build(ws):
    _setup(ws, "build --//f:color=blue\ntest --//f:color=green\n")
    assert _build(ws) == _with(color="blue")
    assert _test_report(ws) == _with(color="green")


def test_rc_common_line_applies_to_build_and_is_skipped_by_query(ws):
    _setup(ws, "common --//f:color=blue\ncommon --keep_going\n")
    assert _build(ws) == _with(color="blue")
    r = ws.kiln("query", "//f:report")
    assert r.code == 0, r.output
    assert r.stdout == "//f:report\n"


def test_rc_command_line_wins(ws):
    _setup(ws, "build --//f:color=blue -c opt\n")
    assert _build(ws, "--//f:color=green") == _with(color="green", mode="opt", opt="yes")
    assert _build(ws, "-c", "fastbuild") == _with(color="blue")


def test_rc_config(ws):
    _setup(ws, """
        build --//f:color=blue
        build:fancy --//f:color=green --no//f:loud
        build:fast -c opt
        test:fancy --//f:count=3
    """)
    assert _build(ws) == _with(color="blue")
    assert _build(ws, "--config=fancy") == _with(color="green", loud="no")
    assert _build(ws, "--config=fancy", "--config=fast") == _with(color="green", loud="no", mode="opt", opt="yes")
    assert _test_report(ws, "--config=fancy") == _with(color="green", loud="no", count="3")
    # Options after --config override it; --config expands where it stands.
    assert _build(ws, "--config=fancy", "--//f:color=red") == _with(loud="no")
    assert _build(ws, "--//f:color=red", "--config=fancy") == _with(color="green", loud="no")


def test_rc_config_referring_to_config(ws):
    _setup(ws, """
        build:base --no//f:loud
        build:all --config=base --//f:count=3
    """)
    assert _build(ws, "--config=all") == _with(loud="no", count="3")


def test_rc_unknown_config(ws):
    _setup(ws, "build:fancy --//f:color=green\n")
    r = ws.kiln("build", "//f:report", "--config=nope")
    assert r.code == 2, r.output
    assert "nope" in r.stderr


def test_rc_import_and_try_import(ws):
    _setup(ws, """
        import %workspace%/tools/shared.bazelrc
        try-import %workspace%/user.bazelrc
    """)
    ws.write("tools/shared.bazelrc", "build --//f:color=blue\n")
    assert _build(ws) == _with(color="blue")
    ws.write("user.bazelrc", "build --no//f:loud\n")
    assert _build(ws) == _with(color="blue", loud="no")


def test_rc_import_order(ws):
    _setup(ws, """
        build --//f:color=green
        import %workspace%/tools/shared.bazelrc
    """)
    ws.write("tools/shared.bazelrc", "build --//f:color=blue\n")
    assert _build(ws) == _with(color="blue")  # read later, so it wins


def test_rc_missing_import_is_an_error(ws):
    _setup(ws, "import %workspace%/does/not/exist.bazelrc\n")
    r = ws.kiln("build", "//f:report")
    assert r.code == 2, r.output
    assert "exist.bazelrc" in r.stderr


def test_rc_unknown_option_is_an_error_with_location(ws):
    _setup(ws, "# comment\nbuild --frobnicate\n")
    r = ws.kiln("build", "//f:report")
    assert r.code == 2, r.output
    assert "--frobnicate" in r.stderr
    assert ".bazelrc:2" in r.stderr


def test_home_rc_is_read_after_workspace_rc(ws):
    _setup(ws, "build --//f:color=blue\nbuild --no//f:loud\n")
    (ws.output_base.parent / "home" / ".bazelrc").write_text("build --//f:color=green\n")
    assert _build(ws) == _with(color="green", loud="no")


def test_bazelrc_startup_option_and_ignore_all_rc_files(ws):
    _setup(ws, "build --//f:color=blue\n")
    extra = ws.output_base.parent / "extra.bazelrc"
    extra.write_text("build --define=mode=x\n")
    r = ws.kiln(f"--bazelrc={extra}", "build", "//f:report")
    assert r.code == 0, r.output
    assert _parse((ws.root / "kiln-bin/f/report.txt").read_text()) == _with(color="blue", define="x")
    r = ws.kiln("--ignore_all_rc_files", "build", "//f:report")
    assert r.code == 0, r.output
    assert _parse((ws.root / "kiln-bin/f/report.txt").read_text()) == DEFAULT


def test_rc_info_inherits_build(ws):
    _setup(ws, "build -c opt\n")
    r = ws.kiln("info", "compilation_mode")
    assert r.code == 0, r.output
    assert r.stdout == "opt\n"
