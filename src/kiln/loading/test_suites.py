"""test_suite expansion and Bazel's tag filters, shared by `kiln test` and `query tests()`.

A suite names its `tests` (tests or other suites); an empty `tests` means every
test rule of its package not tagged `manual`. The suite's own `tags` then
filter its direct tests: each plain or `+tag` is required, each `-tag`
excluded, and a test's `size` counts as one of its tags (`manual` filters
nothing). Nested suites apply their own tags; a cycle of suites terminates.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from kiln.core.labels import Label
from kiln.loading.package import RuleTarget


def is_suite(target: Any) -> bool:
    return isinstance(target, RuleTarget) and target.rule_kind == "test_suite"


def test_tags(test: Any) -> set[str]:
    tags = set(test.tags)
    if isinstance(test, RuleTarget) and "size" in test.rule_class.attrs:
        tags.add(test.attrs.get("size") or "medium")
    return tags


def _suite_keeps(suite: RuleTarget) -> Callable[[Any], bool]:
    required = {t.lstrip("+") for t in suite.tags if not t.startswith("-") and t != "manual"}
    excluded = {t[1:] for t in suite.tags if t.startswith("-")}

    def keep(test: Any) -> bool:
        tags = test_tags(test)
        return required <= tags and not (excluded & tags)

    return keep


def expand_tests(
    targets: Iterable[Any],
    listed: Callable[[RuleTarget], list[Any]],
    package_tests: Callable[[RuleTarget], Iterable[Any]],
) -> dict[Label, Any]:
    """Test rules among `targets`, suites replaced by their tests, in first-seen order.

    `listed(suite)` gives the targets a suite's `tests` attribute names (loading them);
    `package_tests(suite)` the rules of the suite's package, for a suite with no `tests`.
    """
    memo: dict[Label, dict[Label, Any]] = {}

    def expand(suite: RuleTarget) -> dict[Label, Any]:
        if suite.label in memo:
            return memo[suite.label]
        found: dict[Label, Any] = {}
        memo[suite.label] = found  # filled below; an early entry ends a cycle of suites
        members = listed(suite)
        direct = [t for t in members if t.is_test]
        if not suite.attrs.get("tests"):
            direct.extend(t for t in package_tests(suite) if t.is_test and "manual" not in t.tags)
        keep = _suite_keeps(suite)
        for t in direct:
            if keep(t):
                found[t.label] = t
        for t in members:
            if is_suite(t):
                found.update(expand(t))
        return found

    out: dict[Label, Any] = {}
    for t in targets:
        if t.is_test:
            out.setdefault(t.label, t)
        elif is_suite(t):
            for label, test in expand(t).items():
                out.setdefault(label, test)
    return out


def tags_pass(tags: Iterable[str], filters: tuple[str, ...]) -> bool:
    """--build_tag_filters / --test_tag_filters: any required tag (if some are given), no excluded one."""
    tags = set(tags)
    required = [f.lstrip("+") for f in filters if not f.startswith("-")]
    if any(f[1:] in tags for f in filters if f.startswith("-")):
        return False
    return not required or any(t in tags for t in required)
