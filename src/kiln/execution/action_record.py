"""An action's canonical Remote Execution API v2 form: Command, input Merkle tree, Action.

The record is computed once when an action is prepared, and its action digest is the action's key
everywhere (local action cache, disk cache, remote cache, --explain, aquery). It is built only from
the value it is given — no I/O, nothing machine-local: paths are exec paths relative to the input
root, so the same action at two workspace paths has the same digests.

Canonical form (remote_execution.proto): environment variables sorted by name; output paths
deduplicated and sorted; platform properties sorted by name, then value; every Directory's files,
directories and symlinks each sorted by name, one path segment per node; every message serialised
deterministically, and a digest is the sha256 of those bytes.

Outputs: `output_paths` (REAPI v2.1+, which makes servers ignore the two older fields) and also
`output_files` / `output_directories` (what v2.0 servers read). Filling both does not depend on
which server kiln talks to, so the key stays one value; and the Command itself then says which
outputs are directories (tree artifacts), which the local executor needs too. Platform properties
go in Action.platform (v2.2+) and Command.platform (older servers), as the proto asks clients to.

The messages are encoded by kiln.execution.reapi_encoding, byte for byte as protobuf's deterministic
serialisation would, without importing protobuf.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from kiln.core.digests import Digest, digest_bytes
from kiln.core.errors import KilnError
from kiln.execution import reapi_encoding as encode



class ActionRecordError(KilnError):
    """A spawn that has no canonical REAPI form (a path that escapes, a file that is also a directory)."""


@dataclass(frozen=True)
class ActionSpec:
    """Everything that can change an action's result, in machine-independent terms."""

    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    # Relative to the working directory, which is the input root.
    output_files: tuple[str, ...] = ()
    output_directories: tuple[str, ...] = ()
    # exec path -> (content digest, is_executable)
    input_files: Mapping[str, tuple[Digest, bool]] = field(default_factory=dict, hash=False)
    # exec path -> symlink target, relative to the symlink's directory
    input_symlinks: Mapping[str, str] = field(default_factory=dict, hash=False)
    # Directories of the input root that must exist even though no input is inside them.
    input_directories: tuple[str, ...] = ()
    platform: tuple[tuple[str, str], ...] = ()
    timeout_seconds: float | None = None
    do_not_cache: bool = False
    salt: bytes = b""


@dataclass(frozen=True)
class ActionRecord:
    action_digest: Digest
    command_digest: Digest
    input_root_digest: Digest
    # The serialised Command, Action and every Directory of the input tree, by digest: what a
    # remote CAS needs besides the input files' contents.
    blobs: Mapping[Digest, bytes] = field(hash=False)


def build_action_record(spec: ActionSpec) -> ActionRecord:
    try:
        return _build(spec)
    except UnicodeEncodeError as e:
        raise ActionRecordError(
            f"the action's argv, environment or paths hold {e.object!r}, which is not valid UTF-8 "
            "(Remote Execution API strings are UTF-8)"
        ) from None


def _build(spec: ActionSpec) -> ActionRecord:
    blobs: dict[Digest, bytes] = {}
    command_digest = _put(blobs, _command(spec))
    input_root_digest = _input_root(spec, blobs)
    timeout = None if spec.timeout_seconds is None else round(spec.timeout_seconds * 1e9)
    action = encode.action(command_digest, input_root_digest, timeout, spec.do_not_cache, spec.salt,
                           sorted(spec.platform))
    action_digest = _put(blobs, action)
    return ActionRecord(action_digest, command_digest, input_root_digest, MappingProxyType(blobs))


def _command(spec: ActionSpec) -> bytes:
    names = [name for name, _ in spec.env]
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise ActionRecordError(f"environment variable(s) {', '.join(twice)} given more than once")
    files = sorted(set(spec.output_files))
    dirs = sorted(set(spec.output_directories))
    for path in (*files, *dirs):
        _check_relative(path, "output path")
    both = set(files) & set(dirs)
    if both:
        raise ActionRecordError(f"output path '{min(both)}' is declared both as a file and as a directory")
    _check_no_file_parent(files, dirs)
    return encode.command(spec.argv, sorted(spec.env), files, dirs, sorted((*files, *dirs)), sorted(spec.platform))


