"""Fixtures for integration tests: small workspaces and the real `kiln` command."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
from archive_server import ArchiveServer, Route
from pbs_archives import PbsArchive, build_archive, pyenv_install

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


@pytest.fixture(scope="session")
def pbs_archives(tmp_path_factory: pytest.TempPathFactory):
    """python-build-standalone-shaped archives of pyenv's CPythons (pbs_archives.py): `pbs_archives("3.11")`
    makes one the first time a session asks for that version (`keep_bytecode=True`: with the stdlib's
    bytecode, as the published archives ship it)."""
    made: dict[tuple[str, bool], PbsArchive] = {}
    out = tmp_path_factory.mktemp("pbs_archives")

    def get(version: str, *, keep_bytecode: bool = False) -> PbsArchive:
        if (version, keep_bytecode) not in made:
            if shutil.which("patchelf") is None:
                unavailable("patchelf is not installed (scripts/system_deps.sh installs it)")
            if pyenv_install(version) is None:
                unavailable(f"this machine has no pyenv CPython {version}")
            # Both kinds have the same file name: each in a directory of its own.
            where = out / "bytecode" if keep_bytecode else out
            made[version, keep_bytecode] = build_archive(version, where, keep_bytecode=keep_bytecode)
        return made[version, keep_bytecode]

    return get


@pytest.fixture
def pbs_server(pbs_archives):
    """Serves pbs_archives on 127.0.0.1 as a python-build-standalone release: `pbs_server("3.11", "3.12")` returns
    (base_url, {"3.11.7": ("20000101/cpython-3.11.7+20000101-...-install_only.tar.gz", sha256), ...}), the
    archive being at base_url + "/" + that path."""
    with ArchiveServer() as server:
        def serve(*versions: str, keep_bytecode: bool = False) -> tuple[str, dict[str, tuple[str, str]]]:
            served = {}
            for version in versions:
                archive = pbs_archives(version, keep_bytecode=keep_bytecode)
                server.add("/" + archive.url_path, Route(body=archive.path.read_bytes()))
                served[archive.version] = (archive.url_path, archive.sha256)
            return server.url(""), served

        yield serve
