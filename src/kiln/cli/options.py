"""Kiln's command-line options: the parser (the table of options is kiln.cli.option_table).

This module owns turning
`[startup options] COMMAND [options and residue] [-- args]` plus the rc files
(bazelrc.py) into one `Invocation`, whose option values are one frozen typed
value (`Options`, `StartupOptions`: a field per option, `opts.keep_going`).

Syntax, as Bazel's: `--name=value`, `--name value` (never for booleans and
tristates), `--name`/`--noname` for booleans and tristates, `-c opt`, `-c=opt`,
`-j 4`, `-k`, `-s`; Starlark flags `--//pkg:flag=value`, `--@repo//pkg:flag=v`,
`--//pkg:flag` (= "true") and `--no//pkg:flag` (= "false"). Options are applied
in order: rc options first (see bazelrc.py for their order), then the command
line, so the command line wins; a repeatable option accumulates, any other
keeps its last value. `--config=NAME` is replaced, where it stands, by the
options of the applicable `CMD:NAME` rc lines. Options from `common` rc lines
that the command does not take are skipped (as in Bazel); from anywhere else
they are an error. Words after the first `--` on the command line are kept
untouched in `after_dashdash` (target patterns such as `-//x`, a query
expression, or the arguments of `kiln run`).

A name kiln's own table (option_table) lacks is looked up in Bazel's catalogue
(known_options, read only then): an option Bazel has is accepted and ignored
with its reason, any other is an error naming the closest real option.
`--help`/`-h` (before any `--`) turns the command into `help COMMAND`. Errors do
not stop the parsing: every one found, in rc files and on the command line, is
reported together.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, make_dataclass
from pathlib import Path
from typing import Any

from kiln.cli.bazelrc import RcOptions, RcSource, command_chain, read_rc_files
from kiln.cli.option_table import (BOOL, COMMAND_LINE, COMMANDS, EITHER, ENUM, EXPANSION, FALSE_WORDS, INT, OPTIONS,
                                   STARTUP_OPTIONS, TRISTATE, TRUE_WORDS, OptionDef, parse_int)
from kiln.core.errors import CommandLineError, Location

# These decide which rc files are read, so an rc file cannot set them.
_COMMAND_LINE_ONLY = frozenset({"bazelrc", "home_rc", "workspace_rc", "ignore_all_rc_files", "system_rc"})


def _options_value(name: str, table: dict[str, OptionDef], doc: str) -> type:
    """A frozen dataclass with one typed field per option of `table`: typos fail, values are immutable."""
    # A given __doc__ also spares dataclasses deriving one from the signature, which is slow.
    return make_dataclass(name, [(opt.name, opt.annotation) for opt in table.values()], frozen=True,
                          namespace={"__module__": __name__, "__doc__": doc})


# Every field is present for every command: an option the command does not take keeps its default
# (parsing refuses to set it), so consumers never ask whether an option exists.
Options = _options_value("Options", OPTIONS, "The values of kiln's command options, after rc files and the command line.")
StartupOptions = _options_value("StartupOptions", STARTUP_OPTIONS, "The values of kiln's startup options.")


@dataclass(frozen=True)
class ParsedOptions:
    values: Any  # Options or StartupOptions
    starlark_flags: dict[str, str] = field(default_factory=dict)
    residue: list[str] = field(default_factory=list)
    after_dashdash: list[str] = field(default_factory=list)
    ignored: list[tuple[str, str]] = field(default_factory=list)
    # Option name (or Starlark flag label) -> where its value was last set:
    # "FILE:LINE" or "command line". Options left at their default are absent.
    sources: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Invocation:
    startup: ParsedOptions
    command: str
    options: ParsedOptions
    rc: RcOptions = field(default_factory=RcOptions)
    # The command line as given (after the program name).
    argv: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Word:
    text: str
    source: RcSource | None  # None: the command line
    configs: tuple[str, ...] = ()  # the --config chain this word was expanded from

    @property
    def location(self) -> Location | None:
        return self.source.location if self.source else None

    @property
    def where(self) -> str:
        return str(self.source) if self.source else COMMAND_LINE


@dataclass(frozen=True)
class _Occurrence:
    opt: OptionDef | None  # None: a Starlark flag
    key: str  # option name or Starlark flag label
    raw: str | None  # None: given bare
    negated: bool
    text: str  # as written, for messages
    word: _Word


def parse_command_line(argv: list[str], *, workspace_root: Path | None, home: Path | None) -> Invocation:
    """Reads the rc files the command line's startup options ask for, then parses."""
    errors: list[CommandLineError] = []
    startup, _ = _parse_startup(argv, RcOptions(), errors)
    _raise_all(errors, [])
    given = startup.values
    rc = read_rc_files(workspace_root, home, [Path(p) for p in given.bazelrc], workspace_rc=given.workspace_rc,
                       home_rc=given.home_rc, ignore_all=given.ignore_all_rc_files)
    return parse_args(argv, rc)


