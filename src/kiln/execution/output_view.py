"""What the terminal shows of an action's output: at most a set number of bytes.

stdout and stderr are blobs in the store. Up to the limit
(--experimental_ui_max_stdouterr_bytes) is read and shown; beyond it the whole
output is copied to `kiln-out/_tmp/actions/` and the message names that file,
so nothing is lost and nothing large passes through memory.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from kiln.core.actions import Action
from kiln.core.digests import Digest
from kiln.execution.cas import Cas


class OutputView:
    def __init__(self, cas: Cas, log_dir: Path, limit: int, shown_dir: str):
        self.cas = cas
        self.log_dir = log_dir
        # Negative: no limit.
        self.limit = limit
        # How the message names log_dir (e.g. "kiln-out/_tmp/actions").
        self.shown_dir = shown_dir

    def text(self, action: Action, key: str, stdout: Digest | None, stderr: Digest | None) -> str:
        streams = [(name, d) for name, d in (("stdout", stdout), ("stderr", stderr)) if d is not None]
        total = sum(d.size for _, d in streams)
        budget = total if self.limit < 0 else min(total, self.limit)
        parts = []
        for _, d in streams:
            take = min(budget, d.size)
            budget -= take
            if take:
                with open(self.cas.path(d), "rb") as f:
                    parts.append(f.read(take))
        text = b"".join(parts).decode("utf-8", "replace")
        shown = sum(len(p) for p in parts)
        if shown == total:
            return text
        names = []
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for name, d in streams:
            file = f"{action.mnemonic}-{key[:12]}.{name}"
            shutil.copyfile(self.cas.path(d), self.log_dir / file)
            names.append(f"{self.shown_dir}/{file}")
        return (text.rstrip("\n") + f"\n... (output truncated: {shown} of {total} bytes shown; "
                f"the whole output is in {' and '.join(names)})")
