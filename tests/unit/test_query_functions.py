"""kiln.query: every query function, and keep_going, over the fake workspace."""

from __future__ import annotations

import pytest

from kiln.core.errors import KilnError
from kiln.core.labels import parse_label
from kiln.loading.package import FileTarget
from kiln.query import QueryError, evaluate

try:
    from .test_query_fixtures import FakeEnvironment, build_workspace, make_env
except ImportError:  # tests/unit is not a package: pytest put it on sys.path
    from test_query_fixtures import FakeEnvironment, build_workspace, make_env


def labels(expression: str, **kw) -> list[str]:
    return evaluate(expression, make_env(), **kw).labels()


# ---- deps / rdeps / paths -----------------------------------------------------------------

CORE_CLOSURE = [
    "//lib:core", "//lib:core.py", "//lib:gen", "//lib:gen.py", "//lib:gen.tmpl",
    "//lib:util", "//lib:util.py", "//third:fastlib", "//third:fastlib.py",
]


def test_deps_is_the_transitive_closure_including_every_select_branch() -> None:
    assert labels("deps(//lib:core)") == sorted(CORE_CLOSURE)


def test_deps_follows_generated_files_to_their_rule() -> None:
    assert labels("deps(//lib:gen.py)") == ["//lib:gen", "//lib:gen.py", "//lib:gen.tmpl"]


def test_deps_depth() -> None:
    assert labels("deps(//lib:core, 0)") == ["//lib:core"]
    assert labels("deps(//lib:core, 1)") == ["//lib:core", "//lib:core.py", "//lib:gen.py", "//lib:util", "//third:fastlib"]
    assert labels("deps(//lib:core, 2)") == sorted(CORE_CLOSURE[:1] + [
        "//lib:core.py", "//lib:gen.py", "//lib:util", "//third:fastlib",
        "//lib:gen", "//lib:util.py", "//third:fastlib.py",
    ])
    # Depth counts the shortest distance: util is 1 away from app even though core -> util is 2.
    assert "//lib:util.py" in labels("deps(//app:app, 2)")


def test_deps_of_a_source_file_is_itself() -> None:
    assert labels("deps(//lib:core.py)") == ["//lib:core.py"]


# Everything but //broken, whose missing dependencies would stop the closure.
UNIVERSE = "//... - //broken:all"


def test_rdeps_within_universe() -> None:
    # test_suite `tests` are edges too: explicit -> util_test, nested -> explicit.
    assert labels(f"rdeps({UNIVERSE}, //lib:util)") == [
        "//app:app", "//app:app_test", "//lib:core", "//lib:core_test", "//lib:explicit", "//lib:nested",
        "//lib:util", "//lib:util_test",
    ]
    assert labels(f"rdeps({UNIVERSE}, //lib:util, 1)") == ["//app:app", "//lib:core", "//lib:util", "//lib:util_test"]
    assert labels(f"rdeps({UNIVERSE}, //lib:util, 0)") == ["//lib:util"]


def test_rdeps_drops_targets_outside_the_universe_closure() -> None:
    assert labels("rdeps(//lib:core, //lib:util)") == ["//lib:core", "//lib:util"]
    assert labels("rdeps(//lib:core, //app:app)") == []


def test_rdeps_follow_generated_files() -> None:
    assert labels("rdeps(//lib:core + //lib:core_test, //lib:gen.tmpl)") == [
        "//lib:core", "//lib:core_test", "//lib:gen", "//lib:gen.py", "//lib:gen.tmpl",
    ]


def test_allpaths() -> None:
    assert labels("allpaths(//app:app_test, //lib:util)") == [
        "//app:app", "//app:app_test", "//lib:core", "//lib:util",
    ]
    assert labels("allpaths(//app:app, //lib:gen.tmpl + //third:fastlib.py)") == [
        "//app:app", "//lib:core", "//lib:gen", "//lib:gen.py", "//lib:gen.tmpl",
        "//third:fastlib", "//third:fastlib.py",
    ]
    assert labels("allpaths(//lib:util, //app:app)") == []


def test_somepath_returns_one_shortest_path() -> None:
    result = labels("somepath(//app:app_test, //third:fastlib.py)")
    assert result == ["//app:app", "//app:app_test", "//lib:core", "//third:fastlib", "//third:fastlib.py"]
    # Two equally short paths exist to util (direct from app, and via core); BFS takes the direct edge.
    assert labels("somepath(//app:app, //lib:util)") == ["//app:app", "//lib:util"]
    assert labels("somepath(//lib:util, //app:app)") == []
    assert labels("somepath(//lib:util, //lib:util)") == ["//lib:util"]


def test_somepath_in_deps_order_reads_as_the_path() -> None:
    from kiln.query import format_result

    env = make_env()
    result = evaluate("somepath(//app:app_test, //lib:gen.tmpl)", env)
    text = format_result(result.targets, "label", env, order_output="deps")
    assert text.split() == ["//app:app_test", "//app:app", "//lib:core", "//lib:gen.py", "//lib:gen", "//lib:gen.tmpl"]


