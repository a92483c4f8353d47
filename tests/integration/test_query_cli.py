"""`kiln query` from the command line: functions, set operations, output formats, errors."""

from __future__ import annotations

import re

import pytest

from conftest import Workspace


@pytest.fixture(scope="module")
def qws(tmp_path_factory) -> Workspace:
    base = tmp_path_factory.mktemp("query")
    (base / "ws").mkdir()
    (base / "home").mkdir()
    ws = Workspace(base / "ws", base / "output_base")
    ws.write("q/a/BUILD.bazel", """
        load("@rules_python//python:defs.bzl", "py_binary", "py_library", "py_test")

        py_library(name = "lib", srcs = ["a.py"], deps = ["//q/b:lib"], tags = ["slow"],
                   visibility = ["//visibility:public"])
        py_binary(name = "bin", srcs = ["bin.py"], deps = [":lib"])
        py_test(name = "test", srcs = ["test.py"], deps = [":lib"], size = "small")
    """)
    ws.write("q/b/BUILD.bazel", """
        load("@rules_python//python:defs.bzl", "py_library")
        py_library(name = "lib", srcs = ["b.py"], deps = ["//q/c:lib"], visibility = ["//visibility:public"])
    """)
    ws.write("q/c/BUILD.bazel", """
        load("@rules_python//python:defs.bzl", "py_library")
        py_library(name = "lib", srcs = ["c.py"], data = [":gen"], visibility = ["//visibility:public"])
        genrule(name = "gen", srcs = ["in.txt"], outs = ["gen.txt"], cmd = "cp $< $@")
    """)
    ws.write("q/d/BUILD.bazel", """
        load("@rules_python//python:defs.bzl", "py_library")
        py_library(name = "other", srcs = ["d.py"], deps = ["//q/c:lib"])
    """)
    for f in ("q/a/a.py", "q/a/bin.py", "q/a/test.py", "q/b/b.py", "q/c/c.py", "q/c/in.txt", "q/d/d.py"):
        ws.write(f, "")
    return ws


def _q(ws: Workspace, *args: str, cwd=None) -> list[str]:
    r = ws.kiln("query", *args, cwd=cwd)
    assert r.code == 0, r.output
    return r.stdout.splitlines()


def _set(ws: Workspace, *args: str, cwd=None) -> set[str]:
    lines = _q(ws, *args, cwd=cwd)
    assert len(lines) == len(set(lines)), f"duplicates in {lines}"
    return set(lines)


DEPS_OF_BIN = {
    "//q/a:bin", "//q/a:bin.py", "//q/a:lib", "//q/a:a.py", "//q/b:lib", "//q/b:b.py",
    "//q/c:lib", "//q/c:c.py", "//q/c:gen", "//q/c:in.txt",
}


def test_deps(qws):
    assert _set(qws, "deps(//q/a:bin)", "--noimplicit_deps") == DEPS_OF_BIN


def test_deps_with_depth(qws):
    assert _set(qws, "deps(//q/a:bin, 1)", "--noimplicit_deps") == {"//q/a:bin", "//q/a:bin.py", "//q/a:lib"}
    assert _set(qws, "deps(//q/a:bin, 0)") == {"//q/a:bin"}


def test_implicit_deps_are_followed_unless_noimplicit_deps(qws):
    # As in Bazel: rules_python's libraries read the precompile settings through private attributes.
    implicit = "@rules_python//python/config_settings:precompile"
    assert implicit in _set(qws, "deps(//q/c:lib, 1)")
    assert implicit not in _set(qws, "deps(//q/c:lib, 1)", "--noimplicit_deps")


def test_query_does_not_build(qws):
    _q(qws, "deps(//q/a:bin)")
    assert not (qws.root / "kiln-bin").exists()


def test_rdeps(qws):
    assert _set(qws, "rdeps(//q/..., //q/c:lib)") == {
        "//q/c:lib", "//q/b:lib", "//q/a:lib", "//q/a:bin", "//q/a:test", "//q/d:other"}
    assert _set(qws, "rdeps(//q/..., //q/c:lib, 1)") == {"//q/c:lib", "//q/b:lib", "//q/d:other"}
    # The universe limits the result.
    assert _set(qws, "rdeps(//q/a:bin, //q/c:lib)") == {"//q/c:lib", "//q/b:lib", "//q/a:lib", "//q/a:bin"}


