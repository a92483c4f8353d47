"""Bad input gets a clear error, never a Python traceback.

One small test per kind of mistake a user makes. Each writes a tiny workspace,
runs the real `kiln`, and checks

- the exit code (Bazel's: 1 loading/analysis/build failure, 2 bad command
  line, 3 tests failed, 4 no test targets),
- that the message says where the mistake was written (`pkg/BUILD.bazel:3`)
  and which target it concerns, in words a user understands,
- that no Python `Traceback` reaches the user,
- for failing actions, that the command and its output are shown.

A test marked `xfail(strict=True)` asserts what kiln *should* print; its
reason says what kiln does wrong today. When kiln is fixed the test starts
passing, strict xfail turns that into a failure, and the marker comes off.
"""

from __future__ import annotations

import re


BUILD_ERROR, COMMAND_LINE_ERROR, TESTS_FAILED, NO_TESTS = 1, 2, 3, 4


def fails(ws, *args: str, code: int = BUILD_ERROR) -> str:
    """Run kiln, expect exit `code` and no traceback; return everything it printed."""
    r = ws.kiln(*args)
    out = r.output
    assert "Traceback" not in out, out
    assert r.code == code, f"exit code {r.code}, expected {code}:\n{out}"
    return out


def assert_at(out: str, path: str, lines) -> None:
    """The message points at `path` on one of `lines` (as `path:line` or `path:line:col`)."""
    line_alt = "|".join(str(n) for n in lines)
    pattern = rf"(?<![\w.-]){re.escape(path)}:(?:{line_alt})\b"
    assert re.search(pattern, out), f"expected a location {path}:{list(lines)} in:\n{out}"


# --------------------------------------------------------------------------
# Loading: BUILD and .bzl files


def test_syntax_error_names_file_line_and_column(ws):
    ws.write("pkg/BUILD.bazel", """
        filegroup(
            name = "a"
            srcs = [],
        )
    """)
    out = fails(ws, "build", "//pkg:a")
    assert "pkg/BUILD.bazel:3:5" in out
    assert "syntax error" in out
    assert "'srcs'" in out


def test_syntax_error_at_end_of_file_points_at_the_unclosed_call(ws):
    ws.write("pkg/BUILD.bazel", """
        filegroup(
            name = "a",
            srcs = [],
        )

        filegroup(
            name = "b",
            srcs = ["x.txt"],
    """)
    out = fails(ws, "build", "//pkg:a")
    assert "syntax error" in out
    assert_at(out, "pkg/BUILD.bazel", range(6, 10))


def test_syntax_error_in_bzl_file_names_the_bzl_file(ws):
    ws.write("pkg/BUILD.bazel", """
        load(":defs.bzl", "group")

        group(name = "a")
    """)
    ws.write("pkg/defs.bzl", """
        def group(name):
            native.filegroup(name = name srcs = [])
    """)
    out = fails(ws, "build", "//pkg:a")
    assert "pkg/defs.bzl:2:" in out
    assert "syntax error" in out


def test_unknown_rule(ws):
    ws.write("pkg/BUILD.bazel", """
        load("@rules_python//python:defs.bzl", "py_library")

        py_libary(
            name = "lib",
            srcs = [],
        )
    """)
    out = fails(ws, "build", "//pkg:lib")
    assert_at(out, "pkg/BUILD.bazel", [3])
    assert "py_libary" in out
    assert re.search(r"not (found|defined)", out)


def test_unknown_attribute(ws):
    ws.write("pkg/BUILD.bazel", """
        filegroup(
            name = "a",
            srcs = [],
            sources = ["x.txt"],
        )
    """)
    out = fails(ws, "build", "//pkg:a")
    assert_at(out, "pkg/BUILD.bazel", range(1, 6))
    assert "//pkg:a" in out
    assert "no such attribute 'sources'" in out
    assert "filegroup" in out


