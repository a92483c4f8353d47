"""Starlark as Bazel 7 and 8 accept it, file kind by file kind.

starlark-rust's switches (`starlark.Dialect`) cover most of Bazel's rules; the
rest Bazel enforces in its resolver or its BUILD-file check, and this module
enforces them over the parsed file: in BUILD files no `*args`/`**kwargs`
arguments; in .bzl files loads before any other statement, no top-level name
bound twice. What each parse function raises is a StarlarkError (starlark_errors
explains it) or a located LoadingError.

Recursion is not refused: Bazel fails a recursive call when it happens, which a
workspace that builds with Bazel never does, and a check of the text could only
ever refuse such a workspace for a recursive call it never makes.
"""

from __future__ import annotations

import re
from typing import Any

import starlark as sl

from kiln.core.errors import LoadingError, Location


def _dialect(**switches: Any) -> Any:
    dialect = sl.Dialect.standard()
    for name, value in switches.items():
        setattr(dialect, name, value)
    return dialect


# Both kinds, as Bazel: top-level `if`/`for`, f-strings, type annotations (Bazel 8 only behind an
# experimental flag), positional-only parameters and `while` are rejected by the standard dialect.
# .bzl: def, lambda, keyword-only parameters; loaded names stay private to the file (Bazel's loads bind
# file-locally: `load(":a.bzl", "x")` in b.bzl does not let c.bzl load `x` from b.bzl).
BZL = _dialect(enable_keyword_only_arguments=True, enable_load_reexport=False)
# BUILD: Bazel's "functions may not be defined in BUILD files" covers lambda too.
BUILD = _dialect(enable_def=False, enable_lambda=False)
# MODULE.bazel is resolved as a .bzl file is (Bazel's default file options).
MODULE = BZL

# String literals and comments, which the checks below must not read as code.
_NOT_CODE = re.compile(
    r'#[^\n]*|"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'')
# `*x` / `**x` where an argument starts: after `(` or `,` nothing else can begin with a star.
_STAR_ARGUMENT = re.compile(r"[(,]\s*(\*\*?)\s*[\w(\[{]")


def parse_build(filename: str, text: str) -> Any:
    ast = sl.parse(filename, text, BUILD)
    # The text first, cheaply: only where it has a candidate are strings and comments set aside.
    if _STAR_ARGUMENT.search(text):
        m = _STAR_ARGUMENT.search(_code_only(text))
        if m:
            star = m.start(1)
            what = "**kwargs" if m.group(1) == "**" else "*args"
            raise LoadingError(f"{what} arguments are not allowed in BUILD files: pass the arguments explicitly",
                               location=_location(filename, text, star))
    return ast


def parse_bzl(filename: str, text: str) -> Any:
    ast = sl.parse(filename, text, BZL)
    _check_resolution(ast, filename)
    return ast


def parse_module_file(filename: str, text: str) -> Any:
    ast = sl.parse(filename, text, MODULE)
    _check_resolution(ast, filename)
    return ast


def _check_resolution(ast: Any, filename: str) -> None:
    """What Bazel's resolver rejects and starlark-rust only lints."""
    for lint in ast.lint():
        where = lint.resolved_location
        if lint.short_name == "misplaced-load":
            raise LoadingError("load statements must appear before any other statement",
                               location=_lint_location(filename, where))
        if lint.short_name == "duplicate-top-level-assign":
            name = lint.problem.split("`")[1]
            first = lint.problem.rsplit("first defined at ", 1)[-1]
            raise LoadingError(f"'{name}' redeclared at top level (previously declared at {first.rsplit('-', 1)[0]})",
                               location=_lint_location(filename, where))


def _code_only(text: str) -> str:
    """`text` with strings and comments blanked (newlines kept), so offsets and lines stay the same."""
    return _NOT_CODE.sub(_blank, text)


def _blank(m: Any) -> str:
    text = m.group(0)
    if "\n" not in text:
        return " " * len(text)
    return "\n".join(" " * len(part) for part in text.split("\n"))


def _location(filename: str, text: str, offset: int) -> Location:
    line_start = text.rfind("\n", 0, offset) + 1
    return Location(filename, text.count("\n", 0, offset) + 1, offset - line_start + 1)


def _lint_location(filename: str, where: Any) -> Location:
    # "file:LINE:COL-..." or "file:LINE:COL-LINE:COL"
    m = re.search(r":(\d+):(\d+)(?:-[\d:]+)?$", str(where))
    return Location(filename, int(m.group(1)), int(m.group(2))) if m else Location(filename)
