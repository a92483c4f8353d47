"""--explain: why an action was not served from the cache.

For every executed action kiln keeps the parts of its key (argv, environment,
input digests) by its first output; the next miss is compared against them.
The table is saved atomically at the end of the build.
"""

from __future__ import annotations

import marshal
import threading
from pathlib import Path

from kiln.core.actions import Action
from kiln.execution.output_base import atomic_write
from kiln.execution.spawn import Spawn


class Explainer:
    def __init__(self, table_path: Path, tmp: Path, *, enabled: bool = True):
        self.table_path = table_path
        self.enabled = enabled
        self._dirty = False
        self.tmp = tmp
        self._lock = threading.Lock()
        try:
            self._table: dict[str, tuple] = marshal.loads(table_path.read_bytes())
        except (FileNotFoundError, EOFError, ValueError, TypeError):
            self._table = {}

    @staticmethod
    def _parts(action: Action, spawn: Spawn) -> tuple:
        return (
            action.salt,
            list(action.argv),
            list(spawn.env),
            {i.exec_path: i.digest.hash for i in spawn.inputs},
            action.content,
        )

    def explain(self, action: Action, spawn: Spawn) -> str:
        if not self.enabled:
            return ""
        ident = action.outputs[0].exec_path if action.outputs else str(action.owner)
        old = self._table.get(ident)
        if old is None:
            return "no previous run of this action is known (new action, or its outputs were never built here)"
        salt, argv, env, inputs, content = old
        new_salt, new_argv, new_env, new_inputs, new_content = self._parts(action, spawn)
        reasons = []
        if salt != new_salt:
            reasons.append("the rule implementation changed")
        if argv != new_argv:
            reasons.append("the command line changed")
        if env != new_env:
            changed = sorted({k for k, _ in set(map(tuple, env)) ^ set(map(tuple, new_env))})
            reasons.append("environment changed: " + ", ".join(changed))
        if content != new_content:
            reasons.append("the file content to write changed")
        changed_inputs = sorted(p for p in new_inputs if p in inputs and inputs[p] != new_inputs[p])
        added = sorted(p for p in new_inputs if p not in inputs)
        removed = sorted(p for p in inputs if p not in new_inputs)
        for label, paths in (("input changed", changed_inputs), ("input added", added), ("input removed", removed)):
            if paths:
                shown = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
                reasons.append(f"{label}: {shown}")
        return "; ".join(reasons) or "the same action ran before, but its result is no longer in the cache"

    def record(self, action: Action, spawn: Spawn) -> None:
        ident = action.outputs[0].exec_path if action.outputs else str(action.owner)
        with self._lock:
            self._table[ident] = self._parts(action, spawn)
            self._dirty = True

    def save(self) -> None:
        if not self._dirty:
            return
        with self._lock:
            data = marshal.dumps(self._table)
        atomic_write(self.table_path, data, self.tmp)
