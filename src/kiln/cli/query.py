"""`kiln query EXPR`: the query language over loaded targets."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from kiln.cli.options import Invocation
from kiln.core.errors import CommandLineError, ExitCode
from kiln.core.labels import Label
from kiln.loading.loader import Loader
from kiln.loading.target_patterns import PatternResolver
from kiln.loading.workspace import find_workspace
from kiln.query import evaluate, format_result
from kiln.rules import default_registry


class LoaderQueryEnvironment:
    """QueryEnvironment over kiln's package loader."""

    def __init__(self, loader: Loader, offset: str):
        self.loader = loader
        self.resolver = PatternResolver(loader, offset, skip_manual=False)

    def resolve_pattern(self, text: str) -> list[Any]:
        return self.resolver.resolve([text])

    def get_target(self, label: Label) -> Any:
        return self.loader.get_target(label)


def run(inv: Invocation, cwd: Path) -> int:
    words = inv.options.residue + inv.options.after_dashdash
    if not words:
        raise CommandLineError("missing query expression. Use 'kiln query <expression>'")
    expression = " ".join(words)
    workspace = find_workspace(cwd)
    opts = inv.options.values
    loader = Loader(workspace, default_registry(),
                    report=lambda level, text: print(f"{level}: {text}", file=sys.stderr),
                    disallow_empty_glob=bool(opts.get("incompatible_disallow_empty_glob", True)))
    env = LoaderQueryEnvironment(loader, workspace.offset_of(cwd))
    result = evaluate(expression, env, keep_going=bool(opts.get("keep_going")))
    for w in result.warnings:
        print(f"WARNING: {w}", file=sys.stderr)
    text = format_result(result.targets, opts.get("output") or "label", env,
                         order_output=opts.get("order_output") or "auto")
    sys.stdout.write(text)
    if not result.targets:
        print("INFO: Empty results", file=sys.stderr)
    return ExitCode.SUCCESS if result.complete else ExitCode.TESTS_FAILED
