"""Configurations as the build uses them: exec tools in their own output directory, conflicting actions."""

from __future__ import annotations

import os

from kiln.core.config import Configuration


def test_two_actions_generating_one_file_is_an_error_naming_both(ws):
    ws.write("p/BUILD.bazel", 'genrule(name = "a", outs = ["sub/x.txt"], cmd = "echo a > $@")\n')
    ws.write("p/sub/BUILD.bazel", 'genrule(name = "b", outs = ["x.txt"], cmd = "echo b > $@")\n')
    r = ws.kiln("build", "//p/...")
    assert r.code == 1, r.output
    c = Configuration()
    assert (f"ERROR: p/sub/BUILD.bazel:1:1: in genrule rule //p/sub:b: file '{c.bin_dir}/p/sub/x.txt' is generated "
            "by these conflicting actions:\n"
            f"  //p/sub:b ({c.short_id}, k8-fastbuild)\n"
            f"  //p:a ({c.short_id}, k8-fastbuild)") in r.output
    assert "Traceback" not in r.output


def test_a_genrule_tool_is_built_in_the_exec_configuration(ws):
    ws.write("p/tool.py", "import sys\nopen(sys.argv[1], 'w').write('made by the tool\\n')\n")
    ws.write("p/BUILD.bazel", """
        py_binary(name = "tool", srcs = ["tool.py"])
        genrule(name = "g", outs = ["g.txt"], tools = [":tool"], cmd = "$(execpath :tool) $@")
    """)
    r = ws.kiln("build", "//p:g", "-c", "dbg")
    assert r.code == 0, r.output
    assert (ws.root / "kiln-bin/p/g.txt").read_text() == "made by the tool\n"
    exec_dir = Configuration(compilation_mode="dbg").exec_configuration().output_dir
    assert exec_dir.startswith("kiln-out/k8-opt-exec-")
    tool = ws.output_base / "execroot/_main" / exec_dir / "bin/p/tool"
    assert os.access(tool, os.X_OK)
    # The tool is not in the target configuration's directory.
    assert not (ws.root / "kiln-bin/p/tool").exists()


def test_kiln_config_lists_and_explains_the_configurations_a_build_used(ws):
    ws.write("p/tool.py", "import sys\nopen(sys.argv[1], 'w').write('x')\n")
    ws.write("p/BUILD.bazel", """
        py_binary(name = "tool", srcs = ["tool.py"])
        genrule(name = "g", outs = ["g.txt"], tools = [":tool"], cmd = "$(execpath :tool) $@")
    """)
    assert ws.kiln("build", "//p:g", "--define=color=blue").code == 0
    target = Configuration(defines=(("color", "blue"),))
    exec_ = target.exec_configuration()
    r = ws.kiln("config")
    assert r.code == 0, r.output
    assert r.stdout.splitlines() == ["Available configurations:", f"{target.short_id} k8-fastbuild",
                                     f"{exec_.short_id} {exec_.name}"]
    r = ws.kiln("config", exec_.short_id)
    assert r.code == 0, r.output
    assert f"Configuration {exec_.id}" in r.stdout
    assert "  compilation_mode: opt\n" in r.stdout and "  is_exec: True\n" in r.stdout
    assert "  defines:\n    color=blue\n" in r.stdout  # --define carries over into the exec configuration
    r = ws.kiln("config", "0000000")
    assert r.code == 2
    assert "ERROR: No configuration found with id: 0000000" in r.output


def _tool_workspace(ws):
    ws.write("p/tool.py", "import sys\nopen(sys.argv[1], 'w').write('x')\n")
    ws.write("p/BUILD.bazel", """
        py_binary(name = "tool", srcs = ["tool.py"])
        genrule(name = "g", outs = ["g.txt"], tools = [":tool"], cmd = "$(execpath :tool) $@")
    """)


