"""Where a remote is and how to reach it: the frozen options a command hands to the client.

No grpc here: options are parsed and checked before anything heavy is imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kiln.core.errors import KilnError

SCHEMES = ("grpc://", "grpcs://")


class RemoteError(KilnError):
    """A remote call that failed for good; its message names the endpoint, never a header's value."""


class MissingBlobError(RemoteError):
    """The remote CAS does not hold a blob the caller expected (e.g. one an action result names)."""


@dataclass(frozen=True)
class TlsFiles:
    """PEM files for grpcs://: the roots to trust (None: the system's) and an optional client pair."""

    certificate: Path | None = None
    client_certificate: Path | None = None
    client_key: Path | None = None


@dataclass(frozen=True)
class RemoteOptions:
    url: str
    instance_name: str = ""
    # Sent as gRPC metadata on every call; their values are secrets (tokens) and never shown.
    headers: tuple[tuple[str, str], ...] = ()
    timeout_s: float = 60.0
    retries: int = 5
    tls: TlsFiles = TlsFiles()

    def __post_init__(self) -> None:
        if not self.url.startswith(SCHEMES) or not self.target:
            raise RemoteError(f"remote endpoint {self.url!r}: expected grpc://host:port or grpcs://host:port")
        if self.tls != TlsFiles() and not self.secure:
            raise RemoteError(f"remote endpoint {self.url}: TLS files are given but the endpoint is not grpcs://")
        if (self.tls.client_certificate is None) != (self.tls.client_key is None):
            raise RemoteError(f"remote endpoint {self.url}: a TLS client certificate needs its key and the key its certificate")

    @property
    def secure(self) -> bool:
        return self.url.startswith("grpcs://")

    @property
    def target(self) -> str:
        """host:port as grpc dials it."""
        return self.url.split("://", 1)[1].rstrip("/")
