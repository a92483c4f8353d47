"""From a spawn to what a persistent worker needs: its key, its startup arguments, its request.

An action can run on a worker when its execution requirements say
`supports-workers=1` or `supports-multiplex-workers=1` and its last argument
names an argument file (`@file` or `--flagfile=file`) among its inputs. The
worker starts with the other arguments, `--persistent_worker` and the
`--worker_extra_flag`s of its mnemonic; each request carries the file's
lines as its arguments (a param file written for the spawn is neither staged nor listed: only its lines
reach the worker, as in Bazel).

What the worker runs — the inputs its startup arguments name, the action's tools
(ctx.actions.run(tools = ...)), and every directory input (a runtime's installation) — are its tools: staged
once when it starts, and their digests are part of its key, so a changed tool
gets a new process. The rest are the request's inputs, staged for each
request and listed in it with their digests (Bazel's form: the UTF-8 bytes of
the hex hash). The files inside directory inputs are not listed one by one:
a runtime holds thousands, and they are already in the key.
"""

from __future__ import annotations

from dataclasses import dataclass

from kiln.execution.action_cache import tree_identity
from kiln.execution.spawn import InputLocator, Spawn, SpawnInput
from kiln.execution.worker_pool import WorkerKey
from kiln.execution.worker_protocol import PROTOCOLS, WorkInput

PERSISTENT_WORKER_FLAG = "--persistent_worker"


class NotForWorkers(Exception):
    """An action that asks for a worker but cannot have one: `message` says why (shown as its failure)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class WorkerOptions:
    """The command's worker options (kiln.cli wires them in)."""

    # --worker_extra_flag=MNEMONIC=flag, in order.
    extra_flags: tuple[tuple[str, str], ...] = ()
    sandboxing: bool = False
    multiplex_sandboxing: bool = False


@dataclass(frozen=True)
class WorkerPlan:
    key: WorkerKey
    tools: tuple[SpawnInput, ...]
    request_inputs: tuple[SpawnInput, ...]
    arguments: tuple[str, ...]
    listed_inputs: tuple[WorkInput, ...]
    cancellable: bool


def wants_worker(spawn: Spawn) -> bool:
    action = spawn.action
    return action.requirement("supports-workers") == "1" or action.requirement("supports-multiplex-workers") == "1"


def _argument_file(argv: tuple[str, ...]) -> str | None:
    last = argv[-1] if argv else ""
    if last.startswith("@") and not last.startswith("@@"):
        return last[1:]
    if last.startswith("--flagfile="):
        return last[len("--flagfile="):]
    return None


def protocol_of(spawn: Spawn) -> str:
    value = spawn.action.requirement("requires-worker-protocol")
    if value is None:
        return "proto"
    if value not in PROTOCOLS:
        raise NotForWorkers(f"its execution requirement requires-worker-protocol='{value}' names no worker protocol "
                            f"kiln knows (valid values: {', '.join(PROTOCOLS)})")
    return value


class WorkerPlanner:
    def __init__(self, options: WorkerOptions, locator: InputLocator):
        self.options = options
        self.locator = locator
        # Directory inputs by identity: one runtime is read by every action of a build.
        self._tree_ids: dict[int, tuple[object, str]] = {}

    def plan(self, spawn: Spawn) -> WorkerPlan | None:
        """What the worker needs for `spawn`; None when it has no argument file (it runs as usual)."""
        action = spawn.action
        protocol = protocol_of(spawn)
        path = _argument_file(action.argv)
        if path is None:
            return None
        direct = spawn.direct_inputs
        param = next((i for i in direct if i.exec_path == path), None)
        if param is None:
            raise NotForWorkers(f"its argument file '{path}' is not one of its inputs")
        if param.content is not None:
            # Written for the spawn (kiln.core.actions.ParamFile): its lines are the request, the file is never made.
            text = param.content.decode("utf-8")
            direct = tuple(i for i in direct if i is not param)
        else:
            with open(self.locator.path(param), "rb") as f:
                text = f.read().decode("utf-8")
        arguments = tuple(text.split("\n")[:-1] if text.endswith("\n") else text.split("\n")) if text else ()
        tool_paths = {*action.argv[:-1], *(exe.exec_path for exe, _ in action.tool_runfiles),
                      *(tool.exec_path for tool in action.tools)}
        tool_paths.update(path for _, entries in spawn.runfiles_trees for _, path in entries if path is not None)
        tools = tuple(i for i in direct if i.exec_path in tool_paths)
        request = tuple(i for i in direct if i.exec_path not in tool_paths)
        digests = [(i.exec_path, i.digest.hash) for i in tools]
        digests += [(t.path, self._tree_id(t)) for t in spawn.input_trees]
        startup = [a for a in action.argv[:-1]]
        if PERSISTENT_WORKER_FLAG not in startup:
            startup.append(PERSISTENT_WORKER_FLAG)
        startup += [flag for mnemonic, flag in self.options.extra_flags if mnemonic == action.mnemonic]
        multiplex = action.requirement("supports-multiplex-workers") == "1"
        multiplex_sandbox = (multiplex and self.options.multiplex_sandboxing
                             and action.requirement("supports-multiplex-sandboxing") == "1")
        sandboxed = self.options.sandboxing or multiplex_sandbox
        if sandboxed and not multiplex_sandbox:
            multiplex = False  # a multiplex worker that cannot take a sandbox per request runs one at a time
        key = WorkerKey(action.mnemonic, tuple(startup), tuple(sorted(digests)), spawn.env, protocol, multiplex,
                        sandboxed)
        listed = tuple(WorkInput(i.exec_path, i.digest.hash.encode()) for i in direct)
        return WorkerPlan(key, tools, request, arguments, listed,
                          action.requirement("supports-worker-cancellation") == "1")

    def _tree_id(self, tree) -> str:
        known = self._tree_ids.get(id(tree))
        if known is None or known[0] is not tree:
            known = self._tree_ids[id(tree)] = (tree, tree_identity(tree))
        return known[1]
