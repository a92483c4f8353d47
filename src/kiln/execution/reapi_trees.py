"""Output directories in Remote Execution API form: an OutputDirectory as a `Tree` message, and back.

A tree artifact is stored in a shared cache as REAPI stores it: a `Tree`
blob (the root Directory and every Directory below it, each deterministic,
children deduplicated) that an ActionResult's `OutputDirectory` names by
digest; the files' contents are blobs of their own. The Directory messages
are those of kiln.execution.action_record, so a directory produced by one
action has the same digests as the same directory in another's input root.

Importing this module loads protobuf: only a disk or remote cache needs it.
"""

from __future__ import annotations

from kiln.core.digests import Digest, digest_bytes
from kiln.execution.action_cache import OutputDirectory, OutputFile
from kiln.execution import reapi_encoding as encode
from kiln.execution.action_record import DirectoryTree
from kiln.execution.reapi import remote_execution_pb2 as re_pb2


class BadTree(ValueError):
    """A Tree blob that does not describe a directory (a child missing, a name that escapes)."""


def tree_blob(directory: OutputDirectory) -> bytes:
    """The serialised `Tree` of the directory's content."""
    tree = DirectoryTree()
    for f in directory.files:
        tree.add_file(f.path, f.digest, f.executable)
    for path, target in directory.symlinks:
        tree.add_symlink(path, target)
    for path in directory.empty_dirs:
        tree.add_dir(path)
    messages: dict[Digest, bytes] = {}

    def put(data: bytes) -> Digest:
        digest = digest_bytes(data)
        messages[digest] = data
        return digest

    root = messages.pop(tree.put(put))
    return encode.tree(root, [messages[d] for d in sorted(messages)])


def directory_of_tree(path: str, data: bytes) -> OutputDirectory:
    """The OutputDirectory at exec path `path` whose content the `Tree` blob describes."""
    from google.protobuf.message import DecodeError

    try:
        tree = re_pb2.Tree.FromString(data)
    except DecodeError as e:
        raise BadTree(f"the tree of '{path}' cannot be read: {e}") from None
    children = {digest_bytes(c.SerializeToString(deterministic=True)): c for c in tree.children}
    files: list[OutputFile] = []
    symlinks: list[tuple[str, str]] = []
    empty: list[str] = []
    stack = [("", tree.root)]
    while stack:
        prefix, directory = stack.pop()
        if not (directory.files or directory.symlinks or directory.directories) and prefix:
            empty.append(prefix[:-1])
        for f in directory.files:
            files.append(OutputFile(prefix + _name(f.name), Digest(f.digest.hash, f.digest.size_bytes),
                                    f.is_executable))
        for s in directory.symlinks:
            symlinks.append((prefix + _name(s.name), s.target))
        for d in directory.directories:
            child = children.get(Digest(d.digest.hash, d.digest.size_bytes))
            if child is None:
                raise BadTree(f"the tree of '{path}' lacks its directory '{prefix}{d.name}'")
            stack.append((f"{prefix}{_name(d.name)}/", child))
    return OutputDirectory(path, tuple(sorted(files, key=lambda f: f.path)), tuple(sorted(symlinks)),
                           tuple(sorted(empty)))


def _name(name: str) -> str:
    # One path segment: a name with a slash or a dot-name would place content outside the directory.
    if not name or "/" in name or name in (".", ".."):
        raise BadTree(f"a tree names an entry {name!r}")
    return name
