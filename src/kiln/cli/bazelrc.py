"""Reading `.bazelrc` files into per-command option lists.

This module owns the rc file format and the rule that decides which rc lines
apply to a command; it does not know what the options mean (see options.py).

Files read, in order (each one appends): the workspace `.bazelrc`, the user's
`~/.bazelrc`, then every `--bazelrc=FILE` in command-line order. Bazel also
reads a system rc (`/etc/bazel.bazelrc`); kiln never does, so that a build
depends only on files inside the workspace, the user's home and the command
line (and tests never pick up machine-global settings). `--bazelrc=/dev/null`
stops the processing of any later `--bazelrc`, as in Bazel.

Line format, as Bazel's client parses it:

- a trailing backslash joins a line with the next one;
- words are split on whitespace; `'` and `"` quote, a backslash escapes the
  next character (also inside quotes), empty words vanish;
- `#` outside quotes starts a comment, even in the middle of a word;
- `import PATH` / `try-import PATH` read another file in place (`%workspace%`
  is the workspace root; a relative PATH is relative to the workspace root);
  a missing `try-import` file is skipped, a missing `import` file, a malformed
  import line and an import cycle are errors;
- any other line is `COMMAND[:CONFIG] option...`.

Errors do not stop the reading: each is kept (RcOptions.errors, with its file and
line) and the parser reports them together with the errors in the options, so one
run shows every bad line.

Which lines apply (Bazel's rule): for command C, the lines of `always`, then
`common`, then of each command C inherits from (outermost first), then of C
itself; for each of those, lines in the order they were read, across files.
So every `common` line comes before every `build` line, and `build` before
`test`, whatever file they are in. `--config=NAME` uses the same rule on the
`COMMAND:NAME` lines. Lines for commands kiln does not have (`cquery`,
`coverage`, ...) are kept and simply never apply; a name that is not a Bazel
command at all gives a warning.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from kiln.core.errors import CommandLineError, Location

# Options inherit along these edges (Bazel's `inheritsOptionsFrom`).
PARENT_COMMAND: dict[str, str] = {
    "test": "build",
    "run": "build",
    "info": "build",
    "fetch": "build",
    "coverage": "test",
    "cquery": "test",
    "aquery": "build",
    "mobile-install": "build",
    "print_action": "build",
}

# Names Bazel accepts before options in an rc line; anything else is a typo
# worth a warning, not an error, because Bazel only warns too.
_KNOWN_RC_COMMANDS = frozenset({
    "always", "common", "startup", "build", "test", "run", "query", "cquery",
    "aquery", "clean", "info", "version", "help", "fetch", "sync", "coverage",
    "mobile-install", "print_action", "dump", "shutdown", "mod", "vendor",
    "license", "analyze-profile", "canonicalize-flags", "config",
})

_DEV_NULL = "/dev/null"


def command_chain(command: str) -> list[str]:
    """The command and the commands it inherits options from, outermost first."""
    chain = [command]
    while chain[0] in PARENT_COMMAND:
        chain.insert(0, PARENT_COMMAND[chain[0]])
    return chain


@dataclass(frozen=True)
class RcSource:
    """Where an rc option was written; `command` is the line's command word."""

    file: str
    line: int
    command: str

    @property
    def location(self) -> Location:
        return Location(self.file, self.line)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


class RcOption(NamedTuple):
    word: str
    source: RcSource


@dataclass
class RcOptions:
    """Options from rc files, keyed by (command, config or None), in read order."""

    lines: dict[tuple[str, str | None], list[RcOption]] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[CommandLineError] = field(default_factory=list)
    # Every rc path looked at, read or missing, with its stat stamp then (None: missing), for
    # kiln.cli.run_memo: a file that appears, changes or goes away changes the options.
    looked_at: list[tuple[str, tuple | None]] = field(default_factory=list)

    def look_at(self, path: Path) -> bool:
        """Whether `path` is a file, noting its stamp."""
        try:
            st = os.stat(path)
        except OSError:
            self.looked_at.append((str(path), None))
            return False
        self.looked_at.append((str(path), (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino)))
        return stat.S_ISREG(st.st_mode)

    def add(self, command: str, config: str | None, option: RcOption) -> None:
        self.lines.setdefault((command, config), []).append(option)

    def options_for(self, command: str, config: str | None = None) -> list[RcOption]:
        """The options rc lines give `command` (or `--config=config` for it), in order."""
        if command == "startup":
            return list(self.lines.get(("startup", None), []))
        result: list[RcOption] = []
        for name in ["always", "common", *command_chain(command)]:
            result.extend(self.lines.get((name, config), []))
        return result

    def defines_config(self, command: str, config: str) -> bool:
        # Bazel's rule: a config exists for a command when some applicable
        # `CMD:config` line carries at least one option.
        return bool(self.options_for(command, config))


