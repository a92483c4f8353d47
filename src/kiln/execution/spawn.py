"""Spawns: an action with its inputs resolved to content, ready for an executor.

Executors (local sandbox, persistent worker, remote) share this interface;
caching and fallback wrap any of them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from kiln.core.actions import Action
from kiln.core.digests import Digest
from kiln.execution.action_cache import OutputFile


@dataclass(frozen=True)
class SpawnInput:
    exec_path: str
    digest: Digest
    # Where the content is on this machine: a workspace file or a CAS blob.
    local_path: str
    is_source: bool = False


@dataclass(frozen=True)
class Spawn:
    action: Action
    inputs: tuple[SpawnInput, ...]
    # (runfiles dir exec path, {runfiles path: input exec path or None for an empty file})
    runfiles_trees: tuple[tuple[str, tuple[tuple[str, str | None], ...]], ...]
    env: tuple[tuple[str, str], ...]
    key: str


@dataclass
class SpawnResult:
    exit_code: int
    outputs: tuple[OutputFile, ...] = ()
    # The process's output, stored in the CAS as it was written (never held in memory whole).
    stdout: Digest | None = None
    stderr: Digest | None = None
    seconds: float = 0.0
    # Set when the spawn could not produce what it declared.
    error: str = ""
    missing_outputs: tuple[str, ...] = field(default=())
    # Something the executor noticed that may explain a failure (e.g. a full disk).
    note: str = ""


class Executor(Protocol):
    def execute(self, spawn: Spawn) -> SpawnResult: ...


class LazyExecutor:
    """An executor made when the first spawn needs it: a build served from the cache never makes one
    (nor imports the process and sandbox machinery)."""

    def __init__(self, make: Callable[[], Any]):
        self._make = make
        self._executor: Any = None
        self._lock = threading.Lock()

    def get(self) -> Any:
        with self._lock:
            if self._executor is None:
                self._executor = self._make()
            return self._executor

    def execute(self, spawn: Spawn) -> SpawnResult:
        return self.get().execute(spawn)
