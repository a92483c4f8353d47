"""kiln's digests as REAPI messages and ByteStream resource names."""

from __future__ import annotations

import hashlib
import uuid

from kiln.core.digests import Digest
from kiln.execution.reapi import remote_execution_pb2 as re_pb2


def to_proto(digest: Digest) -> re_pb2.Digest:
    return re_pb2.Digest(hash=digest.hash, size_bytes=digest.size)


def from_proto(digest: re_pb2.Digest) -> Digest:
    return Digest(digest.hash, digest.size_bytes)


def matches(data: bytes, digest: Digest) -> bool:
    return len(data) == digest.size and hashlib.sha256(data).hexdigest() == digest.hash


def read_resource(instance_name: str, digest: Digest) -> str:
    return _under(instance_name, f"blobs/{digest.hash}/{digest.size}")


def write_resource(instance_name: str, digest: Digest) -> str:
    # A fresh uuid per upload: two writers of one blob never share a server-side upload.
    return _under(instance_name, f"uploads/{uuid.uuid4()}/blobs/{digest.hash}/{digest.size}")


def _under(instance_name: str, name: str) -> str:
    return f"{instance_name}/{name}" if instance_name else name
