"""Private exec roots: a directory holding only an action's declared inputs.

Inputs are copies of workspace files and CAS blobs, laid out at their exec
paths; the action gets its own tmp. Whatever it did not declare is not
there, so it fails here as it would on a remote worker.
"""

from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path

from kiln.execution.spawn import Spawn

_counter = itertools.count()


class Sandbox:
    def __init__(self, base: Path, spawn: Spawn, empty_file: str):
        self.dir = base / f"{os.getpid()}-{next(_counter)}"
        self.execroot = self.dir / "execroot" / "_main"
        self.tmp = self.dir / "tmp"
        self.spawn = spawn
        self.empty_file = empty_file

    def create(self) -> None:
        if self.dir.exists():
            shutil.rmtree(self.dir)
        self.execroot.mkdir(parents=True)
        self.tmp.mkdir()
        made: set[str] = set()
        for inp in self.spawn.inputs:
            self._link(inp.exec_path, inp.local_path, made)
        by_exec = {i.exec_path: i.local_path for i in self.spawn.inputs}
        for tree, entries in self.spawn.runfiles_trees:
            for rpath, exec_path in entries:
                target = by_exec[exec_path] if exec_path is not None else self.empty_file
                self._link(f"{tree}/{rpath}", target, made)
        for out in self.spawn.action.outputs:
            parent = os.path.dirname(out.exec_path)
            if parent and parent not in made:
                os.makedirs(self.execroot / parent, exist_ok=True)
                made.add(parent)

    def create_tmp_only(self) -> None:
        """A private tmp for an action that runs outside a sandbox."""
        if self.dir.exists():
            shutil.rmtree(self.dir)
        self.tmp.mkdir(parents=True)

    def _link(self, rel: str, target: str, made: set[str]) -> None:
        parent = os.path.dirname(rel)
        if parent and parent not in made:
            os.makedirs(self.execroot / parent, exist_ok=True)
            made.add(parent)
        # Inputs are copied, never linked, so an action that writes to one cannot change the
        # user's source or a cached blob (read-only modes do not stop a root process).
        shutil.copy2(target, self.execroot / rel)

    def destroy(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
