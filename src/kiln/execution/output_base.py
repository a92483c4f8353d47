"""The output base: where one workspace's store, outputs and scratch space live.

    <output_base>/cas/        content-addressed blobs
    <output_base>/ac/         action cache entries
    <output_base>/tc/         test result cache entries
    <output_base>/execroot/_main/kiln-out/...   outputs, copied from the CAS
    <output_base>/materialized_outputs          what kiln put there (stat stamps)
    <output_base>/sandbox/    per-action exec roots
    <output_base>/tmp/        partial writes, renamed into place when complete
    <output_base>/lock        held by the one command using the output base (execution/output_lock.py)
"""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from kiln.core.errors import LocalEnvironmentError


def locate_output_base(option: str | None, workspace_root: Path) -> "OutputBase":
    """The output base --output_base names, else the workspace's default one."""
    return OutputBase(Path(option).resolve() if option else default_output_base(workspace_root))


def default_output_base(workspace_root: Path) -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    digest = hashlib.sha256(str(workspace_root).encode()).hexdigest()[:16]
    return Path(cache) / "kiln" / digest


@dataclass(frozen=True)
class OutputBase:
    root: Path

    @property
    def cas(self) -> Path:
        return self.root / "cas"

    @property
    def action_cache(self) -> Path:
        return self.root / "ac"

    @property
    def execroot(self) -> Path:
        return self.root / "execroot" / "_main"

    @property
    def sandboxes(self) -> Path:
        return self.root / "sandbox"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    @property
    def file_digests(self) -> Path:
        return self.root / "file_digests"

    @property
    def materialized_outputs(self) -> Path:
        return self.root / "materialized_outputs"

    def output_path(self, exec_path: str) -> Path:
        return self.execroot / exec_path

    def create_root(self) -> None:
        self._mkdirs(self.root)

    def create(self) -> None:
        self._mkdirs(self.cas, self.action_cache, self.execroot, self.sandboxes, self.tmp)

    def _mkdirs(self, *dirs: Path) -> None:
        try:
            for d in dirs:
                d.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            # e.g. a parent that is a file, a read-only file system, no permission, a full disk.
            # mkdir says "File exists" for a file standing where a directory must be: say what is wrong.
            reason = os.strerror(errno.ENOTDIR) if isinstance(e, FileExistsError) else e.strerror
            raise LocalEnvironmentError(f"could not create output base directory {self.root}: {reason}") from None


def atomic_write(path: Path, data: bytes, tmp_dir: Path, *, mode: int = 0o644) -> None:
    """Write-to-temp then rename: a reader sees the old file or the whole new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_dir / f"w{os.getpid()}-{id(data)}-{os.urandom(4).hex()}"
    with writing(tmp, path):
        with open(tmp, "wb") as f:
            f.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)


@contextmanager
def writing(tmp: str | Path, dest: str | Path) -> Iterator[None]:
    """Around writing `tmp` to be renamed to `dest`: on failure (disk full) tmp is removed, and
    an OSError names dest, since the temporary name means nothing to the user."""
    try:
        yield
    except BaseException as e:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(e, OSError):
            raise OSError(e.errno, e.strerror, str(dest)) from e
        raise
