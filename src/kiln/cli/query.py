"""`kiln query EXPR`: the query language over loaded targets."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from kiln.cli.options import Invocation
from kiln.core.errors import CommandLineError, ExitCode
from kiln.core.labels import Label
from kiln.cli.lock import hold_output_base
from kiln.cli.saved_results import SavedResults
from kiln.loading.workspace import find_workspace


class LoaderQueryEnvironment:
    """QueryEnvironment over kiln's package loader."""

    def __init__(self, loader: Any, offset: str):
        from kiln.loading.target_patterns import PatternResolver

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
    output_base, _lock = hold_output_base(inv, workspace.root)
    output = inv.options.values.output
    if output == "transitions":
        raise CommandLineError("--output=transitions is a cquery output: use 'kiln cquery'")
    order = inv.options.values.order_output
    keep_going = inv.options.values.keep_going
    # A query's answer depends only on the BUILD and .bzl files it read: reuse it while they are unchanged.
    cache = SavedResults(output_base.root / "queries", output_base.tmp, output_base.root)
    key = cache.key("query", expression, output, order, keep_going, workspace.offset_of(cwd),
                    inv.options.values.incompatible_disallow_empty_glob, inv.options.values.enable_bzlmod,
                    str(workspace.root), inv.options.values.override_repository, inv.options.values.implicit_deps)
    saved = cache.load(key)
    if saved is not None:
        sys.stdout.write(saved)
        if not saved:
            print("INFO: Empty results", file=sys.stderr)
        return ExitCode.SUCCESS

    from kiln.cli.loading_setup import new_loader
    from kiln.query import evaluate, format_result

    loader = new_loader(workspace, output_base.root, inv.options.values,
                        report=lambda level, text: print(f"{level}: {text}", file=sys.stderr))
    env = LoaderQueryEnvironment(loader, workspace.offset_of(cwd))
    result = evaluate(expression, env, keep_going=keep_going, implicit_deps=inv.options.values.implicit_deps)
    for w in result.warnings:
        print(f"WARNING: {w}", file=sys.stderr)
    text = format_result(result.targets, output, env, order_output=order)
    sys.stdout.write(text)
    if not result.targets:
        print("INFO: Empty results", file=sys.stderr)
    if result.complete:
        cache.save(key, text, loader.files_read | loader.dirs_read)
    return ExitCode.SUCCESS if result.complete else ExitCode.TESTS_FAILED
