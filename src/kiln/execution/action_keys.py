"""Action keys: every action's REAPI action digest, computed once and remembered.

The key of an action is the digest of its canonical Remote Execution API form
(kiln.execution.action_record): the same value in the local action cache, the
disk cache, a remote cache, --explain and aquery. `spec_of` turns a spawn
into that form's fields — paths relative to the exec root, content digests,
nothing of this machine — so the same workspace at two paths has the same keys.

Building the record needs protobuf, which costs a no-op more than the whole
rest of its work. So the digest is memoised in a table under the output base,
by a cheap fingerprint of exactly the same fields (argv, environment, input
paths, digests and executable bits, outputs, platform, salt): a no-op finds
every key there and never imports protobuf. The table only saves work — a
lost or stale entry can only be recomputed, since equal fingerprints mean
equal specs.

File writes and copies, which run in process and never remotely, get a
record of the same shape (a pseudo-command naming what they do, the written
content as an input blob), so one key scheme covers every action.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from kiln.core.actions import PERSISTENT_CACHE, Action, ActionKind
from kiln.core.digests import Digest, digest_bytes, digest_fields
from kiln.execution.action_cache import OutputDirectory, tree_identity
from kiln.execution.saved_table import SavedTable
from kiln.execution.spawn import Spawn, SpawnInput, directory_link

if TYPE_CHECKING:
    from kiln.execution.action_record import ActionRecord, ActionSpec

EMPTY = digest_bytes(b"")
# The input that holds a written file's content in a file-write action's record.
WRITE_CONTENT = ".kiln-write-content"
_KILN_PYTHON = f"{sys.implementation.cache_tag} {sys.version}"
# Bump when the mapping from actions to records changes: every memoised key is then recomputed.
_VERSION = "kiln-action-key-v3"


def salt_of(action: Action) -> bytes:
    """What the Action's salt holds: the rule's version, a persistent cache the action names, and for
    kiln's own tools (`python -m kiln.tools...` on kiln's interpreter) that interpreter's version:
    their code is a declared input, the interpreter running it is not."""
    parts = []
    if action.salt:
        parts.append(f"rule={action.salt}")
    cache = action.requirement(PERSISTENT_CACHE)
    if cache is not None:
        parts.append(f"persistent-cache={cache}")
    if action.argv and action.argv[0] == sys.executable:
        parts.append(f"kiln-python={_KILN_PYTHON}")
    return ";".join(parts).encode()


def spec_of(action: Action, inputs: tuple[SpawnInput, ...], trees, env,
            input_trees: tuple[OutputDirectory, ...] = ()) -> "ActionSpec":
    from kiln.execution.action_record import ActionSpec

    files = {i.exec_path: (i.digest, i.is_executable) for i in inputs}
    # A directory input's files, symlinks and empty directories (or itself, when empty) are in the
    # input root (its files may be among `inputs` too).
    files.update((f"{t.path}/{f.path}", (f.digest, f.executable)) for t in input_trees for f in t.files)
    symlinks = {f"{t.path}/{rel}": target for t in input_trees for rel, target in t.symlinks}
    directories = [f"{t.path}/{rel}" for t in input_trees for rel in t.empty_dirs]
    directories += [t.path for t in input_trees if not (t.files or t.symlinks or t.empty_dirs)]
    outputs = [o.exec_path for o in action.outputs if not o.is_directory]
    output_directories = [o.exec_path for o in action.outputs if o.is_directory]
    argv = action.argv
    if action.kind is ActionKind.WRITE:
        argv = ("kiln-write", WRITE_CONTENT, outputs[0], "executable" if action.is_executable else "regular")
        files = {WRITE_CONTENT: (digest_bytes(action.content), False)}
    elif action.kind is ActionKind.COPY:
        argv = ("kiln-copy", inputs[0].exec_path, outputs[0], "executable" if action.is_executable else "regular")
    tree_paths = {t.path for t in input_trees}
    for tree, entries in trees:
        for rpath, exec_path in entries:
            link = f"{tree}/{rpath}"
            if exec_path in tree_paths:
                symlinks[link] = directory_link(link, exec_path)
            else:
                files[link] = files[exec_path] if exec_path is not None else (EMPTY, False)
    return ActionSpec(
        argv=tuple(argv),
        env=tuple(env),
        output_files=tuple(outputs),
        output_directories=tuple(output_directories),
        input_files=files,
        input_symlinks=symlinks,
        input_directories=tuple(directories),
        platform=action.exec_properties,
        timeout_seconds=action.timeout,
        do_not_cache=action.requirement("no-cache") is not None,
        salt=salt_of(action),
    )


def record_of(spawn: Spawn) -> "ActionRecord":
    from kiln.execution.action_record import build_action_record

    return build_action_record(spec_of(spawn.action, spawn.inputs, spawn.runfiles_trees, spawn.env,
                                       spawn.input_trees))


class ActionKeys:
    def __init__(self, table: SavedTable):
        self._table = table
        self._used: set[str] = set()
        # id -> (directory, its content digest): a directory input read by many actions (a Python
        # runtime of thousands of files under every test) is digested once per command.
        self._tree_ids: dict[int, tuple[OutputDirectory, str]] = {}

    def _identity(self, tree: OutputDirectory) -> str:
        known = self._tree_ids.get(id(tree))
        if known is None:
            known = self._tree_ids[id(tree)] = (tree, tree_identity(tree))
        return known[1]

    def key(self, action: Action, inputs: tuple[SpawnInput, ...], trees, env,
            input_trees: tuple[OutputDirectory, ...] = ()) -> Digest:
        """`inputs` are the files not inside `input_trees`: each directory enters whole, by its content
        digest."""
        fingerprint = digest_fields(
            _VERSION,
            salt_of(action),
            action.kind.value,
            action.argv,
            env,
            tuple(sorted((i.exec_path, i.digest.hash, i.digest.size, i.is_executable) for i in inputs)),
            tuple((o.exec_path, o.is_directory) for o in action.outputs),
            trees,
            action.content,
            action.is_executable,
            action.exec_properties,
            action.requirement("no-cache") is not None,
            action.timeout,
            tuple((t.path, self._identity(t)) for t in input_trees),
        )
        self._used.add(fingerprint)
        known = self._table.get(fingerprint)
        if known is not None:
            return Digest(*known)
        from kiln.execution.action_record import build_action_record

        record = build_action_record(spec_of(action, inputs, trees, env, input_trees))
        self._table.put(fingerprint, (record.action_digest.hash, record.action_digest.size))
        return record.action_digest

    def save(self) -> None:
        # Keys of actions no longer built go when the table has grown well past what builds use.
        if len(self._table) > max(20_000, 4 * len(self._used)):
            self._table.retain(self._used)
        self._table.save()
