"""Tests for kiln.cli.options: option syntax, rc files and --config, errors."""

from pathlib import Path

import pytest

from kiln.cli import option_table as opts
from kiln.cli import options as options_module
from kiln.cli.bazelrc import read_rc_files
from kiln.cli.bazel_options import REASONS
from kiln.cli.option_table import OPTIONS
from kiln.cli.options import parse_args, parse_command_line
from kiln.core.errors import CommandLineError, ExitCode


def parse(*argv, rc=None):
    return parse_args(list(argv), rc)


def rc_from(tmp_path: Path, text: str):
    (tmp_path / ".bazelrc").write_text(text)
    return read_rc_files(tmp_path, None, [])


def error(*argv, rc=None) -> CommandLineError:
    with pytest.raises(CommandLineError) as e:
        parse_args(list(argv), rc)
    assert e.value.exit_code == ExitCode.COMMAND_LINE_ERROR
    return e.value


# --- syntax -----------------------------------------------------------------

def test_defaults_are_filled():
    o = parse("build").options
    assert o.values.compilation_mode == "fastbuild"
    assert o.values.keep_going is False
    assert o.values.check_visibility is True
    assert o.values.incompatible_disallow_empty_glob is True
    assert o.values.symlink_prefix == "kiln-"
    assert o.values.jobs == opts.host_cpus()
    assert o.values.explain is None
    assert o.values.config == () and o.values.define == ()
    assert o.values.test_output == "summary"  # a test option: build cannot set it, it keeps its default
    assert o.sources == {}


def test_test_defaults():
    o = parse("test").options
    assert o.values.test_output == "summary"
    assert o.values.cache_test_results == "auto"
    assert o.values.test_timeout == (60, 300, 900, 3600)
    assert o.values.compilation_mode == "fastbuild"  # test takes build options


def test_equals_and_separate_value():
    assert parse("build", "--compilation_mode=opt").options.values.compilation_mode == "opt"
    assert parse("build", "--compilation_mode", "dbg").options.values.compilation_mode == "dbg"
    assert parse("build", "--symlink_prefix", "out-", "//a").options.residue == ["//a"]


def test_bool_forms():
    assert parse("build", "--keep_going").options.values.keep_going is True
    assert parse("build", "--check_visibility", "--nocheck_visibility").options.values.check_visibility is False
    for text, value in [("true", True), ("yes", True), ("1", True), ("false", False), ("no", False), ("0", False)]:
        assert parse("build", f"--keep_going={text}").options.values.keep_going is value


def test_bool_never_takes_the_next_word():
    o = parse("build", "--keep_going", "false").options
    assert o.values.keep_going is True
    assert o.residue == ["false"]


def test_bad_bool_value():
    assert "'maybe' is not a boolean" in error("build", "--keep_going=maybe").message


def test_negated_bool_with_value_is_an_error():
    assert "Unexpected value" in error("build", "--nokeep_going=true").message


def test_abbreviations():
    o = parse("build", "-c", "opt", "-k", "-j", "3", "-s").options
    assert (o.values.compilation_mode, o.values.keep_going, o.values.jobs, o.values.subcommands) == ("opt", True, 3, True)
    assert parse("build", "-c=dbg").options.values.compilation_mode == "dbg"
    assert "Unrecognized option: -copt" in error("build", "-copt").message


def test_enum_ignores_case():
    assert parse("build", "-c", "OPT").options.values.compilation_mode == "opt"


def test_jobs_keywords(monkeypatch):
    monkeypatch.setattr(opts, "host_cpus", lambda: 8)
    assert parse("build", "--jobs=auto").options.values.jobs == 8
    assert parse("build", "-j", "HOST_CPUS").options.values.jobs == 8
    assert parse("build", "--jobs=HOST_CPUS*0.5").options.values.jobs == 4
    assert parse("build", "--jobs=HOST_CPUS-2").options.values.jobs == 6
    assert parse("build", "--jobs=HOST_CPUS*0.01").options.values.jobs == 1


