"""The caching layer: serves an action from the action cache or the disk cache, or runs it below.

It wraps any executor. A spawn's key (its REAPI action digest) is looked up
in the output base's action cache, then in `--disk_cache`; a hit is reported
at once, without the executor below hearing of it. A miss runs below, and a
successful result is stored in both: the outputs and stdout/stderr as blobs
(byte for byte), then the REAPI ActionResult naming them. An output
directory goes to the disk cache as REAPI stores it: its files as blobs, a
`Tree` blob of its structure (kiln.execution.reapi_trees), an OutputDirectory
entry naming the Tree.

A disk-cache hit copies its blobs into the output base's store, each checked
against its digest (kiln.execution.disk_cache), and records the result in the
local action cache, so the next build needs only the local one. A disk cache
that fails to take a write (full, gone read-only) is dropped for the rest of
the build after one warning: the build never fails for its cache.

File writes and copies run in process and are cheaper to redo than to fetch:
they use the local action cache only. `no-cache` keeps an action out of
every cache; `no-remote-cache` and `no-remote` out of the shared ones.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Callable

from kiln.core.actions import ActionKind
from kiln.core.digests import Digest
from kiln.execution.action_cache import ActionCache, ActionResult, OutputDirectory, OutputFile
from kiln.execution.cas import Cas
from kiln.execution.spawn import Executor, Report, Spawn, SpawnResult

_NOT_LOOKED_UP = object()


class CachingExecutor:
    def __init__(self, inner: Executor, *, action_cache: ActionCache, cas: Cas, disk_cache=None,
                 warn: Callable[[str], None] = lambda _: None):
        self.inner = inner
        self.action_cache = action_cache
        self.cas = cas
        self.disk_cache = disk_cache
        self.warn = warn
        self._lock = threading.Lock()
        # Results looked up by can_start() for the start() that follows.
        self._looked_up: dict[str, ActionResult | None] = {}

    def can_start(self, spawn: Spawn) -> bool:
        # Asked again while it waits for a slot: looked up once.
        with self._lock:
            result = self._looked_up.get(spawn.key_hex, _NOT_LOOKED_UP)
        if result is _NOT_LOOKED_UP:
            result = self._lookup(spawn)
            with self._lock:
                self._looked_up[spawn.key_hex] = result
        return result is not None or self.inner.can_start(spawn)

    def start(self, spawn: Spawn, report: Report) -> None:
        with self._lock:
            result = self._looked_up.pop(spawn.key_hex, _NOT_LOOKED_UP)
        if result is _NOT_LOOKED_UP:
            result = self._lookup(spawn)
        if result is not None:
            report.done(SpawnResult(result.exit_code, result.outputs, result.stdout, result.stderr,
                                    result.seconds, cached=True))
            return

        def finished(outcome: SpawnResult | BaseException) -> None:
            if isinstance(outcome, SpawnResult) and outcome.ok and _cacheable(spawn):
                try:
                    self._store(spawn, outcome)
                except BaseException as e:
                    outcome = e
            report.done(outcome)

        self.inner.start(spawn, Report(report.started, finished, report.progress))

    def forget(self, spawn: Spawn) -> None:
        """The local entry named blobs the store no longer holds: drop it, so the action runs or is
        fetched again."""
        self.action_cache.remove(spawn.key_hex)

    def cancel(self) -> None:
        self.inner.cancel()

    def close(self) -> None:
        self.inner.close()

    # ---- lookups and stores ------------------------------------------------

    def _lookup(self, spawn: Spawn) -> ActionResult | None:
        if not _cacheable(spawn):
            return None
        result = self.action_cache.get(spawn.key_hex)
        disk = self._disk_for(spawn)
        if result is None and disk is not None:
            result = self._from_disk(disk, spawn.key)
        return result

    def _disk_for(self, spawn: Spawn):
        """The disk cache, if this spawn may use it."""
        action = spawn.action
        if (action.kind is ActionKind.SPAWN and action.requirement("no-remote-cache") is None
                and action.requirement("no-remote") is None):
            return self.disk_cache
        return None

    def _from_disk(self, disk, key: Digest) -> ActionResult | None:
        from kiln.execution.disk_cache import output_directories, output_files, stdout_stderr
        from kiln.execution.reapi_trees import BadTree, directory_of_tree

        # Each blob's bytes are checked below as it is copied in (get_blob); one the store already
        # holds needs no second look.
        entry = disk.get_action_result(key, verify_blobs=False)
        if entry is None or entry.exit_code != 0:
            return None
        files = output_files(entry)
        directories = []
        for path, tree_digest in output_directories(entry):
            data = disk.get_blob_bytes(tree_digest)
            if data is None:
                return None
            try:
                directories.append(directory_of_tree(path, data))
            except BadTree:
                return None
        outputs = (*files, *directories)
        stdout, stderr = stdout_stderr(entry)
        wanted = [(o.digest, o.executable) for o in files]
        wanted += [(f.digest, f.executable) for d in directories for f in d.files]
        wanted += [(d, False) for d in (stdout, stderr) if d is not None]
        for digest, executable in wanted:
            if os.path.exists(self.cas.path(digest, executable)):
                continue
            tmp = Path(self.cas.tmp_name())  # in the store's tmp/: the same file system, renamed in
            if not disk.get_blob(digest, tmp):
                return None
            self.cas.put_file(str(tmp), executable, move=True, digest=digest)
        result = ActionResult(outputs, 0, stdout, stderr)
        self.action_cache.put(key.hash, result)
        return result

    def _store(self, spawn: Spawn, outcome: SpawnResult) -> None:
        result = ActionResult(outcome.outputs, 0, outcome.stdout, outcome.stderr, outcome.seconds)
        self.action_cache.put(spawn.key_hex, result)
        disk = self._disk_for(spawn)
        if disk is not None:
            try:
                _to_disk(disk, self.cas, spawn.key, outcome)
            except OSError as e:
                with self._lock:
                    if self.disk_cache is None:
                        return
                    self.disk_cache = None
                self.warn(f"cannot write to the disk cache ({e.filename}: {e.strerror}); "
                          "building on without it")



def _to_disk(disk, cas: Cas, key: Digest, outcome: SpawnResult) -> None:
    from kiln.execution.disk_cache import action_result

    files = [o for o in outcome.outputs if isinstance(o, OutputFile)]
    directories = [o for o in outcome.outputs if isinstance(o, OutputDirectory)]
    for o in (*files, *(f for d in directories for f in d.files)):
        disk.put_blob_file(cas.path(o.digest, o.executable), o.digest)
    for d in (outcome.stdout, outcome.stderr):
        if d is not None:
            disk.put_blob_file(cas.path(d, False), d)
    trees = []
    if directories:
        from kiln.execution.reapi_trees import tree_blob

        # The Tree blobs after the files they name, and the result after both: a reader checks them.
        trees = [(d.path, disk.put_blob_bytes(tree_blob(d))) for d in directories]
    disk.put_action_result(key, action_result(files, 0, outcome.stdout, outcome.stderr, trees))


def _cacheable(spawn: Spawn) -> bool:
    return spawn.action.requirement("no-cache") is None
