"""Kiln's command-line options: the table of what exists.

Which options each command honours, their types, defaults and converters. The
options of Bazel kiln accepts but ignores (rc files written for Bazel carry them)
are the catalogue's (kiln.cli.bazel_options, read by kiln.cli.known_options).
Parsing is kiln.cli.options.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, Callable

from kiln.cli.bazelrc import command_chain

COMMANDS = ("build", "test", "run", "query", "cquery", "aquery", "fetch", "clean", "info", "config", "version", "help")

BOOL, STR, INT, ENUM, TRISTATE = "bool", "str", "int", "enum", "tristate"
# Kinds only ignored Bazel options have: a boolean that also takes any value (`--slim_profile=5M`),
# and an option that stands for others and takes no value (`--remote_download_minimal`).
EITHER, EXPANSION = "either", "expansion"

_ALL = frozenset(COMMANDS)
_STARTUP = frozenset({"startup"})
# `test`, `run` and `info` take every build option through command_chain().
_BUILD = frozenset({"build"})
_TEST = frozenset({"test"})
_QUERY = frozenset({"query"})
_CLEAN = frozenset({"clean"})

TRUE_WORDS = ("true", "yes", "1")
FALSE_WORDS = ("false", "no", "0")
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


def parse_int(text: str) -> int:
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
    value = parse_int(text)
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
        seconds = parse_int(part.strip())
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


def _override_module(text: str) -> tuple[str, str]:
    name, eq, path = text.partition("=")
    if not eq or not name or not path:
        raise ValueError("expected NAME=PATH (a module name and the directory replacing it)")
    return name, path


def _instances(text: str) -> tuple[str, int]:
    """N, or MNEMONIC=N for one mnemonic's workers (mnemonic "" for all)."""
    mnemonic, _, count = text.rpartition("=")
    value = parse_int(count)
    if value < 1:
        raise ValueError(f"'{count}' must be at least 1")
    return mnemonic, value


def _extra_flag(text: str) -> tuple[str, str]:
    mnemonic, eq, flag = text.partition("=")
    # A mnemonic is a word: `--worker_impl=serial` alone is a flag missing its mnemonic.
    if not eq or not re.fullmatch(r"\w+", mnemonic) or not flag:
        raise ValueError("expected MNEMONIC=FLAG (a flag added to the startup arguments of that mnemonic's workers)")
    return mnemonic, flag


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
    OptionDef("worker_max_instances", STR, (), commands=_BUILD, multiple=True, convert=_instances,
              converts_to=tuple[str, int],
              help="N or MNEMONIC=N: singleplex worker processes per worker key (default 4)."),
    OptionDef("worker_max_multiplex_instances", STR, (), commands=_BUILD, multiple=True, convert=_instances,
              converts_to=tuple[str, int],
              help="N or MNEMONIC=N: multiplex worker processes per worker key, requests spread over them "
                   "(default: the number of CPUs, as a worker in Python uses one core)."),
    OptionDef("worker_extra_flag", STR, (), commands=_BUILD, multiple=True, convert=_extra_flag,
              converts_to=tuple[str, str], help="MNEMONIC=FLAG: appended to the startup arguments of its workers."),
    OptionDef("worker_sandboxing", BOOL, False, commands=_BUILD,
              help="Each worker request sees only its own inputs (singleplex unless multiplex sandboxing applies)."),
    OptionDef("experimental_worker_multiplex_sandboxing", BOOL, False, commands=_BUILD,
              help="Multiplex workers whose actions say supports-multiplex-sandboxing get a directory per request "
                   "(the request's sandboxDir)."),
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
    OptionDef("cache_test_results", TRISTATE, "auto", abbrev="t", commands=_TEST, help="Reuse passing results (yes, no, auto)."),
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
    OptionDef("implicit_deps", BOOL, True, commands=_QUERY,
              help="deps() follows rules' implicit dependencies (their private attributes, such as the precompile "
                   "settings a py_library reads)."),
    OptionDef("order_output", ENUM, "auto", commands=_QUERY, choices=("no", "deps", "auto", "full"),
              help="Output order."),
    # clean.
    OptionDef("expunge", BOOL, False, commands=_CLEAN, help="Remove the whole output base."),
    # Repositories: every command that loads packages (fetch, cquery and test through build).
    OptionDef("override_repository", STR, (), commands=_BUILD | _QUERY, multiple=True, convert=_override,
              converts_to=tuple[str, str], help="NAME=PATH: the repository @NAME is the directory PATH."),
    OptionDef("override_module", STR, (), commands=_BUILD | _QUERY, multiple=True, convert=_override_module,
              converts_to=tuple[str, str],
              help="NAME=PATH: the module NAME is the directory PATH, as a local_path_override of the root "
                   "module would make it."),
    OptionDef("repo_env", STR, (), commands=_BUILD | _QUERY, multiple=True,
              help="NAME=VALUE sets, NAME passes on, an environment variable for repository rules (pip's index, "
                   "python_version_env, git, cargo's splicing)."),
    OptionDef("repository_cache", STR, None, commands=_BUILD | _QUERY,
              help="Where downloads are kept by checksum, shared by all workspaces (default: "
                   "~/.cache/kiln/repository_cache; empty: no cache)."),
    OptionDef("distdir", STR, (), commands=_BUILD | _QUERY, multiple=True,
              help="A directory searched for a download by its file name before any URL is tried."),
)
