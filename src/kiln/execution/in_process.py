"""File writes and copies: actions kiln performs itself, at once, never on a worker or a remote.

They go through the same stack as processes (the same keys, the action
cache), but run inside `start`: storing a few bytes costs less than any
round trip would.
"""

from __future__ import annotations

from kiln.core.actions import ActionKind
from kiln.execution.action_cache import OutputFile
from kiln.execution.cas import Cas
from kiln.execution.spawn import InputLocator, Report, Spawn, SpawnResult


class InProcessExecutor:
    def __init__(self, cas: Cas, locator: InputLocator):
        self.cas = cas
        self.locator = locator

    def can_start(self, spawn: Spawn) -> bool:
        return True

    def start(self, spawn: Spawn, report: Report) -> None:
        action = spawn.action
        out = action.outputs[0]
        report.started()
        try:
            if action.kind is ActionKind.WRITE:
                digest = self.cas.put_bytes(action.content, action.is_executable)
            else:
                src = spawn.inputs[0]
                digest = self.cas.put_file(self.locator.path(src), action.is_executable, digest=src.digest)
        except BaseException as e:
            report.done(e)
            return
        report.done(SpawnResult(0, (OutputFile(out.exec_path, digest, action.is_executable),)))

    def close(self) -> None:
        pass