def test_jobs_errors():
    assert "While parsing option --jobs=many: 'many' is not an int" in error("build", "--jobs=many").message
    assert "at least 1" in error("build", "-j", "0").message


def test_explain_optional_value():
    assert parse("build", "--explain").options.values.explain == "-"
    assert parse("build", "--explain", "//a").options.residue == ["//a"]
    assert parse("build", "--explain=out.txt").options.values.explain == "out.txt"
    assert parse("build", "--toolchain_resolution_debug").options.values.toolchain_resolution_debug == ".*"


def test_repeatable_options_accumulate_and_single_ones_override():
    o = parse("build", "--define=a=1", "--define", "b=2", "-c", "dbg", "-c", "opt",
              "--action_env=PATH", "--action_env=X=1=2", "--extra_toolchains=//t:a").options
    assert o.values.define == (("a", "1"), ("b", "2"))
    assert o.values.compilation_mode == "opt"
    assert o.values.action_env == (("PATH", None), ("X", "1=2"))
    assert o.values.extra_toolchains == ("//t:a",)


def test_define_needs_name_and_value():
    assert "name=value" in error("build", "--define=novalue").message


def test_color_and_curses_are_tristates():
    o = parse("version", "--color=yes", "--nocurses").options
    assert (o.values.color, o.values.curses) == ("yes", "no")
    assert "yes, no or auto" in error("build", "--color=sometimes").message


def test_test_options():
    o = parse("test", "--test_output=errors", "--test_filter=Foo.bar", "--test_env=HOME",
              "--test_env=A=b", "--test_arg=-v", "--test_arg", "--x", "--test_tag_filters=fast,-slow",
              "--test_size_filters=small,-large", "--build_tests_only").options
    assert o.values.test_output == "errors"
    assert o.values.test_filter == "Foo.bar"
    assert o.values.test_env == (("HOME", None), ("A", "b"))
    assert o.values.test_arg == ("-v", "--x")
    assert o.values.test_tag_filters == ("fast", "-slow")
    assert o.values.test_size_filters == ("small", "-large")
    assert o.values.build_tests_only is True
    assert "not a test size" in error("test", "--test_size_filters=huge").message


def test_cache_test_results_tristate():
    assert parse("test", "--nocache_test_results").options.values.cache_test_results == "no"
    assert parse("test", "--cache_test_results").options.values.cache_test_results == "yes"
    assert parse("test", "--cache_test_results=auto").options.values.cache_test_results == "auto"
    assert parse("test", "--cache_test_results=false").options.values.cache_test_results == "no"


def test_test_timeout():
    assert parse("test", "--test_timeout=10").options.values.test_timeout == (10, 10, 10, 10)
    assert parse("test", "--test_timeout=1,-1,3,4").options.values.test_timeout == (1, 300, 3, 4)
    assert "four comma-separated" in error("test", "--test_timeout=1,2").message
    assert "is not an int" in error("test", "--test_timeout=x").message


def test_query_options():
    o = parse("query", "--output=label_kind", "--noimplicit_deps", "--notool_deps", "-k",
              "--order_output=full", "deps(//a)").options
    assert (o.values.output, o.values.keep_going) == ("label_kind", True)
    assert o.values.order_output == "full"
    assert o.values.implicit_deps is False
    # kiln has no exec-configuration edges to drop in query: accepted, reported as ignored.
    assert {word for word, _ in o.ignored} == {"--notool_deps"}
    assert o.residue == ["deps(//a)"]
    assert o.values.compilation_mode == "fastbuild" and "compilation_mode" not in o.sources


def test_clean_options():
    o = parse("clean", "--expunge", "--async").options
    assert o.values.expunge is True
    assert [word for word, _ in o.ignored] == ["--async"]


# --- Starlark flags ---------------------------------------------------------

def test_starlark_flags_in_all_forms():
    o = parse("build", "--//pkg:flag=value", "--@rules_python//python/config_settings:python_version=3.11",
              "--//pkg:on", "--no//pkg:off", "--no@repo//pkg:off2", "--//pkg:flag=again").options
    # Every occurrence is kept: a repeatable list flag takes them all, any other setting the last.
    assert o.starlark_flags == {
        "//pkg:flag": "value\0again",
        "@rules_python//python/config_settings:python_version": "3.11",
        "//pkg:on": "true",
        "//pkg:off": "false",
        "@repo//pkg:off2": "false",
    }
    assert o.sources["//pkg:flag"] == "command line"