# ---- kind / filter / attr ---------------------------------------------------------------


def test_kind_matches_the_kind_string() -> None:
    assert labels("kind(py_test, //...)") == ["//app:app_test", "//lib:core_test", "//lib:slow_test", "//lib:util_test"]
    assert labels("kind('source file', deps(//lib:gen))") == ["//lib:gen.tmpl"]
    assert labels("kind('generated file', deps(//lib:core))") == ["//lib:gen.py"]
    assert labels("kind('^py_library rule$', //lib:all + //third:all)") == ["//lib:core", "//lib:util", "//third:fastlib"]
    # Unanchored search: "library" is found inside "py_library rule".
    assert labels("kind(library, //third:*)") == ["//third:fastlib"]
    assert labels("kind(package_group, //lib:*)") == ["//lib:friends"]


def test_filter_matches_the_label_string() -> None:
    assert labels("filter('_test$', //lib:all)") == ["//lib:core_test", "//lib:slow_test", "//lib:util_test"]
    assert labels("filter('^//third', deps(//lib:core))") == ["//third:fastlib", "//third:fastlib.py"]
    assert labels("filter('\\.py$', deps(//lib:core))") == [
        "//lib:core.py", "//lib:gen.py", "//lib:util.py", "//third:fastlib.py",
    ]


def test_attr_on_lists_matches_the_bracketed_rendering() -> None:
    assert labels("attr(tags, manual, //lib:all)") == ["//lib:util", "//lib:util_test"]
    assert labels("attr(tags, '[\\[ ]util[,\\]]', //lib:all)") == ["//lib:util"]
    # The whole list is one string: `^manual$` matches no rendering like "[manual, util]".
    assert labels("attr(tags, '^manual$', //lib:all)") == []
    assert labels("attr(tags, '^\\[manual\\]$', //lib:all)") == ["//lib:util_test"]
    assert labels("attr(tags, '^\\[\\]$', //lib:core + //lib:util)") == ["//lib:core"]


def test_attr_renders_labels_canonically_and_booleans_as_digits() -> None:
    assert labels("attr(srcs, '//lib:gen.py', //lib:all)") == ["//lib:core"]
    assert labels("attr(srcs, '^\\[//app:main.py\\]$', //app:all)") == ["//app:app"]
    assert labels("attr(testonly, 1, //lib:core + //lib:util)") == ["//lib:util"]
    assert labels("attr(testonly, 0, //lib:core + //lib:util)") == ["//lib:core"]
    assert labels("attr(main, '^//app:main.py$', //app:all)") == ["//app:app"]


def test_attr_uses_schema_defaults_for_unset_attributes() -> None:
    assert labels("attr(size, medium, kind(py_test, //...))") == ["//lib:util_test"]
    assert labels("attr(srcs_version, PY3, //lib:all)") == ["//lib:core", "//lib:util"]
    assert labels("attr(shard_count, '^-1$', //app:all)") == ["//app:app_test"]


def test_attr_matches_any_select_branch() -> None:
    assert labels("attr(deps, fastlib, //lib:all)") == ["//lib:core"]
    assert labels("attr(deps, '^\\[//lib:util\\]$', //lib:all)") == ["//lib:core", "//lib:util_test"]
    assert labels("attr(deps, '^\\[//third:fastlib\\]$', //lib:all)") == ["//lib:core"]


def test_attr_skips_targets_without_the_attribute() -> None:
    # Files and rules whose class lacks the attribute never match, not even ".*".
    assert labels("attr(cmd, '.*', //lib:*)") == ["//lib:gen"]
    assert labels("attr(values, 'fast=1', //lib:all)") == ["//lib:fast"]


def test_bad_regex_is_a_query_error_at_its_column() -> None:
    with pytest.raises(QueryError) as info:
        evaluate("kind('py_(', //lib:all)", make_env())
    assert info.value.column == 6
    assert "invalid regular expression 'py_('" in info.value.message


# ---- labels / tests / siblings / some ---------------------------------------------------


def test_labels() -> None:
    assert labels("labels(srcs, //lib:core)") == ["//lib:core.py", "//lib:gen.py"]
    assert labels("labels(deps, //lib:core + //app:app)") == ["//lib:core", "//lib:util", "//third:fastlib"]
    assert labels("labels(outs, //lib:gen)") == ["//lib:gen.py"]
    assert labels("labels(cmd, //lib:gen)") == []
    assert labels("labels(nosuch, //lib:all)") == []
    assert labels("labels(visibility, //lib:core)") == []


def test_labels_result_contains_loaded_targets() -> None:
    result = evaluate("labels(outs, //lib:gen)", make_env())
    (gen_py,) = result.targets
    assert isinstance(gen_py, FileTarget) and gen_py.kind == "generated file"


