"""select() values that survive Starlark arithmetic.

starlark-pyo3 cannot give select() a type of its own, yet BUILD files write
`[":a"] + select({...})`. So select() returns a value of the branches' type
holding a marker string; `+` keeps markers in place, and `decode` turns the
result back into a Select or SelectorList once the rule receives it.
"""

from __future__ import annotations

import re
from typing import Any

from kiln.core.select import Select, SelectorList

_PREFIX = "\x00kiln-select:"
_MARK_RE = re.compile("\x00kiln-select:(\\d+)\x00")


class SelectTable:
    """The selects created during one loading session, by id."""

    def __init__(self) -> None:
        self._selects: list[Select] = []

    def make(self, select: Select) -> Any:
        self._selects.append(select)
        mark = f"{_PREFIX}{len(self._selects) - 1}\x00"
        values = select.values()
        if values and all(isinstance(v, (list, tuple)) for v in values):
            return [mark]
        if values and all(isinstance(v, dict) for v in values):
            return {mark: mark}
        return mark

    def decode(self, value: Any) -> Any:
        """Turns marked values back into Select / SelectorList; other values pass through."""
        if isinstance(value, str):
            if _PREFIX not in value:
                return value
            parts: list[Any] = []
            pos = 0
            for m in _MARK_RE.finditer(value):
                if m.start() > pos:
                    parts.append(value[pos:m.start()])
                parts.append(self._selects[int(m.group(1))])
                pos = m.end()
            if pos < len(value):
                parts.append(value[pos:])
            return parts[0] if len(parts) == 1 else SelectorList(tuple(parts))
        if isinstance(value, list):
            if not any(isinstance(v, str) and v.startswith(_PREFIX) for v in value):
                return value
            parts = []
            chunk: list[Any] = []
            for v in value:
                m = _MARK_RE.fullmatch(v) if isinstance(v, str) else None
                if m:
                    if chunk:
                        parts.append(chunk)
                        chunk = []
                    parts.append(self._selects[int(m.group(1))])
                else:
                    chunk.append(v)
            if chunk:
                parts.append(chunk)
            return parts[0] if len(parts) == 1 else SelectorList(tuple(parts))
        if isinstance(value, dict):
            if not any(isinstance(k, str) and k.startswith(_PREFIX) for k in value):
                return value
            # Keep the written order: with `|`, a later operand's keys win.
            parts = []
            plain: dict = {}
            for k, v in value.items():
                m = _MARK_RE.fullmatch(k) if isinstance(k, str) else None
                if m:
                    if plain:
                        parts.append(plain)
                        plain = {}
                    parts.append(self._selects[int(m.group(1))])
                else:
                    plain[k] = v
            if plain:
                parts.append(plain)
            return parts[0] if len(parts) == 1 else SelectorList(tuple(parts))
        return value


def contains_marker(value: Any) -> bool:
    if isinstance(value, str):
        return _PREFIX in value
    if isinstance(value, (list, tuple)):
        return any(contains_marker(v) for v in value)
    if isinstance(value, dict):
        return any(contains_marker(k) or contains_marker(v) for k, v in value.items())
    return False