def test_starlark_bare_flag_does_not_take_next_word():
    o = parse("build", "--//pkg:on", "//target").options
    assert o.starlark_flags == {"//pkg:on": "true"}
    assert o.residue == ["//target"]


def test_negated_starlark_flag_with_value_is_an_error():
    assert "Unexpected value" in error("build", "--no//pkg:f=1").message


def test_starlark_flags_only_for_building_commands(tmp_path):
    assert "is not an option of 'kiln query'" in error("query", "--//pkg:f=1", "//a").message
    rc = rc_from(tmp_path, "common --//pkg:f=1\n")
    assert parse("query", "//a", rc=rc).options.starlark_flags == {}
    assert parse("test", rc=rc).options.starlark_flags == {"//pkg:f": "1"}


# --- command, residue and -- ------------------------------------------------

def test_startup_options_and_command():
    inv = parse("--output_base", "/ob", "--nohome_rc", "--bazelrc=a.rc", "--bazelrc", "b.rc", "build", "//a")
    assert inv.command == "build"
    assert inv.startup.values.output_base == "/ob"
    assert inv.startup.values.home_rc is False
    assert inv.startup.values.bazelrc == ("a.rc", "b.rc")
    assert inv.options.residue == ["//a"]


def test_no_command_means_help():
    assert parse().command == "help"
    assert parse("--output_base=/x").command == "help"


def test_help_flags_ask_for_help():
    assert (parse("--help").command, parse("--help").options.residue) == ("help", [])
    assert (parse("-h", "build").command, parse("-h", "build").options.residue) == ("help", ["build"])
    inv = parse("build", "-c", "opt", "--help", "//x")
    assert (inv.command, inv.options.residue) == ("help", ["build"])
    inv = parse("run", "//x", "--", "--help")
    assert (inv.command, inv.options.after_dashdash) == ("run", ["--help"])


def test_unknown_command():
    assert error("frob").message == "Command 'frob' not found. Try 'kiln help'."


def test_build_option_before_command_is_not_a_startup_option():
    assert error("-c", "opt", "build").message == "Unknown startup option: -c"


def test_options_may_follow_targets():
    o = parse("build", "//a", "-c", "opt", "//b").options
    assert o.residue == ["//a", "//b"] and o.values.compilation_mode == "opt"


def test_words_after_dashdash_are_untouched():
    o = parse("run", "//tool", "-c", "opt", "--", "--flag", "-c", "x", "--").options
    assert o.residue == ["//tool"]
    assert o.after_dashdash == ["--flag", "-c", "x", "--"]
    assert o.values.compilation_mode == "opt"


def test_subtracted_patterns_after_dashdash():
    o = parse("build", "--", "//...", "-//foo/...").options
    assert o.residue == [] and o.after_dashdash == ["//...", "-//foo/..."]


def test_query_expression_after_dashdash_is_kept_as_is():
    o = parse("query", "--output=build", "--", "deps(//a)", "-", "//b", "--output=x").options
    assert o.values.output == "build"
    assert o.after_dashdash == ["deps(//a)", "-", "//b", "--output=x"]


def test_lone_dash_is_residue():
    assert parse("query", "deps(//a)", "-", "//b").options.residue == ["deps(//a)", "-", "//b"]


# --- errors -----------------------------------------------------------------

def test_unknown_option():
    e = error("build", "--foo=1")
    assert e.message == "Unrecognized option: --foo"
    assert e.location is None


def test_unknown_option_in_rc_names_file_and_line(tmp_path):
    rc = rc_from(tmp_path, "build --jobs=2\nbuild --foo\n")
    e = error("build", rc=rc)
    assert e.render() == f"{tmp_path / '.bazelrc'}:2: Unrecognized option: --foo"


