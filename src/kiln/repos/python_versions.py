"""Which python-build-standalone archive a Python version and platform name, from kiln's table.

The table (python_tool_versions) is rules_python's; this module resolves a version ("3.11" through the minor
mapping, or a full "3.11.14"), picks the platform key for the libc and free-threading asked for, and renders
the archive's URLs against the base URLs the way rules_python's `get_release_info` does. Callers pass the
table and mapping when a MODULE.bazel or WORKSPACE overrides them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kiln.core.errors import KilnError
from kiln.repos.python_tool_versions import (
    DEFAULT_RELEASE_BASE_URL, FREETHREADED, FREETHREADED_OPTIMIZATIONS, MINOR_MAPPING, PLATFORMS, TOOL_VERSIONS,
)

LIBCS = ("glibc", "musl")


@dataclass(frozen=True)
class RuntimeArchive:
    version: str  # the full version the request resolved to, e.g. "3.11.14"
    platform: str  # the table's platform key, e.g. "x86_64-unknown-linux-musl", "...-freethreaded"
    urls: tuple[str, ...]
    sha256: str
    strip_prefix: str
    filename: str  # the file name the URLs end in: what --distdir is searched for


def resolve_version(version: str, *, tool_versions: dict | None = None,
                    minor_mapping: dict[str, str] | None = None) -> str:
    """The full version a requested one ("3.11" or "3.11.14") stands for."""
    tool_versions = TOOL_VERSIONS if tool_versions is None else tool_versions
    minor_mapping = MINOR_MAPPING if minor_mapping is None else minor_mapping
    full = minor_mapping.get(version, version)
    if full not in tool_versions:
        raise KilnError(
            f"Python {version} is not in kiln's python-build-standalone table (rules_python's versions.bzl); "
            f"known versions: {', '.join(_sorted_versions(minor_mapping))}, "
            f"{', '.join(_sorted_versions(tool_versions))}")
    return full


def known_versions() -> str:
    """The versions of kiln's table, for messages: each X.Y, then every X.Y.Z."""
    return (f"{', '.join(_sorted_versions(MINOR_MAPPING))} (as X.Y.Z: "
            f"{', '.join(_sorted_versions(TOOL_VERSIONS))})")


def archive_for(version: str, platform: str, *, libc: str = "glibc", freethreaded: bool = False,
                base_urls: list[str] | tuple[str, ...] | None = None, tool_versions: dict | None = None,
                minor_mapping: dict[str, str] | None = None) -> RuntimeArchive:
    """The archive of Python `version` for the target triple `platform` (its glibc spelling on Linux)."""
    tool_versions = TOOL_VERSIONS if tool_versions is None else tool_versions
    full = resolve_version(version, tool_versions=tool_versions, minor_mapping=minor_mapping)
    triple = _triple_for_libc(platform, libc)
    key = triple + FREETHREADED if freethreaded else triple
    entry = tool_versions[full]
    sha256 = entry["sha256"].get(key)
    if sha256 is None:
        raise KilnError(
            f"kiln's python-build-standalone table has no Python {full} archive for {key}; "
            f"it has one for: {', '.join(sorted(entry['sha256']))}")
    templates = _for_platform(entry["url"], key)
    urls: list[str] = []
    filename = ""
    for template in [templates] if isinstance(templates, str) else templates:
        rendered = template.format(platform=triple, python_version=full, **_build(template, triple, freethreaded))
        filename = rendered.rsplit("/", 1)[-1]
        if "://" in rendered:
            urls.append(rendered)
        else:
            urls.extend(f"{base.rstrip('/')}/{rendered}" for base in base_urls or [DEFAULT_RELEASE_BASE_URL])
    return RuntimeArchive(full, key, tuple(urls), sha256, _for_platform(entry.get("strip_prefix", ""), key),
                          filename)


def _triple_for_libc(platform: str, libc: str) -> str:
    if libc not in LIBCS:
        raise KilnError(f"unknown Linux libc {libc!r} (py_linux_libc takes {' or '.join(LIBCS)})")
    if platform not in PLATFORMS:
        raise KilnError(f"unknown python-build-standalone platform {platform!r}; known: {', '.join(PLATFORMS)}")
    os_name, cpu, _, platform_libc = PLATFORMS[platform]
    if platform_libc is None or platform_libc == libc:
        return platform
    for triple, (other_os, other_cpu, _, other_libc) in PLATFORMS.items():
        if (other_os, other_cpu, other_libc) == (os_name, cpu, libc):
            return triple
    have = [t for t, (_, _, _, c) in PLATFORMS.items() if c == libc]
    raise KilnError(f"python-build-standalone has no {libc} build for {cpu} {os_name}; "
                    f"its {libc} platforms: {', '.join(have)}")


def _for_platform(value, key: str):
    return value[key] if isinstance(value, dict) else value


def _build(template: str, triple: str, freethreaded: bool) -> dict[str, str]:
    """The `build` and `ext` an archive name is rendered with, as rules_python picks them."""
    parts = template.split("/")
    # Releases are dated YYYYMMDD; a URL without a date is taken to be of the newest naming.
    release = int(parts[-2]) if len(parts) >= 2 and parts[-2].isdigit() else 99999999
    if freethreaded:
        optimizations = FREETHREADED_OPTIMIZATIONS.get(triple)
        if optimizations is None:
            raise KilnError(f"python-build-standalone makes no free-threaded build for {triple}")
        if triple == "aarch64-unknown-linux-gnu" and release < 20250702:
            optimizations = "lto"
        build = f"freethreaded+{optimizations}-full"
    else:
        build = "install_only"
    if "windows" in triple and release < 20250317:
        build = "shared-" + build
    return {"build": build, "ext": "tar.zst" if build.endswith("full") else "tar.gz"}


def version_key(version: str) -> tuple:
    """Orders versions numerically, a pre-release before its release: 3.9.25 < 3.15.0a2 < 3.15.0."""
    match = re.fullmatch(r"(\d+(?:\.\d+)*)(.*)", version)
    if match is None:
        return ((), False, version)
    return (tuple(int(n) for n in match.group(1).split(".")), match.group(2) == "", match.group(2))


def _sorted_versions(versions) -> list[str]:
    return sorted(versions, key=version_key)
