"""Spawn strategies: how each action runs, from --spawn_strategy and its tags.

Bazel's names are accepted: `linux-sandbox` (namespaces, via bubblewrap),
`processwrapper-sandbox` (a private exec root of copies, no namespaces),
`sandboxed` (the best sandbox available), `local` and `standalone` (a private
exec root of links, no isolation), `worker` (a persistent worker, for actions
that support one: kiln.execution.worker_executor). A comma-separated list
falls back in order to the first strategy that can run the action here; with
no strategy given, an action that supports workers runs on one, as in Bazel. Tags: `no-sandbox` and `local` run an
action unconfined; `block-network` and `requires-network` decide the network.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from kiln.core.errors import CommandLineError, LocalEnvironmentError


class Mode(enum.Enum):
    LINUX_SANDBOX = "linux-sandbox"
    PROCESSWRAPPER = "processwrapper-sandbox"
    LOCAL = "local"
    # An action tagged no-sandbox: it runs in the output base's exec root itself.
    UNSANDBOXED = "no-sandbox"


KNOWN = ("linux-sandbox", "processwrapper-sandbox", "sandboxed", "local", "standalone", "worker")
WORKER = "worker"
LATER = {"remote": "remote execution", "dynamic": "dynamic execution", "docker": "docker sandboxes"}


@dataclass(frozen=True)
class StrategyChoice:
    """The mode for ordinary actions of this build, and what it could not enforce."""

    mode: Mode
    # Set when the user asked for a sandbox (or left the default) but namespaces are unavailable.
    degraded_reason: str = ""


def validate(requested: tuple[str, ...], flag: str = "") -> None:
    """Rejects names kiln does not know, before anything is built."""
    for name in requested:
        where = flag or f"--spawn_strategy={name}"
        if name in LATER:
            raise CommandLineError(f"{where}: {LATER[name]} are not supported by kiln yet")
        if name not in KNOWN:
            raise CommandLineError(
                f"{where}: '{name}' is not a spawn strategy kiln knows; valid values are: {', '.join(KNOWN)}")


def choose(requested: tuple[str, ...], namespaces_reason) -> StrategyChoice:
    """Picks the first usable strategy of `requested` (default: `sandboxed`).

    `namespaces_reason()` returns "" when bubblewrap works here, else why not;
    it is called only if a list entry needs it.
    """
    names = requested or ("sandboxed",)
    validate(names)
    degraded = ""
    if all(name == WORKER for name in names):
        raise LocalEnvironmentError(
            f"no strategy of --spawn_strategy={','.join(names)} can run this action: 'worker' runs only actions "
            "that support persistent workers (execution requirement supports-workers or supports-multiplex-workers)")
    for name in names:
        if name == WORKER:
            continue
        if name in ("local", "standalone"):
            return StrategyChoice(Mode.LOCAL, degraded)
        if name == "processwrapper-sandbox":
            return StrategyChoice(Mode.PROCESSWRAPPER, degraded)
        reason = namespaces_reason()
        if not reason:
            return StrategyChoice(Mode.LINUX_SANDBOX)
        if name == "sandboxed":
            return StrategyChoice(Mode.PROCESSWRAPPER, reason)
        degraded = reason
    raise LocalEnvironmentError(
        f"no strategy of --spawn_strategy={','.join(names)} can run here: linux-sandbox needs "
        f"namespaces, and {degraded}")


def worker_first(requested: tuple[str, ...], namespaces_reason) -> bool:
    """Whether an action that supports workers runs on one under the strategy list `requested`."""
    for name in requested or (WORKER,):
        if name == WORKER:
            return True
        if name != "linux-sandbox" or not namespaces_reason():
            return False
    return False


def mode_for(requirements: tuple[tuple[str, str], ...], default: Mode) -> Mode:
    keys = {k for k, _ in requirements}
    if "no-sandbox" in keys or "local" in keys:
        return Mode.UNSANDBOXED
    return default


def network_allowed(requirements: tuple[tuple[str, str], ...], default_allow: bool) -> bool:
    keys = {k for k, _ in requirements}
    if "block-network" in keys:
        return False
    return default_allow or "requires-network" in keys