def test_unknown_option_in_common_line_is_still_an_error(tmp_path):
    assert "Unrecognized option: --foo" in error("build", rc=rc_from(tmp_path, "common --foo\n")).message


def test_invalid_enum_value():
    assert error("build", "--compilation_mode=fast").message == (
        "While parsing option --compilation_mode=fast: "
        "Not a valid compilation mode: 'fast' (should be fastbuild, dbg or opt)")
    assert "should be summary, errors, all or streamed" in error("test", "--test_output=some").message


def test_option_of_another_command_on_command_line():
    assert error("build", "--order_output=full").message == "--order_output is not an option of 'kiln build'"
    assert error("clean", "--output=label").message == "--output is not an option of 'kiln clean'"


def test_bazel_options_kiln_honours_elsewhere_are_ignored_where_bazel_takes_them():
    # Bazel's build takes --test_output and its query takes build options; kiln uses them elsewhere.
    o = parse("build", "--test_output=all").options
    assert o.ignored == [("--test_output=all", "kiln uses it only for test, cquery")]
    assert o.values.test_output == "summary"
    o = parse("query", "-c", "opt", "//a").options
    assert o.ignored[0][0] == "-c=opt" and o.ignored[0][1].startswith("kiln uses it only for build, test, run")


def test_missing_value():
    assert error("build", "--symlink_prefix").message == "Expected value after --symlink_prefix"
    assert error("build", "-c").message == "Expected value after -c"


def test_missing_startup_value():
    assert error("--output_base").message == "Expected value after --output_base"


def test_unknown_startup_option():
    assert error("--frob", "build").message == "Unknown startup option: --frob"


def test_rc_value_cannot_come_from_the_next_line(tmp_path):
    rc = rc_from(tmp_path, "build --symlink_prefix\nbuild x-\n")
    assert "Expected value after --symlink_prefix" in error("build", rc=rc).message


def test_rc_line_may_not_contain_residue(tmp_path):
    rc = rc_from(tmp_path, "build //foo\n")
    assert "rc files may only contain options" in error("build", rc=rc).message


# --- rc files ---------------------------------------------------------------

def test_rc_options_apply_and_command_line_wins(tmp_path):
    rc = rc_from(tmp_path, "build -c opt --keep_going --define=a=1\n")
    o = parse("build", rc=rc).options
    assert (o.values.compilation_mode, o.values.keep_going) == ("opt", True)
    assert o.sources["compilation_mode"] == f"{tmp_path / '.bazelrc'}:1"
    o = parse("build", "-c", "dbg", "--nokeep_going", "--define=b=2", rc=rc).options
    assert (o.values.compilation_mode, o.values.keep_going) == ("dbg", False)
    assert o.values.define == (("a", "1"), ("b", "2"))
    assert o.sources["compilation_mode"] == "command line"


def test_test_inherits_build_and_overrides_it(tmp_path):
    rc = rc_from(tmp_path, "test -c dbg\nbuild -c opt --keep_going\n")
    assert parse("test", rc=rc).options.values.compilation_mode == "dbg"
    assert parse("run", rc=rc).options.values.compilation_mode == "opt"
    assert parse("build", rc=rc).options.values.compilation_mode == "opt"
    assert parse("query", rc=rc).options.values.keep_going is False


def test_common_skips_options_the_command_does_not_take(tmp_path):
    rc = rc_from(tmp_path, "common -c opt --keep_going --output=build --color=no\n")
    assert parse("query", rc=rc).options.values.output == "build"
    o = parse("clean", rc=rc).options
    assert o.values.color == "no" and o.values.compilation_mode == "fastbuild" and "compilation_mode" not in o.sources
    assert parse("build", rc=rc).options.values.compilation_mode == "opt"


def test_build_line_may_hold_test_options_for_test(tmp_path):
    rc = rc_from(tmp_path, "build --test_output=errors\n")
    assert parse("build", rc=rc).options.values.test_output == "summary"
    assert parse("test", rc=rc).options.values.test_output == "errors"


