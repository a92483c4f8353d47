"""`kiln build`: analyse the matched targets and build their outputs."""

from __future__ import annotations

from pathlib import Path

from kiln.cli.options import Invocation
from kiln.cli.session import Session
from kiln.core.errors import ExitCode


def run(inv: Invocation, cwd: Path) -> int:
    session = Session(inv, cwd)
    patterns = inv.options.residue + inv.options.after_dashdash
    if not patterns:
        # As Bazel: asking for nothing is not an error.
        session.events.warning("Usage: kiln build <options> <targets>. Your request is correct, but requested "
                               "nothing to build.")
        return ExitCode.SUCCESS
    plan, failed = session.plan("build", patterns)
    result = session.execute(plan)
    result.failed_targets |= failed
    result.ok = result.ok and not failed and not session.pattern_errors
    session.finish(result)
    return ExitCode.SUCCESS if result.ok else ExitCode.BUILD_FAILURE
