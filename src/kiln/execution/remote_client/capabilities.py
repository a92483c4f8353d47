"""What a remote server supports (GetCapabilities), reduced to what kiln's client decides on."""

from __future__ import annotations

from dataclasses import dataclass

from kiln.execution.reapi import remote_execution_pb2 as re_pb2
from kiln.execution.reapi import remote_execution_pb2_grpc as re_grpc
from kiln.execution.remote_client.channel import GRPC_MESSAGE_LIMIT, Connection
from kiln.execution.remote_client.endpoint import RemoteError


@dataclass(frozen=True)
class ServerCapabilities:
    digest_functions: frozenset[str]
    # The most blob bytes one BatchUpdateBlobs / BatchReadBlobs may carry; larger go through ByteStream.
    max_batch_total_size: int
    exec_enabled: bool
    ac_update_enabled: bool


def get_capabilities(connection: Connection) -> ServerCapabilities:
    """The server's capabilities; an error if it cannot hash with SHA256, the only function kiln uses."""
    stub = re_grpc.CapabilitiesStub(connection.channel)
    reply = connection.call("GetCapabilities", stub.GetCapabilities,
                            re_pb2.GetCapabilitiesRequest(instance_name=connection.options.instance_name))
    cache = reply.cache_capabilities
    functions = frozenset(re_pb2.DigestFunction.Value.Name(f) for f in cache.digest_functions)
    if "SHA256" not in functions:
        offered = ", ".join(sorted(functions)) or "none"
        raise RemoteError(connection.describe(f"the server does not support SHA256 digests (it offers {offered})"))
    # 0 means "no limit" to the server, but the message limit of gRPC still applies to both ends.
    reported = cache.max_batch_total_size_bytes
    limit = min(reported, GRPC_MESSAGE_LIMIT) if reported > 0 else GRPC_MESSAGE_LIMIT
    return ServerCapabilities(
        digest_functions=functions,
        max_batch_total_size=limit,
        exec_enabled=reply.execution_capabilities.exec_enabled,
        ac_update_enabled=cache.action_cache_update_capabilities.update_enabled,
    )
