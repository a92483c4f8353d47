"""Reading the files kiln evaluates (BUILD, .bzl, MODULE.bazel, WORKSPACE) as text.

Starlark source is UTF-8; a file that is not fails with its name, the byte
offset of the first bad byte and its line and column, instead of a decoding
traceback.
"""

from __future__ import annotations

from pathlib import Path

from kiln.core.errors import LoadingError, Location


def read_source(path: Path, display: str) -> str:
    """The text of `path`; `display` is how messages name it (e.g. `pkg/BUILD.bazel`)."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise LoadingError(f"cannot read {display}: {e.strerror}", location=Location(display)) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line_start = data.rfind(b"\n", 0, e.start) + 1
        line = data.count(b"\n", 0, e.start) + 1
        column = e.start - line_start + 1
        raise LoadingError(
            f"invalid UTF-8 at byte {e.start} (0x{data[e.start]:02x}): Starlark files must be UTF-8",
            location=Location(display, line, column),
        ) from None
