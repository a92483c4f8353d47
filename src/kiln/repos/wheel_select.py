"""Choosing the wheel of a pinned version for a target runtime, among the files the lock allows.

As pip chooses under --require-hashes: only files of the pinned version whose
sha256 the lock lists (a file whose sha256 the index does not give stays a
candidate and is checked when downloaded), whose Requires-Python admits the
target's version; of the wheels, the one whose best tag comes first in the
target's tag order (kiln.repos.pip_target), a higher build number breaking a
tie; a yanked file only when no other fits (PEP 592: an == pin may still take
it). When no wheel fits, the answer says why, and names the sdist if there is
one (the caller may build it into a wheel).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from kiln.repos.pip_index import IndexFile
from kiln.repos.pip_lock import Pin
from kiln.repos.pip_target import TargetRuntime

_SDIST_SUFFIXES = (".tar.gz", ".zip")


@dataclass(frozen=True)
class WheelChoice:
    file: IndexFile
    tag: str  # the target's tag the wheel matched, e.g. "cp311-abi3-manylinux_2_17_x86_64"


@dataclass(frozen=True)
class NoWheel:
    reason: str
    sdist: IndexFile | None  # the pinned version's source distribution the lock allows, if the index has one


def select_wheel(files: Sequence[IndexFile], pin: Pin, target: TargetRuntime) -> WheelChoice | NoWheel:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.utils import InvalidSdistFilename, InvalidWheelFilename, parse_sdist_filename, \
        parse_wheel_filename
    from packaging.version import Version

    pinned = Version(pin.version)
    python = ".".join(map(str, target.version))
    wheels: list[tuple[IndexFile, frozenset, tuple]] = []
    sdists: list[IndexFile] = []
    other_python: list[str] = []
    for f in files:
        if f.sha256 and f.sha256 not in pin.hashes:
            continue
        try:
            if f.filename.endswith(".whl"):
                name, version, build, tags = parse_wheel_filename(f.filename)
            elif f.filename.endswith(_SDIST_SUFFIXES):
                (name, version), build, tags = parse_sdist_filename(f.filename), (), frozenset()
            else:
                continue
        except (InvalidWheelFilename, InvalidSdistFilename):
            continue
        if name != pin.name or version != pinned:
            continue
        try:
            admitted = not f.requires_python or SpecifierSet(f.requires_python).contains(python, prereleases=True)
        except InvalidSpecifier:
            admitted = True  # as pip: an index's malformed Requires-Python does not exclude the file
        if not admitted:
            other_python.append(f"{f.filename} (Requires-Python {f.requires_python})")
        elif tags:
            wheels.append((f, tags, build))
        else:
            sdists.append(f)
    accepted = target.tags()
    order = {tag: rank for rank, tag in enumerate(accepted)}
    ranked = []
    for f, tags, build in wheels:
        best = min((order[t] for t in tags if t in order), default=None)
        if best is not None:
            ranked.append(((f.yanked is not None, best, -build[0] if build else 0), f))
    if ranked:
        (_, rank, _), chosen = min(ranked, key=lambda item: item[0])
        return WheelChoice(chosen, str(accepted[rank]))
    sdist = min(sdists, key=lambda f: f.yanked is not None, default=None)
    pinned_text = f"{pin.name}=={pin.version}"
    if not wheels and not other_python:
        what = (f"only a source distribution ({sdist.filename})" if sdist else
                "no file with a sha256 the lock allows")
        return NoWheel(f"{pinned_text}: the index has {what} for {target.describe()}" +
                       ("" if sdist else f" (the lock allows {', '.join(pin.hashes)})"), sdist)
    return NoWheel(_incompatible(pinned_text, target, [f.filename for f, _, _ in wheels], other_python, sdist),
                   sdist)


def _incompatible(pinned: str, target: TargetRuntime, wheels: list[str], other_python: list[str],
                  sdist: IndexFile | None) -> str:
    tags = target.tags()
    tried = {part: list(dict.fromkeys(getattr(t, part) for t in tags)) for part in ("interpreter", "abi", "platform")}
    lines = [f"{pinned}: no wheel for {target.describe()}."]
    if wheels:
        lines.append("The index's wheels of it (with a hash the lock allows): " + ", ".join(sorted(wheels)) + ".")
    if other_python:
        lines.append("Not for this Python: " + ", ".join(sorted(other_python)) + ".")
    if sdist is not None:
        lines.append(f"Its source distribution: {sdist.filename}.")
    lines.append(f"The tags tried ({len(tags)}, most preferred first: {tags[0]}) combine the interpreters "
                 f"{_list(tried['interpreter'])}, the ABIs {_list(tried['abi'])} and the platforms "
                 f"{_list(tried['platform'])}.")
    return "\n".join(lines)


def _list(items: list[str]) -> str:
    return ", ".join(items) if len(items) <= 8 else ", ".join(items[:6]) + f", …, {items[-1]} ({len(items)})"