def parse_args(argv: list[str], rc: RcOptions | None) -> Invocation:
    """Parses everything after the program name, with options from `rc` first.

    Every error found (in rc files and on the command line) is reported at once, rc errors in the
    order of their files and lines, so that one run shows all that must be fixed.
    """
    rc = rc if rc is not None else RcOptions()
    errors: list[CommandLineError] = list(rc.errors)
    startup, rest = _parse_startup(argv, rc, errors)
    command = rest[0] if rest else "help"
    if command in _HELP_WORDS:
        command, rest = "help", ["help", *rest[1:2]]
    elif command in COMMANDS and any(w in _HELP_WORDS for w in _before_dashdash(rest[1:])):
        # `kiln build --help` is `kiln help build`.
        command, rest = "help", ["help", command]
    if command not in COMMANDS:
        errors.append(CommandLineError(f"Command '{command}' not found. Try 'kiln help'."))
        _raise_all(errors, rc.files)
    words = [_Word(o.word, o.source) for o in rc.options_for(command)]
    words += [_Word(text, None) for text in rest[1:]]
    occurrences, residue, after = _flatten(words, command, rc, errors)
    occurrences = _add_platform_config(occurrences, command, rc, errors)
    options = _apply(occurrences, command, OPTIONS, Options, residue, after, errors)
    _raise_all(errors, rc.files)
    return Invocation(startup, command, options, rc, tuple(argv))


_HELP_WORDS = ("--help", "-h")


def _before_dashdash(words: list[str]) -> list[str]:
    return words[: words.index("--")] if "--" in words else words


def _raise_all(errors: list[CommandLineError], files: list[Path]) -> None:
    """Raises the errors found as one: rc errors by file and line, then the command line's."""
    if not errors:
        return
    order = {str(path): index for index, path in enumerate(files)}

    def key(e: CommandLineError) -> tuple[int, int, int]:
        if e.location is None:
            return (1, 0, 0)
        return (0, order.get(e.location.file, len(order)), e.location.line)

    errors = sorted(errors, key=key)
    if len(errors) == 1:
        raise errors[0]
    # One message, one `ERROR:` line per error (the CLI prefixes the first).
    raise CommandLineError("".join(("\nERROR: " if i else "") + e.render() for i, e in enumerate(errors)))


def _parse_startup(argv: list[str], rc: RcOptions, errors: list[CommandLineError]) -> tuple[ParsedOptions, list[str]]:
    words = [_Word(o.word, o.source) for o in rc.options_for("startup")]
    rc_count = len(words)
    words += [_Word(text, None) for text in argv]
    occurrences: list[_Occurrence] = []
    i = 0
    while i < len(words):
        word = words[i]
        if word.source is None and (not word.text.startswith("-") or word.text in _HELP_WORDS):
            break
        if not word.text.startswith("-"):
            errors.append(CommandLineError(f"'{word.text}' is not a startup option", location=word.location))
            i += 1
            continue
        try:
            occ, i = _read_option(words, i, STARTUP_OPTIONS, "startup", "Unknown startup option")
        except CommandLineError as e:
            errors.append(e)
            if word.source is None:
                # The words after a bad startup option cannot be told apart from the command.
                _raise_all(errors, rc.files)
            i += 1
            continue
        if word.source is not None and occ.key in _COMMAND_LINE_ONLY:
            errors.append(CommandLineError(f"--{occ.key} can only be given on the command line",
                                           location=word.location))
            continue
        occurrences.append(occ)
    startup = _apply(occurrences, "startup", STARTUP_OPTIONS, StartupOptions, [], [], errors)
    return startup, argv[max(0, i - rc_count):]


