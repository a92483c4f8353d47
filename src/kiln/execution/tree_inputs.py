"""Directory inputs laid out once per content, for the Linux sandbox to mount read-only whole.

A directory input with many files (a Python runtime, a generated package)
would otherwise be hard-linked into every exec root file by file, and removed
file by file after each action. Instead it is laid out once, under
`<output_base>/trees/<content digest>/`, as hard links to its blobs, each
checked against its digest as it is linked; every sandbox that reads it then
gets one read-only bind mount of it. Only the Linux sandbox uses this: there
a write through the mount fails even for root, so the store stays intact.

Crash safety: a tree is laid out under the store's tmp/ (swept by the next
command) and renamed into place whole; a directory under trees/ is complete.
"""

from __future__ import annotations

import errno
import os
import shutil
import threading
from pathlib import Path

from kiln.execution.action_cache import OutputDirectory, tree_identity
from kiln.execution.cas import Cas
from kiln.execution.file_digests import digest_file
from kiln.execution.materialize import CorruptBlob, MissingBlob

# Below this many files, linking each file into the exec root costs less than laying the tree out.
MOUNT_MIN_FILES = 100


class TreeInputs:
    def __init__(self, root: Path, cas: Cas):
        self.root = root
        self.cas = cas
        self._lock = threading.Lock()

    def path(self, tree: OutputDirectory) -> str:
        """The host directory holding the tree's content, laid out now if it is not yet."""
        dest = f"{self.root}/{tree_identity(tree)}"
        if os.path.isdir(dest):
            return dest
        with self._lock:
            if not os.path.isdir(dest):
                self._lay_out(tree, dest)
        return dest

    def _lay_out(self, tree: OutputDirectory, dest: str) -> None:
        staging = self.cas.tmp_name()
        try:
            os.mkdir(staging)
            for rel in tree.empty_dirs:
                os.makedirs(f"{staging}/{rel}", exist_ok=True)
            for f in tree.files:
                blob = self.cas.path(f.digest, f.executable)
                path = f"{staging}/{f.path}"
                os.makedirs(os.path.dirname(path), exist_ok=True)
                try:
                    os.link(blob, path)
                except FileNotFoundError:
                    raise MissingBlob(blob) from None
                except OSError as e:
                    # Another file system, or a blob with too many links: a copy is as safe.
                    if e.errno not in (errno.EXDEV, errno.EMLINK, errno.EPERM):
                        raise
                    shutil.copy2(blob, path)
                if digest_file(path) != f.digest:
                    self.cas.discard(f.digest, f.executable, os.stat(path).st_ino)
                    raise CorruptBlob(blob)
            for rel, target in tree.symlinks:
                path = f"{staging}/{rel}"
                os.makedirs(os.path.dirname(path), exist_ok=True)
                os.symlink(target, path)
            os.makedirs(self.root, exist_ok=True)
            os.rename(staging, dest)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
