"""@rules_python//python:repositories.bzl in WORKSPACE: py_repositories, python_register_toolchains and
python_register_multi_toolchains.

python_register_toolchains(name, python_version, ...) declares, as rules_python does: one runtime
repository per platform the version has an archive for (`{name}_{platform}`, kiln.repos.python_runtime_repos
fetches it only when a build needs it), `{name}` (aliases and a defs.bzl with `interpreter` and
version-pinned py_binary / py_test), `{name}_host` (`:python`) and `{name}_toolchains` (a toolchain per
platform), and registers those toolchains. The archives come from kiln's table (kiln.repos.python_versions)
or the `tool_versions` / `minor_mapping` given, below `base_url`.
"""

from __future__ import annotations

from typing import Any

from kiln.core.errors import KilnError
from kiln.loading.extension_schema import DeclaredRepo, MacroResult, WorkspaceBzl
from kiln.repos.python_tool_versions import FREETHREADED, PLATFORMS

# The repositories these macros declare, by kind (kiln.repos.resolver dispatches on it).
RUNTIME_KIND = "python_repository"
ALIASES_KIND = "toolchain_aliases"
HOST_KIND = "host_toolchain"
TOOLCHAINS_KIND = "toolchains_repo"
MULTI_ALIASES_KIND = "multi_toolchain_aliases"
HUB_KIND = "hub_repo"  # the bzlmod extension's pythons_hub (kiln.repos.python_extension)
PYTHON_REPO_KINDS = (RUNTIME_KIND, ALIASES_KIND, HOST_KIND, TOOLCHAINS_KIND, MULTI_ALIASES_KIND, HUB_KIND)

# python_repository arguments rules_python passes through that change nothing kiln does: credentials (kiln
# reads no .netrc) and the root-user check kiln never makes.
_IGNORED_KWARGS = ("netrc", "auth_patterns", "ignore_root_user_error")


def python_register_toolchains(*, name: str, python_version: str, register_toolchains: bool = True,
                               register_coverage_tool: bool = False, set_python_version_constraint: bool = False,
                               tool_versions: dict | None = None, minor_mapping: dict | None = None,
                               base_url: str | list | None = None, **kwargs: Any) -> MacroResult:
    what = f"python_register_toolchains(name = \"{name}\")"
    unsupported = sorted(set(kwargs) - set(_IGNORED_KWARGS))
    if unsupported:
        raise KilnError(f"{what}: kiln does not support '{unsupported[0]}' yet")
    if register_coverage_tool:
        raise KilnError(f"{what}: kiln does not support register_coverage_tool = True yet")
    _check_table(what, tool_versions, minor_mapping)
    return declare_toolchain(what, name=name, python_version=python_version,
                             register_toolchains=register_toolchains,
                             set_python_version_constraint=set_python_version_constraint,
                             tool_versions=tool_versions, minor_mapping=minor_mapping,
                             base_urls=[base_url] if isinstance(base_url, str) else base_url)


def declare_toolchain(what: str, *, name: str, python_version: str, register_toolchains: bool,
                      set_python_version_constraint: bool, tool_versions: dict | None, minor_mapping: dict | None,
                      base_urls: list[str] | None, custom_platforms: dict[str, dict] | None = None) -> MacroResult:
    """The repositories of one Python version, as python_register_toolchains declares them (also for the
    bzlmod `python` extension); `what` starts each error message. `custom_platforms` (the extension's
    single_version_platform_override) describes platforms by name — {"compatible_with", "target_settings",
    "os_name", "arch"} — and comes before kiln's own, so that its toolchains are considered first."""
    from kiln.repos.python_versions import archive_for, resolve_version

    try:
        full = resolve_version(python_version, tool_versions=tool_versions, minor_mapping=minor_mapping)
    except KilnError as e:
        if tool_versions is None:
            raise KilnError(f"{what}: {e.message}") from None
        # The table is the one given: say so, not that kiln's own lacks the version.
        mapped = (minor_mapping or {}).get(python_version, python_version)
        raise KilnError(f"{what}: Python {mapped} is not in the tool_versions given; they have: "
                        f"{', '.join(tool_versions)}") from None
    entry = (tool_versions or _default_table())[full]
    repos: list[DeclaredRepo] = []
    platforms: list[str] = []
    custom_platforms = custom_platforms or {}
    sha256 = entry.get("sha256") or {}
    for key in [k for k in custom_platforms if k in sha256] + _platform_keys(sha256, skip=custom_platforms):
        try:
            if key in custom_platforms and _split_key(key)[0] not in PLATFORMS:
                archive = custom_archive(entry, full, key, base_urls)
            else:
                triple, freethreaded = _split_key(key)
                archive = archive_for(full, triple, libc=PLATFORMS[triple][3] or "glibc", freethreaded=freethreaded,
                                      base_urls=base_urls, tool_versions=tool_versions, minor_mapping=minor_mapping)
        except KilnError as e:
            raise KilnError(f"{what}: {e.message}") from None
        platforms.append(key)
        repos.append(DeclaredRepo(RUNTIME_KIND, f"{name}_{key}", {
            "platform": key, "python_version": full, "urls": list(archive.urls), "sha256": archive.sha256,
            "strip_prefix": archive.strip_prefix, "release_filename": archive.filename}))
    if not platforms:
        raise KilnError(f"{what}: Python {full} has no archive for any platform kiln knows "
                        f"({', '.join(PLATFORMS)})")
    common = {"python_version": full, "user_repository_name": name, "platforms": platforms}
    custom = {k: custom_platforms[k] for k in platforms if k in custom_platforms}
    if custom:
        common["custom_platforms"] = custom
    repos += [
        DeclaredRepo(HOST_KIND, f"{name}_host", common),
        DeclaredRepo(ALIASES_KIND, name, common),
        DeclaredRepo(TOOLCHAINS_KIND, f"{name}_toolchains",
                     {**common, "set_python_version_constraint": bool(set_python_version_constraint)}),
    ]
    toolchains = tuple(f"@{name}_toolchains//:{key}_{kind}" for key in platforms
                       for kind in ("toolchain", "py_cc_toolchain")) if register_toolchains else ()
    return MacroResult(tuple(repos), toolchains)


