"""Actions: what analysis declares and execution runs.

Every action has the shape of a remote execution request: argv, a sorted
environment, declared inputs and outputs, execution requirements, a mnemonic
and a progress message. WRITE actions carry their content and run in process.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from kiln.core.artifacts import Artifact
from kiln.core.depset import EMPTY, Depset
from kiln.core.labels import Label
from kiln.core.runfiles import Runfiles


# kiln's own execution requirements, which the local executor honours (kiln.execution.local_executor):
# PERSISTENT_CACHE names a directory the executor keeps between runs and shows writable at
# cache_path(name) from the exec root, so an action's results must never depend on what it holds
# (cargo's incremental target directory); HOST_DIRS lists, ':'-separated, absolute directories of host
# tools the action runs (a Rust toolchain), shown read-only where they are.
PERSISTENT_CACHE = "kiln-persistent-cache"
HOST_DIRS = "kiln-host-dirs"
# REPORTS_PROGRESS: the action writes a line of progress (cargo's "12/45: syn") to the file descriptor named
# by PROGRESS_FD_ENV whenever it advances, if the executor names one; the live display shows the last.
# Progress is for the display only: an action's outputs never depend on it.
REPORTS_PROGRESS = "kiln-reports-progress"
PROGRESS_FD_ENV = "KILN_PROGRESS_FD"


def cache_path(name: str) -> str:
    """Where an action finds its persistent cache `name`, relative to its exec root."""
    return f"../../caches/{name}"


_REQUIREMENT_TAGS = ("no-sandbox", "no-cache", "local", "block-network", "requires-network")
_REQUIREMENT_PREFIXES = ("no-remote", "requires-", "supports-")


def requirements_from_tags(tags) -> dict[str, str]:
    """The tags Bazel turns into execution requirements of a target's actions and tests."""
    return {t: "1" for t in tags if t in _REQUIREMENT_TAGS or t.startswith(_REQUIREMENT_PREFIXES)}


@dataclass(frozen=True)
class ParamFile:
    """An argument file the executor writes for a spawn, not an action of its own (Bazel's param files): the
    spawn's last argument is `@exec_path`. A persistent worker takes its lines as the request's arguments and
    never sees the file; a one-shot process finds it in its exec root. Its digest is part of the action key."""

    exec_path: str
    content: bytes


class ActionKind(enum.Enum):
    SPAWN = "spawn"   # run a process in a sandbox
    WRITE = "write"   # write known content (launchers, manifests, param files)
    COPY = "copy"     # copy one input to one output


@dataclass(frozen=True, eq=False)
class Action:
    owner: Label
    mnemonic: str
    progress_message: str
    outputs: tuple[Artifact, ...]
    kind: ActionKind = ActionKind.SPAWN
    inputs: Depset = EMPTY
    argv: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    content: bytes = b""
    is_executable: bool = False
    execution_requirements: tuple[tuple[str, str], ...] = ()
    # Tools run by this action whose runfiles trees must exist in the exec root.
    tool_runfiles: tuple[tuple[Artifact, Runfiles], ...] = ()
    # The inputs given as tools (ctx.actions.run(tools = ...)): what a persistent worker runs, staged when it
    # starts and part of its key (kiln.execution.worker_spawn). Among `inputs` too.
    tools: tuple[Artifact, ...] = ()
    # The owning rule's version: a changed implementation changes every key.
    salt: str = ""
    # The execution platform's properties (exec_properties of platform and target), sorted: what a
    # remote executor is asked for (REAPI Platform properties).
    exec_properties: tuple[tuple[str, str], ...] = ()
    # Seconds after which an executor kills the action (REAPI Action.timeout); None: no limit.
    timeout: float | None = None
    # A test run: its outputs (the log, the XML) are kept whatever its exit status, and a failing
    # test is a test result, not a build failure.
    is_test: bool = False
    param_file: ParamFile | None = None

    def input_list(self) -> list[Artifact]:
        files = self.inputs.to_list()
        if self.tool_runfiles:
            seen = set(files)
            for _, rf in self.tool_runfiles:
                for a in rf.artifacts():
                    if a not in seen:
                        seen.add(a)
                        files.append(a)
        return files

    def describe(self) -> str:
        return self.progress_message or f"{self.mnemonic} {self.owner}"

    def requirement(self, key: str) -> str | None:
        for k, v in self.execution_requirements:
            if k == key:
                return v
        return None
