"""`kiln aquery EXPR`: the actions analysis registered, with the keys the caches file them under.

The expression is a cquery expression over configured targets, optionally
inside aquery's filters (kiln.query.aquery); every action of every configured
target it yields is printed (kiln.query.aquery_output), in `--output=text`
(the default) or `jsonproto`.

An action's key is computed as the build computes it: the scheduler's own
`spawn_of` (input digests with executable bits, tool runfiles trees) and the
output base's memo of keys (kiln.execution.action_keys). Source inputs are
hashed (remembered by stat, as a build does). A derived input's digest is what
its generating action produced — known only if that action, with its own key
computed the same way, has a result in the output base's action cache, which
is where the next build would take it from. Otherwise the key is reported
unknown rather than guessed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from kiln.cli.options import Invocation
from kiln.cli.session import Session
from kiln.core.errors import CommandLineError, ExitCode

_OUTPUTS = ("text", "jsonproto")


def run(inv: Invocation, cwd: Path) -> int:
    words = inv.options.residue + inv.options.after_dashdash
    if not words:
        raise CommandLineError("missing query expression. Use 'kiln aquery <expression>'")
    # --output is shared with query and cquery, whose default is "label": aquery's is text.
    output = inv.options.values.output if "output" in inv.options.sources else "text"
    if output not in _OUTPUTS:
        raise CommandLineError(f"--output={output} is not an aquery output; kiln aquery supports "
                               + ", ".join(_OUTPUTS))
    from kiln.query.aquery import evaluate, parse

    text = " ".join(words)
    expr = parse(text)
    session = Session(inv, cwd)
    from kiln.cli.config_store import remember
    from kiln.loading.target_patterns import PatternResolver

    analyzer = session.analyzer()
    resolver = PatternResolver(session.loader, session.offset, skip_manual=False)
    cts = evaluate(expr, text, lambda pattern: [analyzer.analyze(t.label) for t in resolver.resolve([pattern])])
    configured = analyzer.configured_targets()
    remember(session.output_base.root / "configurations", session.output_base.tmp, {ct.config for ct in configured})
    from kiln.cli.aquery_keys import ActionKeyFinder
    from kiln.query.aquery_output import ActionRow, format_jsonproto, format_text

    finder = ActionKeyFinder(session, configured)
    rows = []
    for ct in cts:
        if not ct.actions:
            continue
        platform = ct.toolchains.exec_platform if ct.toolchains else \
            analyzer.toolchains.execution_platforms(ct.config)[0]
        for action in ct.actions:
            if expr.keeps(action):
                key, note = finder.key(action)
                rows.append(ActionRow(action, ct.target.rule_kind, ct.config, str(platform.label),
                                      key, note))
    finder.save()
    session.reporter.stop_live()
    sys.stdout.write(format_jsonproto(rows) if output == "jsonproto" else format_text(rows))
    if not rows:
        print("INFO: Empty query results", file=sys.stderr)
    return ExitCode.SUCCESS
