"""What a query function sees of an evaluation: target sets and the evaluator's operations.

The evaluator (kiln.query.evaluator) implements QueryContext and hands itself to the
functions (kiln.query.functions), which know it only through this protocol; so imports
point one way: evaluator -> functions -> interface.

A set of targets is a dict keyed by label: targets are compared by label because the
environment may hand out a new object for a target it loaded twice.
"""

from __future__ import annotations

from typing import Iterable, Protocol

from kiln.core.labels import Label
from kiln.loading.package import Target
from kiln.query.ast import Expr
from kiln.query.errors import QueryError

TargetSet = dict[Label, Target]
Scope = dict[str, TargetSet]


def sort_key(target: Target) -> str:
    return str(target.label)


def sorted_targets(targets: Iterable[Target]) -> list[Target]:
    return sorted(targets, key=sort_key)


class QueryContext(Protocol):
    def eval(self, expr: Expr, scope: Scope) -> TargetSet:
        """The targets a sub-expression evaluates to."""

    def error(self, message: str, column: int) -> QueryError:
        """An error pointing at `column` of the query text."""

    def resolve(self, text: str) -> TargetSet:
        """The targets a target pattern names."""

    def load(self, label: Label, referrer: Target, attribute: str) -> Target | None:
        """The target at the far end of an edge, or None if it failed to load under keep_going."""

    def forward(self, roots: TargetSet, depth: int | None = None) -> TargetSet:
        """`roots` and everything reachable within `depth` edges."""

    def reverse_edges(self, universe: TargetSet) -> dict[Label, list[Target]]:
        """For each target in `universe`, its direct dependents inside `universe`."""

    def backward(self, roots: TargetSet, rev: dict[Label, list[Target]], depth: int | None = None) -> TargetSet:
        """`roots` and what reaches them through `rev` within `depth` edges."""

    def shortest_path(self, sources: TargetSet, targets: TargetSet) -> list[Target]:
        """A shortest dependency path from some source to some target, or [] if there is none."""
