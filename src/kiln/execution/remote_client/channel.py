"""One gRPC channel to a remote endpoint and the policy every call on it follows: the user's headers as
metadata, a deadline per call, bounded retries, and failures turned into a RemoteError that names the
endpoint and the call but never a header's value.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import grpc

from kiln.execution.remote_client.endpoint import RemoteError, RemoteOptions
from kiln.execution.remote_client.retry import Backoff, with_retries

T = TypeVar("T")

# gRPC's default message limit, which servers (and this client) keep unless told otherwise.
GRPC_MESSAGE_LIMIT = 4 * 1024 * 1024


class Connection:
    def __init__(self, options: RemoteOptions):
        self.options = options
        self.metadata = tuple((name.lower(), value) for name, value in options.headers)
        self.backoff = Backoff(options.retries)
        self.channel = _open(options)

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.channel.close()

    def call(self, what: str, rpc: Callable[..., T], request: object) -> T:
        """A unary call with retries; `what` names it in errors (e.g. "FindMissingBlobs")."""
        return self.run(what, lambda: rpc(request, timeout=self.options.timeout_s, metadata=self.metadata))

    def run(self, what: str, attempt: Callable[[], T]) -> T:
        """attempt() with retries, its final gRPC failure turned into a RemoteError."""
        try:
            return with_retries(attempt, self.backoff)
        except grpc.RpcError as error:
            raise self.error(what, error) from None

    def error(self, what: str, error: grpc.RpcError) -> RemoteError:
        return RemoteError(self.describe(f"{what} failed: {error.code().name}: {error.details()}"))

    def describe(self, message: str) -> str:
        """`message` prefixed with the endpoint, any header value in it (a server may echo one) masked."""
        text = f"remote {self.options.url}: {message}"
        for _, value in self.metadata:
            if value:
                text = text.replace(value, "<redacted>")
        return text


def _open(options: RemoteOptions) -> grpc.Channel:
    if not options.secure:
        return grpc.insecure_channel(options.target)
    tls = options.tls
    credentials = grpc.ssl_channel_credentials(
        root_certificates=_read(options, tls.certificate),
        private_key=_read(options, tls.client_key),
        certificate_chain=_read(options, tls.client_certificate),
    )
    return grpc.secure_channel(options.target, credentials)


def _read(options: RemoteOptions, path: Path | None) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as error:
        raise RemoteError(f"remote {options.url}: cannot read TLS file {path}: {error.strerror}") from None
