"""Spawns from actions: every input resolved to its digest, and the action's key.

A source's digest comes from the file (stat-cached, kiln.execution.file_digests);
a derived file's or directory's from what its action produced, which the
scheduler notes here (`remember`) as outputs are placed — or, for aquery, what
the caches hold. A directory input enters as its files at their paths under it,
and the key takes it whole, by its content digest. The key is the REAPI action
digest (kiln.execution.action_keys).
"""

from __future__ import annotations

import os
import threading

from kiln.core.actions import Action
from kiln.core.artifacts import Artifact, SourceTree
from kiln.core.digests import Digest, digest_bytes
from kiln.execution.action_cache import Output, OutputDirectory, OutputFile, stays_inside
from kiln.execution.action_keys import ActionKeys
from kiln.execution.file_digests import FileDigests
from kiln.execution.spawn import Spawn, SpawnInput


class ActionFailure(Exception):
    """An action that cannot be prepared (a missing input): it fails without running."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class SpawnMaker:
    def __init__(self, sources: SourceTree, keys: ActionKeys, file_digests: FileDigests):
        self.sources = sources
        self.keys = keys
        self.file_digests = file_digests
        # exec path -> (digest, executable) of every derived file known so far, or the content of a
        # derived directory.
        self.digests: dict[str, tuple[Digest, bool] | OutputDirectory] = {}
        self._source_trees: dict[str, OutputDirectory] = {}
        self._tree_files: dict[int, tuple[OutputDirectory, tuple[SpawnInput, ...]]] = {}
        self._lock = threading.Lock()

    def remember(self, outputs: tuple[Output, ...]) -> None:
        """Notes what outputs hold, for the spawns of the actions that read them."""
        with self._lock:
            for o in outputs:
                self.digests[o.path] = o if isinstance(o, OutputDirectory) else (o.digest, o.executable)

    # ---- spawns ------------------------------------------------------------

    def _source_tree(self, art: Artifact, needed_by: str) -> OutputDirectory:
        """A source directory as one input: its files (digests stat-cached), symlinks and empty
        directories, read once per build."""
        known = self._source_trees.get(art.exec_path)
        if known is not None:
            return known
        top = self.sources.path(art)
        if not os.path.isdir(top):
            raise ActionFailure(f"{needed_by}: missing input directory '{art.exec_path}'")
        files, links, empty = [], [], []
        # scandir's entry types come with the listing: one stat per file (its digest's), none per
        # name to tell links apart (a runtime holds ~3,000 files, walked on every command).
        pending = [("", top)]
        while pending:
            prefix, here = pending.pop()
            with os.scandir(here) as listing:
                # In name order: which bad symlink an error names does not depend on the file system.
                entries = sorted(listing, key=lambda e: e.name)
            if not entries and prefix:
                empty.append(prefix[:-1])
            for entry in entries:
                rel = prefix + entry.name
                if entry.is_symlink():
                    target = os.readlink(entry.path)
                    if not stays_inside(rel, target):
                        raise ActionFailure(f"{needed_by}: input directory '{art.exec_path}' holds the symlink "
                                            f"'{rel}' -> '{target}', which leaves it")
                    links.append((rel, target))
                elif entry.is_dir():
                    pending.append((rel + "/", entry.path))
                else:
                    digest, executable = self.file_digests.digest_and_mode(entry.path)
                    files.append(OutputFile(rel, digest, executable))
        tree = OutputDirectory(art.exec_path, tuple(sorted(files, key=lambda f: f.path)), tuple(sorted(links)),
                               tuple(sorted(empty)), source=True)
        self._source_trees[art.exec_path] = tree
        return tree

    def input_of(self, art: Artifact, needed_by: str = "") -> SpawnInput:
        """An input file's digest and executable bit: the workspace file's, or what its action produced."""
        if art.is_source:
            try:
                digest, executable = self.file_digests.digest_and_mode(self.sources.path(art))
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                raise ActionFailure(f"{needed_by}: missing input file '{art.exec_path}'") from None
            return SpawnInput(art.exec_path, digest, executable, True)
        known = self.digests.get(art.exec_path)
        if known is None:
            raise ActionFailure(f"internal error: {art.exec_path} was not built before {needed_by}")
        if isinstance(known, OutputDirectory):
            raise ActionFailure(f"{needed_by}: '{art.exec_path}' is a directory where a file is expected")
        return SpawnInput(art.exec_path, known[0], known[1], False)

    def tree_of(self, art: Artifact, needed_by: str = "") -> OutputDirectory:
        """What a directory artifact's action produced, or what a source directory holds."""
        if art.is_source:
            return self._source_tree(art, needed_by)
        known = self.digests.get(art.exec_path)
        if not isinstance(known, OutputDirectory):
            raise ActionFailure(f"internal error: directory {art.exec_path} was not built before {needed_by}")
        return known

    def _files_of(self, tree: OutputDirectory) -> tuple[SpawnInput, ...]:
        """A directory's files as inputs, made once per directory (many actions read one runtime)."""
        known = self._tree_files.get(id(tree))
        if known is None:
            known = self._tree_files[id(tree)] = (tree, tuple(
                SpawnInput(f"{tree.path}/{f.path}", f.digest, f.executable, tree.source) for f in tree.files))
        return known[1]

    def spawn_of(self, action: Action) -> Spawn:
        needed_by = str(action.owner)
        inputs: list[SpawnInput] = []
        input_trees: list[OutputDirectory] = []
        for art in action.input_list():
            if not art.is_directory:
                inputs.append(self.input_of(art, needed_by))
                continue
            input_trees.append(self.tree_of(art, needed_by))
        if input_trees:
            # A file also named on its own inside a directory input (a runtime's interpreter) is the
            # directory's: staged, and keyed, once.
            under = tuple(f"{t.path}/" for t in input_trees)
            inputs = [i for i in inputs if not i.exec_path.startswith(under)]
        if action.param_file is not None:
            content = action.param_file.content
            inputs.append(SpawnInput(action.param_file.exec_path, digest_bytes(content), content=content))
        direct = tuple(inputs)
        # A directory enters the spawn as its files too, at their paths under it; the spawn keeps the
        # tree for its empty directories and symlinks, and the key takes it whole.
        for tree in input_trees:
            inputs.extend(self._files_of(tree))
        trees = tuple(
            (f"{exe.exec_path}.runfiles", tuple(sorted(
                (rpath, art.exec_path if art is not None else None) for rpath, art in rf.entries().items()
            )))
            for exe, rf in action.tool_runfiles
        )
        # Analysis gave the action its whole environment (kiln.core.action_env): nothing is added here.
        key = self.keys.key(action, direct, trees, action.env, tuple(input_trees))
        return Spawn(action, tuple(inputs), trees, action.env, key, tuple(input_trees))
