"""A small in-memory workspace and a FakeEnvironment for the kiln.query tests.

Other test_query_* modules import `make_env` from here. The graph:

    //app:app (py_binary) -> //app:main.py, //lib:core, //lib:util
    //app:app_test (py_test, small) -> //app:app
    //lib:core (py_library) -> core.py, gen.py, select({default: [:util], :fast: [//third:fastlib]})
    //lib:gen (genrule) srcs gen.tmpl, outs gen.py
    //lib:util (py_library, testonly) -> util.py
    //lib:core_test (small), util_test (manual), slow_test (large, tags slow)
    //lib:all_tests (test_suite, tests empty), small_tests (tags small),
    //lib:explicit (tests util_test, //app:app_test, :nested), nested (tests slow_test, tags -flaky)
    //lib:fast (config_setting)
    //third:fastlib (py_library)
    //broken:needs_missing -> //nowhere:x, //third:missing, //third:fastlib
    @ext//pkg:extlib (py_library)
"""

from __future__ import annotations

from typing import Any

import pytest

from kiln.core.attrs import Attr, AttrType, Coercer
from kiln.core.errors import KilnError, Location
from kiln.core.labels import Label, PackageId
from kiln.core.patterns import PatternKind, parse_pattern
from kiln.core.rule_class import RuleClass
from kiln.core.select import Select
from kiln.loading.package import PUBLIC, FileTarget, PackageGroup, RuleTarget, Target


def _impl(ctx: Any) -> None:
    return None


PY_LIBRARY = RuleClass.make(
    "py_library",
    _impl,
    [
        Attr("srcs", AttrType.LABEL_LIST),
        Attr("deps", AttrType.LABEL_LIST),
        Attr("data", AttrType.LABEL_LIST),
        Attr("imports", AttrType.STRING_LIST),
        Attr("srcs_version", AttrType.STRING, "PY3"),
    ],
)
PY_BINARY = RuleClass.make(
    "py_binary",
    _impl,
    [Attr("srcs", AttrType.LABEL_LIST), Attr("deps", AttrType.LABEL_LIST), Attr("main", AttrType.LABEL)],
    executable=True,
)
PY_TEST = RuleClass.make(
    "py_test", _impl, [Attr("srcs", AttrType.LABEL_LIST), Attr("deps", AttrType.LABEL_LIST)], test=True
)
GENRULE = RuleClass.make(
    "genrule",
    _impl,
    [Attr("srcs", AttrType.LABEL_LIST), Attr("outs", AttrType.OUTPUT_LIST), Attr("cmd", AttrType.STRING)],
)
TEST_SUITE = RuleClass.make("test_suite", _impl, [Attr("tests", AttrType.LABEL_LIST, configurable=False)])
CONFIG_SETTING = RuleClass.make("config_setting", _impl, [Attr("values", AttrType.STRING_DICT)])


class Workspace:
    """Builds targets with the real attribute coercion, as the loader would."""

    def __init__(self) -> None:
        self.targets: dict[Label, Target] = {}

    def rule(self, rule_class: RuleClass, label: str, line: int, **raw: Any) -> RuleTarget:
        lbl = _label(label)
        coercer = Coercer(lbl.package_id, rule_kind=rule_class.name)
        attrs: dict[str, Any] = {"name": lbl.name, "visibility": (PUBLIC,)}
        for name, value in raw.items():
            attrs[name] = coercer.coerce(rule_class.attrs[name], value)
        target = RuleTarget(lbl, rule_class, attrs, Location(_build_file(lbl), line, 1))
        self.targets[lbl] = target
        for out in rule_class.output_attrs:
            for out_label in attrs.get(out, ()):
                self.targets[out_label] = FileTarget(out_label, target.location, generating_rule=lbl)
        return target

    def source(self, label: str) -> FileTarget:
        lbl = _label(label)
        target = FileTarget(lbl, Location(_build_file(lbl), 1, 1))
        self.targets[lbl] = target
        return target

    def add(self, target: Target) -> Target:
        self.targets[target.label] = target
        return target


def _label(text: str) -> Label:
    from kiln.core.labels import parse_label

    return parse_label(text)


def _build_file(label: Label) -> str:
    prefix = f"external/{label.repo}/" if label.repo else ""
    return f"{prefix}{label.package}/BUILD" if label.package else f"{prefix}BUILD"