def test_build_line_with_query_option_is_an_error(tmp_path):
    # (`build --output=...` is not: cquery reads build lines and takes --output.)
    rc = rc_from(tmp_path, "build --order_output=full\n")
    e = error("build", rc=rc)
    assert e.message == "--order_output is not an option of 'kiln build'"
    assert e.location is not None and e.location.line == 1


def test_always_lines_are_strict(tmp_path):
    rc = rc_from(tmp_path, "always --keep_going --order_output=full\n")
    assert "--order_output is not an option of 'kiln build'" in error("build", rc=rc).message
    rc = rc_from(tmp_path, "always --keep_going\n")
    assert parse("build", rc=rc).options.values.keep_going is True
    # Bazel's clean takes every build option; kiln's ignores them.
    assert parse("clean", rc=rc).options.ignored[0][0] == "--keep_going"


def test_startup_lines_and_command_line_wins(tmp_path):
    rc = rc_from(tmp_path, "startup --output_base=/from/rc\n")
    assert parse("build", rc=rc).startup.values.output_base == "/from/rc"
    inv = parse("--output_base=/from/cli", "build", rc=rc)
    assert inv.startup.values.output_base == "/from/cli"
    assert inv.startup.sources["output_base"] == "command line"


def test_rc_may_not_choose_rc_files(tmp_path):
    rc = rc_from(tmp_path, "startup --bazelrc=/x.rc\n")
    assert "only be given on the command line" in error("build", rc=rc).message


def test_ignored_options_are_reported(tmp_path):
    rc = rc_from(tmp_path, "common --enable_workspace --lockfile_mode=off\nbuild --noincompatible_strict_action_env\n")
    o = parse("build", "--java_runtime_version", "remotejdk_17", rc=rc).options
    assert o.ignored == [
        ("--enable_workspace", REASONS["workspace"]),
        ("--lockfile_mode=off", REASONS["lockfile"]),
        ("--noincompatible_strict_action_env", REASONS["actionenv"]),
        ("--java_runtime_version=remotejdk_17", "kiln builds no Java"),
    ]
    assert not hasattr(o.values, "enable_workspace")


def test_ignored_startup_option():
    inv = parse("--host_jvm_args=-Xmx1g", "--nosystem_rc", "build")
    assert [text for text, _ in inv.startup.ignored] == ["--host_jvm_args=-Xmx1g", "--nosystem_rc"]


def test_a_misspelt_experimental_flag_is_an_error_naming_the_real_one():
    assert error("build", "--experimental_worker_multiplex_sandboxng").message == (
        "Unrecognized option: --experimental_worker_multiplex_sandboxng "
        "(did you mean --experimental_worker_multiplex_sandboxing?)")


def test_a_migration_flag_unlike_any_real_one_is_accepted_and_ignored():
    # Bazel versions add and drop such flags; one from another version is not a misspelling.
    o = parse("build", "--noincompatible_frobnicate_widgets", "--experimental_zorp=3").options
    assert [text for text, _ in o.ignored] == ["--noincompatible_frobnicate_widgets", "--experimental_zorp=3"]
    assert {reason for _, reason in o.ignored} == {options_module.LENIENT_REASON}


# --- --config ---------------------------------------------------------------

def test_config_expands_in_place(tmp_path):
    rc = rc_from(tmp_path, "build:opt -c opt --define=c=1\n")
    o = parse("build", "-c", "dbg", "--config=opt", rc=rc).options
    assert o.values.compilation_mode == "opt"
    assert o.values.config == ("opt",)
    assert o.sources["compilation_mode"] == f"{tmp_path / '.bazelrc'}:1"
    assert parse("build", "--config", "opt", "-c", "dbg", rc=rc).options.values.compilation_mode == "dbg"


def test_config_uses_inherited_lines(tmp_path):
    rc = rc_from(tmp_path, "build:ci --keep_going\ntest:ci --test_output=all\ncommon:ci --color=no\n")
    o = parse("test", "--config=ci", rc=rc).options
    assert (o.values.keep_going, o.values.test_output, o.values.color) == (True, "all", "no")
    o = parse("build", "--config=ci", rc=rc).options
    assert (o.values.keep_going, o.values.color) == (True, "no")


