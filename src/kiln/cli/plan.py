"""Build plans: what loading and analysis conclude, kept between commands.

A plan is everything execution needs (actions, top-level outputs, runfiles,
tests) with depsets flattened. It is saved in the output base under a key of
the command, patterns and options, together with the stat of every BUILD and
.bzl file read and every directory listed; the next command reuses it only if
none of them changed. This is how a no-op build avoids re-evaluating
Starlark without a background server. A plan is saved by write-then-rename,
and a damaged one is a miss.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from kiln.core.actions import Action
from kiln.core.artifacts import Artifact
from kiln.core.config import Configuration
from kiln.core.depset import Depset
from kiln.core.errors import Location
from kiln.core.labels import Label
from kiln.core.providers import RunEnvironmentInfo
from kiln.core.runfiles import Runfiles
from kiln.execution.output_base import atomic_write

_FORMAT = 1


@dataclass(frozen=True)
class TopTarget:
    """A target named on the command line (or a test it expands to), as execution needs it."""

    label: Label
    rule_kind: str
    files: tuple[Artifact, ...]
    executable: Artifact | None = None
    runfiles: Runfiles | None = None
    run_env: RunEnvironmentInfo | None = None
    is_test: bool = False
    size: str = "medium"
    timeout: str = ""


@dataclass
class Plan:
    config: Configuration
    top: list[TopTarget]
    actions: list[Action]
    locations: dict[Label, Location]
    packages: int
    tests: list[TopTarget] = field(default_factory=list)
    # Contents of `_repo_mapping` in runfiles trees.
    repo_mapping: str = ""

    def generating(self) -> dict[Artifact, Action]:
        return {o: a for a in self.actions for o in a.outputs}


def flatten_runfiles(rf: Runfiles) -> Runfiles:
    return Runfiles(Depset(tuple(rf.files.to_list())), rf.root_symlinks, rf.symlinks, rf.empty_files)


def flatten_action(a: Action) -> Action:
    return replace(
        a,
        inputs=Depset(tuple(a.inputs.to_list())),
        tool_runfiles=tuple((exe, flatten_runfiles(rf)) for exe, rf in a.tool_runfiles),
    )


def _stamp(path: str) -> tuple | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    # ctime too: tools that restore mtimes (cp -p, tar, rsync) cannot restore it.
    return (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino)


def _kiln_version_stamp() -> str:
    """Changes whenever kiln's own code changes, so stale plans are never reused."""
    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for f in sorted(filenames):
            if f.endswith((".py", ".bazel", ".bzl")):
                st = os.stat(os.path.join(dirpath, f))
                h.update(f"{dirpath}/{f}:{st.st_mtime_ns}:{st.st_size};".encode())
    return h.hexdigest()


class PlanCache:
    def __init__(self, directory: Path, tmp: Path):
        self.directory = directory
        self.tmp = tmp

    def key(self, *parts: Any) -> str:
        return hashlib.sha256(repr((_FORMAT, sys.executable, sys.version, _kiln_version_stamp(), parts)).encode()).hexdigest()

    def load(self, key: str) -> Any:
        try:
            with open(self.directory / key, "rb") as f:
                deps, plan = pickle.load(f)
        except (FileNotFoundError, EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError, ImportError):
            return None
        for path, stamp in deps:
            if _stamp(path) != stamp:
                return None
        return plan

    def save(self, key: str, plan: Any, paths: set[str]) -> None:
        deps = [(p, _stamp(p)) for p in sorted(paths)]
        data = pickle.dumps((deps, plan), protocol=pickle.HIGHEST_PROTOCOL)
        self.directory.mkdir(parents=True, exist_ok=True)
        atomic_write(self.directory / key, data, self.tmp)
