"""kiln's REAPI client against in-process servers that fail, lie or stall: retries, resumed reads,
rejected blobs, deduplicated and bounded transfers, and the errors a user sees."""

from __future__ import annotations

import hashlib
import re
import socket
import threading
import time

import grpc
import pytest
from kiln.core.digests import digest_bytes
from kiln.execution.reapi import bytestream_pb2, bytestream_pb2_grpc
from kiln.execution.reapi import remote_execution_pb2 as re_pb2
from kiln.execution.reapi import remote_execution_pb2_grpc as re_grpc
from kiln.execution.remote_client.capabilities import get_capabilities
from kiln.execution.remote_client.cas_client import CasClient
from kiln.execution.remote_client.channel import Connection
from kiln.execution.remote_client.endpoint import MissingBlobError, RemoteError, RemoteOptions, TlsFiles
from .fake_servers import Capabilities, Counter, capabilities, serve

SECRET = "Bearer s3cret-token"


def connect(url: str, retries: int = 3, **kwargs) -> Connection:
    return Connection(RemoteOptions(url, retries=retries, timeout_s=10, **kwargs))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("code", [grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED])
def test_a_call_failing_with_a_passing_reason_is_retried_until_it_succeeds(code):
    servicer = Capabilities(capabilities(), failures=2, code=code)
    with serve(servicer) as url, connect(url, retries=3) as connection:
        assert "SHA256" in get_capabilities(connection).digest_functions
    assert servicer.calls == 3


def test_retries_are_bounded_and_the_last_failure_is_reported():
    servicer = Capabilities(capabilities(), failures=10)
    with serve(servicer) as url, connect(url, retries=2) as connection:
        with pytest.raises(RemoteError) as failure:
            get_capabilities(connection)
    assert servicer.calls == 3
    assert failure.value.render() == f"remote {url}: GetCapabilities failed: UNAVAILABLE: try later"


def test_a_failure_that_does_not_pass_is_not_retried():
    servicer = Capabilities(capabilities(), failures=1, code=grpc.StatusCode.INVALID_ARGUMENT, message="no")
    with serve(servicer) as url, connect(url) as connection:
        with pytest.raises(RemoteError, match="INVALID_ARGUMENT: no$"):
            get_capabilities(connection)
    assert servicer.calls == 1


def test_nothing_listening_is_an_error_naming_the_endpoint_and_not_the_headers():
    url = f"grpc://127.0.0.1:{free_port()}"
    with connect(url, retries=1, headers=(("Authorization", SECRET),)) as connection:
        with pytest.raises(RemoteError) as failure:
            get_capabilities(connection)
    message = failure.value.render()
    assert message.startswith(f"remote {url}: GetCapabilities failed: UNAVAILABLE: ")
    assert "s3cret" not in message and "Authorization" not in message


def test_headers_are_sent_as_metadata_and_masked_when_a_server_echoes_them():
    servicer = Capabilities(capabilities(), failures=1, code=grpc.StatusCode.PERMISSION_DENIED,
                            message=f"credential {SECRET} is not accepted")
    with serve(servicer) as url, connect(url, headers=(("Authorization", SECRET), ("x-team", "kiln"))) as connection:
        with pytest.raises(RemoteError) as failure:
            get_capabilities(connection)
    assert servicer.metadata[0]["authorization"] == SECRET
    assert servicer.metadata[0]["x-team"] == "kiln"
    assert failure.value.render() == (
        f"remote {url}: GetCapabilities failed: PERMISSION_DENIED: credential <redacted> is not accepted")


def test_a_server_without_sha256_is_refused():
    servicer = Capabilities(capabilities(functions=[re_pb2.DigestFunction.SHA1, re_pb2.DigestFunction.MD5]))
    with serve(servicer) as url, connect(url) as connection:
        with pytest.raises(RemoteError) as failure:
            get_capabilities(connection)
    assert failure.value.render() == f"remote {url}: the server does not support SHA256 digests (it offers MD5, SHA1)"


