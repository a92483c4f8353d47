"""Tests for kiln.cli.bazelrc: rc file syntax, file order, imports and inheritance."""

from pathlib import Path

import pytest

from kiln.cli.bazelrc import command_chain, read_rc_files, split_rc_words
from kiln.core.errors import CommandLineError, ExitCode


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def words(rc, command, config=None):
    return [o.word for o in rc.options_for(command, config)]


def only_error(rc) -> CommandLineError:
    """The one error reading kept (reading goes on after a bad line; the parser reports them all)."""
    assert len(rc.errors) == 1, rc.errors
    return rc.errors[0]


@pytest.fixture
def ws(tmp_path):
    root = tmp_path / "ws"
    root.mkdir()
    return root


# --- word splitting ---------------------------------------------------------

def test_split_plain_words():
    assert split_rc_words("build  --jobs=4\t-c opt") == ["build", "--jobs=4", "-c", "opt"]


def test_split_quotes_join_into_one_word():
    assert split_rc_words("""build --action_env="A=x y" '--define=k=a b'""") == [
        "build", "--action_env=A=x y", "--define=k=a b"]


def test_split_backslash_escapes_even_inside_quotes():
    assert split_rc_words(r'build --define=a=b\ c "x\"y"') == ["build", "--define=a=b c", 'x"y']


def test_split_comment_ends_line_even_mid_word():
    assert split_rc_words("build --jobs=4 # four jobs") == ["build", "--jobs=4"]
    assert split_rc_words("build --define=x=a#b") == ["build", "--define=x=a"]
    assert split_rc_words("# all comment") == []


def test_split_hash_inside_quotes_is_kept():
    assert split_rc_words("build '--define=c=#fff'") == ["build", "--define=c=#fff"]


def test_split_empty_quoted_word_vanishes():
    assert split_rc_words('build "" --k') == ["build", "--k"]


def test_split_unterminated_quote_is_an_error():
    with pytest.raises(CommandLineError, match="Unterminated"):
        split_rc_words("build '--define=a=b")


# --- reading files ----------------------------------------------------------

def test_lines_and_sources(ws):
    rc_file = write(ws / ".bazelrc", "# comment\n\nbuild --jobs=4 -c opt\ntest --test_output=errors\n")
    rc = read_rc_files(ws, None, [])
    build = rc.options_for("build")
    assert [o.word for o in build] == ["--jobs=4", "-c", "opt"]
    assert str(build[0].source) == f"{rc_file}:3"
    assert build[0].source.command == "build"
    assert rc.files == [rc_file]


def test_continuation_lines_keep_first_line_number(ws):
    rc_file = write(ws / ".bazelrc", "build --jobs=4 \\\n  --keep_going \\\n  -c opt\ntest --k\n")
    rc = read_rc_files(ws, None, [])
    assert words(rc, "build") == ["--jobs=4", "--keep_going", "-c", "opt"]
    assert {str(o.source) for o in rc.options_for("build")} == {f"{rc_file}:1"}
    assert str(rc.options_for("test")[-1].source) == f"{rc_file}:4"


def test_file_order_workspace_then_home_then_extra(tmp_path, ws):
    home = tmp_path / "home"
    write(ws / ".bazelrc", "build --a\n")
    write(home / ".bazelrc", "build --b\n")
    extra1 = write(tmp_path / "one.rc", "build --c\n")
    extra2 = write(tmp_path / "two.rc", "build --d\n")
    rc = read_rc_files(ws, home, [extra1, extra2])
    assert words(rc, "build") == ["--a", "--b", "--c", "--d"]


def test_switches_turn_off_files(tmp_path, ws):
    home = tmp_path / "home"
    write(ws / ".bazelrc", "build --a\n")
    write(home / ".bazelrc", "build --b\n")
    extra = write(tmp_path / "x.rc", "build --c\n")
    assert words(read_rc_files(ws, home, [extra], workspace_rc=False), "build") == ["--b", "--c"]
    assert words(read_rc_files(ws, home, [extra], home_rc=False), "build") == ["--a", "--c"]
    assert words(read_rc_files(ws, home, [extra], ignore_all=True), "build") == []


def test_missing_default_files_are_fine(tmp_path, ws):
    rc = read_rc_files(ws, tmp_path / "nohome", [])
    assert rc.lines == {} and rc.files == []


def test_missing_bazelrc_file_is_an_error(tmp_path, ws):
    e = only_error(read_rc_files(ws, None, [tmp_path / "missing.rc"]))
    assert e.message == f"Unable to read .bazelrc file '{tmp_path / 'missing.rc'}'"
    assert e.exit_code == ExitCode.COMMAND_LINE_ERROR


def test_dev_null_stops_later_bazelrc(tmp_path, ws):
    first = write(tmp_path / "a.rc", "build --a\n")
    rc = read_rc_files(ws, None, [first, Path("/dev/null"), tmp_path / "never-read.rc"])
    assert words(rc, "build") == ["--a"]


def test_same_file_as_workspace_and_home_is_read_once(ws):
    write(ws / ".bazelrc", "build --a\n")
    assert words(read_rc_files(ws, ws, []), "build") == ["--a"]


# --- imports ----------------------------------------------------------------

def test_import_is_read_in_place_relative_to_workspace(ws):
    write(ws / "tools" / "ci.rc", "build --from_import\n")
    write(ws / ".bazelrc", "build --before\nimport tools/ci.rc\nbuild --after\n")
    assert words(read_rc_files(ws, None, []), "build") == ["--before", "--from_import", "--after"]