class FakeEnvironment:
    """QueryEnvironment over a fixed set of targets; patterns are parsed with kiln's real parser."""

    def __init__(self, targets: dict[Label, Target]):
        self.packages: dict[PackageId, dict[str, Target]] = {}
        for label, t in targets.items():
            self.packages.setdefault(label.package_id, {})[label.name] = t
        self.patterns: list[str] = []  # every resolve_pattern() argument
        self.loaded: list[Label] = []  # every get_target() argument

    def _package(self, pkg: PackageId) -> dict[str, Target]:
        if pkg not in self.packages:
            raise KilnError(f"no such package '{pkg}': BUILD file not found")
        return self.packages[pkg]

    def get_target(self, label: Label) -> Target:
        self.loaded.append(label)
        return self._lookup(label)

    def _lookup(self, label: Label) -> Target:
        targets = self._package(label.package_id)
        if label.name not in targets:
            raise KilnError(
                f"no such target '{label}': target '{label.name}' not declared in package '{label.package}'"
            )
        return targets[label.name]

    def resolve_pattern(self, text: str) -> list[Target]:
        self.patterns.append(text)
        pattern = parse_pattern(text)
        if pattern.kind is PatternKind.SINGLE:
            assert pattern.label is not None
            return [self._lookup(pattern.label)]
        rules_only = pattern.kind in (PatternKind.RULES_IN_PACKAGE, PatternKind.RECURSIVE_RULES)
        if pattern.kind in (PatternKind.RULES_IN_PACKAGE, PatternKind.TARGETS_IN_PACKAGE):
            found = list(self._package(pattern.package_id).values())
        else:
            found = [
                t
                for pkg, targets in self.packages.items()
                if pkg.repo == pattern.repo and pattern.contains_package(pkg.package)
                for t in targets.values()
            ]
            if not found:
                raise KilnError(f"no targets found beneath '{pattern.package}'")
        return [t for t in found if isinstance(t, RuleTarget) or not rules_only]


def build_workspace() -> Workspace:
    ws = Workspace()
    ws.source("//app:main.py")
    ws.source("//app:app_test.py")
    ws.rule(PY_BINARY, "//app:app", 1, srcs=["main.py"], deps=["//lib:core", "//lib:util"], main="main.py")
    ws.rule(PY_TEST, "//app:app_test", 8, srcs=["app_test.py"], deps=[":app"], size="small")

    for name in ("core.py", "util.py", "gen.tmpl", "core_test.py"):
        ws.source(f"//lib:{name}")
    ws.rule(
        PY_LIBRARY,
        "//lib:core",
        3,
        srcs=["core.py", ":gen.py"],
        deps=Select((("//conditions:default", [":util"]), (":fast", ["//third:fastlib"]))),
        imports=["."],
    )
    ws.rule(GENRULE, "//lib:gen", 12, srcs=["gen.tmpl"], outs=["gen.py"], cmd="cp $< $@")
    ws.rule(PY_LIBRARY, "//lib:util", 18, srcs=["util.py"], testonly=True, tags=["manual", "util"])
    ws.rule(PY_TEST, "//lib:core_test", 24, srcs=["core_test.py"], deps=[":core"], size="small")
    ws.rule(PY_TEST, "//lib:util_test", 29, deps=[":util"], tags=["manual"])
    ws.rule(PY_TEST, "//lib:slow_test", 33, tags=["slow", "flaky"], size="large")
    ws.rule(TEST_SUITE, "//lib:all_tests", 37)
    ws.rule(TEST_SUITE, "//lib:small_tests", 39, tags=["small"])
    ws.rule(TEST_SUITE, "//lib:explicit", 41, tests=[":util_test", "//app:app_test", ":nested"])
    ws.rule(TEST_SUITE, "//lib:nested", 45, tests=[":slow_test", ":explicit"], tags=["-flaky"])
    ws.rule(CONFIG_SETTING, "//lib:fast", 48, values={"define": "fast=1"})
    ws.add(PackageGroup(_label("//lib:friends"), Location("lib/BUILD", 50, 1), ("//app/...",), (_label("//third:grp"),)))

    ws.source("//third:fastlib.py")
    ws.rule(PY_LIBRARY, "//third:fastlib", 1, srcs=["fastlib.py"])
    ws.rule(PY_LIBRARY, "//broken:needs_missing", 2, deps=["//nowhere:x", "//third:missing", "//third:fastlib"])
    ws.rule(PY_LIBRARY, "@ext//pkg:extlib", 4, srcs=[])
    return ws


def make_env() -> FakeEnvironment:
    return FakeEnvironment(build_workspace().targets)


# ---- the fake itself: if it lies, every other query test is meaningless --------------------


def test_fake_resolves_package_and_recursive_patterns() -> None:
    env = make_env()
    rules = {str(t.label) for t in env.resolve_pattern("//app:all")}
    assert rules == {"//app:app", "//app:app_test"}
    everything = {str(t.label) for t in env.resolve_pattern("//app:*")}
    assert everything == rules | {"//app:main.py", "//app:app_test.py"}
    recursive = {str(t.label) for t in env.resolve_pattern("//...")}
    assert "//lib:gen" in recursive and "//lib:gen.py" not in recursive
    assert all(not l.startswith("@") for l in recursive)


def test_fake_raises_for_missing_targets() -> None:
    env = make_env()
    with pytest.raises(KilnError, match="no such target '//lib:nope'"):
        env.resolve_pattern("//lib:nope")
    with pytest.raises(KilnError, match="no such package '//nowhere'"):
        env.get_target(_label("//nowhere:x"))


def test_generated_file_points_at_its_rule() -> None:
    targets = build_workspace().targets
    gen_py = targets[_label("//lib:gen.py")]
    assert isinstance(gen_py, FileTarget)
    assert gen_py.kind == "generated file"
    assert gen_py.dependency_labels() == [("generating_rule", _label("//lib:gen"))]
