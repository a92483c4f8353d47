"""rules_python's bzlmod `pip` extension (@rules_python//python/extensions:pip.bzl): `parse`, `whl_mods` and
`override` tags (patches applied to a wheel once unpacked), and the repositories they declare (run by
kiln.loading.module_extensions once all modules are read).

Each `pip.parse(hub_name, python_version, requirements_lock, ...)` reads its hashed lock (the one for this
machine among requirements_by_platform / requirements_linux / requirements_lock) and declares, per package
it pins, a wheel repository `{hub}_{py}_{package}` (py: the version's digits, "311"); several parses with
one hub_name but different python versions make one hub serving them all. The hub `{hub}` (aliases per
package choosing by the target's Python version, requirements.bzl) is written by kiln.repos.pip_repos when a
build first needs it, and so is each wheel repository: nothing is downloaded while loading reads the
modules. The locks (and any whl_mods file) are watched: editing one reads the modules again.
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from kiln.core.errors import LoadingError, Location
from kiln.loading.extension_schema import (ANY, BOOL, INT, LABEL, LABEL_LIST, STRING, STRING_DICT, STRING_LIST,
                                           DeclaredRepo, MacroResult, ModuleExtension, ModuleUsages, TagClass)

HUB_KIND = "pip_hub_repository"
WHL_KIND = "whl_library"
MODS_KIND = "whl_mods_hub"
PIP_REPO_KINDS = (HUB_KIND, WHL_KIND, MODS_KIND)


@dataclass
class _Hub:
    name: str
    module: str
    location: Location | None
    # python version as given ("" for the default one) -> (wheel repository prefix, lock path)
    versions: dict[str, tuple[str, str]] = field(default_factory=dict)
    packages: set[str] = field(default_factory=set)
    groups: dict[str, list[str]] = field(default_factory=dict)


def declare_pip(modules: list[ModuleUsages]) -> MacroResult:
    from kiln.repos.extension_files import module_file, read_module_file
    from kiln.repos.pip_lock import parse_lock

    files: list[str] = []
    env: list[str] = []
    hubs: dict[str, _Hub] = {}
    repos: list[DeclaredRepo] = []
    mods = _whl_mods(modules, files)
    patches = _overrides(modules, files)
    for module in modules:
        for tag in _tags(module, "parse"):
            attrs = tag.attrs
            hub_name = attrs["hub_name"]
            hub = hubs.setdefault(hub_name, _Hub(hub_name, module.module, tag.location))
            if hub.module != module.module:
                raise LoadingError(f"pip.parse(hub_name = \"{hub_name}\"): the hub is already made by module "
                                   f"'{hub.module}' at {hub.location}; a hub belongs to one module",
                                   location=tag.location)
            version = attrs.get("python_version") or ""
            if version in hub.versions:
                shown = f"python_version = \"{version}\"" if version else "the default python_version"
                raise LoadingError(f"pip.parse(hub_name = \"{hub_name}\"): a second parse for {shown}; each Python "
                                   "version of a hub has one lock", location=tag.location)
            label = lock_for_this_machine(attrs, tag.location, f"pip.parse(hub_name = \"{hub_name}\")")
            what = f"pip.parse(hub_name = \"{hub_name}\", requirements_lock = \"{label}\")"
            lock_path = module_file(module, label, what, tag.location)
            lock = parse_lock(read_module_file(module, label, what, tag.location, files),
                              os.path.relpath(lock_path, modules[0].directory))
            prefix = f"{hub_name}_{version.replace('.', '')}" if version else hub_name
            hub.versions[version] = (prefix, lock.path)
            index_url, extra_index_urls = indexes(attrs, env)
            cycles = _cycles(attrs.get("experimental_requirement_cycles"))
            for group, members in cycles.items():
                hub.groups.setdefault(group, members)
            hub.packages.update(pin.name for pin in lock.pins)
            repos += wheel_repos(hub_name, prefix, version, lock, str(lock_path), index_url, extra_index_urls, cycles,
                                 lambda package, attrs=attrs: _mods_for(attrs, mods, package), patches=patches)
    # rules_python's whl_mods hub: one JSON file per modified package, which use_repo may import.
    repos += [DeclaredRepo(MODS_KIND, name, {"mods": packages}) for name, packages in mods.items()]
    for hub in hubs.values():
        repos.append(hub_repo(hub.name, {v: p for v, (p, _) in hub.versions.items()},
                              {v: lock for v, (_, lock) in hub.versions.items()}, hub.packages, hub.groups))
    return MacroResult(tuple(repos), (), (), tuple(files), tuple(env))


def hub_repo(name: str, versions: dict[str, str], locks: dict[str, str], packages: set[str],
             groups: dict[str, list[str]]) -> DeclaredRepo:
    return DeclaredRepo(HUB_KIND, name, {"versions": versions, "locks": locks, "packages": sorted(packages),
                                         "groups": groups})


def wheel_repos(hub: str, prefix: str, version: str, lock: Any, lock_path: str, index_url: str,
                extra_index_urls: tuple[str, ...], cycles: dict[str, list[str]],
                annotation: Callable[[str], dict[str, Any]], interpreter: str = "",
                patches: dict[str, dict[str, Any]] | None = None) -> list[DeclaredRepo]:
    """One wheel repository per package `lock` (read from `lock_path`) pins, whatever its markers (the
    repository decides for its target), named `{prefix}_{package}`."""
    from kiln.repos.pip_lock import normalize_name
    from kiln.repos.wheel_repo import hub_package

    group_of = {m: g for g, members in cycles.items() for m in members}
    # A wheel file's name starts with its distribution's name: each package gets only its own patches.
    patched = {name: {f: o for f, o in (patches or {}).items() if normalize_name(f.split("-", 1)[0]) == name}
               for name in {pin.name for pin in lock.pins}}
    return [DeclaredRepo(WHL_KIND, f"{prefix}_{hub_package(name)}", {
        "hub": hub, "package": name, "python_version": version, "lock": lock_path, "lock_display": lock.path,
        "index_url": index_url, "extra_index_urls": list(extra_index_urls),
        "group_members": cycles.get(group_of.get(name, ""), []), "annotation": annotation(name),
        "python_interpreter": interpreter, "patches": patched[name]})
        for name in sorted(patched)]


def _overrides(modules: list[ModuleUsages], files: list[str]) -> dict[str, dict[str, Any]]:
    """pip.override(file, patches, patch_strip): wheel file name -> its patches (paths and digests, so that an
    edited patch unpacks the wheel again) and strip count, applied after it is unpacked."""
    import hashlib

    from kiln.repos.extension_files import module_file

    out: dict[str, dict[str, Any]] = {}
    for module in modules:
        for tag in _tags(module, "override"):
            what = f"pip.override(file = \"{tag.attrs['file']}\")"
            if tag.attrs["file"] in out:
                raise LoadingError(f"{what}: the wheel already has a pip.override", location=tag.location)
            paths = []
            for label in tag.attrs["patches"]:
                path = module_file(module, label, what, tag.location)
                try:
                    digest = hashlib.sha256(path.read_bytes()).hexdigest()
                except OSError as e:
                    raise LoadingError(f"{what}: the patch {label} cannot be read: {e.strerror}",
                                       location=tag.location) from None
                files.append(str(path))
                paths.append([str(path), digest])
            out[tag.attrs["file"]] = {"patches": paths, "strip": tag.attrs.get("patch_strip") or 0}
    return out


def _cycles(given: Any) -> dict[str, list[str]]:
    from kiln.repos.pip_lock import normalize_name

    return {group: sorted({normalize_name(m) for m in members}) for group, members in (given or {}).items()}


def _tags(module: ModuleUsages, name: str) -> list[Any]:
    return [t for u in module.usages for t in u.tags if t.name == name]


def host_platform_name() -> str:
    """This machine as rules_python's requirements_by_platform names platforms: `linux_x86_64`."""
    machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(os.uname().machine.lower(), os.uname().machine.lower())
    system = {"darwin": "osx"}.get(os.uname().sysname.lower(), os.uname().sysname.lower())
    return f"{system}_{machine}"