def _flatten(words: list[_Word], command: str, rc: RcOptions,
             errors: list[CommandLineError]) -> tuple[list[_Occurrence], list[str], list[str]]:
    """Splits words into option occurrences (with --config expanded), residue and after `--`."""
    occurrences: list[_Occurrence] = []
    residue: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        if word.source is None and word.text == "--":
            return occurrences, residue, [w.text for w in words[i + 1:]]
        if not word.text.startswith("-") or word.text == "-":
            if word.source is not None:
                errors.append(CommandLineError(f"'{word.text}' is not an option; rc files may only contain options",
                                               location=word.location))
            else:
                residue.append(word.text)
            i += 1
            continue
        try:
            occ, i = _read_option(words, i, OPTIONS, command, "Unrecognized option")
        except CommandLineError as e:
            errors.append(e)
            i += 1
            continue
        occurrences.append(occ)
        if occ.opt is OPTIONS["config"]:
            occurrences += _expand_config(occ.raw or "", occ.word, command, rc, errors)
    return occurrences, residue, []


def _expand_config(name: str, origin: _Word, command: str, rc: RcOptions,
                   errors: list[CommandLineError]) -> list[_Occurrence]:
    chain = (*origin.configs, name)
    if name in origin.configs:
        errors.append(CommandLineError(f"Config expansion has a cycle: config value {name} expands to itself, "
                                       f"see inheritance chain [{', '.join(chain)}]", location=origin.location))
        return []
    if not rc.defines_config(command, name):
        errors.append(CommandLineError(f"Config value '{name}' is not defined in any .rc file",
                                       location=origin.location))
        return []
    words = [_Word(o.word, o.source, chain) for o in rc.options_for(command, name)]
    occurrences, _, _ = _flatten(words, command, rc, errors)
    return occurrences


def _host_os_config() -> str:
    # Bazel's names; sys.platform is e.g. "freebsd14" on the BSDs.
    return {"darwin": "macos", "win32": "windows"}.get(sys.platform, sys.platform.rstrip("0123456789"))


def _add_platform_config(occurrences: list[_Occurrence], command: str, rc: RcOptions,
                         errors: list[CommandLineError]) -> list[_Occurrence]:
    # Bazel expands the host OS config where the last
    # --enable_platform_specific_config stands, and only if it ends up true.
    last = None
    for index, occ in enumerate(occurrences):
        if occ.key == "enable_platform_specific_config" and occ.opt is OPTIONS[occ.key]:
            last = index
    if last is None:
        return occurrences
    try:
        enabled = _convert(occurrences[last])
    except CommandLineError:
        return occurrences  # reported where the option is applied
    name = _host_os_config()
    if not enabled or not rc.defines_config(command, name):
        return occurrences
    extra = _expand_config(name, occurrences[last].word, command, rc, errors)
    return occurrences[: last + 1] + extra + occurrences[last + 1:]


# Bazel adds and retires migration flags in every release; one kiln's catalogue does not list may be
# real in the Bazel a workspace was written for, so it is accepted (with a warning) unless it is a
# likely misspelling of a real one.
_LENIENT_PREFIXES = ("experimental_", "incompatible_")
LENIENT_REASON = "not an option of the Bazel 7/8 reference kiln knows; accepted as a flag of another Bazel version"