def test_cquery_shows_configured_targets_with_their_configurations(ws):
    _tool_workspace(ws)
    t, e = Configuration(), Configuration().exec_configuration()
    r = ws.kiln("cquery", "deps(//p:g)")
    assert r.code == 0, r.output
    # The tool's resolved Python toolchain is a dependency too, in the tool's (exec) configuration.
    # So are the precompiling settings a py_binary reads (rules_python's implicit dependencies).
    flags = [f"@rules_python//python/config_settings:{f} ({e.short_id})"
             for f in ("precompile", "precompile_add_to_runfiles", "precompile_source_retention", "pyc_collection")]
    assert sorted(r.stdout.splitlines()) == sorted([
        f"//p:g ({t.short_id})", f"//p:tool ({e.short_id})", "//p:tool.py (null)",
        f"@kiln_local_python//:runtime ({e.short_id})", f"@kiln_local_python//:runtime_pair ({e.short_id})",
        *flags, f"@rules_python//tools/precompiler:execution_requirements ({e.short_id})"])
    r = ws.kiln("cquery", "deps(//p:g)", "--output=label_kind")
    assert r.stdout.splitlines()[:3] == [f"genrule rule //p:g ({t.short_id})",
                                         f"py_binary rule //p:tool ({e.short_id})", "source file //p:tool.py (null)"]
    r = ws.kiln("cquery", "//p:g", "--output=transitions")
    assert r.stdout.splitlines() == [f"//p:g ({t.short_id})", "  tools#//p:tool#exec",
                                     f"    {t.short_id} -> {e.short_id}"]
    r = ws.kiln("cquery", "somepath(//p:g, //p:tool.py)")
    assert r.stdout.splitlines() == [f"//p:g ({t.short_id})", f"//p:tool ({e.short_id})", "//p:tool.py (null)"]
    # The same target named on the command line is in the top-level configuration.
    r = ws.kiln("cquery", "//p:tool", "-c", "opt")
    assert r.stdout.splitlines() == [f"//p:tool ({Configuration(compilation_mode='opt').short_id})"]
    # The ids cquery prints are the ones `kiln config` knows.
    assert ws.kiln("config", e.short_id).code == 0


def test_cquery_refuses_what_it_cannot_do(ws):
    _tool_workspace(ws)
    r = ws.kiln("cquery", "allpaths(//p:g, //p:tool.py)")
    assert r.code == 1, r.output
    assert "cquery does not support the function 'allpaths' yet" in r.output
    r = ws.kiln("cquery", "//p:g", "--output=build")
    assert r.code == 2
    assert "--output=build is not a cquery output; kiln cquery supports label, label_kind, transitions" in r.output
    r = ws.kiln("query", "//p:g", "--output=transitions")
    assert r.code == 2
    assert "--output=transitions is a cquery output" in r.output


PLATFORM_BUILD = """
    platform(name = "win", constraint_values = ["@platforms//os:windows", "@platforms//cpu:x86_64"])
    config_setting(name = "is_windows", constraint_values = ["@platforms//os:windows"])
    genrule(
        name = "which",
        outs = ["which.txt"],
        cmd = select({":is_windows": "echo windows > $@", "//conditions:default": "echo other > $@"}),
    )
    genrule(name = "not_a_platform", outs = ["n.txt"], cmd = "echo > $@")
"""


def test_platforms_sets_the_target_platform_that_config_settings_read(ws):
    ws.write("plat/BUILD.bazel", PLATFORM_BUILD)
    r = ws.kiln("build", "//plat:which")
    assert r.code == 0, r.output
    assert (ws.root / "kiln-bin/plat/which.txt").read_text() == "other\n"
    r = ws.kiln("build", "//plat:which", "--platforms=//plat:win")
    assert r.code == 0, r.output
    assert (ws.root / "kiln-bin/plat/which.txt").read_text() == "windows\n"
    # The target platform is part of the configuration.
    r = ws.kiln("cquery", "//plat:which", "--platforms=//plat:win")
    assert r.stdout.strip() == f"//plat:which ({Configuration(platform='//plat:win').short_id})"
    assert Configuration(platform="//plat:win").short_id != Configuration().short_id


def test_the_host_platform_is_a_target(ws):
    ws.write("BUILD.bazel", "")
    r = ws.kiln("query", "@platforms//host", "--output=label_kind")
    assert r.code == 0, r.output
    assert r.stdout.strip() == "host_platform rule @platforms//host:host"
    # Bazel 7's name for it works as --platforms too.
    ws.write("plat/BUILD.bazel", PLATFORM_BUILD)
    r = ws.kiln("build", "//plat:which", "--platforms=@local_config_platform//:host")
    assert r.code == 0, r.output
    assert (ws.root / "kiln-bin/plat/which.txt").read_text() == "other\n"


def test_platforms_naming_something_that_is_not_a_platform(ws):
    ws.write("plat/BUILD.bazel", PLATFORM_BUILD)
    r = ws.kiln("build", "//plat:which", "--platforms=//plat:not_a_platform")
    assert r.code == 2, r.output
    assert ("ERROR: --platforms=//plat:not_a_platform: '//plat:not_a_platform' was given as the target platform "
            "(--platforms), but it is a genrule and does not provide PlatformInfo: name a platform() target") in r.output
    r = ws.kiln("build", "//plat:which", "--platforms=//plat:missing")
    assert r.code == 2, r.output
    assert "--platforms=//plat:missing: no such target '//plat:missing'" in r.output
    assert "Traceback" not in r.output
