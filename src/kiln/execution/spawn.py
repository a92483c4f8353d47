"""Spawns, and the executor interface every way of running one implements.

A spawn is an action with its inputs resolved to content digests and its key
(the REAPI action digest, kiln.execution.action_keys) computed: nothing in it
names a place on this machine, so any executor can take it — the local
sandbox finds the content through an InputLocator, a remote one by digest.

Executors are non-blocking (ninja's CommandRunner): the scheduler asks
`can_start()`, hands over a spawn with `start(spawn, report)`, and `report.done` is
called once with the result (kiln.execution.spawn.Report), from whichever thread finishes it — at once,
inside `start`, for a cache hit or an in-process write. Caching, dispatch by
strategy, the local sandbox, later workers and a remote executor are layers
of this one interface.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from kiln.core.actions import Action
from kiln.core.artifacts import SourceTree
from kiln.core.digests import Digest
from kiln.execution.action_cache import Output, OutputDirectory


@dataclass(frozen=True)
class SpawnInput:
    exec_path: str
    digest: Digest
    is_executable: bool = False
    is_source: bool = False
    # The content of an input no action wrote (the action's param file, kiln.core.actions.ParamFile).
    content: bytes | None = None


def directory_link(link: str, directory: str) -> str:
    """The relative target of a runfiles entry at exec path `link` standing for the directory input
    at exec path `directory`: valid wherever the exec root is (a sandbox shows it elsewhere)."""
    return os.path.relpath(directory, os.path.dirname(link))


@dataclass(frozen=True)
class Spawn:
    action: Action
    inputs: tuple[SpawnInput, ...]
    # (runfiles dir exec path, {runfiles path: input exec path or None for an empty file}); an entry
    # naming a directory input is one symbolic link to it (directory_link).
    runfiles_trees: tuple[tuple[str, tuple[tuple[str, str | None], ...]], ...]
    env: tuple[tuple[str, str], ...]
    # The action digest: the key of the action cache, the disk cache and a remote cache.
    key: Digest
    # Directory inputs (tree artifacts) whole: their files are in `inputs` too, their symlinks and
    # empty directories only here.
    input_trees: tuple[OutputDirectory, ...] = ()

    @property
    def key_hex(self) -> str:
        return self.key.hash

    @property
    def direct_inputs(self) -> tuple[SpawnInput, ...]:
        """The inputs that are not files of a directory input: SpawnMaker puts them first."""
        in_trees = sum(len(t.files) for t in self.input_trees)
        return self.inputs[:len(self.inputs) - in_trees] if in_trees else self.inputs


@dataclass
class SpawnResult:
    exit_code: int
    outputs: tuple[Output, ...] = ()
    # The process's output, stored in the CAS as it was written (never held in memory whole).
    stdout: Digest | None = None
    stderr: Digest | None = None
    seconds: float = 0.0
    # Set when the spawn could not produce what it declared.
    error: str = ""
    missing_outputs: tuple[str, ...] = field(default=())
    # Something the executor noticed that may explain a failure (e.g. a full disk).
    note: str = ""
    # Served from a cache instead of run.
    cached: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.missing_outputs and not self.error


class Report:
    """How an executor tells its caller about one spawn: `started()` when it begins running (not
    when a cache serves it), then `done(result)` once — with the exception instead if kiln's own
    work for it failed (a full disk), which the scheduler raises on its thread. In between,
    `progress(text)` for each line of progress a running action reports (REPORTS_PROGRESS)."""

    __slots__ = ("started", "done", "progress")

    def __init__(self, started: Callable[[], None], done: Callable[[SpawnResult | BaseException], None],
                 progress: Callable[[str], None] = lambda text: None):
        self.started = started
        self.done = done
        self.progress = progress


class Executor(Protocol):
    def can_start(self, spawn: Spawn) -> bool:
        """Whether `start(spawn)` would begin now rather than wait for a free slot."""
        ...

    def start(self, spawn: Spawn, report: Report) -> None: ...

    def cancel(self) -> None:
        """Stops what can be stopped of the spawns running: another action failed (no --keep_going)."""
        ...

    def close(self) -> None: ...


class InputChanged(Exception):
    """A source changed between the digest kiln computed and the moment it was staged."""


class InputLocator:
    """Where an input's content is on this machine: its source file, or its blob in the store."""

    def __init__(self, sources: SourceTree, blob_path: Callable[[Digest, bool], str],
                 put_bytes: Callable[[bytes], Digest]):
        self.sources = sources
        self.blob_path = blob_path
        self.put_bytes = put_bytes

    def path(self, inp: SpawnInput) -> str:
        if inp.is_source:
            return self.sources.path_of(inp.exec_path)
        if inp.content is not None:
            # Stored when a process first needs it as a file (a worker takes its lines instead).
            path = self.blob_path(inp.digest, False)
            if not os.path.exists(path):
                self.put_bytes(inp.content)
            return path
        return self.blob_path(inp.digest, inp.is_executable)


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

    def made(self) -> Any:
        """The executor if it was made, else None (nothing is made by asking)."""
        with self._lock:
            return self._executor

    def can_start(self, spawn: Spawn) -> bool:
        # Not made yet: nothing is running, so there is room (and asking makes nothing).
        with self._lock:
            if self._executor is None:
                return True
        return self._executor.can_start(spawn)

    def start(self, spawn: Spawn, report: Report) -> None:
        self.get().start(spawn, report)

    def close(self) -> None:
        with self._lock:
            if self._executor is not None:
                self._executor.close()
