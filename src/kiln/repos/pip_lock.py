"""A hashed requirements lock, as pip-compile and `uv pip compile` write it and rules_python's pip.parse reads it.

One requirement per logical line (backslash-continued), `name[extras]==version`
pinned exactly, an optional environment marker after `;`, one or more
`--hash=sha256:<hex>` (one per file the lock allows: as pip's --require-hashes,
nothing is installed that the lock does not pin with a hash). `#` comments.
Option lines: `--index-url` / `-i` and `--extra-index-url` (the indexes the
lock was resolved against, used before the machine's pip configuration);
`--trusted-host`, `--pre` and `--prefer-binary` change nothing for a lock whose
every file is pinned by hash and are accepted. Everything else is an error that
says why: `-r` / `-c` includes (a lock is one self-contained file; pip-compile
and uv write every pin into it), `-e` and direct URLs (not pinned by version),
`--find-links`, `--no-index`, `--no-binary`, `--only-binary` (kiln does not
support them yet). A package may be pinned more than once under disjoint
markers (one pin per platform or Python version); pins_for picks a target's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from kiln.core.errors import Location, LoadingError

_NAME_SEPARATORS = re.compile(r"[-_.]+")
_COMMENT = re.compile(r"(^|\s+)#.*$")
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_INDEX_OPTIONS = {"-i": "--index-url", "--index-url": "--index-url", "--extra-index-url": "--extra-index-url"}
_HARMLESS = {"--trusted-host": True, "--pre": False, "--prefer-binary": False}  # option: takes a value
_INCLUDES = {"-r", "--requirement", "-c", "--constraint"}


def normalize_name(name: str) -> str:
    """A project's name as PEP 503 compares it: `Foo_Bar`, `foo.bar` and `foo-bar` are one project."""
    return _NAME_SEPARATORS.sub("-", name).lower()


@dataclass(frozen=True)
class Pin:
    name: str  # normalised (PEP 503)
    version: str  # as the lock writes it
    extras: tuple[str, ...]  # normalised, sorted
    marker: str  # the environment marker, "" when the pin holds everywhere
    hashes: tuple[str, ...]  # lower-case sha256 hex digests of the files the lock allows
    location: Location

    def applies(self, environment: Mapping[str, str]) -> bool:
        if not self.marker:
            return True
        from packaging.markers import Marker

        return Marker(self.marker).evaluate(dict(environment))


@dataclass(frozen=True)
class RequirementsLock:
    path: str
    pins: tuple[Pin, ...]
    index_url: str  # the lock's --index-url, "" when it names none
    extra_index_urls: tuple[str, ...]


def read_lock(path: Path, display: str | None = None) -> RequirementsLock:
    """The lock at `path`, its messages naming it `display` (the path as the user wrote it)."""
    shown = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise LoadingError(f"cannot read the requirements lock: {getattr(e, 'strerror', None) or e}",
                           location=Location(shown)) from None
    return parse_lock(text, shown)


def parse_lock(text: str, path: str) -> RequirementsLock:
    pins: list[Pin] = []
    index_url = ""
    extra: list[str] = []
    for line_no, line in _logical_lines(text):
        where = Location(path, line_no)
        if not line.startswith("-"):
            pins.append(_parse_requirement(line, where))
            continue
        option, value = _option(line, where)
        if option == "--index-url":
            if index_url:
                raise LoadingError(f"a second --index-url ('{value}'; the first is '{index_url}'): a lock names "
                                   "one index, and --extra-index-url any others", location=where)
            index_url = value
        elif option == "--extra-index-url":
            extra.append(value)
    return RequirementsLock(path, tuple(pins), index_url, tuple(dict.fromkeys(extra)))