def _check_no_file_parent(files: list[str], dirs: list[str]) -> None:
    declared = set(files)
    for path in (*files, *dirs):
        parent = path.rpartition("/")[0]
        while parent:
            if parent in declared:
                raise ActionRecordError(f"output file '{parent}' is also the parent directory of output '{path}'")
            parent = parent.rpartition("/")[0]


class _Dir:
    __slots__ = ("files", "dirs", "links")

    def __init__(self) -> None:
        self.files: dict[str, tuple[Digest, bool]] = {}
        self.dirs: dict[str, _Dir] = {}
        self.links: dict[str, str] = {}


class DirectoryTree:
    """Nested directories built from paths (an input root, an output directory); a file or symlink
    where a directory is needed is an error."""

    def __init__(self) -> None:
        self.root = _Dir()
        # Parent path -> its node: most inputs share a directory with the input before them.
        self._dirs: dict[str, _Dir] = {"": self.root}

    def add_file(self, path: str, digest: Digest, is_executable: bool) -> None:
        parent, name = self._parent_of(path, "input file")
        parent.files[name] = (digest, is_executable)

    def add_symlink(self, path: str, target: str) -> None:
        if target.startswith("/") or not target:
            raise ActionRecordError(
                f"input symlink '{path}' points to '{target}': a symlink target must be a relative path "
                "(an absolute one would put a machine path into the action key)"
            )
        parent, name = self._parent_of(path, "input symlink")
        if name in parent.files:
            raise ActionRecordError(f"input '{path}' is declared both as a file and as a symlink")
        parent.links[name] = target

    def add_dir(self, path: str) -> None:
        """A directory that must exist even if nothing is added inside it."""
        _check_relative(path, "input directory")
        self._dir(path, path)

    def put(self, put: Callable[[bytes], Digest]) -> Digest:
        """The digest of the root Directory, having passed every Directory message to `put`,
        children before their parents."""
        return _put_tree(self.root, put)

    def _parent_of(self, path: str, what: str) -> tuple[_Dir, str]:
        _check_relative(path, what)
        parent_path, _, name = path.rpartition("/")
        node = self._dir(parent_path, path)
        if name in node.dirs:
            raise ActionRecordError(f"input '{path}' is both a file and a directory")
        return node, name

    def _dir(self, dir_path: str, path: str) -> _Dir:
        node = self._dirs.get(dir_path)
        if node is not None:
            return node
        node = self.root
        segments = dir_path.split("/")
        for i, segment in enumerate(segments):
            if segment in node.files or segment in node.links:
                inside = "" if i == len(segments) - 1 and dir_path == path else f" (the parent of '{path}')"
                raise ActionRecordError(f"input '{'/'.join(segments[: i + 1])}' is both a file and a directory{inside}")
            child = node.dirs.get(segment)
            if child is None:
                child = node.dirs[segment] = _Dir()
            node = child
        self._dirs[dir_path] = node
        return node


def _input_root(spec: ActionSpec, blobs: dict[Digest, bytes]) -> Digest:
    tree = DirectoryTree()
    for path, (digest, is_executable) in spec.input_files.items():
        tree.add_file(path, digest, is_executable)
    for path, target in spec.input_symlinks.items():
        tree.add_symlink(path, target)
    for path in spec.input_directories:
        tree.add_dir(path)
    return tree.put(lambda message: _put(blobs, message))


def _check_relative(path: str, what: str) -> None:
    framed = f"/{path}/"
    if path and path[0] != "/" and "//" not in framed and "/./" not in framed and "/../" not in framed:
        return
    depth = 0
    for s in path.split("/"):
        depth += -1 if s == ".." else (s not in ("", "."))
        if depth < 0:
            break
    escapes = path.startswith("/") or depth < 0
    why = "escapes the working directory" if escapes else "is not a normalised relative path"
    raise ActionRecordError(f"{what} '{path}' {why}")


def _put_tree(node: _Dir, put: Callable[[bytes], Digest]) -> Digest:
    return put(encode.directory(
        [(name, digest, is_executable) for name, (digest, is_executable) in sorted(node.files.items())],
        [(name, _put_tree(child, put)) for name, child in sorted(node.dirs.items())],
        sorted(node.links.items()),
    ))


def _put(blobs: dict[Digest, bytes], data: bytes) -> Digest:
    digest = digest_bytes(data)
    blobs[digest] = data
    return digest