def test_rdeps_of_source_file(qws):
    assert _set(qws, "rdeps(//q/..., //q/c:in.txt, 1)") == {"//q/c:in.txt", "//q/c:gen"}


def test_kind(qws):
    assert _set(qws, "kind(py_library, //q/...)") == {"//q/a:lib", "//q/b:lib", "//q/c:lib", "//q/d:other"}
    assert _set(qws, "kind('source file', deps(//q/c:lib))") == {"//q/c:c.py", "//q/c:in.txt"}
    assert _set(qws, "kind(genrule, deps(//q/a:bin))") == {"//q/c:gen"}
    assert _set(qws, "kind('py_.*', //q/a:all)") == {"//q/a:lib", "//q/a:bin", "//q/a:test"}


def test_attr(qws):
    assert _set(qws, "attr(tags, slow, //q/...)") == {"//q/a:lib"}
    assert _set(qws, "attr(size, small, //q/...)") == {"//q/a:test"}
    assert _set(qws, "attr(deps, '//q/c:lib', //q/...)") == {"//q/b:lib", "//q/d:other"}


def test_tests_function(qws):
    assert _set(qws, "tests(//q/...)") == {"//q/a:test"}


def test_somepath(qws):
    assert _set(qws, "somepath(//q/a:bin, //q/c:gen)") == {
        "//q/a:bin", "//q/a:lib", "//q/b:lib", "//q/c:lib", "//q/c:gen"}


def test_somepath_without_path_is_empty(qws):
    r = qws.kiln("query", "somepath(//q/c:lib, //q/a:bin)")
    assert r.code == 0, r.output
    assert r.stdout == ""
    assert "Empty results" in r.stderr


def test_allpaths(qws):
    assert _set(qws, "allpaths(//q/..., //q/b:lib)") == {"//q/b:lib", "//q/a:lib", "//q/a:bin", "//q/a:test"}


def test_set_operations(qws):
    assert _set(qws, "kind(rule, //q/...) except //q/a:*") == {"//q/b:lib", "//q/c:lib", "//q/c:gen", "//q/d:other"}
    assert _set(qws, "kind(rule, //q/...) - //q/a:* - //q/c:*") == {"//q/b:lib", "//q/d:other"}
    assert _set(qws, "kind(py_library, //q/...) intersect rdeps(//q/..., //q/b:lib)") == {"//q/a:lib", "//q/b:lib"}
    assert _set(qws, "kind(py_library, //q/...) ^ deps(//q/a:lib, 1)") == {"//q/a:lib", "//q/b:lib"}
    assert _set(qws, "//q/a:lib + //q/b:lib") == {"//q/a:lib", "//q/b:lib"}
    assert _set(qws, "//q/a:lib union //q/d:other union //q/a:lib") == {"//q/a:lib", "//q/d:other"}
    assert _set(qws, "(//q/a:all + //q/b:all) except kind(py_binary, //q/...)") == {
        "//q/a:lib", "//q/a:test", "//q/b:lib"}


def test_let_and_filter_and_labels(qws):
    assert _set(qws, "let x = deps(//q/a:bin) in filter('//q/c', $x)") == {
        "//q/c:lib", "//q/c:c.py", "//q/c:gen", "//q/c:in.txt"}
    assert _set(qws, "labels(deps, //q/a:lib + //q/b:lib)") == {"//q/b:lib", "//q/c:lib"}


def test_target_patterns_in_query(qws):
    assert _set(qws, "//q/a:*") >= {"//q/a:lib", "//q/a:bin", "//q/a:test", "//q/a:a.py", "//q/a:bin.py",
                                    "//q/a:test.py"}
    assert _set(qws, "//q/a:all") == {"//q/a:lib", "//q/a:bin", "//q/a:test"}
    assert _set(qws, "//q/...") == {"//q/a:lib", "//q/a:bin", "//q/a:test", "//q/b:lib", "//q/c:lib",
                                    "//q/c:gen", "//q/d:other"}