def pins_for(lock: RequirementsLock, environment: Mapping[str, str], describe: str) -> dict[str, Pin]:
    """The pins whose markers hold for a target (described as `describe` in messages), by normalised name."""
    chosen: dict[str, Pin] = {}
    for pin in lock.pins:
        if not pin.applies(environment):
            continue
        other = chosen.get(pin.name)
        if other is not None and other.version != pin.version:
            raise LoadingError(
                f"{pin.name} is pinned to two versions for {describe}: {other.version} (line "
                f"{other.location.line}) and {pin.version}; the markers of two pins of one package must not both "
                "hold for one target", location=pin.location)
        if other is not None:
            pin = Pin(pin.name, pin.version, tuple(sorted({*other.extras, *pin.extras})), other.marker,
                      tuple(dict.fromkeys([*other.hashes, *pin.hashes])), other.location)
        chosen[pin.name] = pin
    return chosen


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(first physical line number, text) of each non-empty line, continuations joined, comments removed."""
    out: list[tuple[int, str]] = []
    parts: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        if not parts:
            start = number
        if raw.endswith("\\") and not _COMMENT.search(raw):
            parts.append(raw[:-1])
            continue
        parts.append(raw)
        line = _COMMENT.sub("", " ".join(parts)).strip()
        parts = []
        if line:
            out.append((start, line))
    if parts:
        line = _COMMENT.sub("", " ".join(parts)).strip()
        if line:
            out.append((start, line))
    return out


def _option(line: str, where: Location) -> tuple[str, str]:
    """An option line's option (long form) and value."""
    name, value = _split_option(line)
    if name in _INCLUDES:
        raise LoadingError(f"'{name}' includes another file, which kiln does not read: a requirements lock is one "
                           "self-contained file (pip-compile and uv write every pin into it)", location=where)
    if name in ("-e", "--editable"):
        raise LoadingError(f"'{line}': editable requirements are not pinned by version and hash, so kiln cannot "
                           "install them from a lock", location=where)
    if name in _INDEX_OPTIONS:
        if not value:
            raise LoadingError(f"{name} needs a URL", location=where)
        return _INDEX_OPTIONS[name], value
    if name in _HARMLESS:
        if _HARMLESS[name] and not value:
            raise LoadingError(f"{name} needs a value", location=where)
        return name, value
    raise LoadingError(f"option '{name}' is not supported by kiln in a requirements lock (it reads --index-url, "
                       "--extra-index-url, --trusted-host, --pre and --prefer-binary)", location=where)


def _split_option(text: str) -> tuple[str, str]:
    head, _, rest = text.partition(" ")
    if head.startswith("--") and "=" in head:
        name, _, value = head.partition("=")
        return name, (value + " " + rest).strip()
    if head.startswith("-") and not head.startswith("--") and len(head) > 2:
        return head[:2], (head[2:] + " " + rest).strip()  # -ihttps://… as pip accepts it
    return head, rest.strip()


def _parse_requirement(line: str, where: Location) -> Pin:
    from packaging.requirements import InvalidRequirement, Requirement

    words = line.split()
    first_option = next((i for i, w in enumerate(words) if w.startswith("-")), len(words))
    text = " ".join(words[:first_option])
    try:
        req = Requirement(text)
    except InvalidRequirement as e:
        raise LoadingError(f"invalid requirement '{text}': {e}", location=where) from None
    name = normalize_name(req.name)
    if req.url:
        raise LoadingError(f"{name} is given by URL ({req.url}), not pinned with ==version: kiln installs from a "
                           "lock only what it pins by version and hash", location=where)
    specs = list(req.specifier)
    if len(specs) != 1 or specs[0].operator != "==" or "*" in specs[0].version:
        written = str(req.specifier) or "no version"
        raise LoadingError(f"{name} is not pinned ({written}): every requirement of a lock must be pinned "
                           "exactly with ==version (compile the lock with pip-compile or uv)", location=where)
    version = specs[0].version
    hashes = _hashes(words[first_option:], f"{name}=={version}", where)
    return Pin(name, version, tuple(sorted(normalize_name(e) for e in req.extras)),
               str(req.marker) if req.marker else "", hashes, where)


def _hashes(options: list[str], pinned: str, where: Location) -> tuple[str, ...]:
    found: list[str] = []
    i = 0
    while i < len(options):
        name, value = _split_option(options[i])
        if name == "--hash" and not value and i + 1 < len(options):
            i += 1
            value = options[i]
        if name != "--hash":
            raise LoadingError(f"{pinned}: option '{name}' is not supported on a requirement (only --hash)",
                               location=where)
        algorithm, _, digest = value.partition(":")
        if algorithm != "sha256" or not _SHA256.fullmatch(digest):
            raise LoadingError(f"{pinned}: '--hash={value}' is not a sha256 hash (expected sha256: and 64 "
                               "hexadecimal digits)", location=where)
        found.append(digest.lower())
        i += 1
    if not found:
        raise LoadingError(f"{pinned} has no --hash: every requirement of a lock must list the sha256 of the files "
                           "it allows, as pip's --require-hashes demands (pip-compile --generate-hashes, "
                           "uv pip compile --generate-hashes)", location=where)
    return tuple(dict.fromkeys(found))
