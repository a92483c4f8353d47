"""The content-addressed store: blobs named by sha256.

Crash safety: a blob is written under tmp/ and renamed into place, so a blob
path either does not exist or holds a complete file; a write that fails (disk
full) removes its temporary file and leaves the store as it was. Executable
outputs are stored as a separate `.x` blob so that a copy keeps its mode.

Nothing outside kiln is given a blob to write to (outputs are copies), but a
blob can still be damaged on disk: the materializer checks a blob against its
digest when it copies it out and discards one that does not match. Storing
content always writes it anew rather than trusting a blob already present
under its name, so producing the content again also repairs the blob.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from kiln.core.digests import Digest, digest_bytes
from kiln.execution.file_digests import digest_file
from kiln.execution.output_base import writing


class Cas:
    def __init__(self, root: Path, tmp: Path):
        self.root = root
        self.tmp = tmp
        self._root = str(root)

    def path(self, digest: Digest, executable: bool = False) -> str:
        # A string, not a Path: a no-op build asks for one per output.
        return f"{self._root}/{digest.hash[:2]}/{digest.hash}{'.x' if executable else ''}"

    def _install(self, tmp: str, digest: Digest, executable: bool) -> str:
        dest = self.path(digest, executable)
        os.chmod(tmp, 0o555 if executable else 0o444)
        try:
            os.replace(tmp, dest)
        except FileNotFoundError:
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            os.replace(tmp, dest)
        return dest

    def tmp_name(self) -> str:
        return str(self.tmp / f"b{os.getpid()}-{os.urandom(6).hex()}")

    def _write_new(self, write: Callable[[str], object], digest: Digest, executable: bool) -> None:
        tmp = self.tmp_name()
        with writing(tmp, self.path(digest, executable)):
            write(tmp)
            self._install(tmp, digest, executable)

    def put_bytes(self, data: bytes, executable: bool = False) -> Digest:
        digest = digest_bytes(data)

        def write(tmp: str) -> None:
            with open(tmp, "wb") as f:
                f.write(data)

        self._write_new(write, digest, executable)
        return digest

    def put_file(self, path: str, executable: bool = False, *, move: bool = False, digest: Digest | None = None) -> Digest:
        """Stores a file; with move=True the file is renamed into the store (same filesystem)."""
        digest = digest or digest_file(path)
        if move:
            self._install(path, digest, executable)
        else:
            self._write_new(lambda tmp: shutil.copyfile(path, tmp), digest, executable)
        return digest

    def discard(self, digest: Digest, executable: bool, inode: int) -> None:
        """Removes a damaged blob, unless it has meanwhile been replaced by a fresh one."""
        path = self.path(digest, executable)
        try:
            if os.stat(path).st_ino == inode:
                os.unlink(path)
        except FileNotFoundError:
            pass
