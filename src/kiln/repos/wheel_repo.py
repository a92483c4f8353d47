"""One wheel unpacked into a repository laid out as rules_python's whl_library lays it out.

    <wheel file>                  the wheel itself (the `whl` filegroup)
    site-packages/                its purelib and platlib files and its .dist-info
    bin/, data/, include/         its .data/scripts, data and headers
    BUILD.bazel                   py_library `pkg` (imports = ["site-packages"]), filegroups `whl`,
                                  `data` and `dist_info`
    .kiln-wheel                   the sha256 of the wheel the directory was unpacked from

The `installer` library unpacks; no bytecode is compiled (precompiling is the
rules' business). Console-script launchers are written with a /dev/null
interpreter, as rules_python's whl_library writes them, so that none runs by
mistake: py_console_script_binary makes its own entry point from the
dist-info's entry_points.txt, which console_scripts() reads.

A wheel is unpacked once: into a staging directory beside the repository,
renamed into place, then `.kiln-wheel` written last, so a directory without it
(an unpack killed half-way) is unpacked again. BUILD.bazel depends on the hub
and the target (the Requires-Dist whose markers hold there) and is rewritten,
when it changes, without unpacking again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Collection, Mapping, Sequence

from kiln.core.errors import KilnError
from kiln.repos.pip_lock import normalize_name
from kiln.repos.pip_target import TargetRuntime
from kiln.repos.repo_files import write_if_changed

if TYPE_CHECKING:  # imported lazily: off kiln's no-op path
    from installer.sources import WheelFile
    from packaging.requirements import Requirement

_MARKER = ".kiln-wheel"
_SCHEMES = {"purelib": "site-packages", "platlib": "site-packages", "headers": "include", "scripts": "bin",
            "data": "data"}
# Files Bazel cannot carry as labels (a space) and files a Python program never reads as data.
_DATA_EXCLUDE = ["**/*.py", "**/*.pyc", "**/*.pyc.*", "**/* *", "**/*.dist-info/RECORD"]


class WheelError(KilnError):
    """A wheel that cannot be unpacked, or whose dependencies the lock does not pin."""


@dataclass(frozen=True)
class ConsoleScript:
    name: str
    module: str
    attr: str


@dataclass(frozen=True)
class WheelRepo:
    directory: Path
    name: str  # normalised (PEP 503)
    version: str
    deps: tuple[str, ...]  # normalised names of the Requires-Dist that hold for the target, sorted


def hub_package(name: str) -> str:
    """The hub's package for a project, as rules_python names it: `@pip//foo_bar` for Foo-Bar / foo.bar."""
    return normalize_name(name).replace("-", "_")


def unpack_wheel(wheel: Path, directory: Path, *, hub: str, target: TargetRuntime, extras: Sequence[str] = (),
                 pinned: Collection[str], grouped: Collection[str] = (),
                 annotation: Mapping[str, Any] | None = None) -> WheelRepo:
    """Unpacks `wheel` into `directory` (once) and writes its BUILD.bazel for `hub` and `target`.

    `extras` are the ones the lock asks of this package; `pinned` the normalised names the hub pins for
    this target: a dependency outside it is an error, as pip --require-hashes fails on an unpinned one.
    `grouped` are the other members of the package's requirement cycle (experimental_requirement_cycles):
    the hub's group library depends on them all, so this library does not. `annotation` is rules_python's
    whl modification (additive_build_content, copy_files, copy_executables, data, data_exclude_glob,
    srcs_exclude_glob)."""
    from zipfile import BadZipFile

    from installer.exceptions import InstallerError
    from installer.sources import WheelFile

    digest = _sha256(wheel)
    try:
        with WheelFile.open(wheel) as source:
            name, version = normalize_name(source.distribution), source.version
            requires = requires_dist(source.read_dist_info("METADATA"), wheel.name)
            if _unpacked_digest(directory) != digest:
                _install(source, wheel, directory, digest)
    except (BadZipFile, InstallerError, ValueError, KeyError) as e:
        raise WheelError(f"{wheel.name} is not a valid wheel: {e}") from None
    deps = deps_for(requires, name, extras, target)
    missing = [d for d in deps if d not in pinned]
    if missing:
        raise WheelError(f"{name}=={version} requires {', '.join(missing)} on {target.describe()}, which the lock "
                         f"does not pin for it: add {'them' if len(missing) > 1 else 'it'} to the lock (compiling "
                         "the lock for this platform writes every dependency)")
    linked = [d for d in deps if d not in grouped]
    annotation = annotation or {}
    _copy_files(directory, annotation)
    write_if_changed(directory / "BUILD.bazel",
                      _build_file(wheel.name, digest, name, version, linked, hub, annotation))
    return WheelRepo(directory, name, version, tuple(deps))


