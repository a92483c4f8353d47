"""The content-addressed store: immutable blobs named by sha256.

Crash safety: a blob is written under tmp/ and renamed into place, so a blob
path either does not exist or holds the complete content. Executable outputs
are stored as a separate `.x` blob because hard links share one mode.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from kiln.core.digests import Digest, digest_bytes, digest_file


class Cas:
    def __init__(self, root: Path, tmp: Path):
        self.root = root
        self.tmp = tmp

    def path(self, digest: Digest, executable: bool = False) -> Path:
        name = digest.hash + (".x" if executable else "")
        return self.root / digest.hash[:2] / name

    def has(self, digest: Digest, executable: bool = False) -> bool:
        try:
            return os.stat(self.path(digest, executable)).st_size == digest.size
        except FileNotFoundError:
            return False

    def _install(self, tmp: str, digest: Digest, executable: bool) -> Path:
        dest = self.path(digest, executable)
        os.chmod(tmp, 0o555 if executable else 0o444)
        dest.parent.mkdir(exist_ok=True)
        os.replace(tmp, dest)
        return dest

    def _tmp_name(self) -> str:
        return str(self.tmp / f"b{os.getpid()}-{os.urandom(6).hex()}")

    def put_bytes(self, data: bytes, executable: bool = False) -> Digest:
        digest = digest_bytes(data)
        if not self.has(digest, executable):
            tmp = self._tmp_name()
            with open(tmp, "wb") as f:
                f.write(data)
            self._install(tmp, digest, executable)
        return digest

    def put_file(self, path: str, executable: bool = False, *, move: bool = False, digest: Digest | None = None) -> Digest:
        """Stores a file; with move=True the file is renamed into the store (same filesystem)."""
        digest = digest or digest_file(path)
        if self.has(digest, executable):
            if move:
                os.unlink(path)
            return digest
        if move:
            self._install(path, digest, executable)
        else:
            tmp = self._tmp_name()
            shutil.copyfile(path, tmp)
            self._install(tmp, digest, executable)
        return digest

    def read(self, digest: Digest) -> bytes:
        for executable in (False, True):
            p = self.path(digest, executable)
            if p.exists():
                return p.read_bytes()
        raise FileNotFoundError(str(digest))

    def ensure_variant(self, digest: Digest, executable: bool) -> Path:
        """The blob with the given mode, creating it from the other variant if needed."""
        if not self.has(digest, executable):
            other = self.path(digest, not executable)
            tmp = self._tmp_name()
            shutil.copyfile(other, tmp)
            self._install(tmp, digest, executable)
        return self.path(digest, executable)
