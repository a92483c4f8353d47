// bb_scheduler: queues Execute requests from bb_storage and hands them to bb_worker. Its
// diagnostics HTTP server serves Prometheus metrics, which engine.py reads to know that the
// worker has registered.
local common = import 'common.libsonnet';

{
  clientGrpcServers: [common.grpcServer(common.schedulerClients)],
  workerGrpcServers: [common.grpcServer(common.schedulerWorkers)],
  contentAddressableStorage: { grpc: { address: common.storage } },
  maximumMessageSizeBytes: common.maximumMessageSizeBytes,
  global: {
    diagnosticsHttpServer: {
      httpServers: [{
        listenAddresses: [common.schedulerDiagnostics],
        authenticationPolicy: { allow: {} },
      }],
      enablePrometheus: true,
    },
  },
  executeAuthorizer: common.allowAll,
  modifyDrainsAuthorizer: common.allowAll,
  killOperationsAuthorizer: common.allowAll,
  // This version exits at start without it.
  synchronizeAuthorizer: common.allowAll,
  actionRouter: {
    simple: {
      // REAPI v2.2 moved the platform into Action; older clients put it in Command only.
      platformKeyExtractor: { actionAndCommand: {} },
      invocationKeyExtractors: [{ correlatedInvocationsId: {} }, { toolInvocationId: {} }],
      initialSizeClassAnalyzer: {
        defaultExecutionTimeout: '1800s',
        maximumExecutionTimeout: '7200s',
      },
    },
  },
  // Keeps the platform queue while the worker restarts instead of failing queued actions.
  platformQueueWithNoWorkersTimeout: '900s',
}