def _copy_files(directory: Path, annotation: Mapping[str, Any]) -> None:
    """copy_files / copy_executables: {source: destination} inside the repository."""
    for key, executable in (("copy_files", False), ("copy_executables", True)):
        for source, destination in (annotation.get(key) or {}).items():
            target = directory / destination
            if not (directory / source).is_file():
                raise WheelError(f"whl_modifications {key}: '{source}' is not a file of the unpacked wheel")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(directory / source, target)
            if executable:
                target.chmod(0o755)


def console_scripts(directory: Path) -> tuple[ConsoleScript, ...]:
    """The console_scripts entry points of the wheel unpacked in `directory`."""
    from installer.utils import parse_entrypoints

    found: list[ConsoleScript] = []
    for path in sorted((directory / "site-packages").glob("*.dist-info/entry_points.txt")):
        for name, module, attr, section in parse_entrypoints(path.read_text(encoding="utf-8")):
            if section == "console":
                found.append(ConsoleScript(name, module, attr))
    return tuple(found)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _unpacked_digest(directory: Path) -> str:
    try:
        return (directory / _MARKER).read_text().strip()
    except OSError:
        return ""


def _install(source: WheelFile, wheel: Path, directory: Path, digest: str) -> None:
    from installer import install
    from installer.destinations import SchemeDictionaryDestination

    staging = directory.with_name(f".{directory.name}.unpacking")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    destination = SchemeDictionaryDestination({k: str(staging / v) for k, v in _SCHEMES.items()},
                                              interpreter="/dev/null", script_kind="posix")
    install(source, destination, additional_metadata={})
    (staging / "site-packages").mkdir(exist_ok=True)
    shutil.copyfile(wheel, staging / wheel.name)
    if directory.exists():
        shutil.rmtree(directory)
    os.replace(staging, directory)
    (directory / _MARKER).write_text(digest)


def requires_dist(metadata: str, wheel_name: str) -> list[Requirement]:
    from email.parser import HeaderParser

    from packaging.requirements import InvalidRequirement, Requirement

    out = []
    for text in HeaderParser().parsestr(metadata).get_all("Requires-Dist") or ():
        try:
            out.append(Requirement(text))
        except InvalidRequirement as e:
            raise WheelError(f"{wheel_name}: invalid Requires-Dist '{text}' in its METADATA: {e}") from None
    return out


def deps_for(requires: list[Requirement], own: str, extras: Sequence[str], target: TargetRuntime) -> list[str]:
    environment = target.marker_environment()
    wanted = ["", *(normalize_name(e) for e in extras)]
    deps: set[str] = set()
    for req in requires:
        dep = normalize_name(req.name)
        if dep == own:  # an extra asking for other extras of the same package
            continue
        if req.marker is None or any(req.marker.evaluate({**environment, "extra": e}) for e in wanted):
            deps.add(dep)
    return sorted(deps)


def _build_file(wheel_name: str, digest: str, name: str, version: str, deps: list[str], hub: str,
                annotation: Mapping[str, Any]) -> str:
    labels = [f"@{hub}//{hub_package(d)}" for d in deps]
    srcs_exclude = ["**/* *", *annotation.get("srcs_exclude_glob", [])]
    data_exclude = [*_DATA_EXCLUDE, *annotation.get("data_exclude_glob", [])]
    extra_data = list(annotation.get("data", []))
    whl_labels = [f"@{hub}//{hub_package(d)}:whl" for d in deps]
    return f"""\
# Written by kiln from {wheel_name} (sha256 {digest}) for @{hub}. Do not edit.
load("@rules_python//python:defs.bzl", "py_library")

package(default_visibility = ["//visibility:public"])

filegroup(
    name = "dist_info",
    srcs = glob(["site-packages/*.dist-info/**"], allow_empty = True),
)

filegroup(
    name = "data",
    srcs = glob(["data/**"], allow_empty = True),
)

filegroup(
    name = "whl",
    srcs = [{json.dumps(wheel_name)}],
    data = {json.dumps(whl_labels)},
)

py_library(
    name = "pkg",
    srcs = glob(["site-packages/**/*.py"], exclude = {json.dumps(srcs_exclude)}, allow_empty = True),
    data = glob(["site-packages/**/*"], exclude = {json.dumps(data_exclude)}, allow_empty = True) + {json.dumps(extra_data)},
    imports = ["site-packages"],
    deps = {json.dumps(labels)},
    tags = [{json.dumps(f"pypi_name={name}")}, {json.dumps(f"pypi_version={version}")}],
)
""" + (f"\n{annotation['additive_build_content']}\n" if annotation.get("additive_build_content") else "")
