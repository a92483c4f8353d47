"""Seed 002's custom toolchain suite (toolchain_impl/ + toolchains/), its slips fixed and its C parts
replaced by prebuilt files and its 3.12 by the system's CPython 3.11: binaries and tests run on the
suite's in-build runtime."""

from __future__ import annotations

import os
import subprocess

import pytest

from conftest import unavailable

# The system's CPython (visible inside every sandbox), as the suite's in-build interpreter.
SYSTEM_PY = "/usr/bin/python3.11"

TOOLCHAIN_IMPL = '''
load("@rules_python//python:py_cc_toolchain.bzl", "py_cc_toolchain")
load("@rules_python//python:py_exec_tools_toolchain.bzl", "py_exec_tools_toolchain")
load("@rules_python//python:py_runtime.bzl", "py_runtime")
load("@rules_python//python:py_runtime_pair.bzl", "py_runtime_pair")

MAJOR = 3
MINOR = 11
MICRO = {micro}

py_runtime(
    name = "runtime",
    interpreter = ":python3.11",
    interpreter_version_info = {
        "major": str(MAJOR),
        "minor": str(MINOR),
        "micro": str(MICRO),
    },
    implementation_name = "cpython",
)

py_runtime_pair(
    name = "runtime_pair",
    py3_runtime = ":runtime",
)

py_cc_toolchain(
    name = "py_cc_toolchain_impl",
    headers = ":headers",
    libs = ":libs",
    python_version = "{}.{}".format(MAJOR, MINOR),
)

py_exec_tools_toolchain(
    name = "exec_tools_toolchain_impl",
    exec_interpreter = "@rules_python//python:none",
    precompiler = ":precompiler-cpython-3.11",
)

# Prebuilt stand-ins for the seed's cc_binary and cc_library targets.
exports_files(["python3.11"])
filegroup(name = "headers", srcs = ["include/Python.h"])
filegroup(name = "libs", srcs = ["lib/libpython3.11.so"])
filegroup(name = "precompiler-cpython-3.11", srcs = ["precompile.sh"])
'''

TOOLCHAINS = '''
toolchain(
    name = "runtime_toolchain",
    toolchain = "//toolchain_impl:runtime_pair",
    toolchain_type = "@rules_python//python:toolchain_type",
    target_compatible_with = ["@platforms//os:linux"],
)

toolchain(
    name = "py_cc_toolchain",
    toolchain = "//toolchain_impl:py_cc_toolchain_impl",
    toolchain_type = "@rules_python//python/cc:toolchain_type",
    target_compatible_with = ["@platforms//os:linux"],
)

toolchain(
    name = "exec_tools_toolchain",
    toolchain = "//toolchain_impl:exec_tools_toolchain_impl",
    toolchain_type = "@rules_python//python:exec_tools_toolchain_type",
    target_settings = [
        "@rules_python//python/config_settings:is_python_3.11",
    ],
    exec_compatible_with = ["@platforms//os:linux"],
)
'''


@pytest.fixture
def suite(ws):
    if not os.path.exists(SYSTEM_PY):
        unavailable(f"no {SYSTEM_PY} (Debian package python3.11)")
    micro = subprocess.run([SYSTEM_PY, "-c", "import sys; print(sys.version_info[2])"], capture_output=True,
                           text=True, check=True).stdout.strip()
    ws.write("MODULE.bazel", 'module(name = "test_ws")\nregister_toolchains("//toolchains:all")\n')
    ws.write("toolchain_impl/BUILD.bazel", TOOLCHAIN_IMPL.replace("{micro}", micro))
    # The in-build interpreter: a prebuilt launcher of the system's CPython (the seed builds one from C).
    ws.write("toolchain_impl/python3.11", f'#!/bin/sh\nexec {SYSTEM_PY} "$@"\n', executable=True)
    ws.write("toolchain_impl/include/Python.h", "/* prebuilt */\n")
    ws.write("toolchain_impl/lib/libpython3.11.so", "")
    ws.write("toolchain_impl/precompile.sh", "#!/bin/sh\n", executable=True)
    ws.write("toolchains/BUILD.bazel", TOOLCHAINS)
    ws.write("app/BUILD.bazel", '''
load("@rules_python//python:defs.bzl", "py_binary", "py_test")
py_binary(name = "app", srcs = ["app.py"])
py_test(name = "app_test", srcs = ["app.py"], main = "app.py", size = "small")
''')
    ws.write("app/app.py", "import sys\nprint('on', '.'.join(map(str, sys.version_info[:3])))\n")
    ws.micro = micro
    return ws


def test_binaries_and_tests_run_on_the_custom_suites_runtime(suite):
    expected = f"on 3.11.{suite.micro}"
    r = suite.kiln("run", "//app:app")
    assert r.code == 0, r.output
    assert r.stdout.strip() == expected
    r = suite.kiln("test", "//app:app_test")
    assert r.code == 0, r.output + (suite.root / "kiln-testlogs/app/app_test/test.log").read_text()
    assert expected in (suite.root / "kiln-testlogs/app/app_test/test.log").read_text()


def test_the_suites_three_toolchain_types_resolve(suite):
    r = suite.kiln("cquery", "deps(//toolchain_impl:exec_tools_toolchain_impl)")
    assert r.code == 0, r.output
    assert "//toolchain_impl:precompiler-cpython-3.11" in r.stdout
    r = suite.kiln("build", "@rules_python//python/cc:current_py_cc_headers")
    assert r.code == 0, r.output