def test_import_with_workspace_placeholder(ws):
    write(ws / "shared.rc", "build --shared\n")
    write(ws / ".bazelrc", "import %workspace%/shared.rc\n")
    assert words(read_rc_files(ws, None, []), "build") == ["--shared"]


def test_try_import_of_missing_file_is_skipped(ws):
    write(ws / ".bazelrc", "try-import %workspace%/user.bazelrc\nbuild --a\n")
    assert words(read_rc_files(ws, None, []), "build") == ["--a"]


def test_try_import_of_present_file_is_read(ws):
    write(ws / "user.bazelrc", "build --user\n")
    write(ws / ".bazelrc", "try-import %workspace%/user.bazelrc\n")
    assert words(read_rc_files(ws, None, []), "build") == ["--user"]


def test_import_of_missing_file_names_file_and_line(ws):
    rc_file = write(ws / ".bazelrc", "build --a\nimport %workspace%/nope.rc\n")
    e = only_error(read_rc_files(ws, None, []))
    assert "nope.rc" in e.message
    assert e.render().startswith(f"{rc_file}:2: ")


def test_import_cycle_is_an_error(ws):
    write(ws / "a.rc", "import %workspace%/b.rc\n")
    write(ws / "b.rc", "import %workspace%/a.rc\n")
    write(ws / ".bazelrc", "import %workspace%/a.rc\n")
    assert only_error(read_rc_files(ws, None, [])).message.startswith("Import loop detected")


def test_self_import_is_a_cycle(ws):
    write(ws / ".bazelrc", "import %workspace%/.bazelrc\n")
    assert only_error(read_rc_files(ws, None, [])).message.startswith("Import loop detected")


def test_import_needs_exactly_one_path(ws):
    write(ws / ".bazelrc", "import a.rc b.rc\n")
    e = only_error(read_rc_files(ws, None, []))
    assert e.message == "Invalid import declaration: 'import a.rc b.rc'"


def test_reading_goes_on_after_bad_lines_and_keeps_each_error(ws):
    rc_file = write(ws / ".bazelrc", 'build --a\nbuild "--b\nstartup:x --c\nimport one.rc two.rc\nbuild --d\n')
    rc = read_rc_files(ws, None, [])
    assert words(rc, "build") == ["--a", "--d"]
    assert [e.render() for e in rc.errors] == [
        f"{rc_file}:2: Unterminated \" quote in rc line: build \"--b",
        f"{rc_file}:3: 'startup' lines cannot name a config",
        f"{rc_file}:4: Invalid import declaration: 'import one.rc two.rc'",
    ]


# --- which lines apply ------------------------------------------------------

def test_command_chain():
    assert command_chain("build") == ["build"]
    assert command_chain("test") == ["build", "test"]
    assert command_chain("run") == ["build", "run"]
    assert command_chain("query") == ["query"]
    assert command_chain("coverage") == ["build", "test", "coverage"]


def test_test_inherits_build_and_common_comes_first(tmp_path, ws):
    # Bazel's order is by command (always, common, build, test), then by file.
    write(ws / ".bazelrc", "test --t1\nbuild --b1\ncommon --c1\n")
    extra = write(tmp_path / "x.rc", "build --b2\ncommon --c2\nalways --a2\n")
    rc = read_rc_files(ws, None, [extra])
    assert words(rc, "test") == ["--a2", "--c1", "--c2", "--b1", "--b2", "--t1"]
    assert words(rc, "build") == ["--a2", "--c1", "--c2", "--b1", "--b2"]


def test_run_inherits_build_query_does_not(ws):
    write(ws / ".bazelrc", "build --b\nrun --r\nquery --q\ncommon --c\n")
    rc = read_rc_files(ws, None, [])
    assert words(rc, "run") == ["--c", "--b", "--r"]
    assert words(rc, "query") == ["--c", "--q"]
    assert words(rc, "clean") == ["--c"]


def test_config_lines_are_separate_and_inherited(ws):
    write(ws / ".bazelrc", "build:ci --b\ntest:ci --t\ncommon:ci --c\nbuild --plain\n")
    rc = read_rc_files(ws, None, [])
    assert words(rc, "test", "ci") == ["--c", "--b", "--t"]
    assert words(rc, "build", "ci") == ["--c", "--b"]
    assert rc.defines_config("build", "ci")
    assert rc.defines_config("query", "ci")  # through common:ci
    assert not rc.defines_config("build", "other")


def test_config_for_build_only_is_not_defined_for_query(ws):
    write(ws / ".bazelrc", "build:opt -c opt\n")
    rc = read_rc_files(ws, None, [])
    assert rc.defines_config("test", "opt")
    assert not rc.defines_config("query", "opt")


def test_startup_lines(ws):
    write(ws / ".bazelrc", "startup --output_base=/tmp/ob\nbuild --b\n")
    rc = read_rc_files(ws, None, [])
    assert words(rc, "startup") == ["--output_base=/tmp/ob"]
    assert "--output_base=/tmp/ob" not in words(rc, "build")


def test_other_bazel_commands_are_kept_and_unknown_ones_warned(ws):
    rc_file = write(ws / ".bazelrc", "cquery --x\ncoverage --y\nbiuld --z\nbuild --b\n")
    rc = read_rc_files(ws, None, [])
    assert words(rc, "build") == ["--b"]
    assert words(rc, "cquery") == ["--b", "--x"]
    assert rc.warnings == [f"{rc_file}:3: invalid command name 'biuld'"]
