"""Configurable attribute values: select() and its concatenations.

A `Select` maps condition labels to values; a `SelectorList` is the sum of
plain values and selects as written (`[":a"] + select({...})`). Both are
resolved during analysis, once the configuration is known.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DEFAULT_CONDITION = "//conditions:default"


@dataclass(frozen=True)
class Select:
    # (condition label text as written, value); the label is resolved during analysis.
    conditions: tuple[tuple[str, Any], ...]
    no_match_error: str = ""

    def values(self) -> list[Any]:
        return [v for _, v in self.conditions]


@dataclass(frozen=True)
class SelectorList:
    parts: tuple[Any, ...]  # plain values and Select

    def selects(self) -> list[Select]:
        return [p for p in self.parts if isinstance(p, Select)]


def concat(values: list[Any]) -> Any:
    """Adds resolved parts together as Starlark `+` would (lists, strings, dicts)."""
    if not values:
        return None
    result = values[0]
    for v in values[1:]:
        if isinstance(result, dict):
            result = {**result, **v}
        else:
            result = result + v
    return result
