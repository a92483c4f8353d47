"""Bazel's options through the real command: a .bazelrc written for Bazel 7/8 works unchanged, and bad
options say what is wrong (with file:line for rc files, the closest real option, every bad rc line at once).

The workspace tests/compat/bazelrc_sample/ is a small project whose .bazelrc carries a wide sample of
real options as projects write them; it is copied and built, tested and queried as it stands.
"""

from __future__ import annotations

import shutil
from pathlib import Path

SAMPLE = Path(__file__).parents[1] / "compat" / "bazelrc_sample"


def _sample(ws) -> None:
    shutil.copytree(SAMPLE, ws.root, dirs_exist_ok=True)


def test_the_sample_workspace_tests_unchanged_with_its_bazelrc(ws):
    _sample(ws)
    result = ws.kiln("test", "//...")
    assert result.code == 0, result.output
    # The test checks that test --test_env and the build:linux section (--enable_platform_specific_config)
    # and the build --config=lint_free group reached it.
    assert "//app:greeting_test" in result.output and "PASSED" in result.output
    assert "Executed 1 out of 1 test: 1 test passes." in result.output
    assert "Traceback" not in result.output
    # --announce_rc (an `always` line) names what kiln ignores, and why, startup options included.
    for line in (
        "--windows_enable_symlinks has no effect in kiln: only has an effect on Windows, where kiln does not run",
        "--host_jvm_args=-Xmx2g has no effect in kiln: kiln keeps no server and runs no JVM",
        "--remote_download_minimal has no effect in kiln: kiln has no remote cache or remote execution yet",
        "--aspects=//tools:lint.bzl%lint_aspect has no effect in kiln: not supported yet: "
        "kiln applies no command-line aspects",
        "--output_groups=+lint_report has no effect in kiln: not supported yet: "
        "kiln builds each target's default outputs",
        "--noincompatible_disable_starlark_host_transitions has no effect in kiln: selects between Starlark "
        "behaviours of Bazel versions; kiln's dialect is fixed",
    ):
        assert line in result.stderr, line
    # --override_module is honoured, but bazel_skylib is one of the rule sets kiln has built in.
    assert ("WARNING: \x1b[0m--override_module=bazel_skylib=%workspace%/third_party/bazel_skylib: kiln provides "
            "the module 'bazel_skylib' itself; the override is not used") in result.stderr  # (--color=yes)
    # Options kiln honours came from the rc file.
    assert "--sandbox_default_allow_network" in result.stderr and "--test_env" in result.stderr


def test_the_sample_workspace_builds_queries_and_cleans_unchanged(ws):
    _sample(ws)
    build = ws.kiln("build", "//...")
    assert build.code == 0, build.output
    assert (ws.root / "kiln-bin" / "app" / "host_section.txt").read_text().split() == ["linux", "lint_off"]
    # A config group that pulls in another (ci -> remote): the remote options are accepted and ignored.
    ci = ws.kiln("build", "--config=ci", "//...")
    assert ci.code == 0, ci.output
    assert ("--remote_cache=grpcs://cache.example.com has no effect in kiln: "
            "kiln has no remote cache or remote execution yet") in ci.stderr
    for command in (["query", "//app:*"], ["cquery", "//app:greeting"], ["aquery", "//app:host_section"],
                    ["fetch", "//..."], ["info", "workspace"], ["clean"]):
        result = ws.kiln(*command)
        assert result.code == 0, (command, result.output)
    assert ws.kiln("query", "//app:*").stdout.splitlines()[0].startswith("//app:")


def test_misspelt_option_on_the_command_line_suggests_the_real_one(ws):
    ws.write("BUILD.bazel", "")
    result = ws.kiln("test", "--bulid_tests_only", "//...")
    assert result.code == 2
    assert result.stderr.strip() == (
        "ERROR: Unrecognized option: --bulid_tests_only (did you mean --build_tests_only?)")


def test_misspelt_option_in_bazelrc_names_file_line_and_the_real_one(ws):
    ws.write("BUILD.bazel", "")
    rc = ws.write(".bazelrc", "build --jobs=2\nbuild --remote_cahce=grpc://x\n")
    result = ws.kiln("build", "//...")
    assert result.code == 2
    assert result.stderr.strip() == f"ERROR: {rc}:2: Unrecognized option: --remote_cahce (did you mean --remote_cache?)"


def test_every_bad_line_of_the_rc_files_is_reported_in_one_run(ws):
    ws.write("BUILD.bazel", "")
    rc = ws.write(".bazelrc", """
        startup --frobnicate
        common --enable_platform_specific_config
        build --keep_gong
        build "--unclosed
        build:linux --compilation_mode=fastest
        test --test_output=some --nobulid_tests_only
        """)
    result = ws.kiln("test", "//...")
    assert result.code == 2
    assert "Traceback" not in result.output
    assert result.stderr.strip().splitlines() == [
        f"ERROR: {rc}:1: Unknown startup option: --frobnicate",
        f"ERROR: {rc}:3: Unrecognized option: --keep_gong (did you mean --keep_going?)",
        f"ERROR: {rc}:4: Unterminated \" quote in rc line: build \"--unclosed",
        f"ERROR: {rc}:5: While parsing option --compilation_mode=fastest: "
        "Not a valid compilation mode: 'fastest' (should be fastbuild, dbg or opt)",
        # On one line, unknown options (found reading the words) come before bad values (found applying them).
        f"ERROR: {rc}:6: Unrecognized option: --nobulid_tests_only (did you mean --nobuild_tests_only?)",
        f"ERROR: {rc}:6: While parsing option --test_output=some: "
        "Not a valid test output: 'some' (should be summary, errors, all or streamed)",
    ]


def test_a_migration_flag_of_another_bazel_version_is_accepted_with_a_warning(ws):
    ws.write("BUILD.bazel", 'genrule(name = "g", outs = ["g.txt"], cmd = "echo g > $@")\n')
    result = ws.kiln("build", "--incompatible_frobnicate_widgets", "//:g")
    assert result.code == 0, result.output
    assert ("WARNING: --incompatible_frobnicate_widgets is not an option of the Bazel 7/8 reference kiln knows; "
            "accepted as a flag of another Bazel version; it has no effect") in result.stderr


def test_a_noop_build_with_only_options_kiln_honours_does_not_read_the_catalogue(ws):
    # The catalogue is read only for a name kiln's own table lacks: start-up time stays as it was.
    ws.write("BUILD.bazel", 'genrule(name = "g", outs = ["g.txt"], cmd = "echo g > $@")\n')
    ws.write(".bazelrc", "common --enable_platform_specific_config\nbuild --jobs=2 --keep_going\n")
    assert ws.kiln("build", "//:g").code == 0
    noop = ws.kiln("build", "//:g", env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert noop.code == 0, noop.output
    imported = {line.rsplit("|", 1)[-1].strip() for line in noop.stderr.splitlines() if line.startswith("import time:")}
    assert "kiln.cli.options" in imported  # the profile did cover the parsing
    assert sorted(imported & {"kiln.cli.bazel_options", "kiln.cli.known_options", "difflib"}) == []
    # An ignored Bazel option does read it.
    ws.write(".bazelrc", "build --remote_download_minimal\n")
    ignored = ws.kiln("build", "//:g", env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert ignored.code == 0, ignored.output
    assert "kiln.cli.bazel_options" in ignored.stderr
