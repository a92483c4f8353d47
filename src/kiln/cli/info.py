"""`kiln info [KEY]`: where things are."""

from __future__ import annotations

import sys
from pathlib import Path

import kiln
from kiln.cli.options import Invocation
from kiln.cli.session import make_configuration
from kiln.core.errors import CommandLineError, ExitCode
from kiln.execution.output_base import locate_output_base
from kiln.loading.workspace import find_workspace


def run(inv: Invocation, cwd: Path) -> int:
    workspace = find_workspace(cwd)
    # Only names paths: it neither creates nor locks the output base.
    ob = locate_output_base(inv.startup.values.output_base, workspace.root)
    config = make_configuration(inv)
    table = {
        "workspace": str(workspace.root),
        "output_base": str(ob.root),
        "execution_root": str(ob.execroot),
        "output_path": str(ob.execroot / "kiln-out"),
        "kiln-bin": str(ob.execroot / config.bin_dir),
        "kiln-testlogs": str(ob.execroot / config.output_dir / "testlogs"),
        "repository_cache": str(ob.root / "repos"),
        "release": f"kiln {kiln.__version__}",
        "python": sys.executable,
        "compilation_mode": config.compilation_mode,
    }
    keys = inv.options.residue
    for key in keys:
        if key not in table:
            raise CommandLineError(f"unknown key: '{key}' (known keys: {', '.join(table)})")
    if len(keys) == 1:
        print(table[keys[0]])
    else:
        for key in keys or table:
            print(f"{key}: {table[key]}")
    return ExitCode.SUCCESS
