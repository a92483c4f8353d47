"""The `kiln` command: parse options, run one command, map failures to exit codes.

Nothing but os and sys is imported before `kiln run`'s fast path (kiln.cli.run_memo) has had its
chance: when it runs the program, kiln's start-up is the interpreter's and a few milliseconds.
"""

from __future__ import annotations

import os
import sys


def _dispatch(argv: list[str]) -> int:
    from pathlib import Path

    import kiln
    from kiln.cli.options import LENIENT_REASON, parse_command_line
    from kiln.core.errors import ExitCode, KilnError
    from kiln.loading.workspace import find_workspace

    cwd = Path(os.getcwd())
    try:
        root = find_workspace(cwd).root
    except KilnError:
        root = None
    inv = parse_command_line(argv, workspace_root=root, home=Path(os.path.expanduser("~")))
    for warning in inv.rc.warnings:
        print(f"WARNING: {warning}", file=sys.stderr)
    for text, reason in [*inv.startup.ignored, *inv.options.ignored]:
        if reason == LENIENT_REASON:
            print(f"WARNING: {text.partition('=')[0]} is {reason}; it has no effect", file=sys.stderr)
    if inv.command == "version":
        print(f"kiln {kiln.__version__}")
        return ExitCode.SUCCESS
    if inv.command == "help":
        from kiln.cli.help import render

        residue = inv.options.residue
        print(render(residue[0] if residue else None), end="")
        return ExitCode.SUCCESS
    import importlib

    # Only the command being run is imported: start-up time is most of a no-op build.
    command = importlib.import_module(f"kiln.cli.{inv.command}")
    # An exit code, or for `kiln run` the program to exec (kiln.cli.run_memo.Launch) from the main thread.
    return command.run(inv, cwd)


def _guarded(argv: list[str]) -> int:
    from kiln.core.errors import ExitCode, KilnError

    try:
        return _dispatch(argv)
    except KilnError as e:
        sys.stdout.flush()
        print(f"ERROR: {e.render()}", file=sys.stderr)
        return int(e.exit_code)
    except KeyboardInterrupt:
        print("\nERROR: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except OSError as e:
        if e.errno == 28:  # ENOSPC
            print(f"ERROR: local environment problem: {e}", file=sys.stderr)
            return ExitCode.LOCAL_ENVIRONMENT_ERROR
        return _internal_error()
    except Exception:
        return _internal_error()


def _internal_error() -> int:
    import traceback

    from kiln.core.errors import ExitCode

    print("INTERNAL ERROR: kiln crashed; this is a bug in kiln, not in your workspace.", file=sys.stderr)
    traceback.print_exc()
    return ExitCode.INTERNAL_ERROR


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "run" in argv:
        from kiln.cli.run_memo import fast_run

        code = fast_run(argv)
        if code is not None:
            return code
    import threading

    from kiln.core.errors import ExitCode

    # Analysis follows dependency chains recursively; deep workspaces need a deep stack.
    sys.setrecursionlimit(100_000)
    threading.stack_size(512 * 1024 * 1024)
    result: list[int] = []
    worker = threading.Thread(target=lambda: result.append(_guarded(argv)), name="kiln-main")
    worker.start()
    try:
        worker.join()
    except KeyboardInterrupt:
        from kiln.execution import processes

        processes.kill_all()
        print("\nERROR: interrupted", file=sys.stderr)
        sys.stderr.flush()
        os._exit(ExitCode.INTERRUPTED)
    sys.stdout.flush()
    outcome = result[0] if result else ExitCode.INTERNAL_ERROR
    if not isinstance(outcome, int):
        from kiln.cli.run_memo import exec_program

        try:
            exec_program(outcome.program, outcome.argv, outcome.cwd, outcome.env)
        except OSError as e:
            print(f"ERROR: cannot run {outcome.what}: {e.strerror}", file=sys.stderr)
            return ExitCode.BUILD_FAILURE
    return outcome