def _lookup(name: str, table: dict[str, OptionDef], command: str) -> OptionDef | None:
    opt = table.get(name)
    if opt is None:
        from kiln.cli.known_options import ignored_option

        opt = ignored_option(name, command)
    return opt


def _unknown(name: str, command: str, unknown: str, text: str, word: _Word) -> OptionDef:
    """The option an unknown `--name` is taken as, or the error saying it does not exist."""
    from kiln.cli.known_options import closest, commands_of

    suggestion = closest(name, command)
    elsewhere = commands_of(name.removeprefix("no")) or commands_of(name)
    if suggestion is None and not elsewhere and name.removeprefix("no").startswith(_LENIENT_PREFIXES):
        return OptionDef(name.removeprefix("no"), EITHER, commands=frozenset(COMMANDS) | {"startup"},
                         implicit="true", help=LENIENT_REASON)
    hint = f" (did you mean --{suggestion}?)" if suggestion else ""
    if elsewhere and not suggestion:
        hint = f" (an option of {', '.join(elsewhere)}, not of {command})"
    raise CommandLineError(f"{unknown}: {text.partition('=')[0]}{hint}", location=word.location)


def _read_option(words: list[_Word], i: int, table: dict[str, OptionDef], command: str,
                 unknown: str) -> tuple[_Occurrence, int]:
    """Reads the option at words[i] (and its value word); returns it and the next index."""
    word = words[i]
    text = word.text
    if table is OPTIONS and text.startswith(("--//", "--@", "--no//", "--no@")):
        body = text[2:]
        negated = body.startswith("no")
        label, eq, value = body[2 if negated else 0:].partition("=")
        if negated and eq:
            raise CommandLineError(f"Unexpected value after boolean flag: {text}", location=word.location)
        raw = value if eq else ("false" if negated else "true")
        return _Occurrence(None, label, raw, negated, text, word), i + 1

    negated = False
    if text.startswith("--"):
        name, eq, value = text[2:].partition("=")
        opt = _lookup(name, table, command)
        if opt is None and name.startswith("no"):
            positive = _lookup(name[2:], table, command)
            if positive is not None and positive.kind in (BOOL, TRISTATE, EITHER):
                opt, negated = positive, True
        if opt is None:
            opt = _unknown(name, command, unknown, text, word)
            negated = name.startswith("no") and not name.startswith(_LENIENT_PREFIXES)
    else:
        abbrev, eq, value = text[1:].partition("=")
        opt = next((d for d in table.values() if d.abbrev and d.abbrev == abbrev), None)
        if opt is None:
            from kiln.cli.known_options import ignored_abbreviation

            opt = ignored_abbreviation(abbrev, command)
        if opt is None:
            raise CommandLineError(f"{unknown}: {text.partition('=')[0]}", location=word.location)
    if negated and eq:
        raise CommandLineError(f"Unexpected value after boolean option: {text}", location=word.location)
    if opt.kind == EXPANSION and eq:
        raise CommandLineError(f"--{opt.name} takes no value: {text}", location=word.location)

    raw = value if eq else None
    if raw is None and opt.takes_next_word:
        # The value must come from the same rc line, or from the command line.
        if i + 1 >= len(words) or words[i + 1].source != word.source:
            raise CommandLineError(f"Expected value after {text}", location=word.location)
        i += 1
        raw = words[i].text
        text = f"{text}={raw}"
    return _Occurrence(opt, opt.name, raw, negated, text, word), i + 1


