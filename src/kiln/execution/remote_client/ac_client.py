"""The remote action cache: an action's result by its digest, and storing one."""

from __future__ import annotations

import grpc

from kiln.core.digests import Digest
from kiln.execution.reapi import remote_execution_pb2 as re_pb2
from kiln.execution.reapi import remote_execution_pb2_grpc as re_grpc
from kiln.execution.remote_client.capabilities import ServerCapabilities
from kiln.execution.remote_client.channel import Connection
from kiln.execution.remote_client.endpoint import RemoteError
from kiln.execution.remote_client.wire import to_proto


class ActionCacheClient:
    def __init__(self, connection: Connection, capabilities: ServerCapabilities):
        self._connection = connection
        self._update_enabled = capabilities.ac_update_enabled
        self._stub = re_grpc.ActionCacheStub(connection.channel)

    def get(self, action_digest: Digest) -> re_pb2.ActionResult | None:
        """The cached result, or None on a miss."""
        request = re_pb2.GetActionResultRequest(instance_name=self._connection.options.instance_name,
                                                action_digest=to_proto(action_digest))
        options = self._connection.options

        def attempt() -> re_pb2.ActionResult | None:
            try:
                return self._stub.GetActionResult(request, timeout=options.timeout_s, metadata=self._connection.metadata)
            except grpc.RpcError as error:
                if error.code() == grpc.StatusCode.NOT_FOUND:
                    return None
                raise

        return self._connection.run("GetActionResult", attempt)

    def update(self, action_digest: Digest, result: re_pb2.ActionResult) -> None:
        """Stores `result` for the action; its outputs must already be in the CAS (servers may check)."""
        if not self._update_enabled:
            raise RemoteError(self._connection.describe("the server does not let clients update its action cache"))
        request = re_pb2.UpdateActionResultRequest(instance_name=self._connection.options.instance_name,
                                                   action_digest=to_proto(action_digest), action_result=result)
        self._connection.call("UpdateActionResult", self._stub.UpdateActionResult, request)
