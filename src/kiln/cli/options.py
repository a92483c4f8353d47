"""Kiln's command-line options: the table of what exists, and the parser.

This module owns which options each command accepts, their types and
defaults, the options kiln accepts but ignores, and turning
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
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field, make_dataclass
from pathlib import Path
from typing import Any, Callable

from kiln.cli.bazelrc import RcOptions, RcSource, command_chain, read_rc_files
from kiln.core.errors import CommandLineError, Location

COMMANDS = ("build", "test", "run", "query", "cquery", "aquery", "fetch", "clean", "info", "config", "version", "help")

BOOL, STR, INT, ENUM, TRISTATE = "bool", "str", "int", "enum", "tristate"

_ALL = frozenset(COMMANDS)
_STARTUP = frozenset({"startup"})
# `test`, `run` and `info` take every build option through command_chain().
_BUILD = frozenset({"build"})
_TEST = frozenset({"test"})
_QUERY = frozenset({"query"})
_CLEAN = frozenset({"clean"})

_TRUE = ("true", "yes", "1")
_FALSE = ("false", "no", "0")
COMMAND_LINE = "command line"


@dataclass(frozen=True)
class OptionDef:
    name: str
    kind: str
    # A callable default is computed at each parse (e.g. the number of cores).
    default: Any = None
    abbrev: str | None = None
    commands: frozenset[str] = frozenset()
    multiple: bool = False
    choices: tuple[str, ...] | None = None
    help: str = ""
    # Value of a non-boolean option given bare; such an option never takes
    # the next word as its value (`--explain` alone prints to the terminal).
    implicit: str | None = None
    convert: Callable[[str], Any] | None = None
    # What `convert` returns, when it is not the kind's own type (bool, int or str).
    converts_to: Any = None

    @property
    def annotation(self) -> Any:
        """The type of the option's value in `Options`: a repeatable option's values are a tuple."""
        one = self.converts_to or {BOOL: bool, INT: int}.get(self.kind, str)
        if self.multiple:
            return tuple[one, ...]
        return one | None if self.default is None else one

    @property
    def takes_next_word(self) -> bool:
        return self.kind not in (BOOL, TRISTATE) and self.implicit is None

    def applies_to(self, command: str) -> bool:
        return any(c in self.commands for c in command_chain(command))

    def default_value(self) -> Any:
        value = self.default() if callable(self.default) else self.default
        return tuple(value or ()) if self.multiple else value


def host_cpus() -> int:
    # The affinity mask is what a container or `taskset` really grants.
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"'{text}' is not an int") from None


def _cpus(text: str) -> int:
    """--jobs: an int, `auto`, or `HOST_CPUS` optionally followed by `*F` or `-F`."""
    if text in ("auto", "HOST_CPUS"):
        return host_cpus()
    m = re.fullmatch(r"HOST_CPUS([*-])(\d+(?:\.\d*)?|\.\d+)", text)
    if m:
        n, f = host_cpus(), float(m[2])
        return max(1, round(n * f if m[1] == "*" else n - f))
    value = _int(text)
    if value < 1:
        raise ValueError(f"'{text}' must be at least 1")
    return value


_TIMEOUT_DEFAULTS = (60, 300, 900, 3600)  # short, moderate, long, eternal


def _test_timeout(text: str) -> tuple[int, ...]:
    parts = text.split(",")
    if len(parts) == 1:
        parts *= 4
    elif len(parts) != 4:
        raise ValueError("expected one timeout or four comma-separated timeouts (short,moderate,long,eternal)")
    values = []
    for part, default in zip(parts, _TIMEOUT_DEFAULTS):
        seconds = _int(part.strip())
        if seconds == -1:
            seconds = default  # -1 keeps the default of that category
        elif seconds <= 0:
            raise ValueError(f"timeouts must be positive, or -1 for the default: '{part}'")
        values.append(seconds)
    return tuple(values)


def _env_pair(text: str) -> tuple[str, str | None]:
    """NAME (take the value from kiln's environment) or NAME=VALUE."""
    name, eq, value = text.partition("=")
    if not name:
        raise ValueError(f"'{text}' has no variable name")
    return name, (value if eq else None)


def _define(text: str) -> tuple[str, str]:
    name, eq, value = text.partition("=")
    if not eq or not name:
        raise ValueError("Variable definitions must be in the form of a 'name=value' assignment")
    return name, value


def _override(text: str) -> tuple[str, str]:
    name, eq, path = text.partition("=")
    if not eq or not name or not path:
        raise ValueError("expected NAME=PATH (a repository name and the directory replacing it)")
    return name.lstrip("@"), path


def _comma_list(text: str) -> tuple[str, ...]:
    return tuple(item for item in text.split(",") if item)


def _size_filters(text: str) -> tuple[str, ...]:
    items = _comma_list(text)
    for item in items:
        if item.removeprefix("-") not in ("small", "medium", "large", "enormous"):
            raise ValueError(f"'{item}' is not a test size (small, medium, large or enormous)")
    return items


def _table(*defs: OptionDef) -> dict[str, OptionDef]:
    return {d.name: d for d in defs}


STARTUP_OPTIONS = _table(
    OptionDef("output_base", STR, None, commands=_STARTUP, help="Where kiln keeps outputs and caches."),
    OptionDef("bazelrc", STR, (), commands=_STARTUP, multiple=True, help="Also read this rc file."),
    OptionDef("home_rc", BOOL, True, commands=_STARTUP, help="Read ~/.bazelrc."),
    OptionDef("workspace_rc", BOOL, True, commands=_STARTUP, help="Read the workspace's .bazelrc."),
    OptionDef("ignore_all_rc_files", BOOL, False, commands=_STARTUP, help="Read no rc file at all."),
    OptionDef("block_for_lock", BOOL, True, commands=_STARTUP,
              help="Wait for another command on the same output base to finish (else exit with code 9)."),
)

OPTIONS = _table(
    # Every command.
    OptionDef("config", STR, (), commands=_ALL, multiple=True, help="Apply the rc lines CMD:NAME."),
    OptionDef("color", TRISTATE, "auto", commands=_ALL, help="Colour the output (yes, no, auto)."),
    OptionDef("curses", TRISTATE, "auto", commands=_ALL, help="Redraw progress in place (yes, no, auto)."),
    OptionDef("show_progress", BOOL, True, commands=_ALL, help="Show progress messages."),
    OptionDef("announce_rc", BOOL, False, commands=_ALL, help="Print the rc options that apply."),
    OptionDef("enable_platform_specific_config", BOOL, False, commands=_ALL,
              help="Apply --config=<host os> (linux, macos, ...) when an rc file defines it."),
    # Loading: build (and its heirs) and query.
    OptionDef("keep_going", BOOL, False, abbrev="k", commands=_BUILD | _QUERY, help="Go on after errors."),
    OptionDef("incompatible_disallow_empty_glob", BOOL, True, commands=_BUILD | _QUERY,
              help="A glob() that matches nothing is an error."),
    OptionDef("enable_bzlmod", BOOL, True, commands=_ALL,
              help="Read MODULE.bazel (and WORKSPACE.bzlmod instead of WORKSPACE when present); "
                   "--noenable_bzlmod reads WORKSPACE only."),
    # build, test, run, info.
    OptionDef("compilation_mode", ENUM, "fastbuild", abbrev="c", commands=_BUILD,
              choices=("fastbuild", "dbg", "opt"), help="Build mode."),
    OptionDef("jobs", INT, host_cpus, abbrev="j", commands=_BUILD, convert=_cpus,
              help="Concurrent actions: N, auto, HOST_CPUS or HOST_CPUS*F."),
    OptionDef("explain", STR, None, commands=_BUILD, implicit="-", convert=lambda s: s or None,
              help="Say why each action ran; `--explain=FILE` writes it there, '-' is the terminal."),
    OptionDef("action_env", STR, (), commands=_BUILD, multiple=True, convert=_env_pair,
              converts_to=tuple[str, str | None], help="NAME or NAME=VALUE added to the environment of actions."),
    OptionDef("define", STR, (), commands=_BUILD, multiple=True, convert=_define,
              converts_to=tuple[str, str], help="name=value for select()."),
    OptionDef("subcommands", BOOL, False, abbrev="s", commands=_BUILD, help="Print each command before it runs."),
    OptionDef("sandbox_debug", BOOL, False, commands=_BUILD, help="Keep sandboxes for inspection."),
    OptionDef("spawn_strategy", STR, (), commands=_BUILD, convert=_comma_list, converts_to=tuple[str, ...],
              help="How actions run: linux-sandbox, processwrapper-sandbox, sandboxed, local or standalone; "
                   "a comma-separated list falls back in order."),
    OptionDef("strategy", STR, (), commands=_BUILD, multiple=True,
              help="MNEMONIC=STRATEGY[,STRATEGY...]: how actions of that mnemonic run (TestRunner: tests); "
                   "without MNEMONIC=, the default for all."),
    OptionDef("disk_cache", STR, "", commands=_BUILD,
              help="A directory of action results and outputs shared by every workspace (Bazel's ac/ cas/ layout)."),
    OptionDef("experimental_disk_cache_gc_max_size", STR, "", commands=_BUILD,
              help="After a build, shrink the disk cache to this size (e.g. 10G), least recently used first."),
    OptionDef("experimental_disk_cache_gc_max_age", STR, "", commands=_BUILD,
              help="After a build, remove disk cache entries unused for this long (e.g. 7d)."),
    OptionDef("sandbox_add_mount_pair", STR, (), commands=_BUILD, multiple=True,
              help="SOURCE or SOURCE:TARGET mounted read-only into every sandbox."),
    OptionDef("sandbox_writable_path", STR, (), commands=_BUILD, multiple=True,
              help="A path actions may write to inside the sandbox."),
    OptionDef("sandbox_tmpfs_path", STR, (), commands=_BUILD, multiple=True,
              help="An absolute path that gets an empty private tmpfs in every sandbox."),
    OptionDef("sandbox_default_allow_network", BOOL, True, commands=_BUILD,
              help="Actions may use the network unless tagged block-network."),
    OptionDef("experimental_use_hermetic_linux_sandbox", BOOL, False, commands=_BUILD,
              help="Hide every path an action did not declare, system directories included."),
    OptionDef("experimental_ui_max_stdouterr_bytes", INT, 1048576, commands=_BUILD,
              help="At most this many bytes of an action's or test's output on the terminal (-1: no limit)."),
    OptionDef("check_visibility", BOOL, True, commands=_BUILD, help="Enforce visibility."),
    OptionDef("stamp", BOOL, False, commands=_BUILD,
              help="Stamp outputs with build information. kiln has no workspace status yet: the option is part of "
                   "the configuration, seen by config_setting(values = {\"stamp\": ...}) and select()s on it."),
    OptionDef("platforms", STR, "", commands=_BUILD, help="Target platform label."),
    OptionDef("host_platform", STR, "", commands=_BUILD, help="Host platform label."),
    OptionDef("extra_toolchains", STR, (), commands=_BUILD, multiple=True,
              help="Toolchains considered before registered ones."),
    OptionDef("extra_execution_platforms", STR, (), commands=_BUILD, multiple=True,
              help="Execution platforms considered before registered ones."),
    OptionDef("symlink_prefix", STR, "kiln-", commands=_BUILD, help="Prefix of the convenience symlinks."),
    OptionDef("build_tag_filters", STR, (), commands=_BUILD, convert=_comma_list, converts_to=tuple[str, ...],
              help="Comma-separated tags; `-tag` excludes."),
    OptionDef("toolchain_resolution_debug", STR, None, commands=_BUILD, implicit=".*",
              help="Explain toolchain resolution for toolchain types matching this regex."),
    # test.
    OptionDef("test_output", ENUM, "summary", commands=_TEST, choices=("summary", "errors", "all", "streamed"),
              help="Which test logs to print."),
    OptionDef("test_filter", STR, None, commands=_TEST, help="Passed to tests as TESTBRIDGE_TEST_ONLY."),
    OptionDef("cache_test_results", TRISTATE, "auto", commands=_TEST, help="Reuse passing results (yes, no, auto)."),
    OptionDef("test_timeout", STR, _TIMEOUT_DEFAULTS, commands=_TEST, convert=_test_timeout,
              converts_to=tuple[int, ...],
              help="Seconds: one value, or short,moderate,long,eternal; -1 keeps a default."),
    OptionDef("test_env", STR, (), commands=_TEST, multiple=True, convert=_env_pair,
              converts_to=tuple[str, str | None], help="NAME or NAME=VALUE added to the environment of tests."),
    OptionDef("test_arg", STR, (), commands=_TEST, multiple=True, help="Extra argument for each test."),
    OptionDef("runs_per_test", STR, (), commands=_TEST, multiple=True,
              help="N, or REGEX@N: run each (matching) test N times."),
    OptionDef("flaky_test_attempts", STR, (), commands=_TEST, multiple=True,
              help="N, default, or REGEX@N: attempts a failing test gets (default: 3 for flaky tests, else 1)."),
    OptionDef("test_tag_filters", STR, (), commands=_TEST, convert=_comma_list, converts_to=tuple[str, ...],
              help="Comma-separated tags."),
    OptionDef("test_size_filters", STR, (), commands=_TEST, convert=_size_filters, converts_to=tuple[str, ...],
              help="Comma-separated sizes."),
    OptionDef("build_tests_only", BOOL, False, commands=_TEST, help="Build only the tests that will run."),
    # query.
    OptionDef("output", ENUM, "label", commands=_QUERY | frozenset({"cquery", "aquery"}),
              choices=("label", "label_kind", "build", "graph", "package", "location", "transitions", "text",
                       "jsonproto"),
              help="Output format (cquery: label, label_kind or transitions; aquery: text, the default, or "
                   "jsonproto)."),
    OptionDef("order_output", ENUM, "auto", commands=_QUERY, choices=("no", "deps", "auto", "full"),
              help="Output order."),
    # clean.
    OptionDef("expunge", BOOL, False, commands=_CLEAN, help="Remove the whole output base."),
    # Repositories: every command that loads packages (fetch, cquery and test through build).
    OptionDef("override_repository", STR, (), commands=_BUILD | _QUERY, multiple=True, convert=_override,
              converts_to=tuple[str, str], help="NAME=PATH: the repository @NAME is the directory PATH."),
    OptionDef("repository_cache", STR, None, commands=_BUILD | _QUERY,
              help="Where downloads are kept by checksum, shared by all workspaces (default: "
                   "~/.cache/kiln/repository_cache; empty: no cache)."),
    OptionDef("distdir", STR, (), commands=_BUILD | _QUERY, multiple=True,
              help="A directory searched for a download by its file name before any URL is tried."),
)

# Flags real rc files carry that change nothing in kiln. `help` is the reason.
IGNORED = _table(
    OptionDef("enable_workspace", BOOL, commands=_ALL,
              help="kiln reads WORKSPACE whenever there is one (and, with Bzlmod, no WORKSPACE.bzlmod)"),
    OptionDef("lockfile_mode", STR, commands=_ALL, help="kiln does not use MODULE.bazel.lock"),
    OptionDef("incompatible_strict_action_env", BOOL, commands=_ALL,
              help="actions always get a fixed environment"),
    OptionDef("legacy_external_runfiles", BOOL, commands=_ALL,
              help="runfiles trees always put external repos at the top level"),
    OptionDef("enable_runfiles", BOOL, commands=_ALL, help="runfiles trees are always created"),
    OptionDef("show_timestamps", BOOL, commands=_ALL, help="kiln's progress output has its own format"),
    OptionDef("java_runtime_version", STR, commands=_ALL, help="kiln builds no Java"),
    OptionDef("java_language_version", STR, commands=_ALL, help="kiln builds no Java"),
    OptionDef("tool_java_runtime_version", STR, commands=_ALL, help="kiln builds no Java"),
    OptionDef("tool_java_language_version", STR, commands=_ALL, help="kiln builds no Java"),
    OptionDef("verbose_failures", BOOL, commands=_BUILD, help="kiln always shows a failed action's command and output"),
    OptionDef("verbose_explanations", BOOL, commands=_BUILD, help="kiln's --explain always lists what changed"),
    OptionDef("implicit_deps", BOOL, commands=_QUERY, help="kiln's query graph holds the dependencies BUILD files write (and rule defaults such as pyo3_module's pyo3)"),
    OptionDef("tool_deps", BOOL, commands=_QUERY, help="kiln builds tools in the target configuration: there are no exec-configuration edges to drop"),
    OptionDef("async", BOOL, commands=_CLEAN, help="kiln cleans at once"),
    OptionDef("incompatible_sandbox_hermetic_tmp", BOOL, commands=_BUILD,
              help="every sandboxed action always gets a private /tmp"),
)

IGNORED_STARTUP = _table(
    OptionDef("host_jvm_args", STR, commands=_STARTUP, multiple=True, help="kiln runs no JVM"),
    OptionDef("max_idle_secs", STR, commands=_STARTUP, help="kiln keeps no server running"),
    OptionDef("batch", BOOL, commands=_STARTUP, help="kiln keeps no server running"),
    OptionDef("system_rc", BOOL, commands=_STARTUP, help="kiln never reads a system-wide rc file"),
)

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
    startup, _ = _parse_startup(argv, RcOptions())
    given = startup.values
    rc = read_rc_files(workspace_root, home, [Path(p) for p in given.bazelrc], workspace_rc=given.workspace_rc,
                       home_rc=given.home_rc, ignore_all=given.ignore_all_rc_files)
    return parse_args(argv, rc)


def parse_args(argv: list[str], rc: RcOptions | None) -> Invocation:
    """Parses everything after the program name, with options from `rc` first."""
    rc = rc if rc is not None else RcOptions()
    startup, rest = _parse_startup(argv, rc)
    command = rest[0] if rest else "help"
    if command not in COMMANDS:
        raise CommandLineError(f"Command '{command}' not found. Try 'kiln help'.")
    words = [_Word(o.word, o.source) for o in rc.options_for(command)]
    words += [_Word(text, None) for text in rest[1:]]
    occurrences, residue, after = _flatten(words, command, rc)
    occurrences = _add_platform_config(occurrences, command, rc)
    options = _apply(occurrences, command, OPTIONS, Options, residue, after)
    return Invocation(startup, command, options, rc)


def _parse_startup(argv: list[str], rc: RcOptions) -> tuple[ParsedOptions, list[str]]:
    words = [_Word(o.word, o.source) for o in rc.options_for("startup")]
    rc_count = len(words)
    words += [_Word(text, None) for text in argv]
    occurrences: list[_Occurrence] = []
    i = 0
    while i < len(words):
        word = words[i]
        if not word.text.startswith("-"):
            if word.source is not None:
                raise CommandLineError(f"'{word.text}' is not a startup option", location=word.location)
            break
        occ, i = _read_option(words, i, STARTUP_OPTIONS, IGNORED_STARTUP, "Unknown startup option")
        if word.source is not None and occ.key in _COMMAND_LINE_ONLY:
            raise CommandLineError(f"--{occ.key} can only be given on the command line", location=word.location)
        occurrences.append(occ)
    startup = _apply(occurrences, "startup", STARTUP_OPTIONS, StartupOptions, [], [])
    return startup, argv[max(0, i - rc_count):]


def _flatten(words: list[_Word], command: str, rc: RcOptions) -> tuple[list[_Occurrence], list[str], list[str]]:
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
                raise CommandLineError(f"'{word.text}' is not an option; rc files may only contain options",
                                       location=word.location)
            residue.append(word.text)
            i += 1
            continue
        occ, i = _read_option(words, i, OPTIONS, IGNORED, "Unrecognized option")
        occurrences.append(occ)
        if occ.opt is OPTIONS["config"]:
            occurrences += _expand_config(occ.raw or "", occ.word, command, rc)
    return occurrences, residue, []


def _expand_config(name: str, origin: _Word, command: str, rc: RcOptions) -> list[_Occurrence]:
    chain = (*origin.configs, name)
    if name in origin.configs:
        raise CommandLineError(f"Config expansion has a cycle: config value {name} expands to itself, "
                               f"see inheritance chain [{', '.join(chain)}]", location=origin.location)
    if not rc.defines_config(command, name):
        raise CommandLineError(f"Config value '{name}' is not defined in any .rc file", location=origin.location)
    words = [_Word(o.word, o.source, chain) for o in rc.options_for(command, name)]
    occurrences, _, _ = _flatten(words, command, rc)
    return occurrences


def _host_os_config() -> str:
    # Bazel's names; sys.platform is e.g. "freebsd14" on the BSDs.
    return {"darwin": "macos", "win32": "windows"}.get(sys.platform, sys.platform.rstrip("0123456789"))


def _add_platform_config(occurrences: list[_Occurrence], command: str, rc: RcOptions) -> list[_Occurrence]:
    # Bazel expands the host OS config where the last
    # --enable_platform_specific_config stands, and only if it ends up true.
    last = None
    for index, occ in enumerate(occurrences):
        if occ.key == "enable_platform_specific_config" and occ.opt is OPTIONS[occ.key]:
            last = index
    if last is None or not _convert(occurrences[last]):
        return occurrences
    name = _host_os_config()
    if not rc.defines_config(command, name):
        return occurrences
    extra = _expand_config(name, occurrences[last].word, command, rc)
    return occurrences[: last + 1] + extra + occurrences[last + 1:]


def _read_option(
    words: list[_Word], i: int, table: dict[str, OptionDef], ignored: dict[str, OptionDef], unknown: str
) -> tuple[_Occurrence, int]:
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
        opt = table.get(name) or ignored.get(name)
        if opt is None and name.startswith("no"):
            positive = table.get(name[2:]) or ignored.get(name[2:])
            if positive is not None and positive.kind in (BOOL, TRISTATE):
                opt, negated = positive, True
    else:
        abbrev, eq, value = text[1:].partition("=")
        opt = next((d for d in table.values() if d.abbrev and d.abbrev == abbrev), None)
    if opt is None:
        raise CommandLineError(f"{unknown}: {text.partition('=')[0]}", location=word.location)
    if negated and eq:
        raise CommandLineError(f"Unexpected value after boolean option: {text}", location=word.location)

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
            if lowered not in _TRUE + _FALSE:
                raise ValueError(f"'{raw}' is not " + ("a boolean" if opt.kind == BOOL else "one of yes, no or auto"))
            return lowered in _TRUE if opt.kind == BOOL else ("yes" if lowered in _TRUE else "no")
        if opt.convert is not None:
            return opt.convert(raw)
        if opt.kind == INT:
            return _int(raw)
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
           residue: list[str], after: list[str]) -> ParsedOptions:
    values = {name: opt.default_value() for name, opt in table.items()}
    starlark_flags: dict[str, str] = {}
    ignored: list[tuple[str, str]] = []
    sources: dict[str, str] = {}
    for occ in occurrences:
        word, opt = occ.word, occ.opt
        if not _applies(occ, command):
            if _skippable(occ):
                continue
            raise CommandLineError(f"{occ.text.partition('=')[0]} is not an option of 'kiln {command}'",
                                   location=word.location)
        if opt is None:
            starlark_flags[occ.key] = occ.raw or ""
        elif table.get(opt.name) is not opt:
            ignored.append((occ.text, opt.help))
            continue
        elif opt.multiple:
            values[opt.name] += (_convert(occ),)
        else:
            values[opt.name] = _convert(occ)
        sources[occ.key] = word.where
    return ParsedOptions(value_class(**values), starlark_flags, residue, after, ignored, sources)
