"""`kiln build`: rules, genrule make variables, globs, macros, select(), visibility,
--keep_going, target patterns, and the hermetic environment of actions."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from conftest import Workspace


def _new_ws(factory, name: str) -> Workspace:
    base = factory.mktemp(name)
    root = base / "ws"
    root.mkdir()
    (base / "home").mkdir()
    return Workspace(root, base / "output_base")


def _summary(output: str) -> tuple[int, int]:
    m = re.search(r"(\d+) actions? executed, (\d+) from cache", output)
    assert m, f"no build summary in:\n{output}"
    return int(m[1]), int(m[2])


def _analyzed(output: str) -> int:
    m = re.search(r"Analyzed (\d+) targets?", output)
    assert m, f"no 'Analyzed N targets' line in:\n{output}"
    return int(m[1])


def _up_to_date(output: str) -> set[str]:
    return set(re.findall(r"^Target (\S+) up-to-date", output, re.M))


def _read(ws: Workspace, path: str) -> str:
    return (ws.root / path).read_text()


# --------------------------------------------------------------------------
# Rules: py_library / py_binary / genrule / filegroup / alias / copy_file / write_file
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rws(tmp_path_factory) -> Workspace:
    ws = _new_ws(tmp_path_factory, "rules")
    ws.write("lib/BUILD.bazel", """
        load("@rules_python//python:defs.bzl", "py_binary", "py_library")

        py_library(
            name = "util",
            srcs = ["util.py"],
            data = ["data.txt"],
            imports = [".."],
            deps = ["@rules_python//python/runfiles"],
        )

        py_binary(
            name = "gen",
            srcs = ["gen.py"],
            deps = [":util"],
        )

        # A genrule whose tool is a py_binary: the tool's runfiles must work in the action.
        genrule(
            name = "use_tool",
            srcs = ["in.txt"],
            outs = ["tool_out.txt"],
            tools = [":gen"],
            cmd = "$(location :gen) $< $@",
        )

        genrule(
            name = "use_tool_execpath",
            srcs = ["in.txt"],
            outs = ["tool_out2.txt"],
            tools = [":gen"],
            cmd = "$(execpath :gen) $(location in.txt) $(location tool_out2.txt)",
        )
    """)
    ws.write("lib/util.py", """
        from runfiles import Runfiles

        def suffix():
            r = Runfiles.Create()
            with open(r.Rlocation("_main/lib/data.txt")) as f:
                return f.read().strip()
    """)
    ws.write("lib/gen.py", """
        import sys
        from lib.util import suffix

        src, out = sys.argv[1], sys.argv[2]
        with open(src) as f:
            text = f.read().strip()
        with open(out, "w") as f:
            f.write(text.upper() + "+" + suffix() + "\\n")
    """)
    ws.write("lib/data.txt", "from-data\n")
    ws.write("lib/in.txt", "hello tool\n")

    ws.write("files/BUILD.bazel", """
        load("@bazel_skylib//rules:copy_file.bzl", "copy_file")
        load("@aspect_bazel_lib//lib:copy_file.bzl", aspect_copy_file = "copy_file")
        load("@bazel_skylib//rules:write_file.bzl", "write_file")

        copy_file(name = "skylib_copy", src = "orig.txt", out = "skylib_copy.txt")
        copy_file(name = "exe_copy", src = "script.sh", out = "exe_copy.sh", is_executable = True)
        aspect_copy_file(name = "aspect_copy", src = "orig.txt", out = "aspect_copy.txt", allow_symlink = True)
        copy_file(name = "copy_of_generated", src = ":written", out = "copy_of_written.txt")

        write_file(name = "written", out = "written.txt", content = ["line one", "line two"])

        filegroup(name = "group", srcs = ["orig.txt", ":written"])

        alias(name = "the_alias", actual = ":skylib_copy")

        genrule(
            name = "from_group",
            srcs = [":group"],
            outs = ["from_group.txt"],
            cmd = "cat $(SRCS) > $@",
        )

        genrule(
            name = "from_alias",
            srcs = [":the_alias"],
            outs = ["from_alias.txt"],
            cmd = "cat $(location :the_alias) > $@",
        )
    """)
    ws.write("files/orig.txt", "original content\n")
    ws.write("files/script.sh", "#!/bin/sh\necho script\n")
    return ws


def test_py_binary_builds_launcher_and_runfiles_tree(rws):
    r = rws.kiln("build", "//lib:gen")
    assert r.code == 0, r.output
    assert "Target //lib:gen up-to-date:" in r.output
    assert "kiln-bin/lib/gen" in r.output
    launcher = rws.root / "kiln-bin/lib/gen"
    assert launcher.is_file() and os.access(launcher, os.X_OK)
    tree = rws.root / "kiln-bin/lib/gen.runfiles"
    assert (tree / "_main/lib/gen.py").read_text() == _read(rws, "lib/gen.py")
    assert (tree / "_main/lib/util.py").exists()
    assert (tree / "_main/lib/data.txt").read_text() == "from-data\n"
    manifest = (tree / "MANIFEST").read_text().splitlines()
    entries = dict(line.split(" ", 1) for line in manifest)
    assert "_main/lib/data.txt" in entries
    assert Path(entries["_main/lib/data.txt"]).read_text() == "from-data\n"
    assert (tree / "_repo_mapping").exists()


def test_py_binary_launcher_runs_outside_kiln(rws):
    r = rws.kiln("build", "//lib:gen")
    assert r.code == 0, r.output
    src = rws.root / "lib/in.txt"
    out = rws.output_base.parent / "direct_out.txt"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNFILES", "KILN_"))}
    proc = subprocess.run([str(rws.root / "kiln-bin/lib/gen"), str(src), str(out)], env=env,
                          capture_output=True, text=True, cwd="/")
    assert proc.returncode == 0, proc.stderr
    assert out.read_text() == "HELLO TOOL+from-data\n"


def test_genrule_with_py_binary_tool_uses_its_runfiles(rws):
    r = rws.kiln("build", "//lib:use_tool", "//lib:use_tool_execpath")
    assert r.code == 0, r.output
    assert _read(rws, "kiln-bin/lib/tool_out.txt") == "HELLO TOOL+from-data\n"
    assert _read(rws, "kiln-bin/lib/tool_out2.txt") == "HELLO TOOL+from-data\n"
    assert "kiln-bin/lib/tool_out.txt" in r.output


def test_py_library_alone_builds_nothing_but_succeeds(rws):
    r = rws.kiln("build", "//lib:util")
    assert r.code == 0, r.output
    assert "Build completed successfully" in r.output
    assert _summary(r.output)[0] == 0


def test_copy_file_skylib_and_aspect(rws):
    r = rws.kiln("build", "//files:skylib_copy", "//files:aspect_copy", "//files:exe_copy",
                 "//files:copy_of_generated")
    assert r.code == 0, r.output
    assert _read(rws, "kiln-bin/files/skylib_copy.txt") == "original content\n"
    assert _read(rws, "kiln-bin/files/aspect_copy.txt") == "original content\n"
    assert _read(rws, "kiln-bin/files/copy_of_written.txt") == "line one\nline two\n"
    exe = rws.root / "kiln-bin/files/exe_copy.sh"
    assert os.access(exe, os.X_OK)
    assert not os.access(rws.root / "kiln-bin/files/skylib_copy.txt", os.X_OK)
    assert "kiln-bin/files/aspect_copy.txt" in r.output


def test_write_file_content_has_trailing_newline(rws):
    r = rws.kiln("build", "//files:written")
    assert r.code == 0, r.output
    assert _read(rws, "kiln-bin/files/written.txt") == "line one\nline two\n"
    assert "Target //files:written up-to-date:\n  kiln-bin/files/written.txt" in r.output


def test_filegroup_and_alias_feed_genrules(rws):
    r = rws.kiln("build", "//files:from_group", "//files:from_alias")
    assert r.code == 0, r.output
    assert _read(rws, "kiln-bin/files/from_group.txt") == "original content\nline one\nline two\n"
    assert _read(rws, "kiln-bin/files/from_alias.txt") == "original content\n"


def test_building_an_alias_builds_its_actual(rws):
    r = rws.kiln("build", "//files:the_alias")
    assert r.code == 0, r.output
    assert "kiln-bin/files/skylib_copy.txt" in r.output
    assert _read(rws, "kiln-bin/files/skylib_copy.txt") == "original content\n"


# --------------------------------------------------------------------------
# genrule make variables
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gws(tmp_path_factory) -> Workspace:
    ws = _new_ws(tmp_path_factory, "genrule")
    ws.write("g/BUILD.bazel", """
        load("@bazel_skylib//rules:write_file.bzl", "write_file")

        write_file(name = "w", out = "w.txt", content = ["generated"])
        filegroup(name = "two", srcs = ["a.txt", "b.txt"])

        genrule(
            name = "vars",
            srcs = ["a.txt", "b.txt", ":w"],
            tools = [":two"],
            outs = ["o1.txt", "o2.txt"],
            cmd = " && ".join([
                "echo \\"SRCS=$(SRCS)\\" > $(location o1.txt)",
                "echo \\"OUTS=$(OUTS)\\" >> $(location o1.txt)",
                "echo \\"AT_D=$(@D)\\" >> $(location o1.txt)",
                "echo \\"RULEDIR=$(RULEDIR)\\" >> $(location o1.txt)",
                "echo \\"BINDIR=$(BINDIR)\\" >> $(location o1.txt)",
                "echo \\"LOCATION_SRC=$(location a.txt)\\" >> $(location o1.txt)",
                "echo \\"LOCATIONS=$(locations :two)\\" >> $(location o1.txt)",
                "echo \\"EXECPATH_GEN=$(execpath :w)\\" >> $(location o1.txt)",
                "echo \\"ROOTPATH_GEN=$(rootpath :w)\\" >> $(location o1.txt)",
                "echo \\"EXECPATH_SRC=$(execpath b.txt)\\" >> $(location o1.txt)",
                "echo \\"ROOTPATH_SRC=$(rootpath :b.txt)\\" >> $(location o1.txt)",
                "X=dollar && echo \\"DOLLAR=$$X\\" >> $(location o1.txt)",
                "cat $(location :w) > $(location o2.txt)",
            ]),
        )

        genrule(
            name = "single",
            srcs = ["a.txt"],
            outs = ["single.txt"],
            cmd = "cat $< > $@ && echo \\"AT=$@\\" >> $@ && echo \\"LT=$<\\" >> $@ && echo \\"AT_D=$(@D)\\" >> $@",
        )

        genrule(
            name = "nested",
            srcs = ["a.txt"],
            outs = ["sub/deep.txt"],
            cmd = "echo \\"AT_D=$(@D)\\" > $@ && echo \\"RULEDIR=$(RULEDIR)\\" >> $@ && echo \\"AT=$@\\" >> $@",
        )

        genrule(
            name = "chain",
            srcs = [":single"],
            outs = ["chain.txt"],
            cmd = "tr a-z A-Z < $< > $@",
        )

        genrule(
            name = "ambiguous_location",
            srcs = [":two"],
            outs = ["ambiguous.txt"],
            cmd = "echo $(location :two) > $@",
            tags = ["manual"],
        )

        genrule(
            name = "forgets_output",
            outs = ["never.txt", "made.txt"],
            cmd = "touch $(location made.txt)",
            tags = ["manual"],
        )

        genrule(
            name = "fails_mentioning_bash",
            outs = ["fails2.txt"],
            cmd = "echo '/bin/bash: cannot do that' >&2; exit 1",
            tags = ["manual"],
        )

        genrule(
            name = "reads_undeclared",
            srcs = ["a.txt"],
            outs = ["reads_undeclared.txt"],
            cmd = "cat g/a.txt g/b.txt > $@",
            tags = ["manual"],
        )

        genrule(
            name = "fails",
            outs = ["fails.txt"],
            cmd = "echo about to fail >&2; exit 3",
            tags = ["manual"],
        )
    """)
    ws.write("g/a.txt", "alpha\n")
    ws.write("g/b.txt", "beta\n")
    return ws


def _vars(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def test_genrule_make_variables(gws):
    r = gws.kiln("build", "//g:vars")
    assert r.code == 0, r.output
    v = _vars(_read(gws, "kiln-bin/g/o1.txt"))
    bindir = v["BINDIR"]
    assert not bindir.startswith("/") and bindir.endswith("/bin"), bindir
    assert v["SRCS"] == f"g/a.txt g/b.txt {bindir}/g/w.txt"
    assert v["OUTS"] == f"{bindir}/g/o1.txt {bindir}/g/o2.txt"
    assert v["AT_D"] == f"{bindir}/g"
    assert v["RULEDIR"] == f"{bindir}/g"
    assert v["LOCATION_SRC"] == "g/a.txt"
    assert v["LOCATIONS"] == "g/a.txt g/b.txt"
    assert v["EXECPATH_GEN"] == f"{bindir}/g/w.txt"
    assert v["ROOTPATH_GEN"] == "g/w.txt"
    assert v["EXECPATH_SRC"] == "g/b.txt"
    assert v["ROOTPATH_SRC"] == "g/b.txt"
    assert v["DOLLAR"] == "dollar"  # $$X is the shell's $X
    assert _read(gws, "kiln-bin/g/o2.txt") == "generated\n"
    assert "kiln-bin/g/o1.txt" in r.output and "kiln-bin/g/o2.txt" in r.output


def test_genrule_single_src_and_out_shorthands(gws):
    r = gws.kiln("build", "//g:single", "//g:vars")
    assert r.code == 0, r.output
    bindir = _vars(_read(gws, "kiln-bin/g/o1.txt"))["BINDIR"]
    lines = _read(gws, "kiln-bin/g/single.txt").splitlines()
    assert lines == ["alpha", f"AT={bindir}/g/single.txt", "LT=g/a.txt", f"AT_D={bindir}/g"]


def test_genrule_at_d_of_nested_output_vs_ruledir(gws):
    r = gws.kiln("build", "//g:nested", "//g:vars")
    assert r.code == 0, r.output
    bindir = _vars(_read(gws, "kiln-bin/g/o1.txt"))["BINDIR"]
    v = _vars(_read(gws, "kiln-bin/g/sub/deep.txt"))
    assert v == {"AT_D": f"{bindir}/g/sub", "RULEDIR": f"{bindir}/g", "AT": f"{bindir}/g/sub/deep.txt"}


def test_build_output_file_label(gws):
    r = gws.kiln("build", "//g:sub/deep.txt")
    assert r.code == 0, r.output
    assert (gws.root / "kiln-bin/g/sub/deep.txt").exists()
    r = gws.kiln("build", "//g:a.txt")  # a source file: nothing to do
    assert r.code == 0, r.output
    assert _summary(r.output)[0] == 0


def test_genrule_chain_consumes_generated_file(gws):
    r = gws.kiln("build", "//g:chain")
    assert r.code == 0, r.output
    assert _read(gws, "kiln-bin/g/chain.txt").splitlines()[0] == "ALPHA"


def test_genrule_location_of_multiple_files_is_an_error(gws):
    r = gws.kiln("build", "//g:ambiguous_location")
    assert r.code == 1, r.output
    assert "//g:ambiguous_location" in r.output
    assert "locations" in r.output  # the message points at $(locations)


def test_genrule_missing_declared_output_fails(gws):
    r = gws.kiln("build", "//g:forgets_output")
    assert r.code == 1, r.output
    assert "never.txt" in r.output
    assert "ERROR" in r.stderr


def test_failure_note_does_not_blame_system_files(gws):
    r = gws.kiln("build", "//g:fails_mentioning_bash")
    assert r.code == 1, r.output
    assert "/bin/bash: cannot do that" in r.stderr
    assert "note:" not in r.stderr
    assert "exist(s) in the workspace" not in r.stderr


def test_failure_note_names_undeclared_workspace_file(gws):
    r = gws.kiln("build", "//g:reads_undeclared")
    assert r.code == 1, r.output
    assert "note: 'g/b.txt'" in r.stderr


def test_genrule_failing_command_reports_exit_and_stderr(gws):
    r = gws.kiln("build", "//g:fails")
    assert r.code == 1, r.output
    assert "//g:fails" in r.stderr
    assert "about to fail" in r.stderr
    assert "(Exit 3)" in r.stderr
    assert "Build completed successfully" not in r.output
    assert r.stdout == ""


# --------------------------------------------------------------------------
# glob, macros, select, visibility
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lws(tmp_path_factory) -> Workspace:
    ws = _new_ws(tmp_path_factory, "loading")
    # glob
    ws.write("globs/BUILD.bazel", """
        filegroup(name = "txt", srcs = glob(["**/*.txt"], exclude = ["skip*.txt"]))
        filegroup(name = "with_dirs", srcs = glob(["*"], exclude = ["BUILD.bazel", "*.txt"], exclude_directories = 0))
        filegroup(name = "no_dirs", srcs = glob(["*"], exclude = ["BUILD.bazel", "*.txt"]), tags = ["manual"])
        genrule(name = "list_txt", srcs = [":txt"], outs = ["list_txt.out"], cmd = "echo $(SRCS) > $@")
    """)
    for f in ("a.txt", "b.txt", "skip_me.txt", "dir/c.txt", "dir/deeper/d.txt", "sub/s.txt", "tool.py"):
        ws.write(f"globs/{f}", f"{f}\n")
    ws.write("globs/sub/BUILD.bazel", 'exports_files(["s.txt"])\n')
    # macros
    ws.write("macros/defs.bzl", """
        def shout(name, text, visibility = None):
            native.genrule(
                name = name,
                outs = [name + ".txt"],
                cmd = "echo '%s' | tr a-z A-Z > $@" % text,
                visibility = visibility,
            )
            native.filegroup(
                name = name + "_files",
                srcs = [":" + name],
            )

        def where(name):
            native.genrule(
                name = name,
                outs = [name + ".txt"],
                cmd = "echo '%s' > $@" % native.package_name(),
            )
    """)
    ws.write("macros/BUILD.bazel", """
        load(":defs.bzl", "shout", "where")

        shout(name = "hi", text = "hello macro")
        where(name = "pkgname")
        genrule(name = "uses", srcs = [":hi_files"], outs = ["uses.txt"], cmd = "cat $(SRCS) $(SRCS) > $@")
    """)
    # select
    ws.write("sel/BUILD.bazel", """
        load("@bazel_skylib//rules:common_settings.bzl", "bool_flag", "string_flag")

        string_flag(name = "color", build_setting_default = "red", values = ["red", "blue"])
        bool_flag(name = "fast", build_setting_default = False)

        config_setting(name = "is_blue", flag_values = {":color": "blue"})
        config_setting(name = "is_fast", flag_values = {":fast": "true"})
        config_setting(name = "is_opt", values = {"compilation_mode": "opt"})

        genrule(
            name = "pick",
            srcs = ["base.txt"] + select({
                ":is_blue": ["blue.txt"],
                "//conditions:default": ["red.txt"],
            }),
            outs = ["pick.txt"],
            cmd = "cat $(SRCS) > $@ && echo " + select({
                ":is_fast": "fast",
                "//conditions:default": "slow",
            }) + " >> $@ && echo " + select({
                ":is_opt": "opt",
                "//conditions:default": "notopt",
            }) + " >> $@",
        )

        genrule(
            name = "no_default",
            outs = ["no_default.txt"],
            cmd = select({":is_blue": "echo blue > $@"}),
            tags = ["manual"],
        )
    """)
    ws.write("sel/base.txt", "base\n")
    ws.write("sel/blue.txt", "blue\n")
    ws.write("sel/red.txt", "red\n")
    # visibility
    ws.write("vis/pub/BUILD.bazel", """
        package(default_visibility = ["//visibility:public"])
        genrule(name = "pub", outs = ["pub.txt"], cmd = "echo pub > $@")
    """)
    ws.write("vis/priv/BUILD.bazel", """
        exports_files(["exported.txt"])
        genrule(name = "priv", outs = ["priv.txt"], cmd = "echo priv > $@")
        genrule(name = "for_user", outs = ["for_user.txt"], cmd = "echo x > $@", visibility = ["//vis/user:__pkg__"])
    """)
    ws.write("vis/priv/exported.txt", "exported\n")
    ws.write("vis/user/BUILD.bazel", """
        genrule(
            name = "ok",
            srcs = ["//vis/pub:pub", "//vis/priv:exported.txt", "//vis/priv:for_user"],
            outs = ["ok.txt"],
            cmd = "cat $(SRCS) > $@",
        )
        genrule(
            name = "bad",
            srcs = ["//vis/priv:priv"],
            outs = ["bad.txt"],
            cmd = "cat $(SRCS) > $@",
            tags = ["manual"],
        )
    """)
    return ws


def test_glob_include_exclude_and_subpackage_boundary(lws):
    r = lws.kiln("build", "//globs:list_txt")
    assert r.code == 0, r.output
    listed = _read(lws, "kiln-bin/globs/list_txt.out").split()
    assert listed == ["globs/a.txt", "globs/b.txt", "globs/dir/c.txt", "globs/dir/deeper/d.txt"]


def test_glob_exclude_directories(lws):
    r = lws.kiln("query", "labels(srcs, //globs:with_dirs)")
    assert r.code == 0, r.output
    labels = set(r.stdout.split())
    assert "//globs:dir" in labels
    assert "//globs:tool.py" in labels
    assert "//globs:sub" not in labels  # a subpackage is not part of this package
    r = lws.kiln("query", "labels(srcs, //globs:no_dirs)")
    assert r.code == 0, r.output
    assert r.stdout.split() == ["//globs:tool.py"]


def test_macro_calling_native_rules(lws):
    r = lws.kiln("build", "//macros:all")
    assert r.code == 0, r.output
    assert _read(lws, "kiln-bin/macros/hi.txt") == "HELLO MACRO\n"
    assert _read(lws, "kiln-bin/macros/uses.txt") == "HELLO MACRO\nHELLO MACRO\n"
    assert _read(lws, "kiln-bin/macros/pkgname.txt") == "macros\n"
    assert {"//macros:hi", "//macros:pkgname", "//macros:uses", "//macros:hi_files"} <= _up_to_date(r.output)


def _pick(ws: Workspace, *flags: str) -> list[str]:
    r = ws.kiln("build", "//sel:pick", *flags)
    assert r.code == 0, r.output
    # kiln-bin follows the configuration of the last build (k8-opt for -c opt).
    return _read(ws, "kiln-bin/sel/pick.txt").splitlines()


def test_select_defaults(lws):
    assert _pick(lws) == ["base", "red", "slow", "notopt"]


def test_select_on_string_flag_concatenated_with_list(lws):
    assert _pick(lws, "--//sel:color=blue") == ["base", "blue", "slow", "notopt"]


def test_select_on_bool_flag(lws):
    assert _pick(lws, "--//sel:fast") == ["base", "red", "fast", "notopt"]
    assert _pick(lws, "--//sel:fast=true", "--//sel:fast=false") == ["base", "red", "slow", "notopt"]


def test_select_on_compilation_mode(lws):
    assert _pick(lws, "-c", "opt", "--//sel:color=blue", "--//sel:fast") == ["base", "blue", "fast", "opt"]
    assert _pick(lws, "--compilation_mode=dbg") == ["base", "red", "slow", "notopt"]


def test_select_without_match_or_default_is_an_error(lws):
    r = lws.kiln("build", "//sel:no_default")
    assert r.code == 1, r.output
    assert "//sel:no_default" in r.output
    assert "is_blue" in r.output  # the conditions that were tried
    assert "default condition" in r.output


def test_string_flag_rejects_value_outside_values(lws):
    r = lws.kiln("build", "//sel:pick", "--//sel:color=green")
    assert r.code != 0, r.output
    assert "green" in r.stderr


def test_visibility_public_default_and_exports_files(lws):
    r = lws.kiln("build", "//vis/user:ok")
    assert r.code == 0, r.output
    assert _read(lws, "kiln-bin/vis/user/ok.txt") == "pub\nexported\nx\n"


def test_private_target_is_not_visible(lws):
    r = lws.kiln("build", "//vis/user:bad")
    assert r.code == 1, r.output
    assert "//vis/priv:priv" in r.stderr
    assert "visib" in r.stderr.lower()


# --------------------------------------------------------------------------
# --keep_going
# --------------------------------------------------------------------------


def _keep_going_ws(ws: Workspace) -> None:
    ws.write("k/BUILD.bazel", """
        genrule(name = "good1", outs = ["good1.txt"], cmd = "echo good1 > $@")
        genrule(name = "bad", outs = ["bad.txt"], cmd = "echo broken >&2; exit 1")
        genrule(name = "after_bad", srcs = [":bad"], outs = ["after_bad.txt"], cmd = "cat $< > $@")
        genrule(name = "good2", srcs = [":good1"], outs = ["good2.txt"], cmd = "cat $< > $@; echo good2 >> $@")
    """)


def test_keep_going_builds_good_targets(ws):
    _keep_going_ws(ws)
    r = ws.kiln("build", "--keep_going", "//k:all")
    assert r.code == 1, r.output
    assert _read(ws, "kiln-bin/k/good1.txt") == "good1\n"
    assert _read(ws, "kiln-bin/k/good2.txt") == "good1\ngood2\n"
    assert not (ws.root / "kiln-bin/k/after_bad.txt").exists()
    assert not (ws.root / "kiln-bin/k/bad.txt").exists()
    assert "//k:bad" in r.stderr
    assert "broken" in r.stderr
    assert "Build completed successfully" not in r.output


def test_keep_going_short_flag(ws):
    _keep_going_ws(ws)
    r = ws.kiln("build", "-k", "//k:good2", "//k:bad")
    assert r.code == 1, r.output
    assert _read(ws, "kiln-bin/k/good2.txt") == "good1\ngood2\n"


def test_without_keep_going_failure_exits_1(ws):
    _keep_going_ws(ws)
    r = ws.kiln("build", "//k:after_bad")
    assert r.code == 1, r.output
    assert "//k:bad" in r.stderr
    assert not (ws.root / "kiln-bin/k/after_bad.txt").exists()


def test_keep_going_with_loading_error_builds_the_rest(ws):
    _keep_going_ws(ws)
    ws.write("broken/BUILD.bazel", "genrule(name = 'x', outs = ['x.txt'], cmd = 'true', nonsense_attr = 1)\n")
    r = ws.kiln("build", "--keep_going", "//k:good1", "//broken:x")
    assert r.code == 1, r.output
    assert "nonsense_attr" in r.stderr
    assert _read(ws, "kiln-bin/k/good1.txt") == "good1\n"


# --------------------------------------------------------------------------
# target patterns
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pws(tmp_path_factory) -> Workspace:
    ws = _new_ws(tmp_path_factory, "patterns")
    wf = 'load("@bazel_skylib//rules:write_file.bzl", "write_file")\n'
    ws.write("pat/BUILD.bazel", wf + 'write_file(name = "top", out = "top.txt", content = ["top"])\n')
    ws.write("pat/a/BUILD.bazel", wf + """
        write_file(name = "a1", out = "a1.txt", content = ["a1"])
        write_file(name = "a2", out = "a2.txt", content = ["a2"])
        filegroup(name = "srcs", srcs = ["src.txt"])
    """.replace("\n        ", "\n"))
    ws.write("pat/a/src.txt", "src\n")
    ws.write("pat/b/BUILD.bazel", wf + """
        write_file(name = "b1", out = "b1.txt", content = ["b1"])
        write_file(name = "bm", out = "bm.txt", content = ["bm"], tags = ["manual"])
    """.replace("\n        ", "\n"))
    ws.write("pat/b/c/BUILD.bazel", wf + 'write_file(name = "c1", out = "c1.txt", content = ["c1"])\n')
    ws.write("pat/notapkg/file.txt", "not a package\n")
    ws.write("other/BUILD.bazel", wf + 'write_file(name = "o1", out = "o1.txt", content = ["o1"])\n')
    return ws


ALL_RULES = {"//pat:top", "//pat/a:a1", "//pat/a:a2", "//pat/b:b1", "//pat/b/c:c1", "//other:o1"}


def test_pattern_everything(pws):
    r = pws.kiln("build", "//...")
    assert r.code == 0, r.output
    assert _up_to_date(r.output) == ALL_RULES
    assert _analyzed(r.output) == 7  # the six rules above plus //pat/a:srcs; //pat/b:bm is manual


def test_pattern_recursive_under_package(pws):
    r = pws.kiln("build", "//pat/b/...")
    assert r.code == 0, r.output
    assert _up_to_date(r.output) == {"//pat/b:b1", "//pat/b/c:c1"}


def test_pattern_all_rules_in_package(pws):
    r = pws.kiln("build", "//pat/a:all")
    assert r.code == 0, r.output
    assert _up_to_date(r.output) == {"//pat/a:a1", "//pat/a:a2"}
    assert _analyzed(r.output) == 3


def test_pattern_all_targets_in_package_includes_files(pws):
    r = pws.kiln("build", "//pat/a:*")
    assert r.code == 0, r.output
    assert {"//pat/a:a1", "//pat/a:a2"} <= _up_to_date(r.output)
    # rules a1, a2, srcs; files a1.txt, a2.txt, src.txt (and maybe the BUILD file)
    assert _analyzed(r.output) >= 6


def test_manual_target_named_explicitly_is_built(pws):
    r = pws.kiln("build", "//pat/b:bm")
    assert r.code == 0, r.output
    assert _read(pws, "kiln-bin/pat/b/bm.txt") == "bm\n"
    r = pws.kiln("build", "//pat/b:all")
    assert _up_to_date(r.output) == {"//pat/b:b1"}


def test_negative_patterns_after_dashdash(pws):
    r = pws.kiln("build", "--", "//...", "-//pat/b/...", "-//pat/a:a2")
    assert r.code == 0, r.output
    assert _up_to_date(r.output) == {"//pat:top", "//pat/a:a1", "//other:o1"}


def test_negative_only_pattern_builds_nothing(pws):
    r = pws.kiln("build", "--", "//pat/a:all", "-//pat/a:all")
    assert r.code == 0, r.output
    assert _up_to_date(r.output) == set()


def test_relative_patterns_from_subdirectory(pws):
    r = pws.kiln("build", "...", cwd=pws.root / "pat/b")
    assert r.code == 0, r.output
    assert _up_to_date(r.output) == {"//pat/b:b1", "//pat/b/c:c1"}
    r = pws.kiln("build", "a:a1", "b/c:all", cwd=pws.root / "pat")
    assert r.code == 0, r.output
    assert _up_to_date(r.output) == {"//pat/a:a1", "//pat/b/c:c1"}
    r = pws.kiln("build", ":a2", cwd=pws.root / "pat/a")
    assert r.code == 0, r.output
    assert _up_to_date(r.output) == {"//pat/a:a2"}
    r = pws.kiln("build", "//other:o1", cwd=pws.root / "pat/a")
    assert r.code == 0, r.output
    assert _up_to_date(r.output) == {"//other:o1"}
    # Outputs are linked at the workspace root, not in the subdirectory.
    assert (pws.root / "kiln-bin/other/o1.txt").read_text() == "o1\n"
    assert not (pws.root / "pat/a/kiln-bin").exists()


def test_relative_pattern_from_non_package_directory(pws):
    r = pws.kiln("build", "...", cwd=pws.root / "pat/notapkg")
    # Nothing to build beneath a directory without packages: Bazel reports it.
    assert r.code != 0, r.output
    assert "notapkg" in r.stderr


def test_missing_package_is_an_error(pws):
    r = pws.kiln("build", "//nope:x")
    assert r.code == 1, r.output
    assert "nope" in r.stderr
    r = pws.kiln("build", "//pat/a:missing")
    assert r.code == 1, r.output
    assert "missing" in r.stderr


def test_no_targets_builds_nothing_and_says_so(pws):
    # As Bazel: a warning and success, not an error.
    r = pws.kiln("build")
    assert r.code == 0, r.output
    assert "requested nothing to build" in r.stderr


def test_no_targets_for_test_exits_4(pws):
    r = pws.kiln("test")
    assert r.code == 4, r.output
    assert "No test targets were found" in r.stderr


# --------------------------------------------------------------------------
# hermetic actions
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hws(tmp_path_factory) -> Workspace:
    ws = _new_ws(tmp_path_factory, "hermetic")
    ws.write("h/BUILD.bazel", """
        genrule(name = "env", outs = ["env.txt"], cmd = "env > $@")
        genrule(
            name = "sneaky",
            srcs = ["declared.txt"],
            outs = ["sneaky.txt"],
            cmd = "cat h/declared.txt > $@ && cat h/undeclared.txt >> $@",
        )
        genrule(
            name = "listing",
            srcs = ["declared.txt"],
            outs = ["listing.txt"],
            cmd = "find . -path ./kiln-out -prune -o -type f -print -o -type l -print | sort > $@",
        )
        genrule(
            name = "tmp1",
            outs = ["tmp1.txt"],
            cmd = "ls -A \\"$$TMPDIR\\" > $@ && echo one > \\"$$TMPDIR/mine\\" && echo \\"$$TMPDIR\\" >> $@",
        )
        genrule(
            name = "tmp2",
            outs = ["tmp2.txt"],
            cmd = "ls -A \\"$$TMPDIR\\" > $@ && echo two > \\"$$TMPDIR/mine\\" && echo \\"$$TMPDIR\\" >> $@",
        )
    """)
    ws.write("h/declared.txt", "declared\n")
    ws.write("h/undeclared.txt", "undeclared\n")
    return ws


def _env_of_action(ws: Workspace, *flags: str, env: dict | None = None) -> dict[str, str]:
    r = ws.kiln("build", "//h:env", *flags, env=env)
    assert r.code == 0, r.output
    return _vars(_read(ws, "kiln-bin/h/env.txt"))


def test_action_cannot_read_undeclared_file(hws):
    r = hws.kiln("build", "//h:sneaky")
    assert r.code == 1, r.output
    assert "undeclared.txt" in r.stderr
    assert not (hws.root / "kiln-bin/h/sneaky.txt").exists()


def test_action_sees_only_declared_inputs(hws):
    r = hws.kiln("build", "//h:listing")
    assert r.code == 0, r.output
    assert _read(hws, "kiln-bin/h/listing.txt").split() == ["./h/declared.txt"]


def test_action_environment_is_fixed(hws):
    client_env = {"HOME": "/home/somebody", "PATH": "/opt/leak/bin:" + os.environ["PATH"],
                  "LEAKY_VARIABLE": "should-not-be-seen", "PYTHONPATH": "/leak"}
    env = _env_of_action(hws, env=client_env)
    assert "HOME" not in env
    assert "LEAKY_VARIABLE" not in env
    assert "PYTHONPATH" not in env
    assert env["PATH"] == "/bin:/usr/bin:/usr/local/bin"


def test_action_env_flag_is_visible(hws):
    env = _env_of_action(hws, "--action_env=GREETING=hello there", "--action_env=FROM_CLIENT",
                         env={"FROM_CLIENT": "client-value"})
    assert env["GREETING"] == "hello there"
    assert env["FROM_CLIENT"] == "client-value"
    env = _env_of_action(hws)
    assert "GREETING" not in env


def test_action_env_can_set_path(hws):
    env = _env_of_action(hws, "--action_env=PATH=/custom/bin:/bin:/usr/bin")
    assert env["PATH"] == "/custom/bin:/bin:/usr/bin"


def test_action_tmpdir_is_private(hws):
    # In the Linux sandbox each action gets a /tmp of its own: the host's /tmp, which holds pytest's
    # directories, is not there. All it holds are the mount points of kiln's own tool directories,
    # should kiln itself live under /tmp.
    from kiln.repos.local_runtime import host_runtime_dirs

    mount_points = sorted({d.split("/")[2] for d in host_runtime_dirs() if d.startswith("/tmp/")})
    r = hws.kiln("build", "//h:tmp1", "//h:tmp2")
    assert r.code == 0, r.output
    assert _read(hws, "kiln-bin/h/tmp1.txt").splitlines() == [*mount_points, "/tmp"]
    assert _read(hws, "kiln-bin/h/tmp2.txt").splitlines() == [*mount_points, "/tmp"]


def test_action_tmpdir_is_private_without_namespaces(ws):
    # processwrapper-sandbox: a TMPDIR of its own per action, outside the system's /tmp and the workspace.
    ws.write("h/BUILD.bazel", """
        [genrule(
            name = n,
            outs = [n + ".txt"],
            cmd = "ls -A \\"$$TMPDIR\\" > $@ && echo x > \\"$$TMPDIR/mine\\" && echo \\"$$TMPDIR\\" >> $@",
        ) for n in ("tmp1", "tmp2")]
    """)
    r = ws.kiln("build", "--spawn_strategy=processwrapper-sandbox", "//h:tmp1", "//h:tmp2")
    assert r.code == 0, r.output
    t1 = _read(ws, "kiln-bin/h/tmp1.txt").splitlines()
    t2 = _read(ws, "kiln-bin/h/tmp2.txt").splitlines()
    assert len(t1) == 1 and len(t2) == 1, (t1, t2)
    assert t1[0] != t2[0]
    for d in (t1[0], t2[0]):
        assert os.path.isabs(d)
        assert os.path.realpath(d) not in ("/tmp", "/var/tmp")
        assert not d.startswith(str(ws.root) + "/")
