"""Cargo's `[target.'cfg(...)']` expressions, evaluated for the host."""

from __future__ import annotations

import platform
import re
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class HostTarget:
    triple: str
    values: dict[str, str]   # target_os = "linux", ...
    flags: frozenset[str]    # unix, windows


def host_target() -> HostTarget:
    machine = platform.machine().lower()
    arch = {"amd64": "x86_64", "arm64": "aarch64", "i686": "x86", "i386": "x86"}.get(machine, machine)
    if sys.platform.startswith("linux"):
        libc = platform.libc_ver()[0]
        env = "gnu" if libc in ("glibc", "") else "musl"
        os_name, vendor, family = "linux", "unknown", "unix"
        triple = f"{arch}-unknown-linux-{env}"
    elif sys.platform == "darwin":
        os_name, vendor, family, env = "macos", "apple", "unix", ""
        triple = f"{arch}-apple-darwin"
    elif sys.platform == "win32":
        os_name, vendor, family, env = "windows", "pc", "windows", "msvc"
        triple = f"{arch}-pc-windows-msvc"
    else:
        os_name, vendor, family, env = sys.platform, "unknown", "unix", ""
        triple = f"{arch}-unknown-{sys.platform}"
    values = {
        "target_os": os_name, "target_family": family, "target_arch": arch, "target_env": env,
        "target_vendor": vendor, "target_endian": sys.byteorder, "target_pointer_width": "64" if sys.maxsize > 2**32 else "32",
    }
    return HostTarget(triple, values, frozenset({family}))


_CFG_TOKEN = re.compile(r'\s*(?:(\()|(\))|(,)|(=)|"((?:[^"\\]|\\.)*)"|([A-Za-z_][A-Za-z0-9_]*))')


def target_matches(target: str, host: HostTarget) -> bool:
    """Whether a `[target.X.dependencies]` key applies to the host: a triple or a cfg(...) expression."""
    target = target.strip()
    if not target.startswith("cfg("):
        return target == host.triple
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(target):
        m = _CFG_TOKEN.match(target, pos)
        if not m or m.end() == pos:
            if target[pos:].strip() == "":
                break
            return False
        kind = ["(", ")", ",", "=", "str", "id"][m.lastindex - 1]
        tokens.append((kind, m.group(m.lastindex)))
        pos = m.end()
    try:
        result, rest = _cfg_expr(tokens[2:-1] if tokens[:2] == [("id", "cfg"), ("(", "(")] else [], host)
    except (IndexError, ValueError):
        return False
    return result and not rest


def _cfg_expr(tokens: list[tuple[str, str]], host: HostTarget) -> tuple[bool, list[tuple[str, str]]]:
    if not tokens or tokens[0][0] != "id":
        raise ValueError("expected a cfg predicate")
    name = tokens[0][1]
    rest = tokens[1:]
    if name in ("all", "any", "not") and rest and rest[0][0] == "(":
        rest = rest[1:]
        values = []
        while rest and rest[0][0] != ")":
            value, rest = _cfg_expr(rest, host)
            values.append(value)
            if rest and rest[0][0] == ",":
                rest = rest[1:]
        rest = rest[1:]
        if name == "all":
            return all(values), rest
        if name == "any":
            return any(values), rest
        if len(values) != 1:
            raise ValueError("not() takes one predicate")
        return not values[0], rest
    if rest and rest[0][0] == "=":
        value = rest[1][1]
        return host.values.get(name) == value, rest[2:]
    return name in host.flags, rest
