"""The action cache: action key -> the result of running it (output digests).

Each entry is one small JSON file written atomically. An entry is trusted
only while every blob it names is still in the CAS with the right size.
An output is a file (OutputFile) or a directory (OutputDirectory, a tree
artifact: every file, symlink and empty directory under it).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from kiln.core.digests import Digest, digest_fields
from kiln.execution.output_base import atomic_write


@dataclass(frozen=True)
class OutputFile:
    path: str       # exec path
    digest: Digest
    executable: bool


@dataclass(frozen=True)
class OutputDirectory:
    """A directory an action produced (ctx.actions.declare_directory), by content.

    Paths inside are relative to the directory and sorted; a symlink's target is relative to the
    symlink's own directory and stays inside the tree; `empty_dirs` are the directories holding
    nothing (others are implied by what they hold).
    """

    path: str       # exec path
    files: tuple[OutputFile, ...] = ()
    symlinks: tuple[tuple[str, str], ...] = ()
    empty_dirs: tuple[str, ...] = ()
    # A source directory read as one input (a vendored crate index, a runtime), not an action's output:
    # its files' content is where the source is until something stores it.
    source: bool = False

    def to_json(self) -> dict:
        return {"path": self.path, "files": [[f.path, f.digest.hash, f.digest.size, f.executable] for f in self.files],
                "symlinks": [list(s) for s in self.symlinks], "empty_dirs": list(self.empty_dirs)}

    @staticmethod
    def from_json(d: dict) -> "OutputDirectory":
        return OutputDirectory(d["path"], tuple(OutputFile(p, Digest(h, s), x) for p, h, s, x in d["files"]),
                               tuple((p, t) for p, t in d["symlinks"]), tuple(d["empty_dirs"]))


Output = OutputFile | OutputDirectory


def tree_identity(tree: OutputDirectory) -> str:
    """A digest of the directory's content (not of where it is): names it in kiln's own tables."""
    return digest_fields(tuple((f.path, f.digest.hash, f.digest.size, f.executable) for f in tree.files),
                         tree.symlinks, tree.empty_dirs)


def stays_inside(link: str, target: str) -> bool:
    """Whether a symlink at relative path `link` whose target is `target` points inside the
    directory `link` is relative to (tree artifacts may hold no other symlink)."""
    if not target or target.startswith("/"):
        return False
    depth = link.count("/")
    for segment in target.split("/"):
        if segment == "..":
            depth -= 1
            if depth < 0:
                return False
        elif segment not in ("", "."):
            depth += 1
    return True


@dataclass(frozen=True)
class ActionResult:
    outputs: tuple[Output, ...]
    exit_code: int = 0
    # stdout and stderr as blobs in the store, byte for byte.
    stdout: Digest | None = None
    stderr: Digest | None = None
    seconds: float = 0.0

    def to_json(self) -> bytes:
        return json.dumps({
            "outputs": [[o.path, o.digest.hash, o.digest.size, o.executable] for o in self.outputs
                        if isinstance(o, OutputFile)],
            "directories": [o.to_json() for o in self.outputs if isinstance(o, OutputDirectory)],
            "exit_code": self.exit_code,
            "stdout": [self.stdout.hash, self.stdout.size] if self.stdout else None,
            "stderr": [self.stderr.hash, self.stderr.size] if self.stderr else None,
            "seconds": self.seconds,
        }).encode()

    @staticmethod
    def from_json(data: bytes) -> "ActionResult":
        d = json.loads(data)
        return ActionResult(
            tuple(OutputFile(p, Digest(h, s), x) for p, h, s, x in d["outputs"])
            + tuple(OutputDirectory.from_json(t) for t in d.get("directories", ())),
            d["exit_code"],
            Digest(*d["stdout"]) if d["stdout"] else None,
            Digest(*d["stderr"]) if d["stderr"] else None,
            d.get("seconds", 0.0),
        )


class ActionCache:
    def __init__(self, root: Path, tmp: Path):
        self.root = root
        self.tmp = tmp

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / key

    def get(self, key: str) -> ActionResult | None:
        try:
            data = self._path(key).read_bytes()
        except FileNotFoundError:
            return None
        try:
            return ActionResult.from_json(data)
        except (ValueError, KeyError, TypeError):
            # A damaged entry is a miss; the rerun overwrites it.
            return None

    def put(self, key: str, result: ActionResult) -> None:
        atomic_write(self._path(key), result.to_json(), self.tmp)

    def remove(self, key: str) -> None:
        try:
            os.unlink(self._path(key))
        except FileNotFoundError:
            pass
