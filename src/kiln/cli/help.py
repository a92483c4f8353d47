"""`kiln help`: the command list, a command's options, target syntax and startup options, as Bazel's help.

`kiln help`, `kiln --help` and `kiln -h` print the usage; `kiln help COMMAND` and `kiln COMMAND --help`
list the options COMMAND takes, one line each: the ones kiln honours with their kind, default and
meaning, then the ones of Bazel it accepts and ignores, with the reason.
"""

from __future__ import annotations

from typing import Any

from kiln.cli.option_table import BOOL, EITHER, ENUM, EXPANSION, INT, OPTIONS, STARTUP_OPTIONS, TRISTATE, OptionDef
from kiln.core.errors import CommandLineError

_COMMANDS = {
    "build": "Builds the specified targets.",
    "test": "Builds and runs the specified test targets.",
    "run": "Builds and runs the specified target.",
    "query": "Executes a dependency graph query.",
    "cquery": "Executes a query over configured targets (after analysis).",
    "aquery": "Shows the actions analysis registered, with their cache keys.",
    "fetch": "Fetches the external repositories the targets need.",
    "clean": "Removes output files and optionally the output base.",
    "info": "Displays runtime info about the workspace.",
    "config": "Lists the configurations builds used, or shows what one stands for.",
    "version": "Prints version information for kiln.",
    "help": "Prints help for commands, or the index.",
}

_TOPICS = {
    "target-syntax": "Explains the syntax for specifying targets.",
    "startup_options": "Options for the kiln program itself, given before the command.",
}

_TARGET_SYNTAX = """Target pattern syntax
=====================

The BUILD file label syntax is used to specify a single target. Target
patterns generalize this syntax to sets of targets, and also support
working-directory-relative forms, recursion, subtraction and filtering.
Examples:

Specifying a single target:

  //foo/bar:wiz     The single target '//foo/bar:wiz'.
  foo/bar/wiz       Equivalent to '//foo/bar/wiz:wiz' (if foo/bar/wiz is a package),
                    or to '//foo/bar:wiz' otherwise.
  //foo/bar         Equivalent to '//foo/bar:bar'.
  @repo//pkg:t      The target 't' of package 'pkg' in the external repository '@repo'.

Specifying all rules in a package:

  //foo/bar:all     Matches all rules in package 'foo/bar'.

Specifying all rules recursively beneath a package:

  //foo/...:all     Matches all rules in all packages beneath directory 'foo'.
  //foo/...         (ditto)

Specifying all targets (rules and files) in a package or beneath it:

  //foo/bar:*       Matches all targets in package 'foo/bar'.
  //foo/...:*       Matches all targets in all packages beneath 'foo'.
  //foo/bar:all-targets   (same as //foo/bar:*)

Working-directory relative forms: if the working directory is inside the
workspace, a pattern not starting with '//' is taken relative to it:

  :foo              Equivalent to '//<cwd>:foo'.
  bar:wiz           Equivalent to '//<cwd>/bar:wiz'.
  ...               Equivalent to '//<cwd>/...'.

Subtraction: a pattern preceded by '-' removes what it matches from the
union of the patterns before it. Patterns are evaluated left to right:

  kiln build -- foo/... -foo/contrib/...

builds everything in 'foo' except 'foo/contrib'. Put such patterns after
'--' so that they are not taken for options. Targets tagged 'manual' are
left out of wildcards such as '...', ':all' and ':*'.
"""


def usage() -> str:
    """`kiln help`: what kiln is called with, and its commands."""
    lines = ["Usage: kiln <command> <options> ...", "", "Available commands:"]
    lines += [f"  {name:<10} {text}" for name, text in _COMMANDS.items()]
    lines += ["", "Getting more help:", "  kiln help <command>", "                   Prints help and options for <command>."]
    lines += [f"  kiln help {topic}\n                   {text}" for topic, text in _TOPICS.items()]
    return "\n".join(lines) + "\n"


def render(topic: str | None) -> str:
    """The text `kiln help [topic]` prints; an unknown topic is a command-line error."""
    if topic is None:
        return usage()
    if topic == "target-syntax":
        return _TARGET_SYNTAX
    if topic == "startup_options":
        return _options_text("startup", "Startup options, given before the command:", STARTUP_OPTIONS.values())
    if topic not in _COMMANDS:
        topics = ", ".join([*_COMMANDS, *_TOPICS])
        raise CommandLineError(f"'{topic}' is not a known command or help topic; try one of: {topics}")
    header = f"Usage: kiln {topic} <options> ...\n\n{_COMMANDS[topic]}\n\nOptions:"
    if topic in ("build", "test", "run", "cquery", "aquery", "fetch"):
        header = (f"Usage: kiln {topic} <options> <targets>\n\n{_COMMANDS[topic]}\n"
                  "See 'kiln help target-syntax' for how to specify targets.\n\nOptions:")
    return _options_text(topic, header, (o for o in OPTIONS.values() if o.applies_to(topic)))


def _options_text(command: str, header: str, honoured: Any) -> str:
    from kiln.cli.known_options import catalogue, ignored_option

    honoured = sorted(honoured, key=lambda o: o.name)
    lines = [header, *(_line(opt, f"default: {_default(opt)}", opt.help) for opt in honoured)]
    taken = {opt.name for opt in honoured}
    ignored = [opt for name in sorted(catalogue()) if name not in taken
               for opt in [ignored_option(name, command)] if opt is not None]
    if ignored:
        lines += ["", "Options of Bazel kiln accepts and ignores (--announce_rc names them when used):"]
        lines += [_line(opt, "ignored", opt.help) for opt in ignored]
    return "\n".join(lines) + "\n"


def _line(opt: OptionDef, state: str, text: str) -> str:
    negatable = opt.kind in (BOOL, TRISTATE, EITHER)
    form = f"--{'[no]' if negatable else ''}{opt.name}"
    if opt.abbrev:
        form += f" [-{opt.abbrev}]"
    return f"  {form} ({_kind(opt)}; {state}): {text}"


def _kind(opt: OptionDef) -> str:
    kind = {BOOL: "a boolean", TRISTATE: "yes, no or auto", EITHER: "a boolean or a value",
            EXPANSION: "takes no value", INT: "an integer"}.get(opt.kind, "a string")
    if opt.kind == ENUM and opt.choices:
        kind = ", ".join(opt.choices)
    return kind + ("; may be repeated" if opt.multiple else "")


def _default(opt: OptionDef) -> str:
    value = opt.default_value()
    if opt.multiple or value in ((), None, ""):
        return '""' if not opt.multiple else "none"
    if isinstance(value, bool):
        return '"true"' if value else '"false"'
    if isinstance(value, tuple):
        return '"' + ",".join(str(v) for v in value) + '"'
    return f'"{value}"'
