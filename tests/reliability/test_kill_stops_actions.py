"""After `kill -9` of kiln, the actions it started end too, and the next command removes their sandboxes."""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

import pytest

from kill_harness import kiln_env, run_kiln, start_kiln


def _processes_with(marker: str) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                if marker.encode() in f.read():
                    found.append(int(name))
        except OSError:
            continue  # ended meanwhile
    return found


def _kill_all(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.fixture
def sleepy(tmp_path: Path):
    """A workspace whose genrule runs long, in processes whose command lines carry a unique marker."""
    marker = f"kiln_reliability_marker_{uuid.uuid4().hex}"
    ws = tmp_path / "ws"
    ws.mkdir()
    (tmp_path / "home").mkdir()
    (ws / "MODULE.bazel").write_text('module(name = "sleepy")\n')
    # A shell loop (not one `sleep`, which a shell may exec in its place) keeps the marker in argv.
    (ws / "BUILD.bazel").write_text(
        'genrule(name = "sleepy", outs = ["sleepy.txt"],\n'
        f'        cmd = "(sh -c \'while :; do sleep 0.1; done\' {marker} &); '
        f'sh -c \'while :; do sleep 0.1; done\' {marker}; echo never > $@")\n'
        'genrule(name = "quick", outs = ["quick.txt"], cmd = "echo quick > $@")\n')
    try:
        yield ws, tmp_path / "output_base", kiln_env(tmp_path / "home"), marker
    finally:
        _kill_all(_processes_with(marker))


def _kill_kiln_inside_the_action(ws: Path, output_base: Path, env: dict, marker: str) -> None:
    kiln = start_kiln(ws, output_base, ["build", "//:sleepy"], env)
    deadline = time.monotonic() + 60
    while not _processes_with(marker):
        assert kiln.poll() is None, kiln.communicate()
        assert time.monotonic() < deadline, "the genrule never started"
        time.sleep(0.02)
    kiln.send_signal(signal.SIGKILL)
    kiln.communicate()


def test_actions_end_when_kiln_is_killed(sleepy):
    ws, output_base, env, marker = sleepy
    _kill_kiln_inside_the_action(ws, output_base, env, marker)
    time.sleep(2)
    assert _processes_with(marker) == []


def test_next_command_removes_the_abandoned_sandbox(sleepy):
    ws, output_base, env, marker = sleepy
    _kill_kiln_inside_the_action(ws, output_base, env, marker)
    sandboxes = output_base / "sandbox"
    abandoned = [e for e in sandboxes.iterdir() if e.is_dir()]
    assert abandoned, "the killed build left no sandbox directory: nothing to check"
    r = run_kiln(ws, output_base, ["build", "//:quick"], env)
    assert r.code == 0, r.output
    assert [e for e in sandboxes.iterdir() if e.is_dir()] == []
    assert os.listdir(output_base / "tmp") == []
