"""kiln.loading.dialects' own checks on text that looks like what they reject but is not: strings,
comments, method calls, keyword arguments, multiplication; and the cycles they must find."""

from __future__ import annotations

import pytest

from kiln.core.errors import LoadingError
from kiln.loading import dialects

NOT_RECURSIVE = {
    "name_in_a_string_and_a_comment": 'def f(x):\n    # f(x) again\n    return "f(%s)" % x\n',
    "method_of_the_same_name": "def py_test(**kwargs):\n    native.py_test(**kwargs)\n",
    "keyword_argument_of_the_same_name": "def f(x):\n    return dict(f = x)\n",
    "sibling_called_after_the_block": "def f():\n    return 1\n\ndef g():\n    return f()\n",
    "parameters_over_several_lines": "def f(\n  a,\n  b = g()):\n    return a\n\ndef g():\n    return f(1)\n",
    "nested_def_calling_its_parent_name_outside": (
        "def outer():\n    def inner():\n        return 1\n    return inner()\n\nX = outer()\n"),
}


@pytest.mark.parametrize("case", sorted(NOT_RECURSIVE))
def test_what_only_looks_like_recursion_is_accepted(case):
    dialects.parse_bzl("t.bzl", NOT_RECURSIVE[case])


def test_recursion_through_a_nested_function_is_found():
    text = "def outer(n):\n    def inner(m):\n        return outer(m)\n    return inner(n)\n"
    with pytest.raises(LoadingError) as e:
        dialects.parse_bzl("t.bzl", text)
    assert e.value.render() == ("t.bzl:3:16: function 'outer' called recursively (outer -> inner -> outer): "
                                "Starlark does not allow recursion")


def test_recursion_after_a_multiline_string_is_located_on_its_line():
    text = 'DOC = """\nf(1)\n"""\n\ndef f(n):\n    return f(n)\n'
    with pytest.raises(LoadingError) as e:
        dialects.parse_bzl("t.bzl", text)
    assert str(e.value.location) == "t.bzl:6:12"


@pytest.mark.parametrize("text", [
    'filegroup(name = "a", srcs = glob(["*.py", "**/*.txt"]))\n',
    'filegroup(name = "a", tags = ["x, *y", "(**z"])  # f(*a)\n',
    'N = 2 * 3\nfilegroup(name = "a" * 1, srcs = [])\n',
])
def test_stars_that_are_not_star_arguments_are_accepted_in_build_files(text):
    dialects.parse_build("BUILD", text)
