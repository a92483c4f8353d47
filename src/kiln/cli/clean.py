"""`kiln clean [--expunge]`: remove outputs (and with --expunge the whole output base)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from kiln.cli.options import Invocation
from kiln.core.errors import ExitCode
from kiln.cli.lock import hold_output_base
from kiln.loading.workspace import find_workspace


def run(inv: Invocation, cwd: Path) -> int:
    workspace = find_workspace(cwd)
    # Waits for a running command: removing its outputs under it would fail it or corrupt them.
    ob, _lock = hold_output_base(inv, workspace.root)
    prefix = inv.options.values.symlink_prefix
    if inv.options.values.expunge:
        print("INFO: Starting clean (this will remove the output base: cache, outputs and logs).", file=sys.stderr)
        shutil.rmtree(ob.root, ignore_errors=True)
    else:
        print("INFO: Starting clean.", file=sys.stderr)
        # Outputs and cache entries go; the content store is kept for --expunge, as Bazel keeps its disk cache.
        for d in (ob.root / "execroot", ob.action_cache, ob.sandboxes, ob.tmp):
            shutil.rmtree(d, ignore_errors=True)
    for name in ("bin", "out", "testlogs"):
        link = workspace.root / f"{prefix}{name}"
        if link.is_symlink():
            link.unlink()
    return ExitCode.SUCCESS
