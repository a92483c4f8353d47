"""`kiln help` as Bazel's: the command list, a command's options one line each, target syntax, startup
options; `kiln --help` and `kiln COMMAND --help`; exit code 0, or 2 for an unknown topic."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("argv", [(), ("help",), ("--help",), ("-h",)])
def test_usage_lists_the_commands(ws, argv):
    result = ws.kiln(*argv)
    assert result.code == 0, result.output
    assert result.stdout.startswith("Usage: kiln <command> <options> ...\n")
    for line in ("  build      Builds the specified targets.",
                 "  test       Builds and runs the specified test targets.",
                 "  query      Executes a dependency graph query.",
                 "  kiln help <command>",
                 "  kiln help target-syntax",
                 "  kiln help startup_options"):
        assert line in result.stdout.splitlines(), line
    assert result.stderr == ""


def test_help_build_lists_its_options_one_line_each(ws):
    result = ws.kiln("help", "build")
    assert result.code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "Usage: kiln build <options> <targets>"
    assert "  --[no]keep_going [-k] (a boolean; default: \"false\"): Go on after errors." in lines
    assert "  --compilation_mode [-c] (fastbuild, dbg, opt; default: \"fastbuild\"): Build mode." in lines
    assert ("  --define (a string; may be repeated; default: none): name=value for select().") in lines
    # Options of Bazel kiln accepts and ignores are listed after, each marked with the reason.
    ignored = lines.index("Options of Bazel kiln accepts and ignores (--announce_rc names them when used):")
    assert lines.index("  --[no]keep_going [-k] (a boolean; default: \"false\"): Go on after errors.") < ignored
    assert ("  --remote_cache (a string; ignored): kiln has no remote cache or remote execution yet"
            in lines[ignored:])
    assert "  --remote_download_minimal (takes no value; ignored): kiln has no remote cache or remote execution yet" \
        in lines[ignored:]
    assert "  --aspects (a string; may be repeated; ignored): not supported yet: kiln applies no command-line " \
        "aspects" in lines[ignored:]
    # Startup options and other commands' options are not build's.
    assert not any(line.startswith(("  --[no]windows_enable_symlinks", "  --order_output", "  --[no]expunge"))
                   for line in lines)


def test_command_help_flag_is_help_command(ws):
    assert ws.kiln("build", "--help").stdout == ws.kiln("help", "build").stdout
    assert ws.kiln("test", "-h", "//x").stdout == ws.kiln("help", "test").stdout


def test_help_for_query_and_clean(ws):
    query = ws.kiln("help", "query").stdout.splitlines()
    assert "  --order_output (no, deps, auto, full; default: \"auto\"): Output order." in query
    clean = ws.kiln("help", "clean").stdout.splitlines()
    assert "  --[no]expunge (a boolean; default: \"false\"): Remove the whole output base." in clean
    assert "  --[no]async (a boolean; ignored): kiln cleans at once" in clean


def test_help_target_syntax(ws):
    result = ws.kiln("help", "target-syntax")
    assert result.code == 0
    assert result.stdout.startswith("Target pattern syntax\n")
    assert "  //foo/...         (ditto)" in result.stdout.splitlines()
    assert "  kiln build -- foo/... -foo/contrib/..." in result.stdout.splitlines()


def test_help_startup_options(ws):
    result = ws.kiln("help", "startup_options")
    assert result.code == 0
    lines = result.stdout.splitlines()
    assert "  --output_base (a string; default: \"\"): Where kiln keeps outputs and caches." in lines
    assert ("  --[no]windows_enable_symlinks (a boolean; ignored): only has an effect on Windows, "
            "where kiln does not run") in lines


def test_help_outside_a_workspace(ws, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = ws.kiln("help", "run", cwd=elsewhere)
    assert result.code == 0, result.output
    assert result.stdout.startswith("Usage: kiln run <options> <targets>\n")


def test_unknown_help_topic_is_a_command_line_error(ws):
    result = ws.kiln("help", "biuld")
    assert result.code == 2
    assert result.stderr.strip() == (
        "ERROR: 'biuld' is not a known command or help topic; try one of: build, test, run, query, cquery, "
        "aquery, fetch, clean, info, config, version, help, target-syntax, startup_options")
    assert result.stdout == ""