@pytest.mark.parametrize("url, message", [
    ("http://cache:8080", "remote endpoint 'http://cache:8080': expected grpc://host:port or grpcs://host:port"),
    ("grpc://", "remote endpoint 'grpc://': expected grpc://host:port or grpcs://host:port"),
])
def test_a_bad_endpoint_is_refused_before_connecting(url, message):
    with pytest.raises(RemoteError) as failure:
        RemoteOptions(url)
    assert failure.value.render() == message


def test_tls_files_for_a_plain_endpoint_and_a_key_without_its_certificate_are_refused(tmp_path):
    with pytest.raises(RemoteError, match=r"^remote endpoint grpc://h:1: TLS files are given but the endpoint is not grpcs://$"):
        RemoteOptions("grpc://h:1", tls=TlsFiles(certificate=tmp_path / "ca.pem"))
    with pytest.raises(RemoteError, match="a TLS client certificate needs its key and the key its certificate$"):
        RemoteOptions("grpcs://h:1", tls=TlsFiles(client_key=tmp_path / "key.pem"))


def test_an_unreadable_tls_file_is_named(tmp_path):
    with pytest.raises(RemoteError) as failure:
        Connection(RemoteOptions("grpcs://h:1", tls=TlsFiles(certificate=tmp_path / "ca.pem")))
    assert failure.value.render() == f"remote grpcs://h:1: cannot read TLS file {tmp_path / 'ca.pem'}: No such file or directory"


class LyingCas(re_grpc.ContentAddressableStorageServicer):
    """Answers every BatchReadBlobs with other bytes than asked for."""

    def BatchReadBlobs(self, request, context):
        return re_pb2.BatchReadBlobsResponse(responses=[
            re_pb2.BatchReadBlobsResponse.Response(digest=d, data=b"not the blob") for d in request.digests])


class Streams(bytestream_pb2_grpc.ByteStreamServicer):
    """Serves `blobs` by ByteStream: breaks the first read of each after `break_after` bytes, stalls each
    read `delay` s, and keeps what is written."""

    def __init__(self, blobs: dict[str, bytes], break_after: int | None = None, delay: float = 0):
        self.blobs, self.break_after, self.delay = blobs, break_after, delay
        self.reads: list[tuple[str, int]] = []
        self.written: dict[str, bytes] = {}
        self.counter = Counter()

    def Read(self, request, context):
        with self.counter.running():
            time.sleep(self.delay)
            self.reads.append((request.resource_name, request.read_offset))
            data = self.blobs[request.resource_name][request.read_offset:]
            first = len(self.reads) == 1
            if first and self.break_after is not None:
                yield bytestream_pb2.ReadResponse(data=data[:self.break_after])
                context.abort(grpc.StatusCode.UNAVAILABLE, "connection reset")
            for start in range(0, len(data), 1000):
                yield bytestream_pb2.ReadResponse(data=data[start:start + 1000])

    def Write(self, request_iterator, context):
        name, data = None, bytearray()
        for request in request_iterator:
            name = name or request.resource_name
            assert request.write_offset == len(data)
            data.extend(request.data)
        self.written[name] = bytes(data)
        return bytestream_pb2.WriteResponse(committed_size=len(data))


def cas_against(url: str, max_in_flight: int = 8, instance_name: str = "") -> CasClient:
    connection = Connection(RemoteOptions(url, instance_name=instance_name, retries=2, timeout_s=10))
    return CasClient(connection, get_capabilities(connection), max_in_flight=max_in_flight)


def test_a_batch_read_blob_that_does_not_match_its_digest_is_rejected():
    digest = digest_bytes(b"the real blob")
    with serve(Capabilities(capabilities()), LyingCas()) as url:
        with pytest.raises(RemoteError) as failure:
            cas_against(url).download([digest])
    assert failure.value.render() == f"remote {url}: blob {digest} received does not match its digest: rejected"


def test_a_streamed_blob_that_does_not_match_its_digest_is_rejected():
    blob = b"x" * 5000
    digest = digest_bytes(blob)
    with serve(Capabilities(capabilities(max_batch=1000)), Streams({f"blobs/{digest.hash}/5000": b"y" * 5000})) as url:
        with pytest.raises(RemoteError, match=f"blob {digest} received does not match its digest: rejected$"):
            cas_against(url).download([digest])


