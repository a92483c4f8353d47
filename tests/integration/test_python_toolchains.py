"""rules_python's toolchain rules beside py_runtime_pair: current_py_toolchain's $(PYTHON3) in a genrule,
a registered custom runtime used by genrules and binaries alike, py_cc_toolchain's headers through
current_py_cc_headers, py_exec_tools_toolchain, and a py_runtime_pair without a Python 3 runtime."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from conftest import unavailable

PY312 = next(iter(sorted(Path(os.path.expanduser("~/.pyenv/versions")).glob("3.12.*/bin/python3.12"))), None)

VERSION_GENRULE = '''
genrule(
    name = "version",
    outs = ["version.txt"],
    cmd = "$(PYTHON3) -c 'import sys; print(*sys.version_info[:2], sep=chr(46))' > $@",
    toolchains = ["@rules_python//python:current_py_toolchain"],
)
'''


def test_current_py_toolchain_offers_python3_to_a_genrule(ws):
    ws.write("g/BUILD.bazel", VERSION_GENRULE)
    r = ws.kiln("build", "//g:version")
    assert r.code == 0, r.output
    # The default toolchain is the machine's Python kiln found (@kiln_local_python).
    assert (ws.root / "kiln-bin/g/version.txt").read_text().strip() == "%d.%d" % sys.version_info[:2]


@pytest.fixture
def py312():
    if PY312 is None:
        unavailable("no CPython 3.12 under ~/.pyenv/versions")
    return str(PY312)


def test_a_registered_custom_runtime_runs_genrules_and_binaries(ws, py312):
    ws.write("MODULE.bazel", 'module(name = "test_ws")\nregister_toolchains("//rt:all")\n')
    ws.write("rt/BUILD.bazel", f'''
load("@rules_python//python:defs.bzl", "py_runtime", "py_runtime_pair")
py_runtime(
    name = "py312",
    interpreter_path = "{py312}",
    interpreter_version_info = {{"major": "3", "minor": "12"}},
)
py_runtime_pair(name = "pair", py3_runtime = ":py312")
toolchain(
    name = "toolchain",
    toolchain = ":pair",
    toolchain_type = "@rules_python//python:toolchain_type",
)
''')
    ws.write("g/BUILD.bazel", VERSION_GENRULE + '''
load("@rules_python//python:defs.bzl", "py_binary", "py_test")
py_binary(name = "show", srcs = ["show.py"])
py_test(name = "on_312", srcs = ["on_312.py"], size = "small")
''')
    ws.write("g/on_312.py", "import sys\nassert sys.version_info[:2] == (3, 12), sys.version\nprint('ran on', sys.version)\n")
    ws.write("g/show.py", "import sys\nprint('%d.%d' % sys.version_info[:2])\n")
    r = ws.kiln("build", "//g:version")
    assert r.code == 0, r.output
    assert (ws.root / "kiln-bin/g/version.txt").read_text().strip() == "3.12"
    r = ws.kiln("run", "//g:show")
    assert r.code == 0, r.output
    assert r.stdout.strip() == "3.12"
    # The test runs sandboxed, on the runtime's installation shown read-only inside.
    r = ws.kiln("test", "//g:on_312")
    assert r.code == 0, r.output + (ws.root / "kiln-testlogs/g/on_312/test.log").read_text()
    assert "ran on 3.12" in (ws.root / "kiln-testlogs/g/on_312/test.log").read_text()


def test_py_cc_toolchain_headers_reach_current_py_cc_headers(ws):
    ws.write("MODULE.bazel", 'module(name = "test_ws")\nregister_toolchains("//cc:all")\n')
    ws.write("cc/BUILD.bazel", '''
load("@rules_python//python/cc:py_cc_toolchain.bzl", "py_cc_toolchain")
filegroup(name = "headers", srcs = ["Python.h"])
filegroup(name = "libs", srcs = ["libpython3.so"])
py_cc_toolchain(name = "py_cc", headers = ":headers", libs = ":libs", python_version = "3.11")
toolchain(name = "toolchain", toolchain = ":py_cc", toolchain_type = "@rules_python//python/cc:toolchain_type")
genrule(
    name = "list",
    srcs = ["@rules_python//python/cc:current_py_cc_headers", "@rules_python//python/cc:current_py_cc_libs"],
    outs = ["list.txt"],
    cmd = "for f in $(SRCS); do basename $$f; done > $@",
)
''')
    ws.write("cc/Python.h", "/* header */\n")
    ws.write("cc/libpython3.so", "")
    r = ws.kiln("build", "//cc:list")
    assert r.code == 0, r.output
    assert (ws.root / "kiln-bin/cc/list.txt").read_text().split() == ["Python.h", "libpython3.so"]


def test_py_exec_tools_toolchain_loads_and_resolves(ws):
    ws.write("MODULE.bazel", 'module(name = "test_ws")\nregister_toolchains("//x:all")\n')
    ws.write("x/BUILD.bazel", '''
load("@rules_python//python:py_exec_tools_toolchain.bzl", "py_exec_tools_toolchain")
load("@rules_python//python:defs.bzl", "py_binary")
py_binary(name = "compile", srcs = ["compile.py"])
py_exec_tools_toolchain(name = "tools", precompiler = ":compile")
toolchain(name = "toolchain", toolchain = ":tools", toolchain_type = "@rules_python//python:exec_tools_toolchain_type")
''')
    ws.write("x/compile.py", "")
    r = ws.kiln("build", "//x:all")
    assert r.code == 0, r.output
    r = ws.kiln("cquery", "deps(//x:tools)")
    assert r.code == 0, r.output
    assert "//x:compile" in r.stdout


def test_a_runtime_pair_without_a_python3_runtime_is_refused_by_name(ws):
    ws.write("MODULE.bazel", 'module(name = "test_ws")\nregister_toolchains("//rt:all")\n')
    ws.write("rt/BUILD.bazel", '''
load("@rules_python//python:defs.bzl", "py_runtime_pair")
py_runtime_pair(name = "empty")
toolchain(name = "toolchain", toolchain = ":empty", toolchain_type = "@rules_python//python:toolchain_type")
''')
    ws.write("b/BUILD.bazel", 'load("@rules_python//python:defs.bzl", "py_binary")\npy_binary(name = "b", srcs = ["b.py"])\n')
    ws.write("b/b.py", "")
    r = ws.kiln("build", "//b:b")
    assert r.code == 1, r.output
    assert "b/BUILD.bazel:2:1: in py_binary rule //b:b: the resolved Python toolchain " \
           "(@rules_python//python:toolchain_type) is //rt:empty, a py_runtime_pair without py3_runtime" in r.stderr
    assert "Traceback" not in r.output


def _versioned_ws(ws, py312):
    ws.write("MODULE.bazel", 'module(name = "test_ws")\nregister_toolchains("//rt:all")\n')
    ws.write("rt/BUILD.bazel", f'''
load("@rules_python//python:defs.bzl", "py_runtime", "py_runtime_pair")
py_runtime(name = "py312", interpreter_path = "{py312}", interpreter_version_info = {{"major": "3", "minor": "12"}})
py_runtime_pair(name = "pair312", py3_runtime = ":py312")
toolchain(
    name = "toolchain_312",
    toolchain = ":pair312",
    toolchain_type = "@rules_python//python:toolchain_type",
    target_settings = ["@rules_python//python/config_settings:is_python_3.12"],
)
''')
    ws.write("v/BUILD.bazel", '''
load("@rules_python//python:defs.bzl", "py_test")
py_test(name = "on_312", srcs = ["check.py"], main = "check.py", python_version = "3.12", args = ["3.12"],
        size = "small")
py_test(name = "on_default", srcs = ["check.py"], main = "check.py", args = ["%s"], size = "small")
genrule(
    name = "which",
    outs = ["which.txt"],
    cmd = select({
        "@rules_python//python/config_settings:is_python_3.12": "echo twelve > $@",
        "//conditions:default": "echo other > $@",
    }),
)
''' % "%d.%d" % sys.version_info[:2])
    ws.write("v/check.py", "import sys\nwant = sys.argv[1]\nhave = '%d.%d' % sys.version_info[:2]\n"
                           "assert have == want, (have, want)\nprint('ran on', have)\n")


def test_python_version_on_a_test_picks_the_runtime_registered_for_it(ws, py312):
    _versioned_ws(ws, py312)
    r = ws.kiln("test", "//v:on_312", "//v:on_default")
    assert r.code == 0, r.output + "".join(
        (ws.root / f"kiln-testlogs/v/{n}/test.log").read_text() for n in ("on_312", "on_default")
        if (ws.root / f"kiln-testlogs/v/{n}/test.log").exists())
    assert "ran on 3.12" in (ws.root / "kiln-testlogs/v/on_312/test.log").read_text()


def test_the_python_version_flag_drives_select_and_is_python_settings(ws, py312):
    _versioned_ws(ws, py312)
    assert ws.kiln("build", "//v:which").code == 0
    assert (ws.root / "kiln-bin/v/which.txt").read_text() == "other\n"
    r = ws.kiln("build", "//v:which", "--@rules_python//python/config_settings:python_version=3.12")
    assert r.code == 0, r.output
    assert (ws.root / "kiln-bin/v/which.txt").read_text() == "twelve\n"


def test_a_python_version_nothing_registered_provides_is_refused(ws, py312):
    _versioned_ws(ws, py312)
    ws.write("w/BUILD.bazel", 'load("@rules_python//python:defs.bzl", "py_binary")\n'
                              'py_binary(name = "old", srcs = ["old.py"], python_version = "3.9")\n')
    ws.write("w/old.py", "")
    r = ws.kiln("build", "//w:old")
    assert r.code == 1, r.output
    assert "w/BUILD.bazel:2:1: in python_version attribute of py_binary rule //w:old: python_version '3.9': " \
           "no registered Python toolchain provides it. Registered versions: 3.12; without a version constraint: " \
           "cpython %d.%d" % sys.version_info[:2] in r.stderr, r.stderr
    assert "Traceback" not in r.output


def test_kiln_run_python_bin_python_starts_the_resolved_interpreter(ws, py312):
    _versioned_ws(ws, py312)
    version = ("-c", "import sys; print(*sys.version_info[:2], sep='.')")
    r = ws.kiln("run", "@rules_python//python/bin:python", "--", *version)
    assert r.code == 0, r.output
    assert r.stdout.strip() == "%d.%d" % sys.version_info[:2]
    r = ws.kiln("run", "@rules_python//python/bin:python", "--@rules_python//python/config_settings:python_version=3.12",
                "--", *version)
    assert r.code == 0, r.output
    assert r.stdout.strip() == "3.12"


def test_the_autodetecting_toolchain_can_be_registered_by_name(ws):
    ws.write("MODULE.bazel", 'module(name = "test_ws")\nbazel_dep(name = "rules_python", version = "1.5.0")\n'
                             'register_toolchains("@rules_python//python:autodetecting_toolchain")\n')
    ws.write("a/BUILD.bazel", VERSION_GENRULE)
    r = ws.kiln("build", "//a:version", "--toolchain_resolution_debug=@rules_python//python:toolchain_type")
    assert r.code == 0, r.output
    assert (ws.root / "kiln-bin/a/version.txt").read_text().strip() == "%d.%d" % sys.version_info[:2]
    # The registered toolchain is chosen; kiln's own fallback (the same runtime) comes after it and is skipped.
    assert "Selected toolchain @kiln_local_python//:runtime_pair" in r.stderr, r.stderr
    assert "Skipped toolchain @kiln_local_python//:runtime_pair; @kiln_local_python//:runtime_pair comes first" \
        in r.stderr, r.stderr
