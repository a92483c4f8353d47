"""rules_python's bzlmod `python` extension: its tags, and the repositories and toolchains every module's
usages of it make (run by kiln.loading.module_extensions once all modules are read).

As rules_python's python.bzl: each module's `toolchain` tags ask for Python versions; the first module in
the graph to ask for a version registers it (the root module's first, then the others in BFS order, then
rules_python's own module, which asks for its soft default 3.11); the default version comes from the root
module (`defaults` — python_version, python_version_file, or the variable python_version_env names when it
is set —, its only toolchain, or its one `is_default`), else rules_python's 3.11. The tags that configure the
versions (`defaults`, `override`, `single_version_override`, `single_version_platform_override`) are the root
module's only: a library's are ignored, with a warning naming it. Each version is declared as
python_register_toolchains declares it (`python_X_Y`, `python_X_Y_host`, one runtime per platform,
`python_X_Y_toolchains`); the default version's toolchains are registered last and match any version flag, the
others only theirs, those the minor mapping points at first. A single_version_platform_override may name a
platform of its own (os_name, arch, target_compatible_with, target_settings), whose toolchains come before
kiln's platforms'. `pythons_hub` holds versions.bzl and `python_versions` a `//X.Y:defs.bzl` per version.

Not yet: patches (single_version_override, single_version_platform_override), distutils, and a coverage tool
(kiln has no `coverage` command: configure_coverage_tool is accepted and said to change nothing).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from kiln.core.errors import KilnError, LoadingError, Location
from kiln.loading.extension_schema import (BOOL, INT, LABEL, LABEL_LIST, STRING, STRING_DICT, STRING_LIST,
                                           DeclaredRepo, MacroResult, ModuleExtension, ModuleUsages, TagClass)
from kiln.repos.python_register import HUB_KIND, MULTI_ALIASES_KIND, declare_toolchain
from kiln.repos.python_versions import resolve_version, version_key

# rules_python's own MODULE.bazel: python.defaults(python_version = "3.11"), python.toolchain("3.11").
RULES_PYTHON = "rules_python"
RULES_PYTHON_DEFAULT = "3.11"
_ROOT_ONLY = ("defaults", "override", "single_version_override", "single_version_platform_override")


@dataclass(frozen=True)
class _Request:
    """One toolchain tag: a module asking for a Python version (or override(register_all_versions) asking for
    every version, `implicit`)."""

    version: str
    module: str
    root: bool
    location: Location | None
    implicit: bool = False

    @property
    def name(self) -> str:
        return "python_" + self.version.replace(".", "_")


@dataclass(frozen=True)
class _Config:
    tool_versions: dict[str, Any]
    minor_mapping: dict[str, str]
    base_urls: list[str] | None
    custom_platforms: dict[str, dict]
    register_all: bool


def declare_pythons(modules: list[ModuleUsages]) -> MacroResult:
    root = modules[0] if modules[0].root else None
    warnings = [_ignored(m, name, tag) for m in modules if not m.root for name in _ROOT_ONLY
                for tag in _tags(m, name)]
    config = _config(root)
    files: list[str] = []
    env: list[str] = []
    default_version, default_at = _default_version(root, files, env)
    # Which toolchain is the default follows from the default version alone, as in rules_python.
    requests = []
    for m in modules:
        requests += [_Request(t.attrs["python_version"], m.module, m.root, t.location) for t in _tags(m, "toolchain")]
        if m.root and config.register_all:
            asked = {r.version for r in requests}
            requests += [_Request(v, m.module, True, None, implicit=True)
                         for v in [*config.tool_versions, *config.minor_mapping] if v not in asked]
    coverage = [t for m in modules for t in _tags(m, "toolchain") if t.attrs.get("configure_coverage_tool")]
    if coverage:
        warnings.append(f"{coverage[0].location}: python.toolchain(configure_coverage_tool = True) changes nothing "
                        "in kiln: kiln has no `coverage` command yet")
    requests.append(_Request(RULES_PYTHON_DEFAULT, RULES_PYTHON, False, None))
    ordered, default = _choose(requests, default_version, default_at, warnings)
    # The versions the minor mapping points at first, so that python_version = "3.X" finds its toolchain before
    # another 3.X.Z's (rules_python's order).
    mapped = set(config.minor_mapping.values())
    ordered = ([r for r in ordered if config.minor_mapping.get(r.version, r.version) in mapped]
               + [r for r in ordered if config.minor_mapping.get(r.version, r.version) not in mapped])
    repos: list[DeclaredRepo] = []
    toolchains: list[str] = []
    made: list[_Request] = []
    for request in ordered + [default]:
        last = request is default
        where = request.location or default_at or modules[0].usages[0].location
        what = f"python.toolchain(python_version = \"{request.version}\")"
        try:
            resolve_version(request.version, tool_versions=config.tool_versions, minor_mapping=config.minor_mapping)
        except KilnError as e:
            if last:
                raise LoadingError(f"{what}: the default version: {e.message}", location=where) from None
            # rules_python skips a version its table lacks, saying so.
            warnings.append(f"{where}: The actual toolchain for python_version '{request.version}' has not been "
                            f"registered, but was requested by module '{request.module}': {e.message}")
            continue
        try:
            one = declare_toolchain(what, name=request.name, python_version=request.version,
                                    register_toolchains=True, set_python_version_constraint=not last,
                                    tool_versions=config.tool_versions, minor_mapping=config.minor_mapping,
                                    base_urls=config.base_urls, custom_platforms=config.custom_platforms)
        except KilnError as e:
            raise LoadingError(e.message, location=where) from None
        repos += one.repos
        toolchains += one.toolchains
        made.append(request)
    repos.append(DeclaredRepo(HUB_KIND, "pythons_hub", {
        "default_python_version": default.version, "minor_mapping": config.minor_mapping,
        "python_versions": list(config.tool_versions)}))
    repos.append(DeclaredRepo(MULTI_ALIASES_KIND, "python_versions",
                              {"python_versions": {r.version: r.name for r in made}}))
    return MacroResult(tuple(repos), tuple(toolchains), tuple(warnings), tuple(files), tuple(env))


def _tags(module: ModuleUsages, name: str) -> list[Any]:
    return [t for u in module.usages for t in u.tags if t.name == name]


def _ignored(module: ModuleUsages, name: str, tag: Any) -> str:
    return (f"{tag.location}: python.{name}() of module '{module.module}' is ignored: only the root module's "
            f"python.{name}() takes effect, as in rules_python")


def _choose(requests: list[_Request], default_version: str, default_at: Location | None,
            warnings: list[str]) -> tuple[list[_Request], _Request]:
    """The versions to register, in order, and the default one (rules_python's parse_modules)."""
    registered: dict[str, _Request] = {}
    ordered: list[_Request] = []
    default: _Request | None = None
    seen: dict[str, set[str]] = {}
    for r in requests:
        mine = seen.setdefault(r.module, set())
        if r.version in mine:
            raise LoadingError(f"Duplicate module toolchain version: module '{r.module}' attempted to use version "
                               f"'{r.version}' multiple times in itself", location=r.location)
        mine.add(r.version)
        if r.root or (r.module == RULES_PYTHON and default is None):
            is_default = r.version == default_version
        else:
            is_default = False
        if is_default and default is not None:
            raise LoadingError(f"Multiple default toolchains: only one toolchain can be chosen as a default. "
                               f"First default was toolchain '{default.name}'. Second was '{r.name}'",
                               location=r.location)
        first = registered.get(r.version)
        if first is not None:
            if not first.implicit and (r.module != RULES_PYTHON or not first.root):
                warnings.append(f"Ignoring toolchain '{r.name}' from module '{r.module}': Toolchain '{first.name}' "
                                f"from module '{first.module}' already registered Python version {r.version} "
                                "and has precedence.")
            if is_default:
                default = first
                ordered.remove(first)
            continue
        registered[r.version] = r
        if is_default:
            default = r
        else:
            ordered.append(r)
    if default is None:
        raise LoadingError(f"No default Python toolchain configured: the root module's default version "
                           f"'{default_version}' is not one it asks for with python.toolchain()", location=default_at)
    return ordered, default


def _default_version(root: ModuleUsages | None, files: list[str], env: list[str]) -> tuple[str, Location | None]:
    """The root module's default version and where it says so, else rules_python's; `files` gets the
    python_version_file read, `env` the python_version_env looked at."""
    if root is None:
        return RULES_PYTHON_DEFAULT, None
    chosen: tuple[str, Location] | None = None
    variable: tuple[str, Location] | None = None
    for tag in _tags(root, "defaults"):
        name = tag.attrs.get("python_version_env")
        if name:
            if variable is not None and variable[0] != name:
                raise LoadingError(f"Multiple python_version_env entries in defaults: First default was "
                                   f"python_version_env '{variable[0]}'. Second was python_version_env '{name}'",
                                   location=tag.location)
            variable = (name, tag.location)
        version = tag.attrs.get("python_version")
        if version:
            if chosen is not None and chosen[0] != version:
                raise LoadingError(f"Multiple python_version entries in defaults: First default was python_version "
                                   f"'{chosen[0]}'. Second was python_version '{version}'", location=tag.location)
            chosen = (version, tag.location)
    for tag in _tags(root, "defaults"):
        label = tag.attrs.get("python_version_file")
        if label:
            version = _version_file(root, tag, label, files)
            if chosen is not None and chosen[0] != version:
                raise LoadingError(f"Unique value needed, got both '{chosen[0]}' and '{version}', which are "
                                   f"different (python_version and the python_version_file {label})",
                                   location=tag.location)
            chosen = (version, tag.location)
    if variable is not None:
        # The variable, when set, has the last word (rules_python's getenv with the default as fallback).
        env.append(variable[0])
        value = os.environ.get(variable[0], "").strip()
        if value:
            return value, variable[1]
    if chosen is not None:
        return chosen
    toolchains = _tags(root, "toolchain")
    if len(toolchains) == 1:
        return toolchains[0].attrs["python_version"], toolchains[0].location
    marked = [t for t in toolchains if t.attrs.get("is_default")]
    if len(marked) > 1:
        raise LoadingError(
            f"Multiple default toolchains: only one toolchain can have is_default=True.\nModule "
            f"'{root.module}' contains {len(marked)} toolchains with is_default=True: "
            f"{', '.join(sorted(t.attrs['python_version'] for t in marked))}", location=marked[1].location)
    if marked:
        return marked[0].attrs["python_version"], marked[0].location
    return RULES_PYTHON_DEFAULT, None


def _version_file(root: ModuleUsages, tag: Any, label: str, files: list[str]) -> str:
    """The version a python_version_file of the root module holds (`.python-version`)."""
    from kiln.repos.extension_files import read_module_file

    what = f"python.defaults(python_version_file = \"{label}\")"
    version = read_module_file(root, label, what, tag.location, files).strip()
    if not version:
        raise LoadingError(f"{what}: the file {label.rsplit(':', 1)[-1]} is empty", location=tag.location)
    return version


def _config(root: ModuleUsages | None) -> _Config:
    """kiln's table with the root module's overrides applied in rules_python's order: single_version_override,
    then single_version_platform_override, then override."""
    from kiln.repos.python_tool_versions import TOOL_VERSIONS

    tool_versions = dict(TOOL_VERSIONS)
    custom: dict[str, dict] = {}
    base_urls = None
    register_all = False
    given_mapping: dict[str, str] = {}
    if root is not None:
        _only_once(root, "single_version_override", "python_version")
        _only_once(root, "single_version_platform_override", "python_version", "platform")
        _only_once(root, "override")
        for tag in _tags(root, "single_version_override"):
            tool_versions[tag.attrs["python_version"]] = _single_version(tag, tool_versions)
        for tag in _tags(root, "single_version_platform_override"):
            _platform_override(tag, tool_versions, custom)
        for tag in _tags(root, "override"):
            available = tag.attrs.get("available_python_versions")
            if available:
                unknown = [v for v in available if v not in tool_versions]
                if unknown:
                    raise LoadingError(f"unknown version '{unknown[0]}', known versions are: "
                                       f"{', '.join(sorted(tool_versions, key=version_key))}", location=tag.location)
                tool_versions = {v: tool_versions[v] for v in available}
            for minor in tag.attrs.get("minor_mapping") or {}:
                if not re.fullmatch(r"\d+\.\d+", minor):
                    raise LoadingError(f"Expected the key to be of `X.Y` format but got `{minor}`",
                                       location=tag.location)
            given_mapping.update(tag.attrs.get("minor_mapping") or {})
            if tag.attrs.get("base_url"):
                base_urls = [tag.attrs["base_url"]]
            register_all = register_all or bool(tag.attrs.get("register_all_versions"))
    # As rules_python: each X.Y maps to the newest X.Y.Z available; override(minor_mapping) has the last word.
    minor_mapping: dict[str, str] = {}
    for version in sorted(tool_versions, key=version_key):
        minor_mapping[".".join(version.split(".")[:2])] = version
    minor_mapping.update(given_mapping)
    return _Config(tool_versions, minor_mapping, base_urls, custom, register_all)


def _only_once(root: ModuleUsages, name: str, *keys: str) -> None:
    seen: set[tuple] = set()
    for tag in _tags(root, name):
        key = tuple(tag.attrs.get(k) for k in keys)
        if key in seen:
            shown = f" for '{', '.join(str(k) for k in key)}'" if keys else ""
            raise LoadingError(f"Only a single 'python.{name}' can be present{shown}", location=tag.location)
        seen.add(key)


def _full_version(tag: Any) -> str:
    version = tag.attrs["python_version"]
    if not re.fullmatch(r"\d+\.\d+\.\d+\S*", version):
        raise LoadingError("The 'python_version' attribute needs to specify the full version in at least 'X.Y.Z' "
                           f"format, got: '{version}'", location=tag.location)
    return version


def _single_version(tag: Any, tool_versions: dict[str, Any]) -> dict[str, Any]:
    """The table entry a single_version_override makes: its archives for every platform it names."""
    from kiln.repos.python_tool_versions import FREETHREADED, PLATFORMS

    attrs = tag.attrs
    version = _full_version(tag)
    for unsupported in ("patches", "distutils", "distutils_content"):
        if attrs.get(unsupported):
            raise LoadingError(f"python.single_version_override(): kiln does not support '{unsupported}' yet",
                               location=tag.location)
    sha256, urls = attrs.get("sha256") or {}, attrs.get("urls") or []
    if bool(sha256) != bool(urls):
        raise LoadingError("Both `sha256` and `urls` overrides need to be provided together", location=tag.location)
    for platform in sha256:
        if platform.removesuffix(FREETHREADED) not in PLATFORMS:
            raise LoadingError(f"The platform must be one of {', '.join(sorted(PLATFORMS))} (or one of them with "
                               f"'{FREETHREADED}') but got '{platform}'", location=tag.location)
    known = tool_versions.get(version)
    if known is None and not sha256:
        raise LoadingError(f"python.single_version_override(python_version = \"{version}\"): Python {version} is "
                           "not in kiln's table: give its sha256 and urls", location=tag.location)
    sha256 = dict(sha256) or dict(known["sha256"])
    return {"sha256": sha256, "strip_prefix": {p: attrs.get("strip_prefix", "python") for p in sha256},
            "url": {p: list(urls) for p in sha256} if urls else known["url"]}


def _platform_override(tag: Any, tool_versions: dict[str, Any], custom: dict[str, dict]) -> None:
    """A single_version_platform_override: one platform's archive of one version, and — when it names a
    platform kiln lacks or sets os_name, arch, target_compatible_with or target_settings — that platform,
    put first so that its toolchain is considered before kiln's own for the same machine."""
    from kiln.repos.python_tool_versions import FREETHREADED, PLATFORMS

    attrs = tag.attrs
    version = _full_version(tag)
    platform = attrs["platform"]
    for unsupported in ("patches", "coverage_tool"):
        if attrs.get(unsupported):
            raise LoadingError(f"python.single_version_platform_override(): kiln does not support '{unsupported}' "
                               "yet", location=tag.location)
    if version not in tool_versions:
        if not (attrs.get("urls") and attrs.get("sha256") and attrs.get("strip_prefix")):
            raise LoadingError(f"When introducing a new python_version '{version}', 'sha256', 'strip_prefix' and "
                               "'urls' must be specified", location=tag.location)
        entry: dict[str, Any] = {"sha256": {}, "url": {}, "strip_prefix": {}}
    else:
        entry = _per_platform(tool_versions[version])
    if attrs.get("sha256"):
        entry["sha256"][platform] = attrs["sha256"]
    if attrs.get("urls"):
        entry["url"][platform] = list(attrs["urls"])
    if attrs.get("strip_prefix"):
        entry["strip_prefix"][platform] = attrs["strip_prefix"]
    if platform not in entry["sha256"] or platform not in entry["url"]:
        raise LoadingError(f"python.single_version_platform_override(python_version = \"{version}\", platform = "
                           f"\"{platform}\"): Python {version} has no archive for '{platform}' to start from: give "
                           "its `urls` and `sha256`", location=tag.location)
    tool_versions[version] = entry
    known = platform.removesuffix(FREETHREADED) in PLATFORMS
    settings = [attrs.get(k) for k in ("target_compatible_with", "target_settings", "os_name", "arch")]
    if known and not any(settings):
        return
    os_name, arch = attrs.get("os_name") or "", attrs.get("arch") or ""
    compatible_with = list(attrs.get("target_compatible_with") or [])
    if not compatible_with:
        compatible_with = ([f"@platforms//os:{os_name}"] if os_name else []) + (
            [f"@platforms//cpu:{arch}"] if arch else [])
    for label in list(attrs.get("target_settings") or []) + compatible_with:
        if not label.startswith("@"):
            raise LoadingError(f"python.single_version_platform_override(): the label '{label}' must be absolute "
                               "(`@@//pkg:name` for the main repository)", location=tag.location)
    custom.pop(platform, None)
    custom[platform] = {"compatible_with": compatible_with, "target_settings": list(attrs.get("target_settings") or []),
                        "os_name": os_name, "arch": arch}


def _per_platform(entry: dict[str, Any]) -> dict[str, Any]:
    """A table entry with its url and strip_prefix given per platform, as overrides write them."""
    def spread(value: Any, default: Any) -> dict:
        return dict(value) if isinstance(value, dict) else {p: value if value is not None else default
                                                             for p in entry["sha256"]}
    return {"sha256": dict(entry["sha256"]), "url": spread(entry.get("url"), None),
            "strip_prefix": spread(entry.get("strip_prefix"), "python")}


PYTHON_EXTENSION = ModuleExtension(
    repo="rules_python",
    paths=("python/extensions/python.bzl",),
    name="python",
    tags={
        "toolchain": TagClass({"python_version": STRING, "is_default": BOOL, "configure_coverage_tool": BOOL,
                               "ignore_root_user_error": BOOL}, mandatory=("python_version",)),
        "defaults": TagClass({"python_version": STRING, "python_version_env": STRING, "python_version_file": LABEL}),
        "override": TagClass({"available_python_versions": STRING_LIST, "base_url": STRING,
                              "minor_mapping": STRING_DICT, "register_all_versions": BOOL,
                              "ignore_root_user_error": BOOL, "netrc": STRING, "auth_patterns": STRING_DICT}),
        "single_version_override": TagClass(
            {"python_version": STRING, "sha256": STRING_DICT, "urls": STRING_LIST, "strip_prefix": STRING,
             "patches": LABEL_LIST, "patch_strip": INT, "distutils": LABEL, "distutils_content": STRING},
            mandatory=("python_version",)),
        "single_version_platform_override": TagClass(
            {"python_version": STRING, "platform": STRING, "sha256": STRING, "urls": STRING_LIST,
             "strip_prefix": STRING, "patches": LABEL_LIST, "patch_strip": INT, "coverage_tool": LABEL,
             "os_name": STRING, "arch": STRING, "target_compatible_with": STRING_LIST,
             "target_settings": STRING_LIST},
            mandatory=("python_version", "platform")),
    },
    declare=declare_pythons,
)