def test_tests_keeps_test_rules_and_drops_the_rest() -> None:
    assert labels("tests(//app:all)") == ["//app:app_test"]
    assert labels("tests(//lib:core + //lib:core.py)") == []


def test_tests_empty_suite_means_package_tests_without_manual() -> None:
    assert labels("tests(//lib:all_tests)") == ["//lib:core_test", "//lib:slow_test"]


def test_tests_suite_tags_filter_with_size_as_a_tag() -> None:
    assert labels("tests(//lib:small_tests)") == ["//lib:core_test"]


def test_tests_explicit_suite_includes_manual_tests_and_nested_suites() -> None:
    # nested lists slow_test but its -flaky tag drops it; nested and explicit include each other.
    assert labels("tests(//lib:explicit)") == ["//app:app_test", "//lib:util_test"]
    assert labels("tests(//lib:nested)") == ["//app:app_test", "//lib:util_test"]


def test_siblings() -> None:
    assert labels("siblings(//third:fastlib)") == ["//third:fastlib", "//third:fastlib.py"]
    assert labels("siblings(//app:main.py + //third:fastlib.py)") == [
        "//app:app", "//app:app_test", "//app:app_test.py", "//app:main.py", "//third:fastlib", "//third:fastlib.py",
    ]


def test_siblings_of_external_packages_use_canonical_repo_names() -> None:
    env = make_env()
    result = evaluate("siblings(@ext//pkg:extlib)", env)
    assert result.labels() == ["@ext//pkg:extlib"]
    assert env.patterns[-1] == "@@ext//pkg:*"


def test_some() -> None:
    assert labels("some(//lib:all)") == ["//lib:all_tests"]
    assert labels("some(//app:*, 2)") == ["//app:app", "//app:app_test"]
    with pytest.raises(QueryError, match="argument set of some\\(\\) is empty"):
        evaluate("some(//lib:core - //lib:core)", make_env())


# ---- missing dependencies and keep_going --------------------------------------------------


def test_missing_dependency_names_both_ends() -> None:
    with pytest.raises(KilnError) as info:
        evaluate("deps(//broken:needs_missing)", make_env())
    message = info.value.message
    assert "cannot load '//nowhere:x'" in message
    assert "referenced by '//broken:needs_missing' (attribute 'deps')" in message
    assert "no such package '//nowhere'" in message
    assert str(info.value.location) == "broken/BUILD:2:1"


def test_keep_going_skips_missing_dependencies_with_warnings() -> None:
    result = evaluate("deps(//broken:needs_missing)", make_env(), keep_going=True)
    assert result.labels() == ["//broken:needs_missing", "//third:fastlib", "//third:fastlib.py"]
    assert not result.complete
    assert len(result.warnings) == 2
    assert any("'//third:missing'" in w and "not declared in package 'third'" in w for w in result.warnings)
    assert any("'//nowhere:x'" in w for w in result.warnings)


def test_keep_going_applies_to_rdeps_and_labels() -> None:
    result = evaluate("rdeps(//..., //third:fastlib)", make_env(), keep_going=True)
    assert "//broken:needs_missing" in result.labels()
    assert len(result.warnings) == 2
    with pytest.raises(KilnError, match="cannot load '//nowhere:x'"):
        evaluate("rdeps(//..., //third:fastlib)", make_env())
    partial = evaluate("labels(deps, //broken:needs_missing)", make_env(), keep_going=True)
    assert partial.labels() == ["//third:fastlib"]


def test_keep_going_turns_bad_words_into_warnings() -> None:
    result = evaluate("//lib:core + //lib:nope", make_env(), keep_going=True)
    assert result.labels() == ["//lib:core"]
    assert result.warnings == ["no such target '//lib:nope': target 'nope' not declared in package 'lib'"]


def test_complete_result_has_no_warnings() -> None:
    result = evaluate("deps(//app:app)", make_env(), keep_going=True)
    assert result.complete and result.warnings == []


def test_each_target_is_loaded_at_most_once() -> None:
    env = make_env()
    evaluate(f"deps(//app:app) + rdeps({UNIVERSE}, //lib:util) + allpaths(//app:app, //lib:util)", env)
    assert len(env.loaded) == len(set(env.loaded))


def test_targets_are_identified_by_label_not_identity() -> None:
    ws = build_workspace()

    class Copying(FakeEnvironment):
        """Hands out a fresh object per lookup, as a reloading loader might."""

        def get_target(self, label):
            import copy

            return copy.copy(super().get_target(label))

    env = Copying(ws.targets)
    result = evaluate("deps(//lib:core) ^ deps(//app:app)", env)
    assert result.labels() == sorted(CORE_CLOSURE)
    assert len({id(t) for t in result.targets}) == len(result.targets)
    assert parse_label("//lib:core") in {t.label for t in result.targets}