def test_attribute_of_wrong_type(ws):
    ws.write("pkg/BUILD.bazel", """
        filegroup(
            name = "a",
            srcs = "x.txt",
        )
    """)
    out = fails(ws, "build", "//pkg:a")
    assert_at(out, "pkg/BUILD.bazel", range(1, 5))
    assert "//pkg:a" in out
    assert "'srcs'" in out
    assert "list" in out and "string" in out
    assert '"x.txt"' in out


def test_missing_source_file(ws):
    ws.write("pkg/BUILD.bazel", """
        filegroup(
            name = "a",
            srcs = ["present.txt", "absent.txt"],
        )
    """)
    ws.write("pkg/present.txt", "here\n")
    out = fails(ws, "build", "//pkg:a")
    assert_at(out, "pkg/BUILD.bazel", range(1, 5))
    assert "//pkg:a" in out
    assert "missing input file '//pkg:absent.txt'" in out
    assert "present.txt" not in out


def test_label_naming_a_missing_package(ws):
    ws.write("pkg/BUILD.bazel", """
        filegroup(
            name = "a",
            srcs = ["//nowhere:thing"],
        )
    """)
    out = fails(ws, "build", "//pkg:a")
    assert_at(out, "pkg/BUILD.bazel", range(1, 5))
    assert "//pkg:a" in out
    assert "no such package '//nowhere'" in out


def test_label_naming_a_directory_without_build_file(ws):
    ws.write("pkg/BUILD.bazel", """
        filegroup(
            name = "a",
            srcs = ["//data:thing.txt"],
        )
    """)
    ws.write("data/thing.txt", "x\n")
    out = fails(ws, "build", "//pkg:a")
    assert_at(out, "pkg/BUILD.bazel", range(1, 5))
    assert "no such package '//data'" in out
    assert "BUILD file not found" in out


def test_label_naming_a_missing_target(ws):
    ws.write("pkg/BUILD.bazel", """
        filegroup(
            name = "a",
            srcs = ["//other:nothing"],
        )
    """)
    ws.write("other/BUILD.bazel", 'filegroup(name = "something", srcs = [])\n')
    out = fails(ws, "build", "//pkg:a")
    assert_at(out, "pkg/BUILD.bazel", range(1, 5))
    assert "//pkg:a" in out
    assert "no such target '//other:nothing'" in out
    assert "other/BUILD.bazel" in out


def test_command_line_label_naming_a_missing_target(ws):
    ws.write("pkg/BUILD.bazel", 'filegroup(name = "a", srcs = [])\n')
    out = fails(ws, "build", "//pkg:b")
    assert "no such target '//pkg:b'" in out
    assert "pkg/BUILD.bazel" in out


def test_malformed_label_in_build_file(ws):
    ws.write("pkg/BUILD.bazel", """
        filegroup(
            name = "a",
            srcs = ["//other:bad:name"],
        )
    """)
    out = fails(ws, "build", "//pkg:a")
    assert_at(out, "pkg/BUILD.bazel", range(1, 5))
    assert "//pkg:a" in out
    assert "'srcs'" in out
    assert "invalid label '//other:bad:name'" in out
    assert "may not contain ':'" in out


def test_malformed_target_pattern_on_command_line(ws):
    ws.write("pkg/BUILD.bazel", 'filegroup(name = "a", srcs = [])\n')
    out = fails(ws, "build", "//pkg:a:b")
    assert "invalid target pattern '//pkg:a:b'" in out
    assert "may not contain ':'" in out


