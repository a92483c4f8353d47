"""kiln's REAPI client against the real engine: Buildbarn and bazel-remote, each where it supports the call."""

from __future__ import annotations

import os

import pytest
from kiln.core.digests import digest_bytes
from kiln.execution.reapi import remote_execution_pb2 as re_pb2
from kiln.execution.remote_client.ac_client import ActionCacheClient
from kiln.execution.remote_client.capabilities import get_capabilities
from kiln.execution.remote_client.cas_client import CasClient
from kiln.execution.remote_client.channel import Connection
from kiln.execution.remote_client.endpoint import RemoteOptions
from kiln.execution.remote_client.wire import to_proto

SERVERS = ["buildbarn", "bazel_remote"]


def connect(engine, server: str) -> Connection:
    return Connection(RemoteOptions(engine.endpoints[server]["grpc"], retries=2, timeout_s=60,
                                    headers=(("authorization", "Bearer unused"),)))


def test_capabilities_of_each_server(engine):
    with connect(engine, "buildbarn") as connection:
        buildbarn = get_capabilities(connection)
    with connect(engine, "bazel_remote") as connection:
        bazel_remote = get_capabilities(connection)
    assert "SHA256" in buildbarn.digest_functions and "SHA256" in bazel_remote.digest_functions
    assert (buildbarn.exec_enabled, bazel_remote.exec_enabled) == (True, False)
    assert 0 < buildbarn.max_batch_total_size <= 4 * 1024 * 1024
    assert 0 < bazel_remote.max_batch_total_size <= 4 * 1024 * 1024


@pytest.mark.parametrize("server", SERVERS)
def test_small_and_streamed_blobs_round_trip(engine, server):
    with connect(engine, server) as connection:
        capabilities = get_capabilities(connection)
        small = [b"one\n", b"", os.urandom(100_000)]
        large = os.urandom(capabilities.max_batch_total_size + 1024 * 1024)
        blobs = {digest_bytes(data): data for data in [*small, large]}
        cas = CasClient(connection, capabilities)
        try:
            non_empty = {d for d in blobs if d.size}
            assert cas.find_missing(blobs) >= non_empty
            cas.upload(blobs)
            assert cas.find_missing(blobs) == set()
            assert cas.download(blobs) == blobs
        finally:
            cas.close()


@pytest.mark.parametrize("server", SERVERS)
def test_an_action_result_round_trips(engine, server):
    with connect(engine, server) as connection:
        capabilities = get_capabilities(connection)
        assert capabilities.ac_update_enabled
        output, stdout = os.urandom(64), b"built\n"
        cas = CasClient(connection, capabilities)
        try:
            cas.upload({digest_bytes(output): output, digest_bytes(stdout): stdout})
        finally:
            cas.close()
        action = digest_bytes(os.urandom(32))
        result = re_pb2.ActionResult(
            output_files=[re_pb2.OutputFile(path="out/lib.so", digest=to_proto(digest_bytes(output)), is_executable=True)],
            exit_code=0, stdout_digest=to_proto(digest_bytes(stdout)))
        ac = ActionCacheClient(connection, capabilities)
        assert ac.get(action) is None
        ac.update(action, result)
        got = ac.get(action)
    assert list(got.output_files) == list(result.output_files)
    assert got.stdout_digest == result.stdout_digest
    assert got.exit_code == 0
