"""The query functions: deps, rdeps, allpaths, somepath, kind, attr, filter, labels, tests, siblings, some.

Semantics follow Bazel's query where kiln has the same information:

- `kind`, `filter` and `attr` match with an unanchored regex search
  (Python `re` syntax): `kind` against the kind string (`py_library rule`,
  `source file`, `generated file`), `filter` against the canonical label
  string (`//pkg:name`).
- `attr(name, pattern, x)` keeps the rules of x that have attribute `name`
  and whose value, rendered as Bazel documents, contains a match:
  lists as `[a, b]` (elements unquoted, comma-space separated, `[]` when
  empty), labels in canonical form, booleans as `1`/`0`, dicts as
  `{k: v, ...}`, an unset label as the empty string. Unset attributes use
  the schema default. A select() matches if any of its possible values
  does (for `a + select(...)`, every combination of branches). The pattern
  is matched against the whole rendering only, as Bazel does; to match one
  list element exactly write e.g. `[\\[ ]value[,\\]]`.
- `rdeps(u, x)` works inside the transitive closure of u; elements of x
  outside that closure are dropped.
- `tests(x)` keeps test rules and expands test_suites: their `tests`
  (and legacy `suites`) labels, or when `tests` is empty every test rule of
  the suite's package not tagged `manual`; then the suite's `tags` filter
  the directly listed tests (a test must carry every positive tag and no
  `-tag`; its `size` counts as a tag; `manual` is not a filter); nested
  suites are expanded by their own tags.
- `some(x, n)` takes the first n targets of x in label order.
"""

from __future__ import annotations

import itertools
import re
from typing import Any, Callable

from kiln.core.attrs import Attr, labels_in
from kiln.core.labels import Label, PackageId
from kiln.core.select import Select, SelectorList, concat
from kiln.loading.test_suites import expand_tests
from kiln.loading.package import RuleTarget, Target
from kiln.query.ast import FunctionCall, IntArg, WordArg
from kiln.query.interface import QueryContext, Scope, TargetSet, sorted_targets

# Past this many branch combinations a SelectorList is matched branch by branch instead.
_MAX_COMBINATIONS = 256

# Pseudo-labels that name no target; `labels(visibility, x)` skips them.
_VISIBILITY_PACKAGE = PackageId("", "visibility")


def call(ev: QueryContext, node: FunctionCall, scope: Scope) -> TargetSet:
    return _FUNCTIONS[node.name](ev, node, scope)


def _expr(ev: QueryContext, node: FunctionCall, index: int, scope: Scope) -> TargetSet:
    return ev.eval(node.args[index], scope)  # type: ignore[arg-type]


def _int(node: FunctionCall, index: int) -> int | None:
    if index >= len(node.args):
        return None
    arg = node.args[index]
    assert isinstance(arg, IntArg)
    return arg.value


def _regex(ev: QueryContext, node: FunctionCall, index: int) -> re.Pattern[str]:
    arg = node.args[index]
    assert isinstance(arg, WordArg)
    try:
        return re.compile(arg.text)
    except re.error as e:
        raise ev.error(f"invalid regular expression '{arg.text}' in {node.name}(): {e}", arg.column) from None


def _word(node: FunctionCall, index: int) -> str:
    arg = node.args[index]
    assert isinstance(arg, WordArg)
    return arg.text


# ---- graph functions ----------------------------------------------------------------------


def _deps(ev: QueryContext, node: FunctionCall, scope: Scope) -> TargetSet:
    return ev.forward(_expr(ev, node, 0, scope), _int(node, 1))


def _rdeps(ev: QueryContext, node: FunctionCall, scope: Scope) -> TargetSet:
    universe = ev.forward(_expr(ev, node, 0, scope))
    roots = {k: v for k, v in _expr(ev, node, 1, scope).items() if k in universe}
    return ev.backward(roots, ev.reverse_edges(universe), _int(node, 2))


def _allpaths(ev: QueryContext, node: FunctionCall, scope: Scope) -> TargetSet:
    reachable = ev.forward(_expr(ev, node, 0, scope))
    ends = {k: v for k, v in _expr(ev, node, 1, scope).items() if k in reachable}
    return ev.backward(ends, ev.reverse_edges(reachable))


def _somepath(ev: QueryContext, node: FunctionCall, scope: Scope) -> TargetSet:
    sources = _expr(ev, node, 0, scope)
    ends = _expr(ev, node, 1, scope)
    return {t.label: t for t in ev.shortest_path(sources, ends)}


# ---- filters ------------------------------------------------------------------------------