def test_a_broken_read_resumes_where_it_stopped():
    blob = hashlib.sha256(b"seed").digest() * 400
    digest = digest_bytes(blob)
    name = f"main/blobs/{digest.hash}/{digest.size}"
    streams = Streams({name: blob}, break_after=3000)
    with serve(Capabilities(capabilities(max_batch=1000)), streams) as url:
        assert cas_against(url, instance_name="main").download([digest]) == {digest: blob}
    assert streams.reads == [(name, 0), (name, 3000)]


def test_a_blob_above_the_batch_limit_is_written_by_bytestream_under_a_fresh_upload_name():
    class Empty(re_grpc.ContentAddressableStorageServicer):
        def FindMissingBlobs(self, request, context):
            return re_pb2.FindMissingBlobsResponse(missing_blob_digests=request.blob_digests)

    blob = bytes(range(256)) * 20
    digest = digest_bytes(blob)
    streams = Streams({})
    with serve(Capabilities(capabilities(max_batch=1000)), Empty(), streams) as url:
        cas_against(url, instance_name="main").upload({digest: blob})
    [(name, data)] = streams.written.items()
    assert re.fullmatch(rf"main/uploads/[0-9a-f-]{{36}}/blobs/{digest.hash}/{digest.size}", name)
    assert data == blob


def test_concurrent_downloads_of_one_blob_are_one_transfer():
    blob = b"shared" * 1000
    digest = digest_bytes(blob)
    streams = Streams({f"blobs/{digest.hash}/{digest.size}": blob}, delay=0.3)
    results = []
    with serve(Capabilities(capabilities(max_batch=1000)), streams) as url:
        cas = cas_against(url)
        threads = [threading.Thread(target=lambda: results.append(cas.download([digest]))) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert results == [{digest: blob}] * 3
    assert streams.counter.total == 1


def test_transfers_in_flight_are_bounded():
    blobs = [b"%d" % i * 3000 for i in range(6)]
    streams = Streams({f"blobs/{d.hash}/{d.size}": b for b, d in ((b, digest_bytes(b)) for b in blobs)}, delay=0.2)
    with serve(Capabilities(capabilities(max_batch=1000)), streams) as url:
        got = cas_against(url, max_in_flight=2).download(digest_bytes(b) for b in blobs)
    assert got == {digest_bytes(b): b for b in blobs}
    assert streams.counter.total == 6
    assert streams.counter.most == 2


def test_a_blob_the_server_lacks_is_a_missing_blob_error():
    digest = digest_bytes(b"never stored")

    class Missing(re_grpc.ContentAddressableStorageServicer):
        def BatchReadBlobs(self, request, context):
            return re_pb2.BatchReadBlobsResponse(responses=[re_pb2.BatchReadBlobsResponse.Response(
                digest=d, status={"code": grpc.StatusCode.NOT_FOUND.value[0]}) for d in request.digests])

    with serve(Capabilities(capabilities()), Missing()) as url:
        with pytest.raises(MissingBlobError) as failure:
            cas_against(url).download([digest])
    assert failure.value.render() == f"remote {url}: blob {digest} is missing from the remote CAS"


def test_uploads_are_split_into_batches_within_the_servers_limit():
    class Recording(re_grpc.ContentAddressableStorageServicer):
        def __init__(self):
            self.request_sizes: list[int] = []
            self.stored: list[bytes] = []

        def FindMissingBlobs(self, request, context):
            return re_pb2.FindMissingBlobsResponse(missing_blob_digests=request.blob_digests)

        def BatchUpdateBlobs(self, request, context):
            self.request_sizes.append(request.ByteSize())
            self.stored.extend(r.data for r in request.requests)
            return re_pb2.BatchUpdateBlobsResponse(responses=[
                re_pb2.BatchUpdateBlobsResponse.Response(digest=r.digest) for r in request.requests])

    blobs = [b"%02d" % i * 500 for i in range(10)]
    cas = Recording()
    with serve(Capabilities(capabilities(max_batch=4000)), cas) as url:
        cas_against(url).upload({digest_bytes(b): b for b in blobs})
    assert sorted(cas.stored) == sorted(blobs)
    assert len(cas.request_sizes) > 1
    assert max(cas.request_sizes) <= 4000