def lock_for_this_machine(attrs: dict[str, Any], location: Location | None, what: str) -> str:
    """The lock label for this machine: requirements_by_platform's matching entry, else the OS's own
    (requirements_linux), else requirements_lock."""
    host = host_platform_name()
    for label, platforms in (attrs.get("requirements_by_platform") or {}).items():
        for platform in (p.strip() for p in str(platforms).split(",")):
            # "cp311_linux_x86_64" names a Python version too: the parse's own is the one that counts here.
            bare = platform.split("_", 1)[1] if re.match(r"cp\d+_", platform) else platform
            if fnmatch.fnmatchcase(host, bare):
                return label
    system = host.split("_", 1)[0]
    own = attrs.get({"linux": "requirements_linux", "osx": "requirements_darwin",
                     "windows": "requirements_windows"}.get(system, ""))
    if own:
        return own
    if attrs.get("requirements_lock"):
        return attrs["requirements_lock"]
    raise LoadingError(f"{what}: no lock for this machine ({host}): give requirements_lock, "
                       f"requirements_{system}, or a requirements_by_platform entry matching {host}", location=location)


def indexes(attrs: dict[str, Any], env: list[str]) -> tuple[str, tuple[str, ...]]:
    """The index and extra indexes the parse names (experimental_index_url, or --index-url in
    extra_pip_args), with envsubst's variables substituted; "" leaves the choice to the lock and the machine."""
    names = list(attrs.get("envsubst") or [])
    env.extend(names)
    index = attrs.get("experimental_index_url") or ""
    extra = list(attrs.get("experimental_extra_index_urls") or [])
    args = list(attrs.get("extra_pip_args") or [])
    for i, arg in enumerate(args):
        option, eq, value = arg.partition("=")
        if option in ("--index-url", "-i", "--extra-index-url"):
            if not eq:
                value = args[i + 1] if i + 1 < len(args) else ""
            if option == "--extra-index-url":
                extra.append(value)
            elif not index:
                index = value
    return _subst(index, names), tuple(_subst(u, names) for u in extra)


