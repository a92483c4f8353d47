"""`kiln run //pkg:bin -- args`: build one executable, then run it attached to the terminal."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from kiln.cli.options import Invocation
from kiln.cli.session import Session
from kiln.core.errors import CommandLineError, ExitCode, KilnError
from kiln.core.providers import RunEnvironmentInfo


def run(inv: Invocation, cwd: Path) -> int:
    session = Session(inv, cwd)
    words = inv.options.residue
    if len(words) != 1:
        raise CommandLineError(
            "kiln run needs exactly one target; put the program's arguments after '--' "
            f"(got {len(words)} target words: {' '.join(words) or 'none'})"
        )
    plan, _ = session.plan("run", words)
    if len(plan.top) != 1:
        raise CommandLineError(f"'{words[0]}' matches {len(plan.top)} targets; kiln run needs exactly one")
    top = plan.top[0]
    exe = top.executable
    if exe is None:
        raise CommandLineError(f"Cannot run target {top.label}: Not executable ({top.rule_kind} targets cannot be run)")
    result = session.execute(plan)
    session.finish(result, show_outputs=False)
    if not result.ok:
        return ExitCode.BUILD_FAILURE
    run_env = top.run_env or RunEnvironmentInfo()
    program = session.output_path(exe, plan)
    runfiles = str(program) + ".runfiles"
    env = dict(os.environ)
    env.update(dict(run_env.environment))
    env["RUNFILES_DIR"] = runfiles
    env["BUILD_WORKSPACE_DIRECTORY"] = str(session.workspace.root)
    env["BUILD_WORKING_DIRECTORY"] = str(cwd)
    argv = [str(program), *run_env.args, *inv.options.after_dashdash]
    sys.stdout.flush()
    sys.stderr.flush()
    # As Bazel: a long-running program does not keep other commands waiting.
    session.lock.release()
    # The program runs from its runfiles tree, as under Bazel, with the terminal attached.
    try:
        proc = subprocess.run(argv, cwd=os.path.join(runfiles, "_main"), env=env)
    except OSError as e:
        raise KilnError(f"cannot run {top.label} ({program}): {e.strerror}") from None
    return proc.returncode if proc.returncode >= 0 else 128 - proc.returncode
