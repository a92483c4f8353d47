// Values shared by the Buildbarn configs. engine.py passes every address and directory as an
// environment variable; Buildbarn exposes the environment to jsonnet as std.extVar.
{
  state: std.extVar('KILN_REAPI_STATE'),
  storage: '127.0.0.1:' + std.extVar('KILN_REAPI_STORAGE_PORT'),
  schedulerClients: '127.0.0.1:' + std.extVar('KILN_REAPI_SCHEDULER_CLIENT_PORT'),
  schedulerWorkers: '127.0.0.1:' + std.extVar('KILN_REAPI_SCHEDULER_WORKER_PORT'),
  schedulerDiagnostics: '127.0.0.1:' + std.extVar('KILN_REAPI_SCHEDULER_DIAGNOSTICS_PORT'),
  runnerSocket: self.state + '/runner.sock',
  buildDirectory: self.state + '/worker/build',

  // The one platform the worker offers (processes.PLATFORM, also in endpoints.json): an action
  // is scheduled only if its platform properties equal these exactly.
  local platform = std.parseJson(std.extVar('KILN_REAPI_PLATFORM')),
  platform: { properties: [{ name: name, value: platform[name] } for name in std.objectFields(platform)] },

  // Above gRPC's 4 MiB default so that BatchUpdateBlobs can carry several blobs;
  // Capabilities reports the batch limit that clients must honour.
  maximumMessageSizeBytes: 16 * 1024 * 1024,

  allowAll: { allow: {} },
  grpcServer(address): {
    listenAddresses: [address],
    authenticationPolicy: { allow: {} },
  },
}
