"""The dispatching layer: picks the executor of each spawn from its kind, mnemonic and tags.

File writes and copies run in process. A process runs by the strategy list
of `--strategy=MNEMONIC=...` for its mnemonic, else `--strategy=...` or
`--spawn_strategy` (kiln.execution.strategies): today every strategy is a
mode of the local executor; workers and a remote executor join here as
further entries of the same interface.
"""

from __future__ import annotations

from typing import Callable

from kiln.core.actions import ActionKind
from kiln.core.errors import KilnError
from kiln.execution.spawn import Executor, Report, Spawn, SpawnResult
from kiln.execution.strategies import Mode


class Dispatcher:
    def __init__(self, in_process: Executor, local, mode_for: Callable[[str], Mode]):
        self.in_process = in_process
        # A LazyExecutor making the LocalExecutor: a build of cached actions never makes it.
        self.local = local
        self.mode_for = mode_for
        self._modes: dict[Mode, _LocalMode] = {}

    def _route(self, spawn: Spawn) -> Executor:
        if spawn.action.kind is not ActionKind.SPAWN:
            return self.in_process
        try:
            mode = self.mode_for(spawn.action.mnemonic)
        except KilnError as e:
            # No strategy of the list can run here: the action fails with why, as it would on start.
            return _Unrunnable(e.message)
        view = self._modes.get(mode)
        if view is None:
            view = self._modes[mode] = _LocalMode(self.local, mode)
        return view

    def can_start(self, spawn: Spawn) -> bool:
        return self._route(spawn).can_start(spawn)

    def start(self, spawn: Spawn, report: Report) -> None:
        self._route(spawn).start(spawn, report)

    def close(self) -> None:
        self.local.close()


class _Unrunnable:
    def __init__(self, reason: str):
        self.reason = reason

    def can_start(self, spawn: Spawn) -> bool:
        return True

    def start(self, spawn: Spawn, report: Report) -> None:
        report.done(SpawnResult(1, error=self.reason))


class _LocalMode:
    """The local executor running its spawns in one strategy's mode."""

    def __init__(self, local, mode: Mode):
        self.local = local
        self.mode = mode

    def can_start(self, spawn: Spawn) -> bool:
        return self.local.can_start(spawn)

    def start(self, spawn: Spawn, report: Report) -> None:
        self.local.get().start(spawn, report, self.mode)
