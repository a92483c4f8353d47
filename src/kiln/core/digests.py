"""Content digests (sha256, as REAPI uses) of bytes and structured keys (files: kiln.execution.file_digests)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

@dataclass(frozen=True, order=True)
class Digest:
    hash: str
    size: int

    def __str__(self) -> str:
        return f"{self.hash}/{self.size}"


def digest_bytes(data: bytes) -> Digest:
    return Digest(hashlib.sha256(data).hexdigest(), len(data))


def digest_fields(*fields: object) -> str:
    """A stable hash of a sequence of strings/ints/tuples: used for action keys."""
    h = hashlib.sha256()
    for f in fields:
        _feed(h, f)
    return h.hexdigest()


def _feed(h: "hashlib._Hash", value: object) -> None:
    if isinstance(value, (tuple, list)):
        h.update(b"[%d" % len(value))
        for v in value:
            _feed(h, v)
        h.update(b"]")
    elif isinstance(value, bytes):
        h.update(b"b%d:" % len(value))
        h.update(value)
    else:
        s = str(value).encode()
        h.update(b"s%d:" % len(s))
        h.update(s)
