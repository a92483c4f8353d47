"""Depsets: immutable sets built from direct items and nested depsets.

Flattening is linear in the size of the graph and deduplicates, so
transitive collections (sources, runfiles) stay cheap to build per target.
"""

from __future__ import annotations

from typing import Generic, Iterable, Iterator, TypeVar

T = TypeVar("T")

ORDERS = ("default", "stable", "preorder", "postorder", "topological")


class Depset(Generic[T]):
    __slots__ = ("direct", "transitive", "order", "_flat")

    def __init__(self, direct: Iterable[T] = (), transitive: Iterable["Depset[T]"] = (), order: str = "default"):
        if order not in ORDERS:
            raise ValueError(f"unknown depset order '{order}'")
        self.direct = tuple(direct)
        # Empty children add nothing; dropping them keeps deep chains shallow.
        self.transitive = tuple(t for t in transitive if t)
        self.order = order
        self._flat: tuple[T, ...] | None = None

    def __bool__(self) -> bool:
        # Empty children are dropped in __init__, so any child means content (and no recursion).
        return bool(self.direct or self.transitive)

    def to_list(self) -> list[T]:
        if self._flat is None:
            self._flat = tuple(self._flatten())
        return list(self._flat)

    def __iter__(self) -> Iterator[T]:
        return iter(self.to_list())

    def __len__(self) -> int:
        return len(self.to_list())

    def _flatten(self) -> list[T]:
        seen_sets: set[int] = set()
        seen: set = set()
        out: list[T] = []
        preorder = self.order == "preorder"
        # Topological is a reversed postorder taken with children and items in reverse,
        # so a node precedes its children and siblings keep their written order.
        topological = self.order == "topological"

        # Iterative DFS: transitive members first (postorder), direct items after,
        # unless preorder was asked for. Deep chains of 1000s of packages must not recurse.
        stack: list[tuple[Depset[T], bool]] = [(self, False)]
        while stack:
            node, expanded = stack.pop()
            if not expanded:
                if id(node) in seen_sets:
                    continue
                seen_sets.add(id(node))
                if preorder:
                    _emit(node.direct, seen, out)
                    for child in reversed(node.transitive):
                        stack.append((child, False))
                else:
                    stack.append((node, True))
                    children = node.transitive if topological else reversed(node.transitive)
                    for child in children:
                        stack.append((child, False))
            else:
                _emit(node.direct[::-1] if topological else node.direct, seen, out)
        if topological:
            out.reverse()
        return out

    def __repr__(self) -> str:
        return f"depset({self.to_list()!r})"


def _emit(items: tuple, seen: set, out: list) -> None:
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)


EMPTY: Depset = Depset()