def test_dependency_cycle_prints_the_cycle(ws):
    ws.write("pkg/BUILD.bazel", """
        filegroup(name = "a", srcs = [":b"])

        filegroup(name = "b", srcs = [":c"])

        filegroup(name = "c", srcs = [":a"])

        filegroup(name = "d", srcs = [":a"])
    """)
    out = fails(ws, "build", "//pkg:d")
    assert "cycle in dependency graph" in out
    assert_at(out, "pkg/BUILD.bazel", [1, 3, 5])
    # The drawn cycle (`.->`, `|`, `` `-- `` lines) starts and ends on the same
    # target, each step follows a real edge, and //pkg:d, which only leads
    # into the cycle, is not drawn as part of it.
    cycle = re.findall(r"^\s*(?:\.->|\||`--)\s+(//\S+)", out, re.MULTILINE)
    edges = {"//pkg:a": "//pkg:b", "//pkg:b": "//pkg:c", "//pkg:c": "//pkg:a"}
    assert len(cycle) == 4 and cycle[0] == cycle[-1], out
    assert all(edges.get(x) == y for x, y in zip(cycle, cycle[1:])), out


def test_visibility_violation(ws):
    ws.write("secret/BUILD.bazel", """
        filegroup(
            name = "hidden",
            srcs = ["s.txt"],
        )
    """)
    ws.write("secret/s.txt", "s\n")
    ws.write("app/BUILD.bazel", """
        filegroup(name = "ok", srcs = [])

        filegroup(
            name = "user",
            srcs = ["//secret:hidden"],
        )
    """)
    out = fails(ws, "build", "//app:user")
    assert_at(out, "app/BUILD.bazel", range(3, 7))
    assert "'//secret:hidden' is not visible from target '//app:user'" in out


def test_select_with_no_matching_condition_and_no_default(ws):
    ws.write("pkg/BUILD.bazel", """
        config_setting(
            name = "is_opt",
            values = {"compilation_mode": "opt"},
        )

        genrule(
            name = "mode",
            outs = ["mode.txt"],
            cmd = select({
                ":is_opt": "echo opt > $@",
            }),
        )
    """)
    out = fails(ws, "build", "//pkg:mode")
    assert_at(out, "pkg/BUILD.bazel", range(6, 13))
    assert "//pkg:mode" in out
    assert '"cmd"' in out or "'cmd'" in out
    assert re.search(r"does(n't| not) match", out)
    assert ":is_opt" in out


def test_select_key_that_is_not_a_config_setting(ws):
    ws.write("pkg/BUILD.bazel", """
        filegroup(name = "not_a_setting", srcs = [])

        genrule(
            name = "mode",
            outs = ["mode.txt"],
            cmd = select({
                ":not_a_setting": "echo a > $@",
                "//conditions:default": "echo b > $@",
            }),
        )
    """)
    out = fails(ws, "build", "//pkg:mode")
    assert_at(out, "pkg/BUILD.bazel", range(3, 11))
    assert "//pkg:mode" in out
    assert "//pkg:not_a_setting" in out
    assert "config_setting" in out


def test_empty_glob_is_an_error_by_default(ws):
    ws.write("pkg/BUILD.bazel", """
        filegroup(
            name = "docs",
            srcs = glob(["*.md"]),
        )
    """)
    out = fails(ws, "build", "//pkg:docs")
    assert "pkg/BUILD.bazel:3:" in out
    assert "'*.md'" in out
    assert "didn't match anything" in out
    assert "allow_empty" in out


def test_load_of_missing_bzl_file(ws):
    ws.write("tools/BUILD.bazel", "")
    ws.write("pkg/BUILD.bazel", """
        load("//tools:missing.bzl", "helper")

        helper(name = "a")
    """)
    out = fails(ws, "build", "//pkg:a")
    assert "pkg/BUILD.bazel:1:" in out
    assert "cannot load '//tools:missing.bzl'" in out
    assert "does not exist" in out


def test_load_of_symbol_the_well_known_module_does_not_provide(ws):
    ws.write("pkg/BUILD.bazel", """
        load("@rules_python//python:defs.bzl", "py_library", "py_wheel")

        py_library(name = "lib", srcs = [])
    """)
    out = fails(ws, "build", "//pkg:lib")
    assert "pkg/BUILD.bazel:1:" in out
    assert "py_wheel" in out
    assert "@rules_python//python:defs.bzl" in out
    assert re.search(r"kiln .*(does not|doesn't) (yet )?(provide|support)|not supported", out)


