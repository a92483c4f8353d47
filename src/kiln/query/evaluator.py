"""Evaluation of a query expression to a set of targets.

Owns the parts every function shares: resolving words through the
environment, `let` scopes, the set operators, and the target graph's edges
(loaded lazily, each target once). The functions themselves live in
`kiln.query.functions`, which see the Evaluator only as the QueryContext of
`kiln.query.interface`. The first object seen for a label is kept for the
whole evaluation.

Errors while loading a dependency (or a label named by `labels()` or a
test_suite) stop the query with a KilnError naming both ends of the edge;
with `keep_going` they become warnings and the edge is skipped. A word that
fails to resolve is handled the same way.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Iterable

from kiln.core.errors import KilnError
from kiln.core.labels import Label
from kiln.loading.package import Target
from kiln.query.ast import BinaryOp, Expr, FunctionCall, Let, Op, SetExpr, TargetLiteral, Variable
from kiln.query.environment import QueryEnvironment
from kiln.query.errors import QueryError
from kiln.query.functions import call
from kiln.query.interface import Scope, TargetSet, sorted_targets
from kiln.query.parser import parse


@dataclass
class QueryResult:
    """The targets a query evaluated to, sorted by label string."""

    targets: list[Target]
    # Errors skipped because of keep_going; non-empty means the result may be incomplete.
    warnings: list[str] = field(default_factory=list)
    expression: Expr | None = None

    @property
    def complete(self) -> bool:
        return not self.warnings

    def labels(self) -> list[str]:
        return [str(t.label) for t in self.targets]

    def __len__(self) -> int:
        return len(self.targets)

    def __iter__(self):
        return iter(self.targets)


def evaluate(expression: str, env: QueryEnvironment, *, keep_going: bool = False,
             implicit_deps: bool = True) -> QueryResult:
    """Parses and evaluates `expression` against `env`.

    Raises QuerySyntaxError for malformed text, QueryError for evaluation
    problems tied to a spot in the expression, and the environment's own
    KilnError for words that do not resolve (unless keep_going).
    """
    tree = parse(expression)
    ev = Evaluator(env, keep_going=keep_going, text=expression, implicit_deps=implicit_deps)
    result = ev.eval(tree, {})
    return QueryResult(sorted_targets(result.values()), ev.warnings, tree)


class Evaluator:
    def __init__(self, env: QueryEnvironment, *, keep_going: bool = False, text: str = "",
                 implicit_deps: bool = True):
        self.env = env
        self.keep_going = keep_going
        self.text = text
        # --noimplicit_deps: a rule's private attributes (`_name`, which BUILD files cannot set) are not edges.
        self.implicit_deps = implicit_deps
        self.warnings: list[str] = []
        self._warned: set[str] = set()
        self._targets: dict[Label, Target] = {}
        self._load_errors: dict[Label, KilnError] = {}
        self._successors: dict[Label, list[Target]] = {}

    # ---- errors -------------------------------------------------------------------------

    def error(self, message: str, column: int) -> QueryError:
        return QueryError(message, expression=self.text, column=column)

    def warn(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            self.warnings.append(message)

    # ---- targets ------------------------------------------------------------------------

    def intern(self, target: Target) -> Target:
        return self._targets.setdefault(target.label, target)

    def resolve(self, text: str) -> TargetSet:
        try:
            found = self.env.resolve_pattern(text)
        except KilnError as e:
            if not self.keep_going:
                raise
            self.warn(e.render())
            return {}
        out: TargetSet = {}
        for t in found:
            t = self.intern(t)
            out[t.label] = t
        return out

    def load(self, label: Label, referrer: Target, attribute: str) -> Target | None:
        """The target at the far end of an edge, or None if it failed to load under keep_going."""
        known = self._targets.get(label)
        if known is not None:
            return known
        err = self._load_errors.get(label)
        if err is None:
            try:
                return self.intern(self.env.get_target(label))
            except KilnError as e:
                err = self._load_errors[label] = e
        message = (
            f"cannot load '{label}', referenced by '{referrer.label}' "
            f"(attribute '{attribute}'): {err.message}"
        )
        if not self.keep_going:
            raise KilnError(message, location=referrer.location) from err
        self.warn(message)
        return None

    def successors(self, target: Target) -> list[Target]:
        """Direct dependencies: every label attribute, all select branches; files -> generating rule."""
        cached = self._successors.get(target.label)
        if cached is not None:
            return cached
        out: list[Target] = []
        seen: set[Label] = set()
        for attribute, label in target.dependency_labels():
            if label in seen or (not self.implicit_deps and attribute.startswith("_")):
                continue
            seen.add(label)
            dep = self.load(label, target, attribute)
            if dep is not None:
                out.append(dep)
        self._successors[target.label] = out
        return out

    # ---- graph traversal ----------------------------------------------------------------

    def forward(self, roots: TargetSet, depth: int | None = None) -> TargetSet:
        """`roots` and everything reachable within `depth` edges (breadth first, so distances are minimal)."""
        return _walk(roots, self.successors, depth)

    def reverse_edges(self, universe: TargetSet) -> dict[Label, list[Target]]:
        """For each target in `universe`, its direct dependents inside `universe`."""
        rev: dict[Label, list[Target]] = {label: [] for label in universe}
        for t in sorted_targets(universe.values()):
            for dep in self.successors(t):
                if dep.label in rev:
                    rev[dep.label].append(t)
        return rev

    @staticmethod
    def backward(roots: TargetSet, rev: dict[Label, list[Target]], depth: int | None = None) -> TargetSet:
        return _walk(roots, lambda t: rev.get(t.label, ()), depth)

    def shortest_path(self, sources: TargetSet, targets: TargetSet) -> list[Target]:
        """A shortest dependency path from some source to some target, or [] if there is none."""
        parent: dict[Label, Target | None] = {}
        queue: deque[Target] = deque()
        for s in sorted_targets(sources.values()):
            parent[s.label] = None
            queue.append(s)
        while queue:
            t = queue.popleft()
            if t.label in targets:
                path = [t]
                while (p := parent[path[-1].label]) is not None:
                    path.append(p)
                return path[::-1]
            for dep in self.successors(t):
                if dep.label not in parent:
                    parent[dep.label] = t
                    queue.append(dep)
        return []

    # ---- expressions --------------------------------------------------------------------

    def eval(self, expr: Expr, scope: Scope) -> TargetSet:
        if isinstance(expr, TargetLiteral):
            return self.resolve(expr.text)
        if isinstance(expr, Variable):
            if expr.name not in scope:
                raise self.error(f"undefined variable '{expr.name}'", expr.column)
            return scope[expr.name]
        if isinstance(expr, SetExpr):
            out: TargetSet = {}
            for item in expr.items:
                out.update(self.eval(item, scope))
            return out
        if isinstance(expr, BinaryOp):
            left = self.eval(expr.left, scope)
            right = self.eval(expr.right, scope)
            if expr.op is Op.UNION:
                return {**left, **right}
            if expr.op is Op.EXCEPT:
                return {k: v for k, v in left.items() if k not in right}
            return {k: v for k, v in left.items() if k in right}
        if isinstance(expr, Let):
            value = self.eval(expr.value, scope)
            return self.eval(expr.body, {**scope, expr.name: value})
        if isinstance(expr, FunctionCall):
            return call(self, expr, scope)
        raise TypeError(f"not a query expression: {expr!r}")


def _walk(roots: TargetSet, neighbours: Callable[[Target], Iterable[Target]], depth: int | None) -> TargetSet:
    """`roots` and what `neighbours` reaches within `depth` steps, breadth first."""
    result = dict(roots)
    frontier = sorted_targets(roots.values())
    level = 0
    while frontier and (depth is None or level < depth):
        nxt: list[Target] = []
        for t in frontier:
            for n in neighbours(t):
                if n.label not in result:
                    result[n.label] = n
                    nxt.append(n)
        frontier = nxt
        level += 1
    return result