def test_config_in_rc_line_and_nested(tmp_path):
    rc = rc_from(tmp_path, "build --config=ci\nbuild:ci --config=fast --keep_going\nbuild:fast -c opt\n")
    o = parse("build", rc=rc).options
    assert (o.values.compilation_mode, o.values.keep_going) == ("opt", True)
    assert o.values.config == ("ci", "fast")


def test_config_used_twice_is_not_a_cycle(tmp_path):
    rc = rc_from(tmp_path, "build:a --config=c --config=c\nbuild:c --define=x=1\n")
    assert parse("build", "--config=a", rc=rc).options.values.define == (("x", "1"), ("x", "1"))


def test_config_cycle(tmp_path):
    rc = rc_from(tmp_path, "build:a --config=b\nbuild:b --config=a\n")
    e = error("build", "--config=a", rc=rc)
    assert e.message == ("Config expansion has a cycle: config value a expands to itself, "
                         "see inheritance chain [a, b, a]")


def test_undefined_config():
    assert error("build", "--config=nope").message == "Config value 'nope' is not defined in any .rc file"


def test_undefined_nested_config_names_the_rc_line(tmp_path):
    rc = rc_from(tmp_path, "build:a --config=nope\n")
    e = error("build", "--config=a", rc=rc)
    assert "Config value 'nope' is not defined" in e.message
    assert e.location is not None and e.location.line == 1


def test_config_for_build_is_undefined_for_query(tmp_path):
    rc = rc_from(tmp_path, "build:opt -c opt\n")
    assert "is not defined" in error("query", "--config=opt", "//a", rc=rc).message


def test_config_with_starlark_flags(tmp_path):
    rc = rc_from(tmp_path, "build:py312 --@rules_python//python/config_settings:python_version=3.12\n")
    flags = parse("build", "--config=py312", rc=rc).options.starlark_flags
    assert flags == {"@rules_python//python/config_settings:python_version": "3.12"}


def test_platform_specific_config(tmp_path, monkeypatch):
    monkeypatch.setattr(options_module, "_host_os_config", lambda: "linux")
    rc = rc_from(tmp_path, "common --enable_platform_specific_config\nbuild:linux -c opt\nbuild:macos -c dbg\n")
    assert parse("build", rc=rc).options.values.compilation_mode == "opt"
    # Expanded where the flag stands (in the rc file), so the command line still wins.
    assert parse("build", "-c", "fastbuild", rc=rc).options.values.compilation_mode == "fastbuild"
    # Only when it ends up true.
    assert parse("build", "--noenable_platform_specific_config", rc=rc).options.values.compilation_mode == "fastbuild"
    # A missing host config is not an error.
    assert parse("query", rc=rc).command == "query"


# --- reading rc files from the command line -----------------------------------

def test_parse_command_line_reads_the_files_startup_options_name(tmp_path):
    ws, home = tmp_path / "ws", tmp_path / "home"
    ws.mkdir()
    home.mkdir()
    (ws / ".bazelrc").write_text("build --define=from=ws\n")
    (home / ".bazelrc").write_text("build --define=from=home\n")
    (tmp_path / "extra.rc").write_text("build --define=from=extra\n")
    inv = parse_command_line(["--bazelrc", str(tmp_path / "extra.rc"), "build"], workspace_root=ws, home=home)
    assert inv.options.values.define == (("from", "ws"), ("from", "home"), ("from", "extra"))
    inv = parse_command_line(["--nohome_rc", "--noworkspace_rc", "build"], workspace_root=ws, home=home)
    assert inv.options.values.define == ()
    inv = parse_command_line(["--ignore_all_rc_files", f"--bazelrc={tmp_path / 'extra.rc'}", "build"],
                             workspace_root=ws, home=home)
    assert inv.options.values.define == ()


def test_every_option_names_commands_kiln_has():
    known = set(opts.COMMANDS)
    for opt in OPTIONS.values():
        assert opt.commands and opt.commands <= known, opt.name