def python_register_multi_toolchains(*, name: str, python_versions: list, default_version: str | None = None,
                                     minor_mapping: dict | None = None, **kwargs: Any) -> MacroResult:
    what = f"python_register_multi_toolchains(name = \"{name}\")"
    for given in ("python_version", "set_python_version_constraint"):
        if given in kwargs:
            raise KilnError(f"{what}: '{given}' is set for each version by python_register_multi_toolchains itself")
    if not isinstance(python_versions, list) or not python_versions:
        raise KilnError(f"{what}: python_versions must be a non-empty list of versions")
    default_version = default_version or python_versions[0]
    if default_version not in python_versions:
        raise KilnError(f"{what}: default_version '{default_version}' is not one of python_versions "
                        f"({', '.join(python_versions)})")
    # The default is registered last and without a version constraint: any version it does not match by
    # name falls to it, as in rules_python.
    ordered = [v for v in python_versions if v != default_version] + [default_version]
    repos: list[DeclaredRepo] = []
    toolchains: list[str] = []
    for version in ordered:
        one = python_register_toolchains(name=_version_repo(name, version), python_version=version,
                                         set_python_version_constraint=version != default_version,
                                         minor_mapping=minor_mapping, **kwargs)
        repos += one.repos
        toolchains += one.toolchains
    repos.append(DeclaredRepo(MULTI_ALIASES_KIND, name,
                              {"python_versions": {v: _version_repo(name, v) for v in python_versions}}))
    return MacroResult(tuple(repos), tuple(toolchains))


def _version_repo(name: str, version: str) -> str:
    return f"{name}_{version.replace('.', '_')}"


def _default_table() -> dict:
    from kiln.repos.python_tool_versions import TOOL_VERSIONS

    return TOOL_VERSIONS


def _platform_keys(sha256: dict, skip: dict | None = None) -> list[str]:
    """The table keys of an entry kiln can name platforms for, in rules_python's PLATFORMS order."""
    known = [p for p in PLATFORMS] + [p + FREETHREADED for p in PLATFORMS]
    return [key for key in known if key in sha256 and key not in (skip or {})]


def custom_archive(entry: dict, full: str, key: str, base_urls: list[str] | None) -> Any:
    """The archive a single_version_platform_override gives for platform `key`: its URLs as written (one
    without a scheme is below the base URLs), sha256 and strip_prefix."""
    from kiln.repos.python_tool_versions import DEFAULT_RELEASE_BASE_URL
    from kiln.repos.python_versions import RuntimeArchive

    given = entry["url"].get(key) if isinstance(entry.get("url"), dict) else None
    if not given:
        raise KilnError(f"Python {full} for the platform '{key}' has no URL: give `urls` with its sha256")
    urls = []
    for url in [given] if isinstance(given, str) else given:
        urls += [url] if "://" in url else [f"{b.rstrip('/')}/{url}" for b in base_urls or [DEFAULT_RELEASE_BASE_URL]]
    strip_prefix = entry.get("strip_prefix", "python")
    strip_prefix = strip_prefix.get(key, "python") if isinstance(strip_prefix, dict) else strip_prefix
    return RuntimeArchive(full, key, tuple(urls), entry["sha256"][key], strip_prefix,
                          urls[0].rsplit("/", 1)[-1])


def _split_key(key: str) -> tuple[str, bool]:
    if key.endswith(FREETHREADED):
        return key[: -len(FREETHREADED)], True
    return key, False


def _check_table(what: str, tool_versions: Any, minor_mapping: Any) -> None:
    """tool_versions in rules_python's shape ({version: {"url", "sha256": {platform: digest}, ...}})."""
    if minor_mapping is not None and not (isinstance(minor_mapping, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in minor_mapping.items())):
        raise KilnError(f"{what}: minor_mapping must be a dict of \"X.Y\" to \"X.Y.Z\" strings")
    if tool_versions is None:
        return
    if not isinstance(tool_versions, dict):
        raise KilnError(f"{what}: tool_versions must be a dict of versions to their archives")
    for version, entry in tool_versions.items():
        if not (isinstance(entry, dict) and isinstance(entry.get("sha256"), dict) and entry.get("url")):
            raise KilnError(f"{what}: tool_versions[\"{version}\"] must give \"url\" and \"sha256\" "
                            "(a dict of platforms to digests), as rules_python's versions.bzl does")


PYTHON_REPOSITORIES_BZL = WorkspaceBzl(
    "rules_python", "python/repositories.bzl",
    # rules_python's own dependencies: kiln has them built in.
    setup_functions=("py_repositories",),
    macros={"python_register_toolchains": python_register_toolchains,
            "python_register_multi_toolchains": python_register_multi_toolchains},
)
