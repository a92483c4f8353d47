"""kiln.query output formats: label, label_kind, location, package, graph, build, and ordering."""

from __future__ import annotations

import pytest

from kiln.core.errors import CommandLineError, Location
from kiln.core.labels import Label
from kiln.core.select import Select, SelectorList
from kiln.loading.package import FileTarget, RuleTarget
from kiln.query import evaluate, format_result

try:
    from .test_query_fixtures import GENRULE, PY_LIBRARY, FakeEnvironment, Workspace, make_env
except ImportError:  # tests/unit is not a package: pytest put it on sys.path
    from test_query_fixtures import GENRULE, PY_LIBRARY, FakeEnvironment, Workspace, make_env

MIXED = "deps(//lib:core, 1) + //lib:friends + @ext//pkg:extlib"


def render(expression: str, mode: str, **kw) -> str:
    env = make_env()
    return format_result(evaluate(expression, env).targets, mode, env, **kw)


def test_label_output_is_sorted_by_label_string() -> None:
    assert render(MIXED, "label") == (
        "//lib:core\n//lib:core.py\n//lib:friends\n//lib:gen.py\n//lib:util\n//third:fastlib\n@ext//pkg:extlib\n"
    )


def test_label_kind_output() -> None:
    assert render(MIXED, "label_kind") == (
        "py_library rule //lib:core\n"
        "source file //lib:core.py\n"
        "package_group //lib:friends\n"
        "generated file //lib:gen.py\n"
        "py_library rule //lib:util\n"
        "py_library rule //third:fastlib\n"
        "py_library rule @ext//pkg:extlib\n"
    )


def test_location_output() -> None:
    assert render("//lib:core + //lib:gen.py + @ext//pkg:extlib", "location") == (
        "lib/BUILD:3:1: py_library rule //lib:core\n"
        "lib/BUILD:12:1: generated file //lib:gen.py\n"
        "external/ext/pkg/BUILD:4:1: py_library rule @ext//pkg:extlib\n"
    )


def test_location_without_line_or_column() -> None:
    ws = Workspace()
    ws.add(FileTarget(Label("", "p", "f.txt"), Location("p/BUILD")))
    ws.add(FileTarget(Label("", "p", "g.txt"), Location("p/BUILD", 7)))
    text = format_result(ws.targets.values(), "location", FakeEnvironment(ws.targets))
    assert text == "p/BUILD: source file //p:f.txt\np/BUILD:7: source file //p:g.txt\n"


def test_package_output_is_unique_and_sorted() -> None:
    assert render(MIXED, "package") == "@ext//pkg\nlib\nthird\n"


def test_package_output_of_the_root_package_is_empty_as_in_bazel() -> None:
    ws = Workspace()
    ws.source("//:README")
    ws.source("//a/b:c")
    assert format_result(ws.targets.values(), "package", None) == "\na/b\n"


def test_empty_result_prints_nothing() -> None:
    for mode in ("label", "label_kind", "location", "package", "build"):
        assert render("//lib:core - //lib:core", mode) == ""


def test_graph_output() -> None:
    assert render("deps(//lib:gen.py) + //lib:core", "graph") == (
        "digraph mygraph {\n"
        "  node [shape=box];\n"
        '  "//lib:core"\n'
        '  "//lib:gen"\n'
        '  "//lib:gen.py"\n'
        '  "//lib:gen.tmpl"\n'
        '  "//lib:core" -> "//lib:gen.py"\n'
        '  "//lib:gen" -> "//lib:gen.tmpl"\n'
        '  "//lib:gen.py" -> "//lib:gen"\n'
        "}\n"
    )


def test_graph_escapes_quotes_in_labels() -> None:
    ws = Workspace()
    ws.source('//p:say "hi".txt')
    text = format_result(ws.targets.values(), "graph", None)
    assert '  "//p:say \\"hi\\".txt"\n' in text


def test_deps_order_puts_dependents_first() -> None:
    text = render("deps(//app:app)", "label", order_output="deps")
    assert text.split() == [
        "//app:app", "//lib:core", "//third:fastlib", "//third:fastlib.py", "//lib:util", "//lib:util.py",
        "//lib:gen.py", "//lib:gen", "//lib:gen.tmpl", "//lib:core.py", "//app:main.py",
    ]
    assert render("deps(//app:app)", "label", order_output="full") == text
    assert render("deps(//app:app)", "label", order_output="no").split() == sorted(text.split())


