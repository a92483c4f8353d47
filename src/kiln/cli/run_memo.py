"""`kiln run`'s fast path: start the program at once when nothing its last build rested on changed.

A `kiln run` whose build succeeded leaves a memo, keyed by the command line before `--`, the
working directory, the environment and kiln's interpreter (path and version). It lists the
(path, stat stamp) of everything that build's up-to-date decisions rested on:

- the files and directories its saved plan was made from (the plan's kiln.cli.saved_results entry:
  BUILD, .bzl and module files, listed directories, repository markers);
- the rc files looked at (read or missing) and the files that mark the workspace root;
- every source file the program's actions read, with the stamp under which kiln last hashed it
  (FileDigests), every output with the stamps kiln recorded when it put it there, and of the store
  blob it came from (MaterializedOutputs), and the program's runfiles tree.

The stamps are those the decisions were made on, not taken afterwards, so a file edited while the
build ran shows as changed. The next identical command checks them all, with kiln's code stamp, and
runs the program under the output base's lock (no other command is changing outputs then) — without
importing the rest of kiln, loading the plan or consulting the action cache. A missing or damaged
memo, any difference, or a lock held by another command: the normal path, which leaves a new memo.
What a stamp cannot show gets no memo: a program whose actions read a source directory, write a
directory output, or must run every time (no-cache). Like the normal path, the fast one ends by
exec'ing the program, as `bazel run` does.

Only modules built into the interpreter (and zlib) are imported until the program is known to be
current: the fast path's start-up is the interpreter's plus ~3 ms.
"""

from __future__ import annotations

import marshal
import os
import sys
import time
import zlib

from kiln.cli.code_stamp import code_stamp

_FORMAT = 1
# Variables a shell changes between two identical commands; nothing kiln does depends on them.
_VOLATILE_ENV = frozenset({"_", "OLDPWD", "PWD", "SHLVL"})
# Memos kept per user: the most recently written ones.
_KEEP = 64
# How a path's stamp is taken: stat with ctime, or without it (a store blob: every sandbox that links
# it changes its ctime).
STAT, BLOB = 0, 1


def stamp(path: str, how: int = STAT) -> tuple | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, 0 if how == BLOB else st.st_ctime_ns, st.st_size, st.st_ino)


def _split(argv: list[str]) -> tuple[list[str], list[str]]:
    if "--" in argv:
        at = argv.index("--")
        return argv[:at], argv[at + 1:]
    return argv, []


def _key(before: list[str], cwd: str, environ) -> tuple[str, str]:
    """(the memo's key, the path of its file). The file is named by two checksums of the key, and
    holds the key itself: a memo is used only if the whole key is equal."""
    env = sorted((k, v) for k, v in environ.items() if k not in _VOLATILE_ENV)
    key = repr((_FORMAT, sys.executable, sys.version, before, cwd, env))
    data = key.encode("utf-8", "surrogateescape")
    xdg = environ.get("XDG_CACHE_HOME", "")
    base = xdg if os.path.isabs(xdg) else os.path.join(environ.get("HOME") or os.path.expanduser("~"), ".cache")
    return key, os.path.join(base, "kiln", "run_memos", f"{zlib.crc32(data):08x}{zlib.adler32(data):08x}")


def fast_run(argv: list[str]) -> int | None:
    """Runs the program if this command's memo says its build is current; None: take the normal path."""
    started = time.monotonic()
    before, after = _split(argv)
    if "run" not in before:
        return None
    cwd = os.getcwd()
    key, path = _key(before, cwd, os.environ)
    try:
        with open(path, "rb") as f:
            memo = marshal.load(f)
        if memo["key"] != key or memo["code"] != code_stamp():
            return None
        lock_path, checks = memo["lock"], memo["checks"]
    except (OSError, EOFError, ValueError, TypeError, KeyError):
        return None
    import fcntl

    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return None  # another command is running: the normal path waits for it, saying so
        try:
            same = os.fstat(fd).st_ino == os.stat(lock_path).st_ino
        except OSError:
            same = False
        if not same:
            return None  # the output base was removed (clean --expunge) and made again
        for path, how, saved in checks:
            if stamp(path, how) != saved:
                return None
    finally:
        os.close(fd)
    for warning in memo["warnings"]:
        print(f"WARNING: {warning}", file=sys.stderr)
    print(f"INFO: Build completed successfully: 1 target, up to date (checked {len(checks)} files), "
          f"{time.monotonic() - started:.2f}s elapsed", file=sys.stderr, flush=True)
    env = dict(os.environ)
    env.update(memo["env"])
    env["BUILD_WORKING_DIRECTORY"] = cwd
    try:
        exec_program(memo["program"], [memo["program"], *memo["args"], *after], memo["cwd"], env)
    except OSError as e:
        # As the normal path says it (kiln.cli.main); after chdir and the signal changes there is no
        # going back to it.
        print(f"ERROR: cannot run {memo['program']}: {e.strerror}", file=sys.stderr)
        return 1


class Launch:
    """The program a `kiln run` ends in: the command's thread hands it to the main thread, which
    alone can reset signal handling before exec_program."""

    __slots__ = ("program", "argv", "cwd", "env", "what")

    def __init__(self, program: str, argv: list[str], cwd: str, env: dict[str, str], what: str):
        self.program, self.argv, self.cwd, self.env, self.what = program, argv, cwd, env, what


def exec_program(program: str, argv: list[str], cwd: str, env: dict[str, str]) -> None:
    """Replaces kiln with the program, attached to the terminal, as `bazel run` does: its exit
    status and signals are the command's. Returns only by raising OSError. Main thread only."""
    # The signal module's C half: `signal` itself imports enum (~1.5 ms).
    import _signal

    # As subprocess does for its children: the signals Python ignores are the program's again.
    for number in (_signal.SIGPIPE, _signal.SIGXFSZ):
        _signal.signal(number, _signal.SIG_DFL)
    sys.stdout.flush()
    sys.stderr.flush()
    os.chdir(cwd)
    os.execve(program, argv, env)


def remember(argv: list[str], cwd: str, checks: list[tuple[str, int, tuple | None]], *, lock: str,
             program: str, args: list[str], run_cwd: str, env: dict[str, str], warnings: list[str]) -> None:
    """Writes this command's memo (see the module docstring); `checks` are (path, STAT or BLOB, stamp)."""
    key, path = _key(_split(argv)[0], cwd, os.environ)
    memo = {"key": key, "code": code_stamp(), "lock": lock, "checks": list(dict.fromkeys(checks)),
            "program": program, "args": args, "cwd": run_cwd, "env": env, "warnings": warnings}
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        marshal.dump(memo, f)
    os.replace(tmp, path)
    _prune(directory)


def forget(argv: list[str], cwd: str) -> None:
    """Removes this command's memo: its build failed, or is not one a memo can vouch for."""
    try:
        os.unlink(_key(_split(argv)[0], cwd, os.environ)[1])
    except OSError:
        pass


def _prune(directory: str) -> None:
    try:
        with os.scandir(directory) as it:
            entries = [(e.stat().st_mtime_ns, e.path) for e in it]
    except OSError:
        return
    for _, path in sorted(entries, reverse=True)[_KEEP:]:
        try:
            os.unlink(path)
        except OSError:
            pass
