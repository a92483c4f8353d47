"""Tests for Bazel's option catalogue (kiln.cli.bazel_options, read by kiln.cli.known_options) and its use
by the parser: what Bazel 7/8 accepts is accepted, misspellings name the closest real option."""

from pathlib import Path

import pytest

from kiln.cli.bazelrc import read_rc_files
from kiln.cli.known_options import catalogue, closest, names_for
from kiln.cli.option_table import BOOL, COMMANDS, EITHER, OPTIONS, STARTUP_OPTIONS, TRISTATE
from kiln.cli.options import parse_args
from kiln.core.errors import CommandLineError, ExitCode


def parse(*argv, rc=None):
    return parse_args(list(argv), rc)


def error(*argv, rc=None) -> CommandLineError:
    with pytest.raises(CommandLineError) as e:
        parse_args(list(argv), rc)
    assert e.value.exit_code == ExitCode.COMMAND_LINE_ERROR
    return e.value


def rc_from(tmp_path: Path, text: str):
    (tmp_path / ".bazelrc").write_text(text)
    return read_rc_files(tmp_path, None, [])


# --- the catalogue agrees with kiln's own table --------------------------------

def test_every_option_kiln_honours_is_a_bazel_option_and_marked_so():
    honoured = {name for name, entries in catalogue().items() for o in entries if o.reason is None}
    assert honoured == set(OPTIONS) | set(STARTUP_OPTIONS)


def test_kiln_takes_its_options_in_bazel_syntax():
    for name, entries in catalogue().items():
        for bazel in entries:
            if bazel.reason is not None:
                continue
            kiln = OPTIONS.get(name) or STARTUP_OPTIONS[name]
            if bazel.kind in (BOOL, TRISTATE, EITHER):
                assert kiln.kind in (BOOL, TRISTATE), name  # --name and --noname
            else:
                assert kiln.kind != BOOL, name  # --name=value
            assert kiln.abbrev == bazel.abbrev, name


def test_catalogue_covers_the_commands_and_sections_the_issue_names():
    assert len(catalogue()) > 700
    for name in ("aspects", "output_groups", "inject_repository", "remote_cache", "remote_header",
                 "incompatible_strict_action_env", "experimental_remote_cache_eviction_retries"):
        assert name in names_for("build"), name
    assert "windows_enable_symlinks" in names_for("startup")
    assert "windows_enable_symlinks" not in names_for("build")
    for command in ("query", "cquery", "aquery", "fetch", "clean", "info", "test", "run"):
        assert "bes_backend" in names_for(command)  # a `common` option


# --- accepted and ignored -------------------------------------------------------

def test_real_bazel_options_are_accepted_and_ignored_with_a_reason():
    o = parse("build", "--experimental_strict_repo_env", "--aspects=//a.bzl%x", "--output_groups=+y",
              "--inject_repository=m=/p", "--remote_cache", "grpc://cache:9092", "--remote_download_minimal",
              "--noremote_accept_cached", "--incompatible_disable_starlark_host_transitions=false",
              "--experimental_remote_cache_eviction_retries=5", "//t").options
    assert [text for text, _ in o.ignored] == [
        "--experimental_strict_repo_env", "--aspects=//a.bzl%x", "--output_groups=+y", "--inject_repository=m=/p",
        "--remote_cache=grpc://cache:9092", "--remote_download_minimal", "--noremote_accept_cached",
        "--incompatible_disable_starlark_host_transitions=false", "--experimental_remote_cache_eviction_retries=5"]
    reasons = dict(o.ignored)
    assert reasons["--remote_cache=grpc://cache:9092"] == "kiln has no remote cache or remote execution yet"
    assert reasons["--aspects=//a.bzl%x"] == "not supported yet: kiln applies no command-line aspects"
    assert o.residue == ["//t"]  # a valued option took its next word, an expansion took none


def test_ignored_startup_options():
    inv = parse("--windows_enable_symlinks", "--host_jvm_args=-Xmx1g", "--nosystem_rc", "build")
    assert [text for text, _ in inv.startup.ignored] == [
        "--windows_enable_symlinks", "--host_jvm_args=-Xmx1g", "--nosystem_rc"]


