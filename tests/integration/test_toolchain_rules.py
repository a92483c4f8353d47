"""The platform and toolchain rules through the real command: they load, analyse, show in query, fail clearly."""

from __future__ import annotations

import pytest

MODULE = '''
module(name = "test_ws")
register_toolchains("//t:all")
register_execution_platforms("//p:linux_x86", dev_dependency = True)
'''

CONSTRAINTS = '''
package(default_visibility = ["//visibility:public"])
constraint_setting(name = "os")
constraint_value(name = "linux", constraint_setting = ":os")
constraint_value(name = "macos", constraint_setting = ":os")
constraint_setting(name = "cpu")
constraint_value(name = "x86_64", constraint_setting = ":cpu")
constraint_setting(name = "libc", default_constraint_value = ":glibc")
constraint_value(name = "glibc", constraint_setting = ":libc")
'''

PLATFORMS = '''
package(default_visibility = ["//visibility:public"])
platform(name = "linux", constraint_values = ["//c:linux"], exec_properties = {"OSFamily": "Linux"})
platform(name = "linux_x86", parents = [":linux"], constraint_values = ["//c:x86_64"])
'''

DEFS = '''
PY = config_common.toolchain_type("//t:py_type", mandatory = False)
'''

TOOLCHAINS = '''
load(":defs.bzl", "PY")
RUST = config_common.toolchain_type(":rust_type")
toolchain_type(name = "py_type")
toolchain_type(name = "rust_type")
toolchain(
    name = "py_linux",
    toolchain_type = PY.toolchain_type,
    toolchain = ":py_impl",
    target_compatible_with = ["//c:linux", "//c:glibc"],
    exec_compatible_with = ["//c:x86_64"],
)
toolchain(name = "rust_any", toolchain_type = RUST.toolchain_type, toolchain = "//elsewhere:rust_impl")
'''


@pytest.fixture
def tws(ws):
    ws.write("MODULE.bazel", MODULE)
    ws.write("c/BUILD.bazel", CONSTRAINTS)
    ws.write("p/BUILD.bazel", PLATFORMS)
    ws.write("t/defs.bzl", DEFS)
    ws.write("t/BUILD.bazel", TOOLCHAINS)
    return ws


def test_platform_and_toolchain_targets_build(tws):
    r = tws.kiln("build", "//...")
    assert r.code == 0, r.output


def test_config_common_value_holds_the_label_and_mandatory(tws):
    tws.write("t/BUILD.bazel", TOOLCHAINS + '''
genrule(name = "show", outs = ["show.txt"],
        cmd = "echo %s %s %s %s > $@" % (PY.toolchain_type, PY.mandatory, RUST.toolchain_type, RUST.mandatory))
''')
    r = tws.kiln("build", "//t:show")
    assert r.code == 0, r.output
    assert (tws.root / "kiln-bin/t/show.txt").read_text() == "//t:py_type False //t:rust_type True\n"


def test_query_shows_them(tws):
    r = tws.kiln("query", "//t:all + //p:all", "--output=label_kind")
    assert r.code == 0, r.output
    assert r.stdout.splitlines() == [
        "platform rule //p:linux",
        "platform rule //p:linux_x86",
        "toolchain rule //t:py_linux",
        "toolchain_type rule //t:py_type",
        "toolchain rule //t:rust_any",
        "toolchain_type rule //t:rust_type",
    ]
    r = tws.kiln("query", "deps(//t:py_linux)")
    assert r.code == 0, r.output
    assert {"//t:py_type", "//c:linux", "//c:glibc", "//c:x86_64", "//c:libc"} <= set(r.stdout.split())


def test_workspace_registrations_are_accepted(tws):
    tws.write("WORKSPACE", 'register_toolchains("//t:py_linux")\nregister_execution_platforms("//p:linux")\n')
    r = tws.kiln("build", "//t:all")
    assert r.code == 0, r.output


def test_two_values_of_one_setting(tws):
    tws.write("p/BUILD.bazel", PLATFORMS + 'platform(name = "both", constraint_values = ["//c:linux", "//c:macos"])\n')
    r = tws.kiln("build", "//p:both")
    assert r.code == 1, r.output
    assert ("p/BUILD.bazel:4:1: in constraint_values attribute of platform rule //p:both: Duplicate constraint "
            "values detected: constraint_setting //c:os has [//c:linux, //c:macos]") in r.stderr
    assert "Traceback" not in r.output


def test_toolchain_type_that_is_not_a_toolchain_type(tws):
    tws.write("t/BUILD.bazel", TOOLCHAINS + 'toolchain(name = "bad", toolchain_type = "//c:linux", toolchain = ":x")\n')
    r = tws.kiln("build", "//t:bad")
    assert r.code == 1, r.output
    assert ("t/BUILD.bazel:13:1: in toolchain_type attribute of toolchain rule //t:bad: '//c:linux' is not a "
            "toolchain_type (toolchain //t:bad names it as its toolchain_type)") in r.stderr
    assert "Traceback" not in r.output


def test_registration_of_an_unknown_repository(tws):
    tws.write("MODULE.bazel", MODULE + 'register_toolchains("@nowhere//:all")\n')
    r = tws.kiln("build", "//t:all")
    assert r.code == 1, r.output
    assert ("MODULE.bazel:4:1: register_toolchains(\"@nowhere//:all\"): no repository '@nowhere' is visible "
            "from MODULE.bazel") in r.stderr
    assert "Traceback" not in r.output


def test_config_common_with_a_bad_label(tws):
    tws.write("t/defs.bzl", 'PY = config_common.toolchain_type("//t:a:b")\n')
    r = tws.kiln("build", "//t:all")
    assert r.code == 1, r.output
    assert "t/defs.bzl:1" in r.stderr and "invalid label '//t:a:b'" in r.stderr
    assert "Traceback" not in r.output
