"""--explain: why an action was not served from the cache.

The explanation is read off the action's canonical record (the same fields
its key is the digest of: kiln.execution.action_keys.spec_of), so it can never
disagree with the cache's decision. For every executed action kiln keeps
those fields by its first output; the next miss is compared against them.
The table is saved atomically at the end of the build.
"""

from __future__ import annotations

import marshal
import threading
from pathlib import Path

from kiln.core.actions import Action
from kiln.execution.action_keys import WRITE_CONTENT, spec_of
from kiln.execution.output_base import atomic_write
from kiln.execution.spawn import Spawn

# Bump when the saved fields change: an old table then reads as empty.
_FORMAT = 2


class Explainer:
    def __init__(self, table_path: Path, tmp: Path, *, enabled: bool = True):
        self.table_path = table_path
        self.enabled = enabled
        self._dirty = False
        self.tmp = tmp
        self._lock = threading.Lock()
        try:
            table = marshal.loads(table_path.read_bytes())
        except (FileNotFoundError, EOFError, ValueError, TypeError):
            table = None
        ok = isinstance(table, dict) and table.get("format") == _FORMAT
        self._table: dict[str, tuple] = table["actions"] if ok else {}

    @staticmethod
    def _parts(spawn: Spawn) -> tuple:
        spec = spec_of(spawn.action, spawn.inputs, spawn.runfiles_trees, spawn.env, spawn.input_trees)
        return (
            spec.salt,
            list(spec.argv),
            [list(kv) for kv in spec.env],
            {path: [d.hash, x] for path, (d, x) in spec.input_files.items()},
            [*spec.output_files, *spec.output_directories],
            [list(kv) for kv in spec.platform],
        )

    def explain(self, action: Action, spawn: Spawn) -> str:
        if not self.enabled:
            return ""
        old = self._table.get(_ident(action))
        if old is None:
            return "no previous run of this action is known (new action, or its outputs were never built here)"
        salt, argv, env, inputs, outputs, platform = old
        inputs = dict(inputs)
        new_salt, new_argv, new_env, new_inputs, new_outputs, new_platform = self._parts(spawn)
        reasons = []
        if salt != new_salt:
            reasons.append("the rule implementation changed")
        if argv != new_argv:
            reasons.append("the command line changed")
        if env != new_env:
            changed = sorted({k for k, _ in set(map(tuple, env)) ^ set(map(tuple, new_env))})
            reasons.append("environment changed: " + ", ".join(changed))
        if outputs != new_outputs:
            reasons.append("the declared outputs changed")
        if platform != new_platform:
            reasons.append("the execution platform's properties changed")
        if inputs.get(WRITE_CONTENT) != new_inputs.get(WRITE_CONTENT):
            reasons.append("the file content to write changed")
        inputs.pop(WRITE_CONTENT, None)
        new_inputs.pop(WRITE_CONTENT, None)
        changed_inputs = sorted(p for p in new_inputs if p in inputs and inputs[p][0] != new_inputs[p][0])
        mode_changed = sorted(p for p in new_inputs if p in inputs and inputs[p][0] == new_inputs[p][0]
                              and inputs[p][1] != new_inputs[p][1])
        added = sorted(p for p in new_inputs if p not in inputs)
        removed = sorted(p for p in inputs if p not in new_inputs)
        for label, paths in (("input changed", changed_inputs), ("input's executable bit changed", mode_changed),
                             ("input added", added), ("input removed", removed)):
            if paths:
                shown = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
                reasons.append(f"{label}: {shown}")
        return "; ".join(reasons) or "the same action ran before, but its result is no longer in the cache"

    def record(self, action: Action, spawn: Spawn) -> None:
        parts = self._parts(spawn)
        with self._lock:
            self._table[_ident(action)] = parts
            self._dirty = True

    def save(self) -> None:
        if not self._dirty:
            return
        with self._lock:
            data = marshal.dumps({"format": _FORMAT, "actions": self._table})
        atomic_write(self.table_path, data, self.tmp)


def _ident(action: Action) -> str:
    return action.outputs[0].exec_path if action.outputs else str(action.owner)
