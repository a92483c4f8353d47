"""Cargo's version requirements (`1.2`, `^0.23`, `=0.23.5`, `>=1, <2`, `*`) matched against versions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


_VERSION = re.compile(r"^\s*v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?\s*$")


@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    patch: int
    pre: tuple[tuple[int, Any], ...] = ()  # () sorts after any pre-release, see key()

    def key(self) -> tuple[Any, ...]:
        return (self.major, self.minor, self.patch, (1,) if not self.pre else (0, self.pre))

    @property
    def is_pre(self) -> bool:
        return bool(self.pre)


def parse_version(text: str) -> Version | None:
    m = _VERSION.match(text)
    if not m or m.group(2) is None or m.group(3) is None:
        return None
    return Version(int(m.group(1)), int(m.group(2)), int(m.group(3)), _pre(m.group(4)))


def _pre(text: str | None) -> tuple[tuple[int, Any], ...]:
    if not text:
        return ()
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in text.split("."))


_COMPARATOR = re.compile(r"^\s*(\^|~|=|>=|<=|>|<)?\s*(\*|[xX]|\d+)(?:\.(\*|[xX]|\d+))?(?:\.(\*|[xX]|\d+))?"
                         r"(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?\s*$")


def req_matches(req: str, version: str) -> bool:
    """Whether `version` satisfies the Cargo requirement `req` ("0.23", "^1.2", "~1", "=0.23.5", ">=1, <2", "*")."""
    v = parse_version(version)
    if v is None:
        return False
    parts = [p for p in req.split(",") if p.strip()] or ["*"]
    comparators = []
    for part in parts:
        c = _parse_comparator(part)
        if c is None:
            return False
        comparators.append(c)
    if v.is_pre and not any(c[1:4] == (v.major, v.minor, v.patch) and c[4] for c in comparators):
        return False
    return all(_compare(c, v) for c in comparators)


def valid_req(req: str) -> bool:
    return all(_parse_comparator(p) is not None for p in req.split(",") if p.strip())


def _parse_comparator(text: str) -> tuple[str, int | None, int | None, int | None, tuple] | None:
    m = _COMPARATOR.match(text)
    if not m:
        return None
    op = m.group(1) or "^"

    def num(g: str | None) -> int | None:
        return None if g is None or g in "*xX" else int(g)

    major, minor, patch = num(m.group(2)), num(m.group(3)), num(m.group(4))
    # A wildcard ends the version: "1.*" is "1" (and, without an operator, ^1 is the same range).
    if major is None:
        minor = patch = None
    elif minor is None:
        patch = None
    return op, major, minor, patch, _pre(m.group(5))


def _compare(c: tuple[str, int | None, int | None, int | None, tuple], v: Version) -> bool:
    op, major, minor, patch, pre = c
    if major is None:
        return True
    vk = v.key()
    low = Version(major, minor or 0, patch or 0, pre).key()

    def upper(level: str) -> tuple[Any, ...]:
        if level == "major":
            return Version(major + 1, 0, 0, ((0, 0),)).key()
        if level == "minor":
            return Version(major, (minor or 0) + 1, 0, ((0, 0),)).key()
        return Version(major, minor or 0, (patch or 0) + 1, ((0, 0),)).key()

    if op == "=":
        if minor is None:
            return low <= vk < upper("major")
        if patch is None:
            return low <= vk < upper("minor")
        return vk[:3] == low[:3] and v.pre == pre
    if op == ">":
        if minor is None:
            return vk >= upper("major")
        if patch is None:
            return vk >= upper("minor")
        return vk > low
    if op == ">=":
        return vk >= low
    if op == "<":
        return vk < low
    if op == "<=":
        if minor is None:
            return vk < upper("major")
        if patch is None:
            return vk < upper("minor")
        return vk <= low
    if op == "~":
        return low <= vk < (upper("major") if minor is None else upper("minor"))
    # caret
    if major > 0 or minor is None:
        return low <= vk < upper("major")
    if minor > 0 or patch is None:
        return low <= vk < upper("minor")
    return low <= vk < upper("patch")
