"""Fixtures for integration tests: small workspaces and the real `kiln` command."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

KILN = [sys.executable, "-m", "kiln"]


def unavailable(why: str) -> None:
    """Skips a test this machine truly cannot run (no cargo, no crates.io); under CI=true, fails it."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{why} (CI=true: this test must run)")
    pytest.skip(why)


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


class Workspace:
    """A throwaway workspace with its own output base."""

    def __init__(self, root: Path, output_base: Path):
        self.root = root
        self.output_base = output_base
        (root / "MODULE.bazel").write_text('module(name = "test_ws")\n')

    def write(self, path: str, text: str, *, executable: bool = False) -> Path:
        p = self.root / path
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text).lstrip("\n"))
        if executable:
            p.chmod(0o755)
        return p

    def kiln(self, *args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 300,
             stdin: str | None = None) -> Result:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("KILN_")}
        full_env["HOME"] = str(self.output_base.parent / "home")
        full_env.update(env or {})
        proc = subprocess.run(
            [*KILN, f"--output_base={self.output_base}", *args],
            cwd=cwd or self.root, env=full_env, capture_output=True, text=True, timeout=timeout, input=stdin,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)


def processes_running(marker: str) -> list[int]:
    """Pids of processes whose command line contains `marker` (seen from the host's PID namespace)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if marker.encode() in f.read():
                    found.append(int(entry))
        except OSError:
            pass
    return found


def kill_processes(marker: str) -> None:
    for pid in processes_running(marker):
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    root = tmp_path / "ws"
    root.mkdir()
    (tmp_path / "home").mkdir()
    return Workspace(root, tmp_path / "output_base")
