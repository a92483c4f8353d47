"""Killing kiln at random moments and checking that the next command recovers.

Shared by the reliability tests (a few kills per run) and bench/reliability_kills.py (the long
version). A trial: an empty output base, a command killed with SIGKILL after a random delay,
the same command run again to completion, then every output under kiln-out compared byte for
byte with a reference built without interruption at the same output base path (moved aside
before the trials, so absolute paths in runfiles links and manifests are the same).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

KILN = [sys.executable, "-m", "kiln"]

_FILES = {
    "MODULE.bazel": 'module(name = "reliability")\n',
    "gen/BUILD.bazel": """
        # Genrules that take a little time, in a chain and side by side, one with a larger output.
        genrule(name = "seed", srcs = ["seed.txt"], outs = ["seed.out"],
                cmd = "sleep 0.2; tr a-z A-Z < $< > $@")
        genrule(name = "chain1", srcs = [":seed"], outs = ["chain1.out"],
                cmd = "sleep 0.2; cat $< $< > $@; echo chain1 >> $@")
        genrule(name = "chain2", srcs = [":chain1"], outs = ["chain2.out"],
                cmd = "sleep 0.2; sort $< > $@")
        genrule(name = "wide", srcs = ["seed.txt"], outs = ["wide_a.out", "wide_b.out"],
                cmd = "sleep 0.3; cp $< $(location wide_a.out); rev $< > $(location wide_b.out)")
        genrule(name = "big", outs = ["big.out"],
                cmd = "sleep 0.1; i=0; while [ $$i -lt 2000 ]; do echo line $$i of a larger file; i=$$((i+1)); done > $@")
        filegroup(name = "all", srcs = [":chain2", ":wide", ":big"], visibility = ["//visibility:public"])
    """,
    "gen/seed.txt": "kiln reliability seed\nsecond line\n",
    "app/BUILD.bazel": """
        load("@rules_python//python:defs.bzl", "py_binary", "py_library")
        py_library(name = "lib", srcs = ["lib.py"], data = ["//gen:all"],
                   deps = ["@rules_python//python/runfiles"], visibility = ["//visibility:public"])
        py_binary(name = "tool", srcs = ["tool.py"], deps = [":lib"], visibility = ["//visibility:public"])
        # A genrule running the py_binary: its runfiles tree must be whole inside the action.
        genrule(name = "report", outs = ["report.txt"], tools = [":tool"], visibility = ["//visibility:public"],
                cmd = "$(location :tool) > $@")
    """,
    "app/lib.py": """
        from runfiles import Runfiles

        def summary():
            r = Runfiles.Create()
            names = ["chain2.out", "wide_a.out", "wide_b.out", "big.out"]
            sizes = [len(open(r.Rlocation("_main/gen/" + n), "rb").read()) for n in names]
            return " ".join(f"{n}={s}" for n, s in zip(names, sizes))
    """,
    "app/tool.py": """
        from app.lib import summary
        print(summary())
    """,
    "tests/BUILD.bazel": """
        load("@rules_python//python:defs.bzl", "py_test")
        py_test(name = "data_test", srcs = ["data_test.py"], deps = ["//app:lib"], data = ["//app:report"],
                size = "small")
        py_test(name = "slow_test", srcs = ["slow_test.py"], size = "small")
        py_test(name = "other_test", srcs = ["slow_test.py"], main = "slow_test.py", size = "small")
    """,
    "tests/data_test.py": """
        from runfiles import Runfiles
        from app.lib import summary

        r = Runfiles.Create()
        report = open(r.Rlocation("_main/app/report.txt")).read().strip()
        assert report == summary(), (report, summary())
        assert "big.out=" in report
        print("data ok")
    """,
    "tests/slow_test.py": """
        import time
        time.sleep(0.3)
        print("slow ok")
    """,
}


def write_workspace(root: Path) -> None:
    for rel, text in _FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))


def kiln_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KILN_")}
    env["HOME"] = str(home)
    return env


@dataclass(frozen=True)
class Run:
    code: int | None  # None: killed before it ended
    seconds: float
    output: str


def run_kiln(workspace: Path, output_base: Path, args: list[str], env: dict[str, str],
             kill_after: float | None = None, timeout: float = 300) -> Run:
    """Runs kiln; with `kill_after`, SIGKILLs it that many seconds after the start unless it ended first."""
    started = time.monotonic()
    proc = subprocess.Popen([*KILN, f"--output_base={output_base}", *args], cwd=workspace, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        out, _ = proc.communicate(timeout=kill_after if kill_after is not None else timeout)
        return Run(proc.returncode, time.monotonic() - started, out.decode(errors="replace"))
    except subprocess.TimeoutExpired:
        if kill_after is None:
            proc.kill()
            proc.communicate()
            raise
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate()
        return Run(None, time.monotonic() - started, out.decode(errors="replace"))


def start_kiln(workspace: Path, output_base: Path, args: list[str], env: dict[str, str],
               *startup: str) -> subprocess.Popen:
    return subprocess.Popen([*KILN, f"--output_base={output_base}", *startup, *args], cwd=workspace, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_until_locked_by(output_base: Path, proc: subprocess.Popen, timeout: float = 60) -> None:
    """Returns once `proc` holds the output base's lock (its pid is in the lock file, as kiln writes it)."""
    deadline = time.monotonic() + timeout
    lock = output_base / "lock"
    while True:
        try:
            if lock.read_text().strip() == str(proc.pid):
                return
        except FileNotFoundError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            out, err = proc.communicate()
            raise AssertionError(f"kiln (pid {proc.pid}) never held the lock:\n{out}{err}")
        time.sleep(0.01)


