"""Private exec roots: a directory holding only an action's declared inputs.

Each action gets `<output_base>/sandbox/<pid>-<n>/` with `execroot/_main/`
(its inputs at their exec paths, the directories of its outputs) and `tmp/`.
How an input gets there depends on what protects it:

- LINK: a hard link to the content store. Only for the Linux sandbox, which
  mounts the exec root read-only: a write through the link fails with EROFS
  even for root, so the store cannot be changed. Sources are stored first.
- COPY: a private copy, for exec roots without namespaces (a root process
  could otherwise write through a link into the store or a source).
- SYMLINK: a link to the source or the materialised output, for `local`: no
  isolation, as Bazel's local strategy.

A directory input (tree artifact) is staged as its files, symlinks and empty
directories; in the Linux sandbox one of many files is instead mounted whole
(kiln.execution.tree_inputs). A runfiles entry standing for a directory input
(a runtime's installation) is one relative symbolic link to it. A declared
output directory is created empty before the action runs, as Bazel does.

Whatever an action did not declare is not there, so it fails here as it
would on a remote worker. Used directories are removed by a Reaper in the
background: on a file system mounted with `discard` (as this machine's is)
unlinking 30 entries takes ~30 ms of waiting, which a test's job slot should
not spend. A killed kiln leaves these directories behind; the next command
removes them.
"""

from __future__ import annotations

import enum
import errno
import itertools
import os
import queue
import shutil
import threading
from pathlib import Path

from kiln.execution.action_cache import OutputDirectory
from kiln.execution.cas import Cas
from kiln.execution.spawn import InputChanged, InputLocator, SpawnInput, directory_link
from kiln.execution.tree_inputs import MOUNT_MIN_FILES, TreeInputs

_counter = itertools.count()


class Staging(enum.Enum):
    LINK = "link"
    COPY = "copy"
    SYMLINK = "symlink"


