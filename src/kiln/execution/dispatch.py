"""The dispatching layer: picks the executor of each spawn from its kind, mnemonic and tags.

File writes and copies run in process. A process runs by the strategy list
of `--strategy=MNEMONIC=...` for its mnemonic, else `--strategy=...` or
`--spawn_strategy` (kiln.execution.strategies): on a persistent worker when
its execution requirements support one and the list allows it (the default),
else in a mode of the local executor; a remote executor joins here as a
further entry of the same interface.
"""

from __future__ import annotations

from typing import Callable

from kiln.core.actions import ActionKind
from kiln.core.errors import KilnError
from kiln.execution.spawn import Executor, LazyExecutor, Report, Spawn, SpawnResult
from kiln.execution.strategies import Mode


class Dispatcher:
    def __init__(self, in_process: Executor, local, mode_for: Callable[[str], Mode],
                 workers: LazyExecutor | None = None, uses_worker: Callable[[str], bool] = lambda mnemonic: False):
        self.in_process = in_process
        # A LazyExecutor making the LocalExecutor: a build of cached actions never makes it.
        self.local = local
        self.mode_for = mode_for
        self._modes: dict[Mode, _LocalMode] = {}
        # A LazyExecutor making the WorkerExecutor, and whether a mnemonic's strategy list allows workers.
        self.workers = workers
        self.uses_worker = uses_worker
        self._worker_routes: dict[str, Executor] = {}

    def _route(self, spawn: Spawn) -> Executor:
        action = spawn.action
        if action.kind is not ActionKind.SPAWN:
            return self.in_process
        if self.workers is not None and (action.requirement("supports-workers") == "1"
                                         or action.requirement("supports-multiplex-workers") == "1"):
            route = self._worker_route(spawn)
            if route is not None:
                return route
        try:
            mode = self.mode_for(action.mnemonic)
        except KilnError as e:
            # No strategy of the list can run here: the action fails with why, as it would on start.
            return _Unrunnable(e.message)
        view = self._modes.get(mode)
        if view is None:
            view = self._modes[mode] = _LocalMode(self.local, mode)
        return view

    def _worker_route(self, spawn: Spawn) -> Executor | None:
        """The worker route of a spawn that supports workers, or None when it runs as usual."""
        known = self._worker_routes.get(spawn.key_hex)
        if known is not None:
            return known
        try:
            if not self.uses_worker(spawn.action.mnemonic):
                return None
            from kiln.execution.worker_spawn import NotForWorkers

            try:
                plan = self.workers.get().planner.plan(spawn)
            except NotForWorkers as e:
                route: Executor = _Unrunnable(e.message)
            except OSError as e:
                route = _Unrunnable(f"cannot read its argument file: {e.strerror}")
            else:
                if plan is None:
                    return None
                route = _WorkerRequest(self.workers, plan)
        except KilnError as e:
            route = _Unrunnable(e.message)
        self._worker_routes[spawn.key_hex] = route
        return route

    def can_start(self, spawn: Spawn) -> bool:
        return self._route(spawn).can_start(spawn)

    def start(self, spawn: Spawn, report: Report) -> None:
        route = self._route(spawn)
        self._worker_routes.pop(spawn.key_hex, None)
        route.start(spawn, report)

    def cancel(self) -> None:
        """Cancels what can be cancelled of the spawns running (another action failed)."""
        workers = self.workers.made() if self.workers is not None else None
        if workers is not None:
            workers.cancel()

    def close(self) -> None:
        try:
            self.local.close()
        finally:
            if self.workers is not None:
                self.workers.close()


class _Unrunnable:
    def __init__(self, reason: str):
        self.reason = reason

    def can_start(self, spawn: Spawn) -> bool:
        return True

    def start(self, spawn: Spawn, report: Report) -> None:
        report.done(SpawnResult(1, error=self.reason))


class _WorkerRequest:
    """One spawn's way to the worker executor, with what it needs (kiln.execution.worker_spawn)."""

    def __init__(self, workers: LazyExecutor, plan):
        self.workers = workers
        self.plan = plan

    def can_start(self, spawn: Spawn) -> bool:
        return self.workers.get().can_start(spawn)

    def start(self, spawn: Spawn, report: Report) -> None:
        self.workers.get().start(spawn, report, self.plan)


class _LocalMode:
    """The local executor running its spawns in one strategy's mode."""

    def __init__(self, local, mode: Mode):
        self.local = local
        self.mode = mode

    def can_start(self, spawn: Spawn) -> bool:
        return self.local.can_start(spawn)

    def start(self, spawn: Spawn, report: Report) -> None:
        self.local.get().start(spawn, report, self.mode)
