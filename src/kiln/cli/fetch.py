"""`kiln fetch <patterns>`: fetch every external repository the targets need, build nothing.

Loads the targets and everything they depend on (deps() of the patterns),
which resolves, and so fetches, each repository on the way.
"""

from __future__ import annotations

import sys
from pathlib import Path

from kiln.cli.options import Invocation
from kiln.core.errors import CommandLineError, ExitCode


def run(inv: Invocation, cwd: Path) -> int:
    from kiln.cli.session import Session
    from kiln.query import evaluate

    patterns = inv.options.residue + inv.options.after_dashdash
    if not patterns:
        raise CommandLineError("no targets specified: name what to fetch for, e.g. kiln fetch //...")
    from kiln.cli.query import LoaderQueryEnvironment

    session = Session(inv, cwd)
    env = LoaderQueryEnvironment(session.loader, session.offset)
    expression = "deps(" + " + ".join(patterns) + ")"
    result = evaluate(expression, env, keep_going=inv.options.values.keep_going)
    repos = sorted({str(t.label.repo) for t in result.targets if t.label.repo})
    session.reporter.stop_live()
    print(f"INFO: All external dependencies fetched successfully ({len(repos)} repositories: "
          f"{', '.join('@' + r for r in repos) or 'none'}).", file=sys.stderr)
    return ExitCode.SUCCESS