def _subst(text: str, names: list[str]) -> str:
    """rules_python's envsubst: ${NAME}, ${NAME:-default} and $NAME of the variables named."""
    def one(match: re.Match) -> str:
        name = match.group(1) or match.group(3)
        if name not in names:
            return match.group(0)
        return os.environ.get(name) or (match.group(2) or "")
    return re.sub(r"\$\{(\w+)(?::-([^}]*))?\}|\$(\w+)", one, text)


def _whl_mods(modules: list[ModuleUsages], files: list[str]) -> dict[str, dict[str, dict[str, Any]]]:
    """whl_mods tags: hub_name -> package -> modification (rules_python's whl_modifications)."""
    from kiln.repos.extension_files import read_module_file
    from kiln.repos.pip_lock import normalize_name

    mods: dict[str, dict[str, dict[str, Any]]] = {}
    for module in modules:
        for tag in _tags(module, "whl_mods"):
            attrs = dict(tag.attrs)
            content = attrs.get("additive_build_content") or ""
            if attrs.get("additive_build_content_file"):
                if content:
                    raise LoadingError("pip.whl_mods(): only one of additive_build_content and "
                                       "additive_build_content_file can be given", location=tag.location)
                content = read_module_file(module, attrs["additive_build_content_file"], "pip.whl_mods()",
                                           tag.location, files)
            mods.setdefault(attrs["hub_name"], {})[normalize_name(attrs["whl_name"])] = {
                "additive_build_content": content, "copy_files": dict(attrs.get("copy_files") or {}),
                "copy_executables": dict(attrs.get("copy_executables") or {}), "data": list(attrs.get("data") or []),
                "data_exclude_glob": list(attrs.get("data_exclude_glob") or []),
                "srcs_exclude_glob": list(attrs.get("srcs_exclude_glob") or [])}
    return mods


def _mods_for(attrs: dict[str, Any], mods: dict[str, dict[str, dict[str, Any]]], package: str) -> dict[str, Any]:
    """The modification of `package` a parse names in whl_modifications ({"@<whl_mods hub>//:<pkg>.json":
    "<pkg>"}, as rules_python writes it)."""
    from kiln.repos.pip_lock import normalize_name

    for label, whl in (attrs.get("whl_modifications") or {}).items():
        if normalize_name(str(whl)) == package:
            return mods.get(str(label).lstrip("@").split("//")[0], {}).get(package, {})
    return {}


PIP_EXTENSION = ModuleExtension(
    repo="rules_python",
    paths=("python/extensions/pip.bzl",),
    name="pip",
    tags={
        "parse": TagClass({
            "hub_name": STRING, "python_version": STRING, "requirements_lock": LABEL,
            "requirements_by_platform": ANY, "requirements_linux": LABEL, "requirements_darwin": LABEL,
            "requirements_windows": LABEL, "extra_pip_args": STRING_LIST, "experimental_index_url": STRING,
            "experimental_extra_index_urls": STRING_LIST, "experimental_index_url_overrides": STRING_DICT,
            "experimental_requirement_cycles": ANY, "experimental_target_platforms": STRING_LIST,
            "envsubst": STRING_LIST, "whl_modifications": ANY, "download_only": BOOL, "quiet": BOOL,
            "timeout": INT, "isolated": BOOL, "enable_implicit_namespace_pkgs": BOOL, "environment": STRING_DICT,
            "extra_hub_aliases": ANY, "parse_all_requirements_files": BOOL, "pip_data_exclude": STRING_LIST,
            "python_interpreter": STRING, "python_interpreter_target": LABEL, "netrc": STRING,
            "auth_patterns": STRING_DICT, "add_libdir_to_library_search_path": BOOL, "simpleapi_skip": STRING_LIST,
        }, mandatory=("hub_name",)),
        "whl_mods": TagClass({
            "hub_name": STRING, "whl_name": STRING, "additive_build_content": STRING,
            "additive_build_content_file": LABEL, "copy_files": STRING_DICT, "copy_executables": STRING_DICT,
            "data": STRING_LIST, "data_exclude_glob": STRING_LIST, "srcs_exclude_glob": STRING_LIST,
        }, mandatory=("hub_name", "whl_name")),
        "override": TagClass({"file": STRING, "patches": LABEL_LIST, "patch_strip": INT},
                             mandatory=("file", "patches")),
    },
    declare=declare_pip,
)