def test_unknown_format_and_order_are_command_line_errors() -> None:
    with pytest.raises(CommandLineError, match="invalid output format 'xml'"):
        render("//lib:core", "xml")
    with pytest.raises(CommandLineError, match="invalid --order_output 'random'"):
        render("//lib:core", "label", order_output="random")


# ---- build --------------------------------------------------------------------------------

CORE_BUILD = """\
# lib/BUILD:3
py_library(
  name = "core",
  visibility = ["//visibility:public"],
  srcs = ["//lib:core.py", "//lib:gen.py"],
  deps = select({"//conditions:default": ["//lib:util"], "//lib:fast": ["//third:fastlib"]}),
  imports = ["."],
)

"""

GEN_BUILD = """\
# lib/BUILD:12
genrule(
  name = "gen",
  visibility = ["//visibility:public"],
  srcs = ["//lib:gen.tmpl"],
  outs = ["//lib:gen.py"],
  cmd = "cp $< $@",
)

"""


def test_build_output_prints_explicit_attributes_and_selects() -> None:
    # srcs_version defaults to "PY3" and is unset: it must not appear; the relative `:fast` is canonical.
    assert render("//lib:core", "build") == CORE_BUILD


def test_build_output_skips_source_files_and_prints_each_rule_once() -> None:
    assert render("//lib:gen + //lib:gen.py + //lib:gen.tmpl", "build") == GEN_BUILD


def test_build_output_loads_the_generating_rule_of_a_generated_file() -> None:
    env = make_env()
    result = evaluate("//lib:gen.py", env)
    assert [t.label.name for t in result.targets] == ["gen.py"]
    assert format_result(result.targets, "build", env) == GEN_BUILD


def test_build_output_of_values_of_every_type() -> None:
    ws = Workspace()
    ws.rule(
        PY_LIBRARY,
        "//p:lib",
        5,
        srcs=SelectorList((["a.py"], Select((("//conditions:default", ["b.py"]),), "pick one"))),
        imports=['quo"te', "back\\slash", "new\nline"],
        testonly=True,
        features=[],
    )
    ws.rule(GENRULE, "//p:gen", 9, outs=["o.txt"], cmd="echo", exec_properties={"k": "v"})
    text = format_result(ws.targets.values(), "build", FakeEnvironment(ws.targets))
    assert text == (
        "# p/BUILD:9\n"
        "genrule(\n"
        '  name = "gen",\n'
        '  visibility = ["//visibility:public"],\n'
        '  exec_properties = {"k": "v"},\n'
        '  outs = ["//p:o.txt"],\n'
        '  cmd = "echo",\n'
        ")\n"
        "\n"
        "# p/BUILD:5\n"
        "py_library(\n"
        '  name = "lib",\n'
        '  visibility = ["//visibility:public"],\n'
        "  testonly = True,\n"
        '  srcs = ["//p:a.py"] + select({"//conditions:default": ["//p:b.py"]}, no_match_error = "pick one"),\n'
        '  imports = ["quo\\"te", "back\\\\slash", "new\\nline"],\n'
        ")\n"
        "\n"
    )


def test_build_output_shows_the_macro_stack() -> None:
    ws = Workspace()
    rule = ws.rule(PY_LIBRARY, "//p:lib", 2)
    stacked = RuleTarget(rule.label, rule.rule_class, rule.attrs, Location("p/BUILD", 2, 1), ("p/BUILD:2:8 in <toplevel>", "p/defs.bzl:4:5 in my_macro"))
    text = format_result([stacked], "build", None)
    assert text.endswith(
        ")\n# Rule lib instantiated at (most recent call last):\n#   p/BUILD:2:8 in <toplevel>\n#   p/defs.bzl:4:5 in my_macro\n\n"
    )


def test_build_output_of_package_group() -> None:
    assert render("//lib:friends", "build") == (
        "# lib/BUILD:50\n"
        "package_group(\n"
        '  name = "friends",\n'
        "  packages = [\n"
        '    "//app/...",\n'
        "  ],\n"
        "  includes = [\n"
        '    "//third:grp",\n'
        "  ],\n"
        ")\n"
        "\n"
    )
