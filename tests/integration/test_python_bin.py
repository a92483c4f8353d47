"""@rules_python//python/bin: `python` runs the resolved interpreter or the one of the py_binary
`--@rules_python//python/bin:python_src` (or its older name `interpreter_src`) names, in that
binary's configuration; `repl` is an interactive Python with `--@rules_python//python/bin:repl_dep`
importable. Runtimes for 3.10 and 3.12 are pyenv's real binaries, registered per version."""

from __future__ import annotations

import glob
import os
import re
import sys

import pytest

from conftest import unavailable

PYTHON = "@rules_python//python/bin:python"
REPL = "@rules_python//python/bin:repl"
VERSION_FLAG = "--@rules_python//python/config_settings:python_version"
PRINT_VERSION = ("--", "-c", "import sys; print(*sys.version_info[:2], sep='.')")
OWN = "%d.%d" % sys.version_info[:2]


def _pyenv(minor: int) -> str:
    found = sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/3.{minor}.*/bin/python3.{minor}")))
    if not found:
        unavailable(f"no CPython 3.{minor} under ~/.pyenv/versions")
    return found[-1]


def _toolchain(minor: int) -> str:
    return f'''
py_runtime(name = "py3{minor}", interpreter_path = "{_pyenv(minor)}",
           interpreter_version_info = {{"major": "3", "minor": "{minor}"}})
py_runtime_pair(name = "pair3{minor}", py3_runtime = ":py3{minor}")
toolchain(
    name = "toolchain_3{minor}",
    toolchain = ":pair3{minor}",
    toolchain_type = "@rules_python//python:toolchain_type",
    target_settings = ["@rules_python//python/config_settings:is_python_3.{minor}"],
)
'''


@pytest.fixture
def pws(ws):
    """A workspace with CPython 3.10 and 3.12 registered; kiln's own Python is the default."""
    ws.write("MODULE.bazel", 'module(name = "test_ws")\nregister_toolchains("//rt:all")\n')
    ws.write("rt/BUILD.bazel", 'load("@rules_python//python:defs.bzl", "py_runtime", "py_runtime_pair")\n'
                               + _toolchain(10) + _toolchain(12))
    ws.write("app/BUILD.bazel", '''
load("@rules_python//python:defs.bzl", "py_binary", "py_library")
py_binary(name = "on_310", srcs = ["main.py"], main = "main.py", python_version = "3.10")
py_binary(name = "plain", srcs = ["main.py"], main = "main.py")
py_library(name = "mylib", srcs = ["mylib.py"], imports = ["."], data = ["greeting.txt"])
''')
    ws.write("app/main.py", "print('main')\n")
    ws.write("app/mylib.py", "import os\nX = 42\n"
                             "GREETING = open(os.path.join(os.environ['RUNFILES_DIR'], '_main/app/greeting.txt')).read()\n")
    ws.write("app/greeting.txt", "hi from the runfiles\n")
    return ws


def _python_version(ws, *flags: str) -> str:
    r = ws.kiln("run", PYTHON, *flags, *PRINT_VERSION)
    assert r.code == 0, r.output
    return r.stdout.strip()


def test_python_runs_the_interpreter_resolved_for_each_python_version(pws):
    assert _python_version(pws) == OWN
    assert _python_version(pws, f"{VERSION_FLAG}=3.12") == "3.12"
    assert _python_version(pws, f"{VERSION_FLAG}=3.10") == "3.10"


def test_python_src_runs_the_runtime_of_a_binary_in_the_binarys_configuration(pws):
    # on_310's python_version transition wins over the command line's version.
    assert _python_version(pws, f"{VERSION_FLAG}=3.12", "--@rules_python//python/bin:python_src=//app:on_310") \
        == "3.10"
    # A binary without python_version runs on the command line's.
    assert _python_version(pws, f"{VERSION_FLAG}=3.12", "--@rules_python//python/bin:python_src=//app:plain") \
        == "3.12"


def test_interpreter_src_is_the_older_name_of_python_src(pws):
    assert _python_version(pws, "--@rules_python//python/bin:interpreter_src=//app:on_310") == "3.10"
    # Both given: python_src, the current name, wins.
    assert _python_version(pws, "--@rules_python//python/bin:interpreter_src=//app:on_310",
                           f"{VERSION_FLAG}=3.12", "--@rules_python//python/bin:python_src=//app:plain") == "3.12"


def test_python_src_naming_a_library_is_refused_by_name(pws):
    r = pws.kiln("run", PYTHON, "--@rules_python//python/bin:python_src=//app:mylib", *PRINT_VERSION)
    assert r.code == 1, r.output
    assert "'//app:mylib' (the value of @rules_python//python/bin:python_src) is a py_library and has no " \
           "Python runtime: name a py_binary or py_test" in r.stderr, r.stderr
    assert "Traceback" not in r.output


REPL_INPUT = 'import sys; print("on", *sys.version_info[:2])\nimport mylib; print(mylib.X, mylib.GREETING)\n'


def test_repl_runs_on_the_resolved_runtime_with_repl_dep_importable(pws):
    r = pws.kiln("run", REPL, f"{VERSION_FLAG}=3.12", "--@rules_python//python/bin:repl_dep=//app:mylib",
                 stdin=REPL_INPUT)
    assert r.code == 0, r.output
    assert "on 3 12" in r.stdout, r.output
    # The library's import path and its runfiles (greeting.txt) are there, as for a py_binary.
    assert "42 hi from the runfiles" in r.stdout, r.output
    # The console's banner names the runtime.
    assert re.search(r"^Python 3\.12\.\d+ ", r.stderr, re.M), r.stderr


def test_repl_without_repl_dep_has_only_the_standard_library(pws):
    r = pws.kiln("run", REPL, stdin=REPL_INPUT)
    assert r.code == 0, r.output
    assert f"on {OWN.replace('.', ' ')}" in r.stdout, r.output
    assert "ModuleNotFoundError: No module named 'mylib'" in r.stderr, r.output


def test_a_label_flag_under_a_transitioned_binary_is_analysed_in_the_binarys_configuration(pws):
    pws.write("lf/BUILD.bazel", '''
load("@rules_python//python:defs.bzl", "py_binary")
label_flag(name = "note", build_setting_default = ":which")
genrule(
    name = "which",
    outs = ["which.txt"],
    cmd = select({
        "@rules_python//python/config_settings:is_python_3.12": "echo twelve > $@",
        "//conditions:default": "echo other > $@",
    }),
)
py_binary(name = "show", srcs = ["show.py"], data = [":note"], python_version = "3.12")
''')
    pws.write("lf/show.py", "import os\nprint(open(os.path.join(os.environ['RUNFILES_DIR'], '_main/lf/which.txt')).read())\n")
    r = pws.kiln("run", "//lf:show")
    assert r.code == 0, r.output
    assert r.stdout.strip() == "twelve"
