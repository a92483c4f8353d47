// bb_worker: fetches inputs from the CAS into a native build directory (no FUSE, no privileges),
// has bb_runner run the command, and uploads the outputs. Inputs are hard-linked from the file
// cache, which is why both directories are on one file system.
local common = import 'common.libsonnet';

{
  blobstore: {
    contentAddressableStorage: { grpc: { address: common.storage } },
    actionCache: { grpc: { address: common.storage } },
  },
  scheduler: { address: common.schedulerWorkers },
  maximumMessageSizeBytes: common.maximumMessageSizeBytes,
  buildDirectories: [{
    native: {
      buildDirectoryPath: common.buildDirectory,
      cacheDirectoryPath: common.state + '/worker/cache',
      maximumCacheFileCount: 100000,
      maximumCacheSizeBytes: 1024 * 1024 * 1024,
      cacheReplacementPolicy: 'LEAST_RECENTLY_USED',
    },
    runners: [{
      endpoint: { address: 'unix://' + common.runnerSocket },
      // The machine has two cores; more lets I/O-bound actions overlap.
      concurrency: 4,
      platform: common.platform,
      workerId: { host: 'localhost' },
    }],
  }],
  filePool: {
    blockDevice: { file: { path: common.state + '/worker/filepool', sizeBytes: 1024 * 1024 * 1024 } },
  },
  inputDownloadConcurrency: 8,
  outputUploadConcurrency: 8,
  directoryCache: {
    maximumCount: 10000,
    maximumSizeBytes: 16 * 1024 * 1024,
    cacheReplacementPolicy: 'LEAST_RECENTLY_USED',
  },
}
