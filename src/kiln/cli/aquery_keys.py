"""The action keys of analysed actions, as the next build would compute them — or why not yet.

Reuses the build's machinery rather than restating it: the SpawnMaker the
scheduler uses makes the spawn (so its inputs, runfiles trees and environment
are the build's), and its key comes from ActionKeys with the output base's memo.

A derived input's digest is taken where a build takes it on a cache hit: the
result filed under the generating action's key in the output base's action
cache, or else in --disk_cache (read only, never copied in). So the producers are
keyed first (depth first, without recursion: chains are thousands deep), and
an action whose producer has no cached result (never built, or its own inputs
changed since) has no key yet.
"""

from __future__ import annotations

from typing import Any

from kiln.cli.executors import open_disk_cache
from kiln.cli.session import KILN_TOOLS_DIR
from kiln.core.actions import Action
from kiln.core.artifacts import KILN_TOOLS_REPO, SourceTree
from kiln.execution.action_cache import ActionCache, Output
from kiln.execution.action_keys import ActionKeys
from kiln.execution.file_digests import FileDigests
from kiln.execution.saved_table import SavedTable
from kiln.execution.spawns import ActionFailure, SpawnMaker
from kiln.execution.spawn import Spawn
from kiln.query.aquery_output import UNKNOWN_KEY


class ActionKeyFinder:
    def __init__(self, session: Any, configured: list):
        ob = session.output_base
        self.file_digests = FileDigests(ob.file_digests, ob.tmp)
        self.keys = ActionKeys(SavedTable(ob.root / "action_keys", ob.tmp))
        self.cache = ActionCache(ob.action_cache, ob.tmp)
        self.disk = open_disk_cache(session.opts, session.workspace.root, session.events.warning)
        repo_dirs = tuple(sorted((repo, str(d)) for repo, d in session.loader.repo_dirs.items()))
        sources = SourceTree(str(session.workspace.root), repo_dirs + ((KILN_TOOLS_REPO, KILN_TOOLS_DIR),))
        self.spawns = SpawnMaker(sources, self.keys, self.file_digests)
        self.generating = {o: a for ct in configured for a in ct.actions for o in a.outputs}
        # id(action) -> (key hex, or "" and why it is unknown)
        self._found: dict[int, tuple[str, str]] = {}

    def key(self, action: Action) -> tuple[str, str]:
        stack = [(action, False)]
        while stack:
            node, expanded = stack.pop()
            if id(node) in self._found:
                continue
            producers = [self.generating[i] for i in node.input_list() if not i.is_source and i in self.generating]
            if not expanded:
                stack.append((node, True))
                stack.extend((p, False) for p in producers if id(p) not in self._found)
                continue
            self._found[id(node)] = self._key_of(node)
        return self._found[id(action)]

    def _key_of(self, action: Action) -> tuple[str, str]:
        if any(not i.is_source and i.exec_path not in self.spawns.digests for i in action.input_list()):
            return "", UNKNOWN_KEY
        try:
            spawn = self.spawns.spawn_of(action)
        except ActionFailure as e:
            return "", f"(unknown: {e.message})"
        self.spawns.remember(self._outputs(spawn))
        return spawn.key_hex, ""

    def _outputs(self, spawn: Spawn) -> tuple[Output, ...]:
        """What the cached result of the spawn holds; nothing if no cache has one."""
        result = self.cache.get(spawn.key_hex)
        if result is not None:
            return result.outputs
        entry = self.disk.get_action_result(spawn.key) if self.disk is not None else None
        if entry is None or entry.exit_code != 0:
            return ()
        from kiln.execution.disk_cache import output_files

        return tuple(output_files(entry))

    def save(self) -> None:
        # Source digests by stat, which the next build reuses. Not the keys' memo: saving it would prune
        # the keys of every action this query did not touch.
        self.file_digests.save()
