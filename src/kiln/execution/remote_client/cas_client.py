"""The remote CAS: which blobs it lacks, uploads and downloads of blobs.

Blobs that fit the server's batch limit travel in BatchUpdateBlobs / BatchReadBlobs, larger ones
through ByteStream Write / Read (a broken Read resumes at the offset it reached). Every blob read is
checked against its digest before it is returned. Transfers run on a bounded pool; a blob already
on its way for another caller is waited for, not transferred twice.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor

import grpc
from google.rpc import code_pb2

from kiln.core.digests import Digest
from kiln.execution.reapi import bytestream_pb2, bytestream_pb2_grpc
from kiln.execution.reapi import remote_execution_pb2 as re_pb2
from kiln.execution.reapi import remote_execution_pb2_grpc as re_grpc
from kiln.execution.remote_client.capabilities import ServerCapabilities
from kiln.execution.remote_client.channel import Connection
from kiln.execution.remote_client.endpoint import MissingBlobError, RemoteError
from kiln.execution.remote_client.retry import with_retries
from kiln.execution.remote_client.wire import from_proto, matches, read_resource, to_proto, write_resource

# What a blob costs in a batch message besides its bytes (its digest and the framing), counted so
# that a full batch stays under the limit.
BATCH_ENTRY_OVERHEAD = 256
STREAM_CHUNK = 1024 * 1024
# Digests per FindMissingBlobs: ~80 bytes each keeps a request far below the message limit.
FIND_MISSING_CHUNK = 10_000

Transfer = Callable[[dict[Digest, object]], dict[Digest, object]]


class CasClient:
    def __init__(self, connection: Connection, capabilities: ServerCapabilities, max_in_flight: int = 8):
        self._connection = connection
        self._instance = connection.options.instance_name
        self._limit = capabilities.max_batch_total_size
        self._cas = re_grpc.ContentAddressableStorageStub(connection.channel)
        self._bytestream = bytestream_pb2_grpc.ByteStreamStub(connection.channel)
        self._pool = ThreadPoolExecutor(max_in_flight, thread_name_prefix="kiln-cas")
        self._lock = threading.Lock()
        self._in_flight: dict[tuple[str, Digest], Future] = {}

    def close(self) -> None:
        self._pool.shutdown()

    def find_missing(self, digests: Iterable[Digest]) -> set[Digest]:
        wanted = sorted(set(digests))
        missing: set[Digest] = set()
        for start in range(0, len(wanted), FIND_MISSING_CHUNK):
            request = re_pb2.FindMissingBlobsRequest(
                instance_name=self._instance, blob_digests=[to_proto(d) for d in wanted[start:start + FIND_MISSING_CHUNK]])
            reply = self._connection.call("FindMissingBlobs", self._cas.FindMissingBlobs, request)
            missing.update(from_proto(d) for d in reply.missing_blob_digests)
        return missing

    def upload(self, blobs: Mapping[Digest, bytes]) -> None:
        """Stores the blobs the server lacks; each key must be the digest of its bytes."""
        missing = self.find_missing(blobs)
        self._transfer("upload", {d: blobs[d] for d in missing}, self._batch_update, self._write)

    def download(self, digests: Iterable[Digest]) -> dict[Digest, bytes]:
        """The blobs, each checked against its digest; MissingBlobError if the server lacks one."""
        return self._transfer("download", dict.fromkeys(digests), self._batch_read, self._read)

    def _transfer(self, kind: str, items: dict[Digest, object], batch: Transfer, stream: Transfer) -> dict:
        waits: dict[Digest, Future] = {}
        claimed: list[Digest] = []
        with self._lock:
            for digest in items:
                future = self._in_flight.get((kind, digest))
                if future is None:
                    future = self._in_flight[(kind, digest)] = Future()
                    claimed.append(digest)
                waits[digest] = future
        small = [d for d in claimed if d.size + BATCH_ENTRY_OVERHEAD <= self._limit]
        for group in self._batches(small):
            self._pool.submit(self._run, kind, batch, {d: items[d] for d in group})
        for digest in claimed:
            if digest.size + BATCH_ENTRY_OVERHEAD > self._limit:
                self._pool.submit(self._run, kind, stream, {digest: items[digest]})
        return {digest: future.result() for digest, future in waits.items()}

    def _batches(self, digests: list[Digest]) -> Iterable[list[Digest]]:
        group: list[Digest] = []
        total = 0
        for digest in sorted(digests, key=lambda d: d.size):
            cost = digest.size + BATCH_ENTRY_OVERHEAD
            if group and total + cost > self._limit:
                yield group
                group, total = [], 0
            group.append(digest)
            total += cost
        if group:
            yield group

    def _run(self, kind: str, transfer: Transfer, group: dict[Digest, object]) -> None:
        try:
            results, failure = transfer(group), None
        except BaseException as error:  # handed to every waiter, whatever it is
            results, failure = {}, error
        with self._lock:
            futures = {digest: self._in_flight.pop((kind, digest)) for digest in group}
        for digest, future in futures.items():
            if failure is not None:
                future.set_exception(failure)
            else:
                future.set_result(results[digest])

    def _batch_update(self, group: dict[Digest, bytes]) -> dict[Digest, None]:
        request = re_pb2.BatchUpdateBlobsRequest(instance_name=self._instance, requests=[
            re_pb2.BatchUpdateBlobsRequest.Request(digest=to_proto(d), data=data) for d, data in group.items()])
        reply = self._connection.call("BatchUpdateBlobs", self._cas.BatchUpdateBlobs, request)
        for response in reply.responses:
            if response.status.code != code_pb2.OK:
                raise self._blob_error(f"storing blob {from_proto(response.digest)}", response.status)
        return dict.fromkeys(group)

    def _batch_read(self, group: dict[Digest, None]) -> dict[Digest, bytes]:
        request = re_pb2.BatchReadBlobsRequest(instance_name=self._instance, digests=[to_proto(d) for d in group])
        reply = self._connection.call("BatchReadBlobs", self._cas.BatchReadBlobs, request)
        found: dict[Digest, bytes] = {}
        for response in reply.responses:
            digest = from_proto(response.digest)
            if response.status.code == code_pb2.NOT_FOUND:
                raise MissingBlobError(self._connection.describe(f"blob {digest} is missing from the remote CAS"))
            if response.status.code != code_pb2.OK:
                raise self._blob_error(f"reading blob {digest}", response.status)
            found[digest] = self._checked(digest, response.data)
        if absent := [str(d) for d in group if d not in found]:
            raise RemoteError(self._connection.describe(f"BatchReadBlobs did not answer for {', '.join(absent)}"))
        return found

    def _write(self, group: dict[Digest, bytes]) -> dict[Digest, None]:
        [(digest, data)] = group.items()
        resource = write_resource(self._instance, digest)

        def requests():
            for offset in range(0, digest.size, STREAM_CHUNK):
                end = offset + STREAM_CHUNK
                yield bytestream_pb2.WriteRequest(resource_name=resource if offset == 0 else "", write_offset=offset,
                                                  data=data[offset:end], finish_write=end >= digest.size)

        options = self._connection.options
        reply = self._connection.run("ByteStream.Write", lambda: self._bytestream.Write(
            requests(), timeout=options.timeout_s, metadata=self._connection.metadata))
        # A server that already holds the blob may end the stream early, committing the whole size.
        if reply.committed_size != digest.size:
            raise RemoteError(self._connection.describe(
                f"ByteStream.Write of blob {digest} committed {reply.committed_size} bytes, not {digest.size}"))
        return dict.fromkeys(group)

    def _read(self, group: dict[Digest, None]) -> dict[Digest, bytes]:
        [digest] = group
        received = bytearray()
        resource = read_resource(self._instance, digest)
        options = self._connection.options

        def attempt() -> None:
            # A retry after a broken stream asks only for what has not arrived yet.
            request = bytestream_pb2.ReadRequest(resource_name=resource, read_offset=len(received))
            for response in self._bytestream.Read(request, timeout=options.timeout_s, metadata=self._connection.metadata):
                received.extend(response.data)

        try:
            with_retries(attempt, self._connection.backoff)
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                raise MissingBlobError(self._connection.describe(f"blob {digest} is missing from the remote CAS")) from None
            raise self._connection.error("ByteStream.Read", error) from None
        return {digest: self._checked(digest, bytes(received))}

    def _checked(self, digest: Digest, data: bytes) -> bytes:
        if not matches(data, digest):
            raise RemoteError(self._connection.describe(f"blob {digest} received does not match its digest: rejected"))
        return data

    def _blob_error(self, what: str, status) -> RemoteError:
        return RemoteError(self._connection.describe(f"{what} failed: {code_pb2.Code.Name(status.code)}: {status.message}"))