class Sandbox:
    def __init__(self, base: Path):
        self.dir = base / f"{os.getpid()}-{next(_counter)}"
        self.root = self.dir / "execroot"
        self.execroot = self.root / "_main"
        # Paths are joined as strings where a sandbox is laid out: pathlib costs ~1 ms per test there.
        self._execroot = str(self.execroot)
        self.tmp = self.dir / "tmp"
        self.made: set[str] = set()
        # (host directory, exec path) of directory inputs to mount read-only over their place.
        self.tree_mounts: list[tuple[str, str]] = []

    def create(self, inputs: tuple[SpawnInput, ...], runfiles_trees, output_paths: tuple[str, ...], *,
               staging: Staging, cas: Cas, locator: InputLocator, outputs_root: Path, empty_file: str,
               input_trees: tuple[OutputDirectory, ...] = (), output_directories: tuple[str, ...] = (),
               tree_inputs: TreeInputs | None = None) -> None:
        """Lays out inputs, runfiles trees of tools and the directories outputs go to (after prepare()).

        With `tree_inputs` (the Linux sandbox), a directory input of many files is not linked
        here: its directory is left empty, to be mounted over (`tree_mounts`)."""
        self.execroot.mkdir(parents=True)
        self.made = set()
        self.tree_mounts = []
        mounted = ()
        if tree_inputs is not None and staging is Staging.LINK:
            for tree in input_trees:
                if len(tree.files) >= MOUNT_MIN_FILES:
                    # A source directory is mounted where it is (read-only, so the action cannot change
                    # it); a derived one is laid out from the store once per content.
                    host = locator.sources.path_of(tree.path) if tree.source else tree_inputs.path(tree)
                    self.tree_mounts.append((host, tree.path))
                    self.mkdirs(tree.path)
            mounted = tuple(f"{rel}/" for _, rel in self.tree_mounts)
        by_exec = {}
        for inp in inputs:
            if mounted and inp.exec_path.startswith(mounted):
                continue
            source = self._source_of(inp, staging, cas, locator, outputs_root)
            by_exec[inp.exec_path] = source
            self._place(inp.exec_path, source, staging)
        for tree in input_trees:
            if f"{tree.path}/" in mounted:
                continue
            # What the files of a directory input do not make: itself, its empty directories, its symlinks.
            self.mkdirs(tree.path)
            for rel in tree.empty_dirs:
                self.mkdirs(f"{tree.path}/{rel}")
            for rel, target in tree.symlinks:
                self.mkdirs(os.path.dirname(f"{tree.path}/{rel}"))
                os.symlink(target, self.execroot / tree.path / rel)
        directories = {t.path for t in input_trees}
        for tree, entries in runfiles_trees:
            self.mkdirs(f"{tree}/_main")  # as runfiles_tree does: programs run from it
            for rpath, exec_path in entries:
                if exec_path in directories:
                    link = f"{tree}/{rpath}"
                    self.mkdirs(os.path.dirname(link))
                    os.symlink(directory_link(link, exec_path), self.execroot / link)
                    continue
                source = by_exec[exec_path] if exec_path is not None else empty_file
                self._place(f"{tree}/{rpath}", source, staging)
        for out in output_paths:
            self.mkdirs(os.path.dirname(out))
        for out in output_directories:
            self.mkdirs(out)

    def prepare(self) -> None:
        """The sandbox directory and its private tmp; enough for an action that runs unsandboxed."""
        if self.dir.exists():
            shutil.rmtree(self.dir)
        self.tmp.mkdir(parents=True)

    def mkdirs(self, rel: str) -> None:
        """Makes the exec root's directory `rel` and its parents, one mkdir each."""
        if not rel or rel in self.made:
            return
        parent = rel.rpartition("/")[0]
        if parent:
            self.mkdirs(parent)
        try:
            os.mkdir(f"{self._execroot}/{rel}")
        except FileExistsError:
            pass
        self.made.add(rel)

    @staticmethod
    def _source_of(inp: SpawnInput, staging: Staging, cas: Cas, locator: InputLocator, outputs_root: Path) -> str:
        local = locator.path(inp)
        if inp.content is not None:
            return local  # a param file: only ever in the store
        if staging is Staging.SYMLINK:
            return local if inp.is_source else f"{outputs_root}/{inp.exec_path}"
        if staging is Staging.COPY or not inp.is_source:
            return local
        # A source enters the store once per content; the exec root links to the stored blob.
        blob = cas.path(inp.digest, inp.is_executable)
        try:
            present = os.stat(blob).st_size == inp.digest.size
        except FileNotFoundError:
            present = False
        if not present and cas.put_file(local, inp.is_executable) != inp.digest:
            raise InputChanged(inp.exec_path)
        return blob

    def _place(self, rel: str, source: str, staging: Staging) -> None:
        self.mkdirs(rel.rpartition("/")[0])
        dest = f"{self._execroot}/{rel}"
        if staging is Staging.SYMLINK:
            os.symlink(source, dest)
            return
        if staging is Staging.LINK:
            for _ in range(3):
                try:
                    os.link(source, dest)
                    return
                except FileNotFoundError:
                    # The store replaced this blob with an identical one while it was being linked
                    # (link(2) fails on the outgoing inode): the name holds the new one; try again.
                    if not os.path.exists(source):
                        raise
                except OSError as e:
                    # Another file system, or too many links: a copy is as safe, only slower.
                    if e.errno not in (errno.EXDEV, errno.EMLINK, errno.EPERM):
                        raise
                    break
        shutil.copy2(source, dest)


class Reaper:
    """Removes used sandbox directories on a thread of its own; close() waits until all are gone."""

    def __init__(self):
        self._queue: queue.SimpleQueue[Path | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def dispose(self, directory: Path) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="kiln-sandbox-reaper", daemon=True)
                self._thread.start()
        self._queue.put(directory)

    def _run(self) -> None:
        while (directory := self._queue.get()) is not None:
            shutil.rmtree(directory, ignore_errors=True)

    def close(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join()