def test_relative_patterns_from_subdirectory(qws):
    assert _set(qws, "a:all", cwd=qws.root / "q") == {"//q/a:lib", "//q/a:bin", "//q/a:test"}
    assert _set(qws, "deps(:lib, 1)", "--noimplicit_deps", cwd=qws.root / "q/b") == {
        "//q/b:lib", "//q/b:b.py", "//q/c:lib"}


def test_output_label_kind(qws):
    lines = _q(qws, "deps(//q/c:lib)", "--output=label_kind", "--noimplicit_deps")
    assert set(lines) == {
        "py_library rule //q/c:lib", "source file //q/c:c.py", "genrule rule //q/c:gen", "source file //q/c:in.txt"}


def test_output_label_kind_generated_file(qws):
    assert _q(qws, "//q/c:gen.txt", "--output=label_kind") == ["generated file //q/c:gen.txt"]


def test_output_build(qws):
    r = qws.kiln("query", "//q/b:lib", "--output=build")
    assert r.code == 0, r.output
    text = r.stdout
    assert re.search(r"^# \S*q/b/BUILD\.bazel:\d+", text, re.M), text
    assert "py_library(\n" in text
    assert '  name = "lib",\n' in text
    assert 'deps = ["//q/c:lib"]' in text
    assert 'srcs = ["//q/b:b.py"]' in text
    assert text.rstrip().endswith(")")


def test_output_build_of_genrule(qws):
    r = qws.kiln("query", "//q/c:gen", "--output=build")
    assert r.code == 0, r.output
    assert "genrule(" in r.stdout
    assert 'cmd = "cp $< $@"' in r.stdout
    assert 'outs = ["//q/c:gen.txt"]' in r.stdout


def test_output_graph(qws):
    r = qws.kiln("query", "deps(//q/a:lib)", "--output=graph")
    assert r.code == 0, r.output
    text = r.stdout
    assert text.startswith("digraph")
    assert text.rstrip().endswith("}")
    edges = set(re.findall(r'"([^"]+)"\s*->\s*"([^"]+)"', text))
    assert ("//q/a:lib", "//q/b:lib") in edges
    assert ("//q/b:lib", "//q/c:lib") in edges
    assert ("//q/c:lib", "//q/c:gen") in edges
    assert ("//q/c:gen", "//q/c:in.txt") in edges
    assert ("//q/a:lib", "//q/c:lib") not in edges  # only direct edges


def test_output_package(qws):
    assert _q(qws, "deps(//q/a:bin)", "--output=package", "--noimplicit_deps") == ["q/a", "q/b", "q/c"]


def test_bad_output_format_exits_2(qws):
    r = qws.kiln("query", "//q/a:lib", "--output=yaml")
    assert r.code == 2, r.output


@pytest.mark.parametrize("expr", ["deps(", "deps(//q/a:lib", "nosuchfunction(//q/a:lib)", "//q/a:lib +",
                                  "deps(//q/a:lib, x)", "kind(py_library)"])
def test_bad_expression_exits_2(qws, expr):
    r = qws.kiln("query", expr)
    assert r.code == 2, r.output
    assert "ERROR" in r.stderr
    assert r.stdout == ""


def test_missing_expression_exits_2(qws):
    r = qws.kiln("query")
    assert r.code == 2, r.output


def test_missing_target_is_an_error(qws):
    r = qws.kiln("query", "deps(//q/a:nope)")
    assert r.code != 0, r.output
    assert "//q/a:nope" in r.stderr
    r = qws.kiln("query", "//q/nope:x")
    assert r.code != 0, r.output
    assert "q/nope" in r.stderr


def test_keep_going_gives_partial_results(qws):
    r = qws.kiln("query", "--keep_going", "//q/a:nope + //q/b:lib")
    assert r.code == 3, r.output
    assert r.stdout == "//q/b:lib\n"
    assert "//q/a:nope" in r.stderr


def test_query_expression_after_dashdash(qws):
    assert _set(qws, "--", "//q/... - //q/a:all - //q/c:all") == {"//q/b:lib", "//q/d:other"}
