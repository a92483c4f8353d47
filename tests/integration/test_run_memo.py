"""`kiln run`'s fast path (kiln.cli.run_memo): a repeated command runs the program without a build,
and anything its build rested on that changes sends it through the normal path again."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
from pathlib import Path

import pytest

from conftest import KILN, Result, Workspace

FAST = "up to date (checked"


def _kiln(ws: Workspace, *args: str, cwd: Path | None = None, env: dict | None = None) -> Result:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("KILN_")}
    full_env["HOME"] = str(ws.output_base.parent / "home")
    full_env.pop("XDG_CACHE_HOME", None)
    full_env.update(env or {})
    proc = subprocess.run([*KILN, f"--output_base={ws.output_base}", *args], cwd=cwd or ws.root, env=full_env,
                          input="", capture_output=True, text=True, timeout=120)
    return Result(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def mws(tmp_path) -> Workspace:
    (tmp_path / "ws").mkdir()
    (tmp_path / "home").mkdir()
    ws = Workspace(tmp_path / "ws", tmp_path / "output_base")
    ws.write("MODULE.bazel", 'module(name = "memo")\n')
    ws.write("app/BUILD.bazel", """
        load("@rules_python//python:defs.bzl", "py_binary", "py_library")
        py_library(name = "lib", srcs = ["lib.py"])
        py_binary(name = "app", srcs = ["run_app.py"], main = "run_app.py", deps = [":lib"],
                  data = ["data.txt"])
    """)
    ws.write("app/lib.py", 'WORD = "one"\n')
    ws.write("app/data.txt", "data\n")
    ws.write("app/run_app.py", """
        import os, sys
        from app import lib
        print(lib.WORD, open("app/data.txt").read().strip(), *sys.argv[1:])
        print("cwd-ok" if os.environ["BUILD_WORKING_DIRECTORY"] else "no-cwd")
        sys.exit(int(os.environ.get("APP_EXIT", "0")))
    """)
    return ws


def _run(ws, *args, startup=(), **kw) -> Result:
    return _kiln(ws, *startup, "run", "//app:app", *args, **kw)


def _fresh(ws, *args, **kw) -> Result:
    """Two runs: the first builds and leaves a memo, the second must take the fast path."""
    first = _run(ws, *args, **kw)
    assert first.code == 0, first.output
    assert FAST not in first.output
    second = _run(ws, *args, **kw)
    assert second.code == 0, second.output
    assert FAST in second.output, second.output
    return second


def test_repeated_run_starts_the_program_without_a_build(mws):
    r = _fresh(mws, "--", "a", "b c")
    assert "one data a b c" in r.stdout
    assert "cwd-ok" in r.stdout
    assert "Build completed successfully: 1 target, up to date" in r.stderr
    # Arguments after -- are not part of the memo's key: other ones take the fast path too.
    r = _run(mws, "--", "other")
    assert FAST in r.output and "one data other" in r.stdout


def test_exit_codes_are_the_programs_on_the_fast_path(mws):
    _fresh(mws)
    r = _run(mws, env={"APP_EXIT": "3"})
    assert r.code == 3, r.output
    # The environment is part of the key: that was the normal path. The same again is fast.
    r = _run(mws, env={"APP_EXIT": "3"})
    assert FAST in r.output and r.code == 3


def test_the_program_replaces_kiln_on_both_paths(mws):
    """As `bazel run` execs the program: its pid is kiln's, a signal that kills it is the command's
    end, and it no longer ignores SIGPIPE (which Python, and so kiln, ignores)."""
    mws.write("sig/sig.sh", """
        #!/bin/sh
        echo $$ $(grep SigIgn /proc/$$/status)
        kill -TERM $$
    """)
    mws.write("sig/BUILD.bazel", """
        genrule(name = "sig", srcs = ["sig.sh"], outs = ["run_sig.sh"], cmd = "cp $< $@", executable = True)
    """)
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("KILN_")}
    full_env["HOME"] = str(mws.output_base.parent / "home")
    full_env.pop("XDG_CACHE_HOME", None)
    for expect_fast in (False, True):
        proc = subprocess.Popen([*KILN, f"--output_base={mws.output_base}", "run", "//sig"], cwd=mws.root,
                                env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = proc.communicate(timeout=120)
        assert (FAST in err) == expect_fast, err
        pid, _, ignored = out.split()
        assert int(pid) == proc.pid
        assert int(ignored, 16) & (1 << (signal.SIGPIPE - 1)) == 0, out
        assert proc.returncode == -signal.SIGTERM


@pytest.mark.parametrize("change", ["source", "dependency", "data", "build_file", "rc_file", "output"])
def test_a_change_takes_the_normal_path_and_is_seen(mws, change):
    _fresh(mws)
    expected = "one data"
    if change == "source":
        mws.write("app/run_app.py", 'print("edited")\n')
        expected = "edited"
    elif change == "dependency":
        mws.write("app/lib.py", 'WORD = "two"\n')
        expected = "two data"
    elif change == "data":
        mws.write("app/data.txt", "more\n")
        expected = "one more"
    elif change == "build_file":
        mws.write("app/BUILD.bazel", """
            load("@rules_python//python:defs.bzl", "py_binary", "py_library")
            py_library(name = "lib", srcs = ["lib.py"])
            py_binary(name = "app", srcs = ["run_app.py"], main = "run_app.py", deps = [":lib"],
                      data = ["data.txt"], args = ["from-build"])
        """)
        expected = "one data from-build"
    elif change == "rc_file":
        mws.write(".bazelrc", "run --action_env=SOMETHING=1\n")
    elif change == "output":
        os.unlink(mws.root / "kiln-bin/app/app")
    r = _run(mws)
    assert r.code == 0, r.output
    assert FAST not in r.output
    assert expected in r.stdout
    r = _run(mws)
    assert FAST in r.output and expected in r.stdout


def test_a_failed_build_leaves_no_memo(mws):
    _fresh(mws)
    memos = mws.output_base.parent / "home/.cache/kiln/run_memos"
    assert len(list(memos.iterdir())) == 1
    mws.write("app/BUILD.bazel", 'py_binary(name = "app", srcs = ["missing.py"])\n')
    r = _run(mws)
    assert r.code != 0 and "missing.py" in r.output
    assert list(memos.iterdir()) == []


def test_a_held_lock_sends_the_command_the_normal_way(mws):
    _fresh(mws, startup=("--noblock_for_lock",))
    fd = os.open(mws.output_base / "lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        r = _run(mws, startup=("--noblock_for_lock",))
    finally:
        os.close(fd)
    # The program did not run: the normal path refused to wait for the lock.
    assert "one data" not in r.stdout
    assert r.code == 9, r.output
    r = _run(mws, startup=("--noblock_for_lock",))
    assert FAST in r.output and "one data" in r.stdout


def test_an_action_that_must_always_run_gets_no_memo(mws):
    mws.write("app/BUILD.bazel", """
        load("@rules_python//python:defs.bzl", "py_binary", "py_library")
        genrule(name = "stamp", outs = ["stamp.txt"], cmd = "date +%s%N > $@", tags = ["no-cache"])
        py_library(name = "lib", srcs = ["lib.py"])
        py_binary(name = "app", srcs = ["run_app.py"], main = "run_app.py", deps = [":lib"],
                  data = ["data.txt", ":stamp"])
    """)
    assert _run(mws).code == 0
    r = _run(mws)
    assert r.code == 0, r.output
    assert FAST not in r.output
    assert "1 action executed" in r.output  # the genrule, again
