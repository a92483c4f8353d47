"""What Bazel knows: Bazel 7/8's options read from the catalogue (kiln.cli.bazel_options).

This module owns turning the catalogue into values the parser can use: the option kiln accepts
but ignores for a name (an OptionDef whose `help` is the reason), whether Bazel has an option at
all, and the closest real option to a misspelt one. It is imported only when the parser meets a
name kiln's own table (kiln.cli.option_table) lacks, or for help and suggestions.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from kiln.cli.bazel_options import CATALOGUE, REASONS
from kiln.cli.bazelrc import command_chain
from kiln.cli.option_table import (BOOL, COMMANDS, EITHER, EXPANSION, OPTIONS, STARTUP_OPTIONS, STR, TRISTATE,
                                   OptionDef)

_KINDS = {"": BOOL, "?": TRISTATE, "~": EITHER, "!": EXPANSION, "=": STR, "*": STR}


@dataclass(frozen=True)
class BazelOption:
    """One catalogue line: an option of Bazel for some commands, and why kiln ignores it."""

    name: str
    kind: str  # one of option_table's kinds
    multiple: bool
    abbrev: str | None
    commands: frozenset[str]
    reason: str | None  # None: kiln honours it (kiln.cli.option_table has it)

    def applies_to(self, command: str) -> bool:
        if command == "startup":
            return "startup" in self.commands
        return "common" in self.commands or any(c in self.commands for c in command_chain(command))


@functools.cache
def catalogue() -> dict[str, tuple[BazelOption, ...]]:
    """Every option of the catalogue by name (a name may stand in several command sections)."""
    options: dict[str, list[BazelOption]] = {}
    commands: frozenset[str] = frozenset()
    reason: str | None = None
    for line in CATALOGUE.splitlines():
        if line.startswith("["):
            commands = frozenset(line.strip("[]").split())
        elif line.startswith("@"):
            key = line[1:]
            reason = None if key == "kiln" else REASONS[key]
        elif line:
            word, _, abbrev = line.partition(" -")
            suffix = word[-1] if word[-1] in "?~!=*" else ""
            name = word[: len(word) - len(suffix)]
            options.setdefault(name, []).append(
                BazelOption(name, _KINDS[suffix], suffix == "*", abbrev or None, commands, reason))
    return {name: tuple(entries) for name, entries in options.items()}


def bazel_option(name: str, command: str) -> BazelOption | None:
    """The catalogue's entry for `--name` of `command` (or "startup"), if Bazel has one."""
    return next((o for o in catalogue().get(name, ()) if o.applies_to(command)), None)


def ignored_option(name: str, command: str) -> OptionDef | None:
    """The option Bazel has under `name` for `command` and kiln accepts without honouring."""
    option = bazel_option(name, command)
    if option is None or option.reason is None:
        return None
    return _as_definition(option)


def ignored_for_command(name: str, command: str) -> str | None:
    """Why kiln ignores `--name` for `command` when its own table has it only for other commands."""
    option = bazel_option(name, command)
    if option is None:
        return None
    if option.reason is not None:
        return option.reason
    table = STARTUP_OPTIONS if command == "startup" else OPTIONS
    honoured = table.get(name)
    users = [c for c in COMMANDS if honoured is not None and honoured.applies_to(c)]
    return f"kiln uses it only for {', '.join(users)}" if users else "kiln does not use it"


@functools.cache
def _as_definition(option: BazelOption) -> OptionDef:
    if "startup" in option.commands:
        commands = frozenset({"startup"})
    else:
        commands = frozenset(c for c in COMMANDS if option.applies_to(c))
    return OptionDef(option.name, option.kind, commands=commands, multiple=option.multiple,
                     abbrev=option.abbrev, help=option.reason or "",
                     implicit="true" if option.kind == EITHER else ("" if option.kind == EXPANSION else None))


def ignored_abbreviation(letter: str, command: str) -> OptionDef | None:
    for entries in catalogue().values():
        for option in entries:
            if option.abbrev == letter and option.reason is not None and option.applies_to(command):
                return _as_definition(option)
    return None


def commands_of(name: str) -> list[str]:
    """The commands (or "startup") Bazel takes `--name` for."""
    return [c for c in ("startup", *COMMANDS) if bazel_option(name, c) is not None]


def names_for(command: str) -> list[str]:
    """Every option name `command` (or "startup") accepts: kiln's and the catalogue's."""
    table = STARTUP_OPTIONS if command == "startup" else OPTIONS
    names = {name for name, opt in table.items() if command == "startup" or opt.applies_to(command)}
    names.update(name for name, entries in catalogue().items() if any(o.applies_to(command) for o in entries))
    return sorted(names)


def closest(name: str, command: str) -> str | None:
    """The real option `--name` was most likely meant to be (a `no` prefix kept), if any is close."""
    candidates = names_for(command)
    best = _closest(name, candidates)
    if name.startswith("no"):
        negated = _closest(name[2:], candidates)
        if negated and (not best or _ratio(name[2:], negated) > _ratio(name, best)):
            return "no" + negated
    return best


# A long shared prefix makes any two migration flags look alike: only the words after it count.
_FAMILIES = ("experimental_", "incompatible_")


def _closest(name: str, candidates: list[str]) -> str | None:
    import difflib  # only a misspelling pays for it

    family = next((f for f in _FAMILIES if name.startswith(f)), "")
    pool = {c[len(family):]: c for c in candidates if c.startswith(family)}
    match = difflib.get_close_matches(name[len(family):], list(pool), n=1, cutoff=0.8)
    return pool[match[0]] if match else None


def _ratio(a: str, b: str) -> float:
    import difflib

    return difflib.SequenceMatcher(None, a, b).ratio()