def snapshot(output_base: Path) -> dict[str, tuple]:
    """Every output under kiln-out except test logs: path -> (kind, executable bit, bytes or link text)."""
    top = output_base / "execroot" / "_main" / "kiln-out"
    result: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(top):
        rel_dir = os.path.relpath(dirpath, top)
        # Test logs hold timings; what a test run must not break is what the build laid out.
        dirnames[:] = sorted(d for d in dirnames if not (rel_dir.count(os.sep) == 0 and d == "testlogs"))
        for name in [*dirnames, *filenames]:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, top)
            if os.path.islink(path):
                result[rel] = ("link", False, os.readlink(path))
                if name in dirnames:
                    dirnames.remove(name)
            elif name in dirnames:
                result[rel] = ("dir", False, b"")
            else:
                with open(path, "rb") as f:
                    result[rel] = ("file", bool(os.stat(path).st_mode & 0o111), f.read())
    return result


def differences(expected: dict[str, tuple], actual: dict[str, tuple]) -> list[str]:
    out = []
    for rel in sorted(expected.keys() | actual.keys()):
        if rel not in actual:
            out.append(f"missing: {rel}")
        elif rel not in expected:
            out.append(f"extra: {rel}")
        elif expected[rel] != actual[rel]:
            out.append(f"differs: {rel}")
    return out


def leftovers(output_base: Path) -> list[str]:
    """What a finished command must not leave: sandbox directories and files in tmp/."""
    found = []
    for sub in ("sandbox", "tmp"):
        d = output_base / sub
        if d.is_dir():
            found.extend(f"{sub}/{e.name}" for e in os.scandir(d) if sub == "tmp" or e.is_dir())
    return found


@dataclass(frozen=True)
class Trial:
    command: str
    delay: float
    killed: bool
    abandoned: int  # sandbox directories and tmp files the kill left for the next command to remove
    problems: tuple[str, ...]  # empty: recovered with identical outputs

    def describe(self) -> str:
        what = (f"SIGKILL at {self.delay:.2f} s, {self.abandoned} leftovers" if self.killed
                else f"ended before the SIGKILL at {self.delay:.2f} s")
        verdict = "recovered, outputs identical" if not self.problems else "; ".join(self.problems[:10])
        return f"{self.command} ({what}): {verdict}"


class KillLab:
    """One workspace, its reference outputs per command, and trials against them."""

    def __init__(self, directory: Path):
        self.workspace = directory / "ws"
        self.output_base = directory / "output_base"
        self.references = directory / "references"
        home = directory / "home"
        for d in (self.workspace, home, self.references):
            d.mkdir(parents=True, exist_ok=True)
        write_workspace(self.workspace)
        self.env = kiln_env(home)
        self._expected: dict[str, tuple[dict[str, tuple], float]] = {}

    def reference(self, command: str) -> tuple[dict[str, tuple], float]:
        """The outputs of an uninterrupted `kiln <command> //...`, and how long it took."""
        if command not in self._expected:
            shutil.rmtree(self.output_base, ignore_errors=True)
            run = run_kiln(self.workspace, self.output_base, [command, "//..."], self.env)
            if run.code != 0:
                raise AssertionError(f"reference `kiln {command} //...` failed ({run.code}):\n{run.output}")
            kept = self.references / command
            os.rename(self.output_base, kept)
            self._expected[command] = (snapshot(kept), run.seconds)
        return self._expected[command]

    def trial(self, command: str, delay: float) -> Trial:
        expected, _ = self.reference(command)
        shutil.rmtree(self.output_base, ignore_errors=True)
        first = run_kiln(self.workspace, self.output_base, [command, "//..."], self.env, kill_after=delay)
        abandoned = len(leftovers(self.output_base))
        problems = []
        if first.code is not None and first.code != 0:
            problems.append(f"the command failed before the kill ({first.code}): {first.output[-2000:]}")
        again = run_kiln(self.workspace, self.output_base, [command, "//..."], self.env)
        if again.code != 0:
            problems.append(f"the command after the kill failed ({again.code}):\n{again.output[-4000:]}")
        else:
            problems.extend(differences(expected, snapshot(self.output_base)))
            problems.extend(f"left behind: {p}" for p in leftovers(self.output_base))
        return Trial(command, delay, first.code is None, abandoned, tuple(problems))
