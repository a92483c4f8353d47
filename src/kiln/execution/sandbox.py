"""Private exec roots: a directory holding only an action's declared inputs.

Inputs are symbolic links to workspace files and CAS blobs, laid out at their
exec paths; the action gets its own tmp. Whatever it did not declare is not
there, so it fails here as it would on a remote worker.
"""

from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path

from kiln.execution.spawn import Spawn

_counter = itertools.count()
# Inputs up to this size are copied into the exec root, larger ones linked.
_COPY_LIMIT = 256 * 1024


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

    def _link(self, rel: str, target: str, made: set[str]) -> None:
        parent = os.path.dirname(rel)
        if parent and parent not in made:
            os.makedirs(self.execroot / parent, exist_ok=True)
            made.add(parent)
        dest = self.execroot / rel
        # Small inputs are copied so an action that writes to one cannot change the user's
        # source or a cached blob (kiln runs as root here: read-only modes would not stop it).
        # Large ones are linked: copying them would cost more than it protects.
        try:
            size = os.stat(target).st_size
        except OSError:
            size = _COPY_LIMIT + 1
        if size <= _COPY_LIMIT:
            shutil.copy2(target, dest)
        else:
            os.symlink(target, dest)

    def destroy(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