def _convert(occ: _Occurrence) -> Any:
    opt, raw = occ.opt, occ.raw
    assert opt is not None
    if raw is None:
        raw = ("no" if occ.negated else "yes") if opt.kind in (BOOL, TRISTATE) else opt.implicit or ""
    try:
        if opt.kind in (BOOL, TRISTATE):
            lowered = raw.lower()
            if opt.kind == TRISTATE and lowered == "auto":
                return "auto"
            if lowered not in TRUE_WORDS + FALSE_WORDS:
                raise ValueError(f"'{raw}' is not " + ("a boolean" if opt.kind == BOOL else "one of yes, no or auto"))
            return lowered in TRUE_WORDS if opt.kind == BOOL else ("yes" if lowered in TRUE_WORDS else "no")
        if opt.convert is not None:
            return opt.convert(raw)
        if opt.kind == INT:
            return parse_int(raw)
        if opt.kind == ENUM:
            assert opt.choices
            if raw.lower() not in opt.choices:  # Bazel's enums ignore case
                should = ", ".join(opt.choices[:-1]) + " or " + opt.choices[-1]
                noun = opt.name.replace("_", " ")
                raise ValueError(f"Not a valid {noun}: '{raw}' (should be {should})")
            return raw.lower()
        return raw
    except ValueError as e:
        raise CommandLineError(f"While parsing option --{opt.name}={raw}: {e}", location=occ.word.location) from None


def _applies(occ: _Occurrence, command: str) -> bool:
    if occ.opt is None:
        # Starlark flags configure builds; only commands that take build options do.
        return "build" in command_chain(command)
    return occ.opt.applies_to(command)


def _skippable(occ: _Occurrence) -> bool:
    """Whether an option the command does not take may be passed over silently.

    `common` lines are meant for whichever commands take their options. A
    `build` line is also read by `test` and `run`, so `build --test_output=all`
    is meant for `test`: skipped by `build`, an error only if no command that
    reads the line takes the option. The command line and `always` lines are
    strict, as in Bazel.
    """
    source = occ.word.source
    if source is None:
        return False
    if source.command == "common":
        return True
    return any(_applies(occ, c) for c in COMMANDS if source.command in command_chain(c))


def _apply(occurrences: list[_Occurrence], command: str, table: dict[str, OptionDef], value_class: type,
           residue: list[str], after: list[str], errors: list[CommandLineError]) -> ParsedOptions:
    values = {name: opt.default_value() for name, opt in table.items()}
    starlark_flags: dict[str, str] = {}
    ignored: list[tuple[str, str]] = []
    sources: dict[str, str] = {}
    for occ in occurrences:
        try:
            reason = _ignored_because(occ, command, table)
        except CommandLineError as e:
            errors.append(e)
            continue
        if reason == _SKIP:
            continue
        if reason is not None:
            ignored.append((occ.text, reason))
            continue
        word, opt = occ.word, occ.opt
        if opt is None:
            # Every occurrence is kept, "\0"-separated: a repeatable list flag takes them all, any other
            # setting the last (kiln.rules.common.settings).
            value = occ.raw or ""
            starlark_flags[occ.key] = (starlark_flags[occ.key] + "\0" + value) if occ.key in starlark_flags else value
        else:
            try:
                converted = _convert(occ)
            except CommandLineError as e:
                errors.append(e)
                continue
            if opt.multiple:
                values[opt.name] += (converted,)
            else:
                values[opt.name] = converted
        sources[occ.key] = word.where
    return ParsedOptions(value_class(**values), starlark_flags, residue, after, ignored, sources)


_SKIP = "skip"


def _ignored_because(occ: _Occurrence, command: str, table: dict[str, OptionDef]) -> str | None:
    """Why `occ` changes nothing for `command` (_SKIP: silently), or None when it applies."""
    opt = occ.opt
    if not _applies(occ, command):
        if _skippable(occ):
            return _SKIP
        from kiln.cli.known_options import ignored_for_command

        # Bazel takes it for this command (e.g. `build --test_output`); kiln only elsewhere.
        reason = ignored_for_command(occ.key, command) if opt is not None else None
        if reason is None:
            raise CommandLineError(f"{occ.text.partition('=')[0]} is not an option of 'kiln {command}'",
                                   location=occ.word.location)
        return reason
    if opt is not None and table.get(opt.name) is not opt:
        if opt.kind in (BOOL, TRISTATE):
            _convert(occ)  # a bad value is an error even for an option kiln ignores, as in Bazel
        return opt.help
    return None