def read_rc_files(
    workspace_root: Path | None,
    home: Path | None,
    extra: list[Path],
    *,
    workspace_rc: bool = True,
    home_rc: bool = True,
    ignore_all: bool = False,
) -> RcOptions:
    """Reads the workspace, home and `--bazelrc` files (see the module docstring)."""
    rc = RcOptions()
    if ignore_all:
        return rc
    reader = _Reader(rc, workspace_root)
    candidates: list[tuple[Path, bool]] = []
    if workspace_rc and workspace_root is not None:
        candidates.append((workspace_root / ".bazelrc", False))
    if home_rc and home is not None:
        candidates.append((home / ".bazelrc", False))
    for path in extra:
        if str(path) == _DEV_NULL:
            break
        candidates.append((path, True))
    seen: set[Path] = set()
    for path, required in candidates:
        if not rc.look_at(path):
            if required:
                rc.errors.append(CommandLineError(f"Unable to read .bazelrc file '{path}'"))
            continue
        # The workspace and home rc can be the same file; read it once.
        resolved = path.resolve()
        if resolved in seen:
            continue
        seen.add(resolved)
        reader.read(path, [resolved])
    return rc


class _Reader:
    def __init__(self, rc: RcOptions, workspace_root: Path | None):
        self.rc = rc
        self.workspace_root = workspace_root

    def read(self, path: Path, stack: list[Path]) -> None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            self.rc.errors.append(CommandLineError(f"Unable to read .bazelrc file '{path}': {e}"))
            return
        self.rc.files.append(path)
        for lineno, line in _logical_lines(text):
            where = Location(str(path), lineno)
            try:
                self._line(path, lineno, line, where, stack)
            except CommandLineError as e:
                self.rc.errors.append(e)

    def _line(self, path: Path, lineno: int, line: str, where: Location, stack: list[Path]) -> None:
        words = split_rc_words(line, where)
        if not words:
            return
        head = words[0]
        if head in ("import", "try-import"):
            self._import(head, words, line, where, stack)
            return
        command, _, config = head.partition(":")
        if command not in _KNOWN_RC_COMMANDS:
            self.rc.warnings.append(f"{where}: invalid command name '{head}'")
        if command == "startup" and config:
            raise CommandLineError("'startup' lines cannot name a config", location=where)
        source = RcSource(str(path), lineno, command)
        for word in words[1:]:
            self.rc.add(command, config or None, RcOption(word, source))

    def _import(self, head: str, words: list[str], line: str, where: Location, stack: list[Path]) -> None:
        if len(words) != 2:
            raise CommandLineError(f"Invalid import declaration: '{line.strip()}'", location=where)
        target = words[1]
        if "%workspace%" in target:
            if self.workspace_root is None:
                raise CommandLineError(
                    f"'{target}' uses %workspace% but kiln is not running in a workspace", location=where
                )
            target = target.replace("%workspace%", str(self.workspace_root))
        path = Path(target)
        if not path.is_absolute():
            path = (self.workspace_root or Path.cwd()) / path
        if not self.rc.look_at(path):
            if head == "try-import":
                return
            raise CommandLineError(f"Unable to read .bazelrc file '{path}' (imported here)", location=where)
        resolved = path.resolve()
        if resolved in stack:
            chain = "".join(f"\n  {p}" for p in [*stack, resolved])
            raise CommandLineError(f"Import loop detected:{chain}", location=where)
        self.read(path, [*stack, resolved])


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Joins backslash-continued lines; each keeps the number of its first line."""
    result: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, physical in enumerate(text.splitlines(), start=1):
        if not pending:
            start = number
        if physical.endswith("\\"):
            pending.append(physical[:-1])
            continue
        pending.append(physical)
        result.append((start, "".join(pending)))
        pending = []
    if pending:
        result.append((start, "".join(pending)))
    return result


def split_rc_words(line: str, where: Location | None = None) -> list[str]:
    """Splits one logical rc line into words the way Bazel's client does."""
    words: list[str] = []
    current: list[str] = []
    quote = ""
    i = 0
    while i < len(line):
        c = line[i]
        i += 1
        if c == "\\":
            # An escape makes the next character literal, even inside quotes.
            if i < len(line):
                current.append(line[i])
                i += 1
        elif quote:
            if c == quote:
                quote = ""
            else:
                current.append(c)
        elif c in "'\"":
            quote = c
        elif c == "#":
            break
        elif c.isspace():
            # Empty words (`""`) vanish, as in Bazel.
            if current:
                words.append("".join(current))
            current = []
        else:
            current.append(c)
    if quote:
        # Bazel silently accepts this; an unclosed quote is almost always a
        # typo that would swallow the rest of the line, so say so.
        raise CommandLineError(f"Unterminated {quote} quote in rc line: {line.strip()}", location=where)
    if current:
        words.append("".join(current))
    return words
