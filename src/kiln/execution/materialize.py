"""Exposes CAS blobs at their output paths (kiln-out/...) as hard links.

A link is replaced by linking to a temporary name and renaming over the old
one, so an output path always names a complete file.
"""

from __future__ import annotations

import os
from pathlib import Path

from kiln.core.digests import Digest
from kiln.execution.cas import Cas


class Materializer:
    def __init__(self, execroot: Path, cas: Cas, tmp: Path):
        self.execroot = execroot
        self.cas = cas
        self.tmp = tmp

    def link(self, exec_path: str, digest: Digest, executable: bool) -> Path:
        blob = self.cas.ensure_variant(digest, executable)
        target = self.execroot / exec_path
        try:
            if os.stat(target).st_ino == os.stat(blob).st_ino:
                return target
        except FileNotFoundError:
            pass
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.tmp / f"l{os.getpid()}-{os.urandom(6).hex()}"
        try:
            os.link(blob, tmp)
        except OSError:
            # Another filesystem or too many links: a copy is correct, only slower.
            import shutil

            shutil.copy2(blob, tmp)
        os.replace(tmp, target)
        return target

    def remove(self, exec_path: str) -> None:
        try:
            os.unlink(self.execroot / exec_path)
        except FileNotFoundError:
            pass