def test_starlark_rule_is_not_supported(ws):
    ws.write("pkg/BUILD.bazel", """
        load(":defs.bzl", "my_rule")

        my_rule(
            name = "custom",
        )
    """)
    ws.write("pkg/defs.bzl", """
        def _impl(ctx):
            return []

        my_rule = rule(
            implementation = _impl,
            attrs = {},
        )
    """)
    out = fails(ws, "build", "//pkg:custom")
    assert_at(out, "pkg/BUILD.bazel", [3, 4])
    assert "rule()" in out
    assert re.search(r"(does not|doesn't) support", out)


def test_fail_in_macro_shows_message_and_calling_build_line(ws):
    ws.write("pkg/BUILD.bazel", """
        load(":macros.bzl", "checked_group")

        filegroup(name = "fine", srcs = [])

        checked_group(
            name = "bad",
            srcs = [],
        )
    """)
    ws.write("pkg/macros.bzl", """
        def checked_group(name, srcs):
            if not srcs:
                fail("checked_group %s needs at least one source" % name)
            native.filegroup(name = name, srcs = srcs)
    """)
    out = fails(ws, "build", "//pkg:bad")
    assert "checked_group bad needs at least one source" in out
    assert "pkg/macros.bzl:3:" in out
    assert_at(out, "pkg/BUILD.bazel", [5])


def test_duplicate_target_name(ws):
    ws.write("pkg/BUILD.bazel", """
        filegroup(name = "a", srcs = [])

        filegroup(name = "a", srcs = [])
    """)
    out = fails(ws, "build", "//pkg:a")
    assert_at(out, "pkg/BUILD.bazel", [3])
    assert "'a'" in out
    assert "pkg/BUILD.bazel:1" in out


# --------------------------------------------------------------------------
# Build settings (Starlark flags)

FLAG_BUILD = """
    load("@bazel_skylib//rules:common_settings.bzl", "string_flag")

    string_flag(
        name = "color",
        build_setting_default = "red",
        values = ["red", "green"],
    )

    config_setting(
        name = "is_green",
        flag_values = {":color": "green"},
    )

    genrule(
        name = "paint",
        outs = ["paint.txt"],
        cmd = select({
            ":is_green": "echo green > $@",
            "//conditions:default": "echo other > $@",
        }),
    )
"""


def test_string_flag_set_to_a_value_outside_values(ws):
    ws.write("pkg/BUILD.bazel", FLAG_BUILD)
    out = fails(ws, "build", "//pkg:paint", "--//pkg:color=blue")
    assert_at(out, "pkg/BUILD.bazel", range(3, 8))
    assert "//pkg:color" in out
    assert "invalid value 'blue'" in out
    assert "red" in out and "green" in out


def test_string_flag_default_outside_values(ws):
    ws.write("pkg/BUILD.bazel", """
        load("@bazel_skylib//rules:common_settings.bzl", "string_flag")

        string_flag(
            name = "color",
            build_setting_default = "blue",
            values = ["red", "green"],
        )
    """)
    out = fails(ws, "build", "//pkg:color")
    assert_at(out, "pkg/BUILD.bazel", range(3, 8))
    assert "invalid value 'blue'" in out


def test_command_line_flag_naming_a_missing_target(ws):
    ws.write("pkg/BUILD.bazel", FLAG_BUILD)
    out = fails(ws, "build", "//pkg:paint", "--//pkg:colour=blue", code=COMMAND_LINE_ERROR)
    assert "//pkg:colour" in out
    assert "no such target" in out


def test_command_line_flag_naming_a_target_that_is_not_a_build_setting(ws):
    ws.write("pkg/BUILD.bazel", FLAG_BUILD)
    out = fails(ws, "build", "//pkg:paint", "--//pkg:paint=blue", code=COMMAND_LINE_ERROR)
    assert "//pkg:paint" in out
    assert re.search(r"not a build setting|Unrecognized option", out)


