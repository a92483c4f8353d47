"""A stamp of kiln's own code: it changes whenever a file of kiln's changes.

Saved plans and run memos (kiln.cli.saved_results, kiln.cli.run_memo) carry it,
so nothing made by other code is reused. The standard library's os only:
`kiln run`'s fast path computes it before importing anything else (even hashlib
costs it ~2 ms of OpenSSL).
"""

from __future__ import annotations

import os

_SUFFIXES = (".py", ".bazel", ".bzl", ".sh")
_stamp: str | None = None


def code_stamp() -> str:
    """The path, mtime and size of every source file of the kiln package, as one string (~1 ms)."""
    global _stamp
    if _stamp is None:
        parts = []
        pending = [os.path.dirname(os.path.dirname(os.path.abspath(__file__)))]
        while pending:
            with os.scandir(pending.pop()) as it:
                entries = sorted(it, key=lambda e: e.name)
            for e in entries:
                if e.is_dir(follow_symlinks=False):
                    # Bytecode directories hold nothing that matters here: don't list them every time.
                    if e.name != "__pycache__":
                        pending.append(e.path)
                elif e.name.endswith(_SUFFIXES):
                    st = e.stat()
                    parts.append(f"{e.path}:{st.st_mtime_ns}:{st.st_size}")
        _stamp = ";".join(parts)
    return _stamp