def _kind(ev: QueryContext, node: FunctionCall, scope: Scope) -> TargetSet:
    pattern = _regex(ev, node, 0)
    return {k: t for k, t in _expr(ev, node, 1, scope).items() if pattern.search(t.kind)}


def _filter(ev: QueryContext, node: FunctionCall, scope: Scope) -> TargetSet:
    pattern = _regex(ev, node, 0)
    return {k: t for k, t in _expr(ev, node, 1, scope).items() if pattern.search(str(k))}


def _attr(ev: QueryContext, node: FunctionCall, scope: Scope) -> TargetSet:
    name = _word(node, 0)
    pattern = _regex(ev, node, 1)
    out: TargetSet = {}
    for k, t in _expr(ev, node, 2, scope).items():
        if not isinstance(t, RuleTarget) or name not in t.rule_class.attrs:
            continue
        if any(pattern.search(s) for s in attr_strings(t, name)):
            out[k] = t
    return out


def attr_value(target: RuleTarget, name: str) -> Any:
    """The attribute's value as loaded, or its schema default when unset."""
    value = target.attrs.get(name)
    return target.rule_class.attrs[name].empty() if value is None else value


def attr_strings(target: RuleTarget, name: str) -> list[str]:
    """Every string `attr()` matches for this attribute: one per possible value."""
    return [render_attr_value(v) for v in possible_values(attr_value(target, name))]


def possible_values(value: Any) -> list[Any]:
    if isinstance(value, Select):
        return value.values()
    if isinstance(value, SelectorList):
        options = [p.values() if isinstance(p, Select) else [p] for p in value.parts]
        total = 1
        for o in options:
            total *= max(len(o), 1)
        if total > _MAX_COMBINATIONS:
            return [v for o in options for v in o]
        return [concat(list(combo)) for combo in itertools.product(*options)]
    return [value]


def render_attr_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(render_attr_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{render_attr_value(k)}: {render_attr_value(v)}" for k, v in value.items()) + "}"
    return str(value)


# ---- labels, tests, siblings, some --------------------------------------------------------


def _labels(ev: QueryContext, node: FunctionCall, scope: Scope) -> TargetSet:
    name = _word(node, 0)
    out: TargetSet = {}
    for t in _expr(ev, node, 1, scope).values():
        if not isinstance(t, RuleTarget) or name not in t.rule_class.attrs:
            continue
        for dep in _load_labels(ev, t, name):
            out[dep.label] = dep
    return out


def _load_labels(ev: QueryContext, target: RuleTarget, name: str) -> list[Target]:
    attr: Attr = target.rule_class.attrs[name]
    value = target.attrs.get(name)
    if value is None:
        return []
    out = []
    for label in labels_in(attr, value):
        if label.package_id == _VISIBILITY_PACKAGE:
            continue
        dep = ev.load(label, target, name)
        if dep is not None:
            out.append(dep)
    return out


def _package_pattern(label: Label, suffix: str) -> str:
    repo = f"@@{label.repo}" if label.repo else ""
    return f"{repo}//{label.package}:{suffix}"


def _tests(ev: QueryContext, node: FunctionCall, scope: Scope) -> TargetSet:
    return expand_tests(
        _expr(ev, node, 0, scope).values(),
        listed=lambda suite: [t for attr in ("tests", "suites") if attr in suite.rule_class.attrs
                              for t in _load_labels(ev, suite, attr)],
        package_tests=lambda suite: ev.resolve(_package_pattern(suite.label, "all")).values(),
    )


def _siblings(ev: QueryContext, node: FunctionCall, scope: Scope) -> TargetSet:
    out: TargetSet = {}
    packages: dict[PackageId, Label] = {}
    for t in _expr(ev, node, 0, scope).values():
        packages.setdefault(t.label.package_id, t.label)
    for pkg in sorted(packages):
        out.update(ev.resolve(_package_pattern(packages[pkg], "*")))
    return out


def _some(ev: QueryContext, node: FunctionCall, scope: Scope) -> TargetSet:
    found = _expr(ev, node, 0, scope)
    if not found:
        raise ev.error("argument set of some() is empty", node.column)
    count = _int(node, 1)
    if count == 0:
        raise ev.error("the count given to some() must be at least 1", node.args[1].column)
    count = count or 1
    return {t.label: t for t in sorted_targets(found.values())[:count]}


_FUNCTIONS: dict[str, Callable[[QueryContext, FunctionCall, Scope], TargetSet]] = {
    "allpaths": _allpaths,
    "attr": _attr,
    "deps": _deps,
    "filter": _filter,
    "kind": _kind,
    "labels": _labels,
    "rdeps": _rdeps,
    "siblings": _siblings,
    "some": _some,
    "somepath": _somepath,
    "tests": _tests,
}
