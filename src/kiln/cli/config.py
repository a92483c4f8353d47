"""`kiln config [ID...]`: the configurations builds used, and what one of them stands for."""

from __future__ import annotations

from pathlib import Path

from kiln.cli.config_store import known
from kiln.cli.options import Invocation
from kiln.core.errors import CommandLineError, ExitCode
from kiln.execution.output_base import locate_output_base
from kiln.loading.workspace import find_workspace


def run(inv: Invocation, cwd: Path) -> int:
    workspace = find_workspace(cwd)
    ob = locate_output_base(inv.startup.values.output_base, workspace.root)
    configs = known(ob.root / "configurations")
    ids = inv.options.residue
    if not ids:
        print("Available configurations:")
        for c in sorted(configs, key=lambda c: c.name):
            print(f"{c.short_id} {c.name}")
        return ExitCode.SUCCESS
    for wanted in ids:
        matches = [c for c in configs if c.id.startswith(wanted)]
        if not matches:
            raise CommandLineError(f"No configuration found with id: {wanted}")
        if len(matches) > 1:
            raise CommandLineError(f"Configuration id {wanted} is ambiguous: it matches "
                                   + ", ".join(c.short_id for c in matches))
        print(matches[0].describe())
    return ExitCode.SUCCESS
