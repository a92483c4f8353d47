"""The REAPI messages kiln hashes (Digest, Command, Directory, Action, Tree), encoded directly.

An action's key is the sha256 of its serialised `Action`, which names the
serialised `Command` and input-root `Directory` by digest; these bytes must be
exactly what protobuf's deterministic serialisation gives (fields in number
order, default values left out, sub-messages length-delimited), or another
client or a remote server would compute other digests. tests/unit check that
against the generated `remote_execution_pb2` on many messages.

Why not protobuf itself: importing it with the REAPI descriptors costs ~50 ms
of a build's start-up, and every action that misses the key memo (an edit)
would pay it; encoding these few messages by hand is a dozen lines per
message and several times faster than building them as protobuf objects.
Decoding, and every message kiln only reads (ActionResult, a remote's
replies), stays with protobuf.

Field numbers are remote_execution.proto's (v2.3).
"""

from __future__ import annotations

from kiln.core.digests import Digest

_LEN, _VARINT = 2, 0


def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(number: int, data: bytes) -> bytes:
    """A length-delimited field (string, bytes, sub-message): present even when empty."""
    return _varint(number << 3 | _LEN) + _varint(len(data)) + data


def _string(number: int, text: str) -> bytes:
    return _field(number, text.encode()) if text else b""


def _uint(number: int, value: int) -> bytes:
    return _varint(number << 3 | _VARINT) + _varint(value) if value else b""


def digest(d: Digest) -> bytes:
    return _string(1, d.hash) + _uint(2, d.size)


def platform(properties: list[tuple[str, str]]) -> bytes:
    return b"".join(_field(1, _string(1, n) + _string(2, v)) for n, v in properties)


def command(arguments: tuple[str, ...], env: list[tuple[str, str]], output_files: list[str],
            output_directories: list[str], output_paths: list[str], properties: list[tuple[str, str]]) -> bytes:
    parts = [_field(1, a.encode()) for a in arguments]
    parts += [_field(2, _string(1, n) + _string(2, v)) for n, v in env]
    parts += [_field(3, p.encode()) for p in output_files]
    parts += [_field(4, p.encode()) for p in output_directories]
    if properties:
        parts.append(_field(5, platform(properties)))
    parts += [_field(7, p.encode()) for p in output_paths]
    return b"".join(parts)


def directory(files: list[tuple[str, Digest, bool]], directories: list[tuple[str, Digest]],
              symlinks: list[tuple[str, str]]) -> bytes:
    parts = [_field(1, _string(1, name) + _field(2, digest(d)) + (b"\x20\x01" if executable else b""))
             for name, d, executable in files]
    parts += [_field(2, _string(1, name) + _field(2, digest(d))) for name, d in directories]
    parts += [_field(3, _string(1, name) + _string(2, target)) for name, target in symlinks]
    return b"".join(parts)


def action(command_digest: Digest, input_root_digest: Digest, timeout_nanos: int | None, do_not_cache: bool,
           salt: bytes, properties: list[tuple[str, str]]) -> bytes:
    parts = [_field(1, digest(command_digest)), _field(2, digest(input_root_digest))]
    if timeout_nanos is not None:
        seconds, nanos = divmod(timeout_nanos, 1_000_000_000)
        parts.append(_field(6, _uint(1, seconds) + _uint(2, nanos)))
    if do_not_cache:
        parts.append(b"\x38\x01")
    if salt:
        parts.append(_field(9, salt))
    if properties:
        parts.append(_field(10, platform(properties)))
    return b"".join(parts)


def tree(root: bytes, children: list[bytes]) -> bytes:
    """A `Tree` from its serialised root Directory and children."""
    return _field(1, root) + b"".join(_field(2, c) for c in children)
