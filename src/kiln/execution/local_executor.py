"""Runs spawns as local processes in private exec roots."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from kiln.execution import processes
from kiln.execution.action_cache import OutputFile
from kiln.execution.cas import Cas
from kiln.execution.sandbox import Sandbox
from kiln.execution.spawn import Spawn, SpawnResult


class LocalExecutor:
    def __init__(self, sandbox_base: Path, cas: Cas, *, execroot: Path, keep_sandboxes: bool = False):
        self.sandbox_base = sandbox_base
        self.execroot = execroot
        self.cas = cas
        self.keep_sandboxes = keep_sandboxes
        self.empty_file = str(sandbox_base / ".empty")
        if not os.path.exists(self.empty_file):
            Path(self.empty_file).touch()

    def execute(self, spawn: Spawn) -> SpawnResult:
        box = Sandbox(self.sandbox_base, spawn, self.empty_file)
        if spawn.action.requirement("no-sandbox") is not None:
            # For tools like cargo that keep their own incremental state and need stable
            # paths: run in the output base's exec root. Inputs are still part of the key.
            box.create_tmp_only()
            cwd = self.execroot
            for art in spawn.action.outputs:
                (cwd / art.exec_path).parent.mkdir(parents=True, exist_ok=True)
        else:
            box.create()
            cwd = box.execroot
        env = dict(spawn.env)
        env["TMPDIR"] = str(box.tmp)
        start = time.monotonic()
        try:
            code, stdout, stderr = processes.run(list(spawn.action.argv), cwd=cwd, env=env, stdin=subprocess.DEVNULL)
        except OSError as e:
            code, stdout, stderr = 127, b"", f"cannot run {spawn.action.argv[0]}: {e.strerror}\n".encode()
        try:
            return self._collect(spawn, cwd, code, stdout, stderr, time.monotonic() - start)
        finally:
            if not self.keep_sandboxes:
                box.destroy()

    def _collect(self, spawn: Spawn, root: Path, code: int, stdout: bytes, stderr: bytes, seconds: float) -> SpawnResult:
        if code != 0:
            return SpawnResult(code, (), stdout, stderr, seconds)
        outputs = []
        missing = []
        for art in spawn.action.outputs:
            path = root / art.exec_path
            if path.is_symlink() or not path.is_file():
                missing.append(art.exec_path)
                continue
            executable = spawn.action.is_executable or os.access(path, os.X_OK)
            digest = self.cas.put_file(str(path), executable, move=True)
            outputs.append(OutputFile(art.exec_path, digest, executable))
        if missing:
            return SpawnResult(code, (), stdout, stderr, seconds, missing_outputs=tuple(missing))
        return SpawnResult(code, tuple(outputs), stdout, stderr, seconds)
