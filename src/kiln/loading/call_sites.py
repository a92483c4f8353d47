"""Where a call is written in Starlark source: line and column of `name(` for messages.

starlark-pyo3 gives builtins no call site, so MODULE.bazel and WORKSPACE
evaluation finds it in the text, with comments and strings blanked out so they
cannot match.
"""

from __future__ import annotations

import re


def _mask_source(text: str) -> str:
    """The text with comments and string literals blanked (newlines kept), so calls can be searched."""
    out = list(text)
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "#":
            while i < n and text[i] != "\n":
                out[i] = " "
                i += 1
            continue
        if c in "'\"":
            quote = text[i:i + 3] if text[i:i + 3] in ('"""', "'''") else c
            j = i + len(quote)
            while j < n and not text.startswith(quote, j):
                if text[j] == "\\":
                    j += 1
                elif text[j] == "\n" and len(quote) == 1:
                    break
                j += 1
            end = min(n, j + len(quote))
            for k in range(i, end):
                if out[k] != "\n":
                    out[k] = " "
            i = end
            continue
        i += 1
    return "".join(out)


def top_level_names(text: str) -> list[str]:
    """Names a Starlark file binds at its top level (`def name(`, `name =`), in order; for messages that
    list what a .bzl defines."""
    found = re.findall(r"^(?:def\s+(\w+)\s*\(|(\w+)\s*=(?!=))", _mask_source(text), re.MULTILINE)
    return list(dict.fromkeys(a or b for a, b in found))


class CallSites:
    """Lines of calls, found by searching the text: the k-th call of a kind is its k-th occurrence.

    Exact for straight-line files (what MODULE.bazel and WORKSPACE almost always are);
    a call made in a loop gets the line of its last occurrence. In a .bzl file (`native = True`) a
    builtin may also be called as `native.name(`.
    """

    def __init__(self, text: str, *, native: bool = False):
        self._native = native
        self._masked = _mask_source(text)
        self._starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self._found: dict[str, list[int]] = {}
        self._seen: dict[str, int] = {}

    def next(self, pattern: str) -> tuple[int, int]:
        positions = self._found.get(pattern)
        if positions is None:
            positions = [m.start(1) for m in re.finditer(pattern, self._masked)]
            self._found[pattern] = positions
        k = self._seen.get(pattern, 0)
        self._seen[pattern] = k + 1
        if not positions:
            return 0, 0
        pos = positions[min(k, len(positions) - 1)]
        line = _bisect(self._starts, pos)
        return line + 1, pos - self._starts[line] + 1

    def key_lines(self, text: str, line: int, column: int, attr: str, keys: list[str]) -> dict[str, int]:
        """Lines of `"key":` entries written after a call (first occurrence of each)."""
        if not line:
            return {}
        start = self._starts[line - 1] + column - 1
        at = re.compile(rf"\b{re.escape(attr)}\s*=").search(self._masked, start)
        if at is None:
            return {}
        start = at.end()
        out = {}
        for key in keys:
            m = re.compile(rf"([\"']){re.escape(key)}\1\s*:").search(text, start)
            if m:
                out[f"{attr}.{key}"] = _bisect(self._starts, m.start()) + 1
        return out

    def call(self, function: str) -> tuple[int, int]:
        if self._native:
            return self.next(rf"(?<![\w.])((?:native\s*\.\s*)?{re.escape(function)})\s*\(")
        return self.next(rf"(?<![\w.])({re.escape(function)})\s*\(")

    def method(self, name: str) -> tuple[int, int]:
        return self.next(rf"\.\s*({re.escape(name)})\s*\(")


def _bisect(starts: list[int], pos: int) -> int:
    lo, hi = 0, len(starts) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if starts[mid] <= pos:
            lo = mid
        else:
            hi = mid - 1
    return lo


