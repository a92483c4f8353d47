"""cquery: the query language over configured targets, as analysis left them.

A node is a configured target: the same label in two configurations (a tool
in the exec configuration and in the target one) is two nodes. The language
is query's (same parser); cquery's functions are the ones that make sense on
the configured graph: target patterns, `+ - ^`, `let`, `deps(x[, depth])`,
`somepath(from, to)`, `kind(regex, x)` and `filter(regex, x)`. Patterns name
targets in the top-level configuration.
"""

from __future__ import annotations

import re
from collections import deque
from typing import Callable, Iterable

from kiln.loading.package import FileTarget, RuleTarget
from kiln.query.ast import BinaryOp, Expr, FunctionCall, IntArg, Let, Op, SetExpr, TargetLiteral, Variable, WordArg
from kiln.query.errors import QueryError
from kiln.query.parser import parse

# A set of configured targets, keyed by (label, configuration), in insertion order.
Nodes = dict

SUPPORTED = ("deps", "somepath", "kind", "filter")


def _key(ct) -> tuple:
    # A source file is the same file in every configuration (cquery shows it as "(null)").
    if isinstance(ct.target, FileTarget) and ct.target.generating_rule is None:
        return (ct.label, None)
    return (ct.label, ct.config)


def _nodes(cts: Iterable) -> Nodes:
    return {_key(ct): ct for ct in cts}


def evaluate(text: str, resolve: Callable[[str], list]) -> list:
    """The configured targets `text` evaluates to, sorted by label then configuration."""
    expr = parse(text)
    result = _Evaluator(text, resolve).eval(expr, {})
    return sorted(result.values(), key=lambda ct: (str(ct.label), ct.config.short_id))


class _Evaluator:
    def __init__(self, text: str, resolve: Callable[[str], list]):
        self.text = text
        self.resolve = resolve

    def error(self, message: str, column: int) -> QueryError:
        return QueryError(message, expression=self.text, column=column)

    def eval(self, expr: Expr, scope: dict[str, Nodes]) -> Nodes:
        if isinstance(expr, TargetLiteral):
            return _nodes(self.resolve(expr.text))
        if isinstance(expr, Variable):
            if expr.name not in scope:
                raise self.error(f"undefined variable '{expr.name}'", expr.column)
            return scope[expr.name]
        if isinstance(expr, SetExpr):
            out: Nodes = {}
            for item in expr.items:
                out.update(self.eval(item, scope))
            return out
        if isinstance(expr, Let):
            return self.eval(expr.body, {**scope, expr.name: self.eval(expr.value, scope)})
        if isinstance(expr, BinaryOp):
            left, right = self.eval(expr.left, scope), self.eval(expr.right, scope)
            if expr.op is Op.UNION:
                return {**left, **right}
            if expr.op is Op.INTERSECT:
                return {k: v for k, v in left.items() if k in right}
            return {k: v for k, v in left.items() if k not in right}
        assert isinstance(expr, FunctionCall)
        return self.call(expr, scope)

    def call(self, node: FunctionCall, scope: dict[str, Nodes]) -> Nodes:
        args = node.args
        if node.name == "deps":
            depth = args[1].value if len(args) > 1 and isinstance(args[1], IntArg) else None
            return _reachable(self.eval(args[0], scope), depth)
        if node.name == "somepath":
            return _nodes(_shortest_path(self.eval(args[0], scope), self.eval(args[1], scope)))
        if node.name in ("kind", "filter"):
            assert isinstance(args[0], WordArg)
            try:
                pattern = re.compile(args[0].text)
            except re.error as e:
                raise self.error(f"invalid regular expression '{args[0].text}': {e}", args[0].column) from None
            text = (lambda ct: kind_of(ct)) if node.name == "kind" else (lambda ct: str(ct.label))
            return {k: ct for k, ct in self.eval(args[1], scope).items() if pattern.search(text(ct))}
        raise self.error(f"cquery does not support the function '{node.name}' yet (it supports: "
                         f"{', '.join(SUPPORTED)}, set operators and let)", node.column)


def kind_of(ct) -> str:
    target = ct.target
    if isinstance(target, RuleTarget):
        return target.kind  # "genrule rule"
    if isinstance(target, FileTarget):
        return "source file" if target.generating_rule is None else "generated file"
    return "package group"


def _reachable(roots: Nodes, depth: int | None) -> Nodes:
    seen = dict(roots)
    frontier = list(roots.values())
    level = 0
    while frontier and (depth is None or level < depth):
        level += 1
        nxt = []
        for ct in frontier:
            for _, dep in ct.dependencies:
                if _key(dep) not in seen:
                    seen[_key(dep)] = dep
                    nxt.append(dep)
        frontier = nxt
    return seen


def _shortest_path(sources: Nodes, targets: Nodes) -> list:
    parents: dict = {k: None for k in sources}
    queue = deque(sources.values())
    while queue:
        ct = queue.popleft()
        if _key(ct) in targets:
            path = []
            node = ct
            while node is not None:
                path.append(node)
                node = parents[_key(node)]
            return list(reversed(path))
        for _, dep in ct.dependencies:
            if _key(dep) not in parents:
                parents[_key(dep)] = ct
                queue.append(dep)
    return []


def format_label(ct) -> str:
    # Source files have no configuration (Bazel prints "null").
    if kind_of(ct) == "source file":
        return f"{ct.label} (null)"
    return f"{ct.label} ({ct.config.short_id})"


def format_transitions(ct) -> str:
    """Per dependency whose configuration differs from the target's: the attribute and the change."""
    lines = [format_label(ct)]
    for attr, dep in ct.dependencies:
        if dep.config != ct.config and kind_of(dep) != "source file":
            how = "exec" if dep.config.is_exec else "transition"
            lines.append(f"  {attr}#{dep.label}#{how}")
            lines.append(f"    {ct.config.short_id} -> {dep.config.short_id}")
    return "\n".join(lines)


def format_results(cts: list, output: str) -> str:
    if output == "label_kind":
        lines = [f"{kind_of(ct)} {format_label(ct)}" for ct in cts]
    elif output == "transitions":
        lines = [format_transitions(ct) for ct in cts]
    else:
        lines = [format_label(ct) for ct in cts]
    return "".join(line + "\n" for line in lines)