# --------------------------------------------------------------------------
# Execution: actions that fail or misbehave


def test_failing_genrule_shows_command_and_output(ws):
    ws.write("pkg/BUILD.bazel", """
        genrule(
            name = "broken",
            outs = ["out.txt"],
            cmd = "echo 'about to fail' && echo 'bad things happened' >&2 && exit 3",
        )
    """)
    out = fails(ws, "build", "//pkg:broken")
    assert_at(out, "pkg/BUILD.bazel", [1, 2])
    assert "//pkg:broken" in out
    assert re.search(r"(?i)exit\D{0,8}3\b", out)
    assert "exit 3" in out  # the command itself
    assert "about to fail" in out  # its stdout
    assert "bad things happened" in out  # its stderr


def test_output_the_action_did_not_create(ws):
    ws.write("pkg/BUILD.bazel", """
        genrule(
            name = "lazy",
            outs = ["made.txt", "forgotten.txt"],
            cmd = "echo hi > $(location made.txt)",
        )
    """)
    out = fails(ws, "build", "//pkg:lazy")
    assert_at(out, "pkg/BUILD.bazel", [1, 2])
    assert "//pkg:lazy" in out
    assert "forgotten.txt" in out
    assert re.search(r"did not (create|produce)|was not created", out)
    assert "echo hi >" in out  # the command


def test_action_reading_an_undeclared_file(ws):
    ws.write("pkg/BUILD.bazel", """
        genrule(
            name = "sneaky",
            srcs = ["declared.txt"],
            outs = ["out.txt"],
            cmd = "cat pkg/declared.txt pkg/undeclared.txt > $@",
        )
    """)
    ws.write("pkg/declared.txt", "d\n")
    ws.write("pkg/undeclared.txt", "u\n")
    out = fails(ws, "build", "//pkg:sneaky")
    assert_at(out, "pkg/BUILD.bazel", [1, 2])
    assert "//pkg:sneaky" in out
    assert "cat pkg/declared.txt pkg/undeclared.txt" in out  # the command
    assert "pkg/undeclared.txt: No such file or directory" in out  # its output
    assert "not a declared input" in out  # kiln explains why


TWO_GENRULES = """
    genrule(name = "good", outs = ["good.txt"], cmd = "echo good > $@")

    genrule(name = "flaky", outs = ["flaky.txt"], cmd = "echo flaky > $@")
"""


def test_failing_action_leaves_earlier_cached_results_intact(ws):
    ws.write("pkg/BUILD.bazel", TWO_GENRULES)
    first = ws.kiln("build", "//pkg:all")
    assert first.code == 0, first.output
    assert "2 actions executed" in first.output

    ws.write("pkg/BUILD.bazel", TWO_GENRULES.replace("echo flaky > $@", "echo broken; exit 1"))
    out = fails(ws, "build", "//pkg:all")
    assert_at(out, "pkg/BUILD.bazel", [3])
    assert "//pkg:flaky" in out
    assert (ws.root / "kiln-bin/pkg/good.txt").read_text() == "good\n"

    ws.write("pkg/BUILD.bazel", TWO_GENRULES)
    again = ws.kiln("build", "//pkg:all")
    assert again.code == 0, again.output
    assert "0 actions executed, 2 from cache" in again.output
    assert (ws.root / "kiln-bin/pkg/good.txt").read_text() == "good\n"
    assert (ws.root / "kiln-bin/pkg/flaky.txt").read_text() == "flaky\n"


def test_failed_action_does_not_leave_a_stale_output_in_kiln_bin(ws):
    ws.write("pkg/BUILD.bazel", TWO_GENRULES)
    assert ws.kiln("build", "//pkg:all").code == 0
    ws.write("pkg/BUILD.bazel", TWO_GENRULES.replace("echo flaky > $@", "echo broken; exit 1"))
    fails(ws, "build", "//pkg:all")
    assert (ws.root / "kiln-bin/pkg/good.txt").exists()
    assert not (ws.root / "kiln-bin/pkg/flaky.txt").exists()


