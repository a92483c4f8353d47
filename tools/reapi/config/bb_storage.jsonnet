// bb_storage: CAS, action cache, ByteStream and Capabilities, kept in memory (the state lives as
// long as the process); Execute requests are forwarded to bb_scheduler.
local common = import 'common.libsonnet';

// A blob is stored within one block, so the block size bounds the largest blob. One "new" block:
// the action cache requires it (its entries are overwritten), and the CAS needs no more here.
local inMemory(blockSizeBytes, entries) = {
  'local': {
    keyLocationMapInMemory: { entries: entries },
    keyLocationMapMaximumGetAttempts: 16,
    keyLocationMapMaximumPutAttempts: 64,
    oldBlocks: 2,
    currentBlocks: 8,
    newBlocks: 1,
    blocksInMemory: { blockSizeBytes: blockSizeBytes },
  },
};

{
  grpcServers: [common.grpcServer(common.storage)],
  schedulers: {
    '': { endpoint: { address: common.schedulerClients } },
  },
  contentAddressableStorage: {
    backend: inMemory(64 * 1024 * 1024, 200000),
    getAuthorizer: common.allowAll,
    putAuthorizer: common.allowAll,
    findMissingAuthorizer: common.allowAll,
  },
  actionCache: {
    backend: inMemory(4 * 1024 * 1024, 50000),
    getAuthorizer: common.allowAll,
    putAuthorizer: common.allowAll,
  },
  executeAuthorizer: common.allowAll,
  maximumMessageSizeBytes: common.maximumMessageSizeBytes,
}