def test_bad_values_of_ignored_booleans_are_errors_as_in_bazel():
    assert error("build", "--remote_accept_cached=maybe").message == (
        "While parsing option --remote_accept_cached=maybe: 'maybe' is not a boolean")
    assert error("build", "--noremote_accept_cached=1").message == (
        "Unexpected value after boolean option: --noremote_accept_cached=1")


def test_an_option_standing_for_others_takes_no_value():
    assert error("build", "--remote_download_minimal=yes").message == (
        "--remote_download_minimal takes no value: --remote_download_minimal=yes")


def test_a_bazel_option_of_another_command_is_still_an_error():
    # --expunge is clean's; Bazel's build does not take it either.
    assert error("build", "--expunge").message == "--expunge is not an option of 'kiln build'"
    assert error("build", "--include_artifacts").message == (
        "Unrecognized option: --include_artifacts (an option of aquery, not of build)")
    assert parse("aquery", "--noinclude_artifacts", "//t").options.ignored[0][0] == "--noinclude_artifacts"


# --- misspellings ---------------------------------------------------------------

def test_closest_real_option():
    assert closest("bulid_tests_only", "test") == "build_tests_only"
    assert closest("nobulid_tests_only", "test") == "nobuild_tests_only"
    assert closest("remote_cahce", "build") == "remote_cache"
    assert closest("output_bse", "startup") == "output_base"
    assert closest("zzzz", "build") is None


def test_misspelt_option_on_the_command_line_suggests_the_real_one():
    assert error("test", "--bulid_tests_only").message == (
        "Unrecognized option: --bulid_tests_only (did you mean --build_tests_only?)")
    assert error("--output_bse=/x", "build").message == (
        "Unknown startup option: --output_bse (did you mean --output_base?)")


def test_misspelt_option_in_an_rc_file_names_file_line_and_the_real_one(tmp_path):
    rc = rc_from(tmp_path, "build --jobs=2\ntest --bulid_tests_only\n")
    assert error("test", rc=rc).render() == (
        f"{tmp_path / '.bazelrc'}:2: Unrecognized option: --bulid_tests_only (did you mean --build_tests_only?)")


# --- every error of the rc files at once -------------------------------------------

def test_all_bad_rc_lines_are_reported_together_in_file_order(tmp_path):
    rc = rc_from(tmp_path, "\n".join([
        "build --keep_gong",                 # 1: misspelt
        "build --jobs=many",                 # 2: bad value
        "test --test_output=some",           # 3: bad enum value, applied before line 2 (test after build)
        'build "--unclosed',                 # 4: read error
        "startup --frob",                    # 5: unknown startup option
        "build //not/an/option",             # 6: residue in an rc file
        "build --config=nope",               # 7: undefined config
    ]) + "\n")
    rendered = error("test", rc=rc).render().split("\nERROR: ")
    where = tmp_path / ".bazelrc"
    assert rendered == [
        f"{where}:1: Unrecognized option: --keep_gong (did you mean --keep_going?)",
        f"{where}:2: While parsing option --jobs=many: 'many' is not an int",
        f"{where}:3: While parsing option --test_output=some: "
        "Not a valid test output: 'some' (should be summary, errors, all or streamed)",
        f"{where}:4: Unterminated \" quote in rc line: build \"--unclosed",
        f"{where}:5: Unknown startup option: --frob",
        f"{where}:6: '//not/an/option' is not an option; rc files may only contain options",
        f"{where}:7: Config value 'nope' is not defined in any .rc file",
    ]


def test_errors_of_several_rc_files_come_in_the_order_files_are_read(tmp_path):
    ws, home = tmp_path / "ws", tmp_path / "home"
    ws.mkdir()
    home.mkdir()
    (ws / ".bazelrc").write_text("build --nosuch_a\n")
    (home / ".bazelrc").write_text("build --nosuch_b\n")
    rc = read_rc_files(ws, home, [])
    message = error("build", "--nosuch_c", rc=rc).render()
    assert message == (f"{ws / '.bazelrc'}:1: Unrecognized option: --nosuch_a\n"
                       f"ERROR: {home / '.bazelrc'}:1: Unrecognized option: --nosuch_b\n"
                       "ERROR: Unrecognized option: --nosuch_c")


def test_every_command_kiln_has_gets_the_common_section():
    for command in COMMANDS:
        assert "remote_cache" in names_for(command), command
