"""Turning starlark-pyo3 errors into located kiln errors.

starlark-pyo3 puts file:line:col only into the message text and does not
chain the Python exception a builtin raised, so the loader keeps the last
KilnError its builtins raised and this module parses the location out.
"""

from __future__ import annotations

import re

from kiln.core.errors import KilnError, LoadingError, Location

_ARROW = re.compile(r"^\s*--> (.+?):(\d+):(\d+)", re.MULTILINE)
_FRAME = re.compile(r"^\s*\* (.+?):(\d+), in (\S+)", re.MULTILINE)
_ERROR = re.compile(r"^error: (.*)$", re.MULTILINE)
_STRUCT_AS_COLLECTION = re.compile(r"Operation `(\(iter\)|in|len\(\))` not supported .*`struct`$")
# Names kiln gives the Starlark sources it evaluates itself ("<kiln depset>", "<kiln prelude>").
KILN_SOURCE_PREFIX = "<kiln"


def parse_location(text: str) -> Location | None:
    m = _ARROW.search(text)
    if not m:
        return None
    return Location(m.group(1), int(m.group(2)), int(m.group(3)))


def call_frames(text: str) -> list[tuple[str, int, str]]:
    """(file, line, function) of each traceback frame, outermost first."""
    return [(m.group(1), int(m.group(2)), m.group(3)) for m in _FRAME.finditer(text)]


def error_message(text: str) -> str:
    m = _ERROR.search(text)
    msg = m.group(1) if m else text.strip().splitlines()[0]
    # fail("x") reads "fail: x" in starlark-rust; Bazel users know "Error in fail: x".
    if msg.startswith("fail: "):
        msg = "Error in fail: " + msg[len("fail: "):]
    return msg


def to_kiln_error(text: str, pending: KilnError | None, source: str = "") -> KilnError:
    """Builds the user's error from a StarlarkError's text and the builtin error, if any."""
    location = parse_location(text)
    if pending is None and location is not None and "Parse error" in text and source:
        opened = unclosed_bracket(source)
        # starlark-rust reports a bracket left open at the end of the file at 1:1; point at the bracket.
        if opened is not None and ((location.line, location.column) <= (1, 1) or "end of file" in text):
            line, col, char = opened
            return LoadingError(f"syntax error: '{char}' is never closed", location=Location(location.file, line, col))
    frames = call_frames(text)
    message = error_message(text)
    # kiln's own Starlark (depset, preludes, config_common) is never where the user's mistake is.
    if location is not None and location.file.startswith(KILN_SOURCE_PREFIX):
        location, message = _blame_caller(frames, message, location)
    if pending is not None:
        err = pending
        if err.location is None:
            err.location = location
    else:
        err = LoadingError(_explain(message), location=location)
    # A macro's error points into the .bzl; say which BUILD line called it.
    if frames and location is not None and frames[0][0] != location.file:
        outer = frames[0]
        err.message += f" (called from {outer[0]}:{outer[1]})"
    return err


def _blame_caller(frames: list[tuple[str, int, str]], message: str, location: Location) -> tuple[Location, str]:
    """An error inside kiln's own Starlark (e.g. depset) points at the user's call, named as Bazel does."""
    for i in range(len(frames) - 1, -1, -1):
        if not frames[i][0].startswith(KILN_SOURCE_PREFIX):
            called = frames[i + 1][2] if i + 1 < len(frames) else ""
            if called.startswith("_kiln_") and message.startswith("Error in fail: "):
                message = message[len("Error in fail: "):]  # a kiln helper's message names the builtin itself
            elif called and message.startswith("Error in fail: "):
                message = f"Error in {called}: " + message[len("Error in fail: "):]
            return Location(frames[i][0], frames[i][1]), message
    return location, message


# starlark-rust's words for what Bazel's dialect (kiln.loading.dialects) rejects, in words a Bazel user knows.
_DIALECT_MESSAGES = (
    # Only BUILD files are parsed without `def` and `lambda`.
    ("`def` is not allowed in this dialect",
     "function definitions are not allowed in BUILD files: move the function to a .bzl file and load() it"),
    ("`lambda` is not allowed in this dialect",
     "function definitions are not allowed in BUILD files (lambda included): move the function to a .bzl file "
     "and load() it"),
    ("`if` cannot be used outside `def`",
     "if statements are not allowed at the top level: move it into a function (in a .bzl file) or use an if "
     "expression (x if condition else y)"),
    ("`for` cannot be used outside `def`",
     "for loops are not allowed at the top level: move it into a function (in a .bzl file) or use a "
     "comprehension, [f(x) for x in sequence]"),
    ("must enable f-strings", "f-strings are not part of Starlark: use \"...{}\".format(x) or \"...%s\" % x"),
    ("type annotations are not allowed", "type annotations are not allowed in Bazel 7 and 8 Starlark"),
    ("positional-only-arguments is not allowed", "positional-only parameters (/) are not part of Starlark"),
    ("`load` must only occur at the top of a module",
     "load statements must be at the top level of the file, not inside a function"),
    ("cannot use reserved keyword `while`",
     "while loops are not part of Starlark: loop over a finite sequence (for i in range(n)) in a function"),
)
_NOT_EXPORTED = re.compile(r"^Module symbol `(.+)` is not exported$")


def _explain(msg: str) -> str:
    for starlark_words, bazel_words in _DIALECT_MESSAGES:
        if starlark_words in msg:
            return bazel_words
    not_exported = _NOT_EXPORTED.match(msg)
    if not_exported:
        name = not_exported.group(1)
        return (f"the loaded file does not define '{name}': it only loads it, and a load() does not re-export "
                f"(define it there, e.g. {name} = _{name}, to export it)")
    if "Parse error" in msg:
        return "syntax error: " + msg.split("Parse error: ", 1)[-1]
    # A depset is a struct to starlark-rust: its errors must still lead to .to_list().
    if _STRUCT_AS_COLLECTION.match(msg):
        return msg + " (if it is a depset: a depset is not iterable, use .to_list())"
    if msg.endswith("Operation `serde::serialize` not supported on type `function`"):
        return "a function or a depset cannot be passed to a rule or builtin (use depset.to_list())"
    return msg


def unclosed_bracket(source: str) -> tuple[int, int, str] | None:
    """Line, column and character of the first bracket never closed, skipping strings and comments."""
    stack: list[tuple[int, int, str]] = []
    pairs = {")": "(", "]": "[", "}": "{"}
    line, col, i, n = 1, 0, 0, len(source)
    while i < n:
        c = source[i]
        col += 1
        if c == "\n":
            line, col = line + 1, 0
        elif c == "#":
            while i < n and source[i] != "\n":
                i += 1
            continue
        elif c in "'\"":
            quote = source[i:i + 3] if source[i:i + 3] in ('"""', "'''") else c
            j = source.find(quote, i + len(quote))
            while j > 0 and source[j - 1] == "\\":
                j = source.find(quote, j + 1)
            end = n if j < 0 else j + len(quote)
            line += source.count("\n", i, end)
            i = end
            continue
        elif c in "([{":
            stack.append((line, col, c))
        elif c in ")]}" and stack and stack[-1][2] == pairs[c]:
            stack.pop()
        i += 1
    return stack[0] if stack else None
