"""test_suite: a named set of tests that `kiln test` expands."""

from __future__ import annotations

from dataclasses import dataclass

from kiln.core.attrs import Attr, AttrType
from kiln.core.labels import Label
from kiln.core.rule_class import RuleClass


@dataclass(frozen=True)
class TestSuiteInfo:
    tests: tuple[Label, ...]


def _test_suite(ctx):
    return [TestSuiteInfo(tuple(t.label for t in ctx.attr.tests))]


TEST_SUITE = RuleClass.make(
    "test_suite",
    _test_suite,
    [Attr("tests", AttrType.LABEL_LIST, configurable=False)],
)
