"""In-process gRPC servers that misbehave on purpose (fail, lie, stall), for the client's fault tests."""

from __future__ import annotations

import threading
from concurrent import futures
from contextlib import contextmanager

import grpc
from kiln.execution.reapi import bytestream_pb2_grpc
from kiln.execution.reapi import remote_execution_pb2 as re_pb2
from kiln.execution.reapi import remote_execution_pb2_grpc as re_grpc


def capabilities(max_batch: int = 0, functions=(re_pb2.DigestFunction.SHA256,)) -> re_pb2.ServerCapabilities:
    return re_pb2.ServerCapabilities(cache_capabilities=re_pb2.CacheCapabilities(
        digest_functions=list(functions), max_batch_total_size_bytes=max_batch,
        action_cache_update_capabilities=re_pb2.ActionCacheUpdateCapabilities(update_enabled=True)))


class Capabilities(re_grpc.CapabilitiesServicer):
    """Answers `reply`, after failing the first `failures` calls with `code`."""

    def __init__(self, reply: re_pb2.ServerCapabilities, failures: int = 0,
                 code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE, message: str = "try later"):
        self.reply, self.failures, self.code, self.message = reply, failures, code, message
        self.calls = 0
        self.metadata: list[dict] = []

    def GetCapabilities(self, request, context):
        self.calls += 1
        self.metadata.append(dict(context.invocation_metadata()))
        if self.calls <= self.failures:
            context.abort(self.code, self.message)
        return self.reply


class Counter:
    """How many calls are running now, and the most that ever ran at once."""

    def __init__(self):
        self._lock = threading.Lock()
        self.now = self.most = self.total = 0

    @contextmanager
    def running(self):
        with self._lock:
            self.now += 1
            self.total += 1
            self.most = max(self.most, self.now)
        try:
            yield
        finally:
            with self._lock:
                self.now -= 1


@contextmanager
def serve(*servicers, credentials: grpc.ServerCredentials | None = None):
    """A server on 127.0.0.1 with the servicers (each added by its generated add_*_to_server); yields its
    url (grpcs://localhost:port with TLS `credentials`)."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    for servicer in servicers:
        module = bytestream_pb2_grpc if isinstance(servicer, bytestream_pb2_grpc.ByteStreamServicer) else re_grpc
        name = type(servicer).__mro__[1].__name__.removesuffix("Servicer")
        getattr(module, f"add_{name}Servicer_to_server")(servicer, server)
    if credentials is None:
        port, url = server.add_insecure_port("127.0.0.1:0"), "grpc://127.0.0.1:{}"
    else:
        port, url = server.add_secure_port("127.0.0.1:0", credentials), "grpcs://localhost:{}"
    server.start()
    try:
        yield url.format(port)
    finally:
        server.stop(grace=None)
