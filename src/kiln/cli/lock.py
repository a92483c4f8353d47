"""A command's hold on its output base: located by the startup options, created, locked."""

from __future__ import annotations

import sys
from pathlib import Path

from kiln.cli.options import Invocation
from kiln.execution.output_base import OutputBase, locate_output_base
from kiln.execution.output_lock import OutputLock, lock_output_base


def hold_output_base(inv: Invocation, workspace_root: Path) -> tuple[OutputBase, OutputLock]:
    """The output base, locked for this command (waiting for another one unless --noblock_for_lock)."""
    output_base = locate_output_base(inv.startup.values.output_base, workspace_root)
    lock = lock_output_base(output_base, block=inv.startup.values.block_for_lock,
                            on_wait=_say)
    return output_base, lock


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
