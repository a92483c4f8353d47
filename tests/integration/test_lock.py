"""One command at a time per output base: the lock's protocol, seen from the outside.

The test process itself holds `<output_base>/lock` (an flock, as a kiln command holds it), so
each test decides exactly when the lock is free; tests/reliability/ runs real commands at once.
"""

from __future__ import annotations

import fcntl
import os
import queue
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import KILN, Workspace

WAIT_MESSAGE = "Another command is running (pid {pid}). Waiting for it to complete..."


class HeldLock:
    """The output base's lock held by this test process, with its pid written in, as kiln does."""

    def __init__(self, output_base: Path):
        output_base.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(output_base / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, f"{os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        os.close(self.fd)


class Background:
    """A kiln command running in the background, its stderr read line by line as it comes."""

    def __init__(self, ws: Workspace, *args: str):
        env = {k: v for k, v in os.environ.items() if not k.startswith("KILN_")}
        env["HOME"] = str(ws.output_base.parent / "home")
        self.proc = subprocess.Popen([*KILN, f"--output_base={ws.output_base}", *args], cwd=ws.root, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.stderr: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.put(line)
        self.lines.put("")

    def wait_for_line(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no line {text!r} within {timeout} s; stderr so far:\n{''.join(self.stderr)}")
            self.stderr.append(line)
            if line.rstrip("\n") == text:
                return
            if not line:
                raise AssertionError(f"command ended without printing {text!r}; stderr:\n{''.join(self.stderr)}")

    def finish(self, timeout: float = 120) -> tuple[int, str, str]:
        out = self.proc.stdout.read()
        code = self.proc.wait(timeout=timeout)
        while True:
            line = self.lines.get(timeout=timeout)
            if not line:
                break
            self.stderr.append(line)
        return code, out, "".join(self.stderr)


@pytest.fixture
def lws(ws: Workspace) -> Workspace:
    ws.write("BUILD.bazel", """
        genrule(name = "hello", outs = ["hello.txt"], cmd = "echo hello > $@")
    """)
    return ws


def _still_running(bg: Background, seconds: float = 0.5) -> bool:
    time.sleep(seconds)
    return bg.proc.poll() is None


def test_second_command_waits_for_the_lock_then_builds(lws):
    held = HeldLock(lws.output_base)
    try:
        bg = Background(lws, "build", "//:hello")
        bg.wait_for_line(WAIT_MESSAGE.format(pid=os.getpid()))
        assert _still_running(bg), "kiln went on while the lock was held"
        assert not (lws.output_base / "execroot").exists(), "kiln touched the output base while waiting"
    finally:
        held.release()
    code, _, stderr = bg.finish()
    assert code == 0, stderr
    assert stderr.count("Another command is running") == 1
    assert (lws.root / "kiln-bin" / "hello.txt").read_text() == "hello\n"


@pytest.mark.parametrize("command", [
    ["build", "//:hello"], ["test", "//..."], ["run", "//:hello"], ["query", "//..."], ["clean"],
    ["clean", "--expunge"],
])
def test_noblock_for_lock_exits_9_at_once(lws, command):
    held = HeldLock(lws.output_base)
    try:
        started = time.monotonic()
        r = lws.kiln("--noblock_for_lock", *command, timeout=60)
        elapsed = time.monotonic() - started
    finally:
        held.release()
    assert r.code == 9, r.output
    assert f"ERROR: Another command (pid {os.getpid()}) is running on the output base {lws.output_base}" in r.stderr
    assert "--noblock_for_lock" in r.stderr
    assert "Traceback" not in r.output
    assert elapsed < 10
    assert sorted(os.listdir(lws.output_base)) == ["lock"], "kiln changed the output base without the lock"


def test_clean_waits_for_the_lock_then_cleans(lws):
    assert lws.kiln("build", "//:hello").code == 0
    held = HeldLock(lws.output_base)
    try:
        bg = Background(lws, "clean")
        bg.wait_for_line(WAIT_MESSAGE.format(pid=os.getpid()))
        assert _still_running(bg)
        assert (lws.root / "kiln-bin" / "hello.txt").exists(), "clean removed outputs under the lock holder"
    finally:
        held.release()
    code, _, stderr = bg.finish()
    assert code == 0, stderr
    assert not (lws.root / "kiln-bin").exists()
    assert not (lws.output_base / "execroot").exists()


def test_waiter_relocks_after_expunge_replaced_the_lock_file(lws):
    """`clean --expunge` deletes the lock file it holds: a waiter must not then run beside the next holder."""
    first = HeldLock(lws.output_base)
    bg = Background(lws, "build", "//:hello")
    try:
        bg.wait_for_line(WAIT_MESSAGE.format(pid=os.getpid()))
        shutil.rmtree(lws.output_base)  # as `clean --expunge` does, lock file included
        second = HeldLock(lws.output_base)  # a command that came after the expunge
    finally:
        first.release()
    try:
        assert _still_running(bg, 1.0), "kiln ran while a new lock file was held"
        assert not (lws.output_base / "execroot").exists()
    finally:
        second.release()
    code, _, stderr = bg.finish()
    assert code == 0, stderr
    assert (lws.root / "kiln-bin" / "hello.txt").read_text() == "hello\n"


def test_lock_file_names_the_running_command(ws):
    ws.write("BUILD.bazel", """
        genrule(name = "slow", outs = ["slow.txt"], cmd = "sleep 2; echo done > $@")
    """)
    bg = Background(ws, "build", "//:slow")
    lock = ws.output_base / "lock"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if lock.exists() and lock.read_text().strip() == str(bg.proc.pid):
            break
        time.sleep(0.02)
    else:
        raise AssertionError("the lock file never named the running kiln")
    fd = os.open(lock, os.O_RDWR)
    try:
        with pytest.raises(BlockingIOError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)
    code, _, stderr = bg.finish()
    assert code == 0, stderr


def test_a_killed_command_releases_the_lock(ws):
    ws.write("BUILD.bazel", """
        genrule(name = "slow", outs = ["slow.txt"], cmd = "sleep 1.5; echo done > $@")
        genrule(name = "fast", outs = ["fast.txt"], cmd = "echo fast > $@")
    """)
    bg = Background(ws, "build", "//:slow")
    lock = ws.output_base / "lock"
    deadline = time.monotonic() + 60
    while not (lock.exists() and lock.read_text().strip() == str(bg.proc.pid)):
        assert time.monotonic() < deadline, "kiln never took the lock"
        time.sleep(0.02)
    bg.proc.send_signal(signal.SIGKILL)
    bg.finish()
    r = ws.kiln("--noblock_for_lock", "build", "//:fast")
    assert r.code == 0, r.output
    assert (ws.root / "kiln-bin" / "fast.txt").read_text() == "fast\n"


def test_run_releases_the_lock_before_the_program_starts(ws):
    ws.write("BUILD.bazel", """
        load("@rules_python//python:defs.bzl", "py_binary")
        py_binary(name = "waiter", srcs = ["waiter.py"])
        genrule(name = "other", outs = ["other.txt"], cmd = "echo other > $@")
    """)
    ws.write("waiter.py", """
        import os, sys, time
        open(sys.argv[1], "w").close()
        deadline = time.monotonic() + 60
        while not os.path.exists(sys.argv[2]) and time.monotonic() < deadline:
            time.sleep(0.02)
        print("waiter done")
    """)
    started, go = ws.root / "started", ws.root / "go"
    bg = Background(ws, "run", "//:waiter", "--", str(started), str(go))
    try:
        deadline = time.monotonic() + 60
        while not started.exists():
            assert bg.proc.poll() is None, bg.finish()
            assert time.monotonic() < deadline, "the program never started"
            time.sleep(0.02)
        r = ws.kiln("--noblock_for_lock", "build", "//:other")
        assert r.code == 0, r.output
        assert bg.proc.poll() is None, "the program ended before the other command ran"
    finally:
        go.touch()
    code, out, stderr = bg.finish()
    assert code == 0, stderr
    assert out == "waiter done\n"


def test_leftovers_of_a_killed_command_are_removed(lws):
    assert lws.kiln("build", "//:hello").code == 0
    ob = lws.output_base
    box = ob / "sandbox" / "4242-7" / "execroot" / "_main"
    box.mkdir(parents=True)
    (box / "input.txt").write_bytes(b"x" * 1000)
    (ob / "tmp" / "b4242-partialblob").write_bytes(b"half a blob")
    (ob / "tmp" / "d4242").mkdir()
    r = lws.kiln("build", "//:hello")
    assert r.code == 0, r.output
    assert [e for e in os.listdir(ob / "sandbox") if (ob / "sandbox" / e).is_dir()] == []
    assert os.listdir(ob / "tmp") == []


def test_info_neither_creates_nor_locks_the_output_base(lws):
    held = HeldLock(lws.output_base)
    try:
        r = lws.kiln("--noblock_for_lock", "info", "output_base")
    finally:
        held.release()
    assert r.code == 0, r.output
    assert r.stdout.strip() == str(lws.output_base)
    assert sorted(os.listdir(lws.output_base)) == ["lock"]


def test_the_lock_descriptor_is_not_inherited_by_actions(ws):
    """An action process that outlives a killed kiln must not keep the output base locked."""
    ws.write("BUILD.bazel", """
        genrule(name = "fds", outs = ["fds.txt"], cmd = "ls -l /proc/self/fd/ > $@")
    """)
    r = ws.kiln("build", "//:fds")
    assert r.code == 0, r.output
    assert str(ws.output_base / "lock") not in (ws.root / "kiln-bin" / "fds.txt").read_text()
