"""kiln's Remote Execution API v2 client: a channel with kiln's call policy, the server's capabilities,
the CAS (batches and ByteStream) and the action cache.

It sits in execution/ because only executors and caches use it; it imports grpc and protobuf, so
nothing on kiln's no-op path may import it (import it where a remote is configured).
"""
