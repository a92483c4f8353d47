"""Starlark as Bazel 7 and 8 accept it (issue 14, item 3), through the real command: each construct
accepted or rejected as Bazel does, a rejection as one located message; and the corpus workspace
tests/compat/starlark_dialect, written for Bazel, builds and tests unchanged."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from test_bad_source_files import fails

CORPUS = Path(__file__).resolve().parents[1] / "compat" / "starlark_dialect"


def test_the_corpus_builds_and_tests_unchanged(ws):
    shutil.copytree(CORPUS, ws.root, dirs_exist_ok=True)
    r = ws.kiln("test", "//...")
    assert r.code == 0, r.output
    assert "//ext:fast_math_test" in r.output and "PASSED" in r.output, r.output
    config = json.loads((ws.root / "kiln-bin" / "ext" / "fast_math.json").read_text())
    assert config == {"edition": "2021", "features": ["default", "simd", "abi3", "nightly"], "module": "fast_math"}
    # select() in the macro follows the configuration: the test checks the mode it was built in.
    r = ws.kiln("test", "-c", "opt", "--test_env=EXPECTED_MODE=release", "//...")
    assert r.code == 0, r.output
    assert (ws.root / "kiln-bin" / "ext" / "fast_math_mode.txt").read_text() == "release\n"


# (the .bzl's text, the value it computes as VALUE): each a construct Bazel accepts in a .bzl file.
ACCEPTED = {
    "keyword_only_parameters": ("""
        def _f(*, name, extra = "!"):
            return name + extra
        VALUE = _f(name = "kw")
    """, "kw!"),
    "star_args_then_keyword_only": ("""
        def _f(first, *rest, sep):
            return sep.join([first] + list(rest))
        VALUE = _f("a", "b", "c", sep = "-")
    """, "a-b-c"),
    "lambda": ("""
        _twice = lambda s: s + s
        VALUE = _twice("ab")
    """, "abab"),
    "nested_def_closure": ("""
        def _outer(prefix):
            def inner(s):
                return prefix + s
            return inner
        VALUE = _outer("pre-")("x")
    """, "pre-x"),
    # Bazel fails a recursive call when it happens; a function that could recurse but does not is fine.
    "recursion_never_taken": ("""
        def _flatten(x):
            return [y for item in x for y in _flatten(item)] if type(x) == "list" else [x]
        VALUE = str(_flatten("leaf"))
    """, '["leaf"]'),
    "top_level_comprehension": ("""
        VALUE = ",".join([str(i * i) for i in range(4) if i])
    """, "1,4,9"),
    "docstring_before_loads": ('''
        """A module docstring may come before the loads."""
        load(":other.bzl", "OTHER")
        VALUE = OTHER
    ''', "other"),
    "reexport_by_assignment": ("""
        load(":other.bzl", _other = "OTHER")
        OTHER = _other
        VALUE = OTHER
    """, "other"),
    "kwargs_in_bzl_calls": ("""
        def _f(**kwargs):
            return ",".join(sorted(kwargs))
        _ARGS = {"b": 1, "a": 2}
        VALUE = _f(**_ARGS)
    """, "a,b"),
    "json_encode_indent": ("""
        VALUE = json.encode_indent({"a": [1]}, indent = " ").replace("\\n", "|")
    """, '{| "a": [|  1| ]|}'),
}


@pytest.mark.parametrize("case", sorted(ACCEPTED))
def test_construct_bazel_accepts_in_a_bzl_file(ws, case):
    text, expected = ACCEPTED[case]
    ws.write("pkg/other.bzl", 'OTHER = "other"\n')
    ws.write("pkg/defs.bzl", text)
    ws.write("pkg/BUILD.bazel", """
        load(":defs.bzl", "VALUE")
        genrule(name = "out", outs = ["out.txt"], cmd = "printf '%s' '" + VALUE + "' > $@")
    """)
    r = ws.kiln("build", "//pkg:out")
    assert r.code == 0, r.output
    assert (ws.root / "kiln-bin" / "pkg" / "out.txt").read_text() == expected


_OK_BUILD = 'filegroup(name = "a", srcs = [])\n'

# (BUILD text, defs.bzl text or None, the error expected with its location): each rejected as Bazel does.
REJECTED = {
    "lambda_in_build": ('x = lambda: 1\n' + _OK_BUILD, None,
                        "pkg/BUILD.bazel:1:5: function definitions are not allowed in BUILD files (lambda included)"),
    "top_level_if_in_build": ('if True:\n    x = 1\n' + _OK_BUILD, None,
                              "pkg/BUILD.bazel:1:1: if statements are not allowed at the top level"),
    "top_level_for_in_build": ('for x in []:\n    pass\n' + _OK_BUILD, None,
                               "pkg/BUILD.bazel:1:1: for loops are not allowed at the top level"),
    "kwargs_in_build": ('ARGS = {"srcs": []}\nfilegroup(name = "a", **ARGS)\n', None,
                        "pkg/BUILD.bazel:2:23: **kwargs arguments are not allowed in BUILD files"),
    "args_in_build": ('NAMES = ["a"]\nfilegroup(\n    *NAMES\n)\n', None,
                      "pkg/BUILD.bazel:3:5: *args arguments are not allowed in BUILD files"),
    "top_level_if_in_bzl": (None, 'if True:\n    X = 1\n',
                            "pkg/defs.bzl:1:1: if statements are not allowed at the top level"),
    "top_level_for_in_bzl": (None, 'X = []\nfor i in [1]:\n    X.append(i)\n',
                             "pkg/defs.bzl:2:1: for loops are not allowed at the top level"),
    "load_in_a_function": (None, 'def f():\n    load(":other.bzl", "OTHER")\n',
                           "pkg/defs.bzl:2:5: load statements must be at the top level of the file"),
    "load_after_a_statement": (None, 'X = 1\nload(":other.bzl", "OTHER")\n',
                               "pkg/defs.bzl:2:1: load statements must appear before any other statement"),
    "f_string": (None, 'X = f"a{1}"\n', "pkg/defs.bzl:1:5: f-strings are not part of Starlark"),
    "type_annotation": (None, 'def f(x: int) -> int:\n    return x\n',
                        "pkg/defs.bzl:1:10: type annotations are not allowed"),
    "positional_only_parameters": (None, 'def f(a, /, b):\n    return a\n',
                                   "pkg/defs.bzl:1:10: positional-only parameters (/) are not part of Starlark"),
    "while_loop": (None, 'def f():\n    while True:\n        pass\n',
                   "pkg/defs.bzl:2:5: while loops are not part of Starlark"),
    "top_level_rebinding": (None, 'X = 1\nX = 2\n',
                            "pkg/defs.bzl:2:1: 'X' redeclared at top level (previously declared at pkg/defs.bzl:1:1)"),
    "load_does_not_reexport": ('load(":defs.bzl", "OTHER")\n' + _OK_BUILD, 'load(":other.bzl", "OTHER")\n',
                               "pkg/BUILD.bazel:1:19: the loaded file does not define 'OTHER': it only loads it"),
    "set_is_named": (None, 'X = set([1])\n', "pkg/defs.bzl:1:5: kiln does not support set() yet (Bazel 8.1 added it)"),
}


@pytest.mark.parametrize("case", sorted(REJECTED))
def test_construct_bazel_rejects_is_one_located_message(ws, case):
    build, bzl, expected = REJECTED[case]
    ws.write("pkg/other.bzl", 'OTHER = "other"\n')
    if bzl is not None:
        ws.write("pkg/defs.bzl", bzl)
    ws.write("pkg/BUILD.bazel", build or 'load(":defs.bzl", "X")\n' + _OK_BUILD)
    out = fails(ws, "build", "//pkg:a")
    assert f"ERROR: {expected}" in out, out


def test_module_file_is_resolved_as_bazel_does(ws):
    (ws.root / "MODULE.bazel").write_text('module(name = "t")\nif True:\n    pass\n')
    ws.write("pkg/BUILD.bazel", _OK_BUILD)
    out = fails(ws, "build", "//pkg:a")
    assert "ERROR: MODULE.bazel:2:1: if statements are not allowed at the top level" in out, out



def test_json_indent_in_a_build_file(ws):
    ws.write("pkg/BUILD.bazel", """
        TEXT = json.indent(json.encode({"a": [1]}), prefix = ">", indent = "  ").replace("\\n", "|")
        genrule(name = "out", outs = ["out.txt"], cmd = "printf '%s' '" + TEXT + "' > $@")
    """)
    r = ws.kiln("build", "//pkg:out")
    assert r.code == 0, r.output
    assert (ws.root / "kiln-bin" / "pkg" / "out.txt").read_text() == '{|>  "a": [|>    1|>  ]|>}'


def test_json_indent_of_text_that_is_not_json_names_the_call(ws):
    ws.write("pkg/defs.bzl", 'X = json.indent("{not json")\n')
    ws.write("pkg/BUILD.bazel", 'load(":defs.bzl", "X")\n' + _OK_BUILD)
    out = fails(ws, "build", "//pkg:a")
    assert "ERROR: pkg/defs.bzl:1:5: json.indent: the text is not JSON: Expecting property name enclosed in " \
           "double quotes: line 1 column 2 (char 1)" in out, out
