"""`kiln cquery EXPR`: the query language over configured targets (`//pkg:t (abc1234)`).

Loads and analyses what the expression's patterns name, in the configuration
the command line sets, then evaluates over the configured graph (exec tools
and transitioned targets appear with their own configurations). The
configurations are remembered for `kiln config ID`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from kiln.cli.options import Invocation
from kiln.cli.session import Session
from kiln.core.errors import CommandLineError, ExitCode

_OUTPUTS = ("label", "label_kind", "transitions")


def run(inv: Invocation, cwd: Path) -> int:
    words = inv.options.residue + inv.options.after_dashdash
    if not words:
        raise CommandLineError("missing query expression. Use 'kiln cquery <expression>'")
    output = inv.options.values.output
    if output not in _OUTPUTS:
        raise CommandLineError(f"--output={output} is not a cquery output; kiln cquery supports "
                               + ", ".join(_OUTPUTS))
    session = Session(inv, cwd)
    from kiln.cli.config_store import remember
    from kiln.loading.target_patterns import PatternResolver
    from kiln.query.cquery import evaluate, format_results

    analyzer = session.analyzer()
    resolver = PatternResolver(session.loader, session.offset, skip_manual=False)

    def resolve(pattern: str) -> list:
        return [analyzer.analyze(t.label) for t in resolver.resolve([pattern])]

    cts = evaluate(" ".join(words), resolve)
    remember(session.output_base.root / "configurations", session.output_base.tmp,
             {ct.config for ct in analyzer.configured_targets()})
    session.reporter.stop_live()
    sys.stdout.write(format_results(cts, output))
    if not cts:
        print("INFO: Empty query results", file=sys.stderr)
    return ExitCode.SUCCESS