# --------------------------------------------------------------------------
# The command line


def test_unknown_option(ws):
    ws.write("pkg/BUILD.bazel", 'filegroup(name = "a", srcs = [])\n')
    out = fails(ws, "build", "--no_such_option", "//pkg:a", code=COMMAND_LINE_ERROR)
    assert "Unrecognized option: --no_such_option" in out


def test_option_with_a_bad_value(ws):
    ws.write("pkg/BUILD.bazel", 'filegroup(name = "a", srcs = [])\n')
    out = fails(ws, "build", "--jobs=many", "//pkg:a", code=COMMAND_LINE_ERROR)
    assert "--jobs=many" in out
    assert "'many' is not an int" in out


def test_bad_option_in_bazelrc_names_the_file_and_line(ws):
    ws.write(".bazelrc", "# shared settings\nbuild --jobs=many\n")
    ws.write("pkg/BUILD.bazel", 'filegroup(name = "a", srcs = [])\n')
    out = fails(ws, "build", "//pkg:a", code=COMMAND_LINE_ERROR)
    assert_at(out, ".bazelrc", [2])
    assert "'many' is not an int" in out


def test_undefined_config(ws):
    ws.write("pkg/BUILD.bazel", 'filegroup(name = "a", srcs = [])\n')
    out = fails(ws, "build", "--config=nonexistent", "//pkg:a", code=COMMAND_LINE_ERROR)
    assert "'nonexistent'" in out
    assert "not defined" in out


def test_invalid_compilation_mode(ws):
    ws.write("pkg/BUILD.bazel", 'filegroup(name = "a", srcs = [])\n')
    for args in (["-c", "turbo"], ["--compilation_mode=turbo"]):
        out = fails(ws, "build", *args, "//pkg:a", code=COMMAND_LINE_ERROR)
        assert "'turbo'" in out
        assert "fastbuild" in out and "dbg" in out and "opt" in out


def test_unknown_command(ws):
    out = fails(ws, "frobnicate", "//pkg:a", code=COMMAND_LINE_ERROR)
    assert "Command 'frobnicate' not found" in out
    assert "kiln help" in out


# --------------------------------------------------------------------------
# run and test

PY_PKG = """
    load("@rules_python//python:defs.bzl", "py_library", "py_test")

    py_library(name = "lib", srcs = ["lib.py"])

    py_test(name = "failing_test", srcs = ["failing_test.py"])

    py_test(name = "passing_test", srcs = ["passing_test.py"])
"""


def write_py_pkg(ws):
    ws.write("pkg/BUILD.bazel", PY_PKG)
    ws.write("pkg/lib.py", "")
    ws.write("pkg/failing_test.py", 'assert 1 + 1 == 3, "arithmetic is broken"\n')
    ws.write("pkg/passing_test.py", 'print("ok")\n')


def test_run_of_a_non_executable_target(ws):
    write_py_pkg(ws)
    out = fails(ws, "run", "//pkg:lib", code=COMMAND_LINE_ERROR)
    assert "Cannot run target //pkg:lib" in out
    assert re.search(r"(?i)not executable", out)
    assert "py_library" in out


def test_test_with_no_test_targets(ws):
    write_py_pkg(ws)
    out = fails(ws, "test", "//pkg:lib", code=NO_TESTS)
    assert "No test targets were found" in out


def test_failing_test(ws):
    write_py_pkg(ws)
    out = fails(ws, "test", "//pkg:failing_test", "//pkg:passing_test", code=TESTS_FAILED)
    assert re.search(r"//pkg:failing_test\s+FAILED", out)
    assert re.search(r"//pkg:passing_test\s+PASSED", out)
    assert "kiln-testlogs/pkg/failing_test/test.log" in out
    log = (ws.root / "kiln-testlogs/pkg/failing_test/test.log").read_text()
    assert "arithmetic is broken" in log
