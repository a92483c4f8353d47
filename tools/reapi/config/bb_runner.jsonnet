// bb_runner: runs the commands bb_worker hands it over a unix socket, in bb_worker's build
// directory, unsandboxed, as this user, with only the action's environment variables.
local common = import 'common.libsonnet';

{
  buildDirectoryPath: common.buildDirectory,
  grpcServers: [{
    listenPaths: [common.runnerSocket],
    authenticationPolicy: { allow: {} },
  }],
}
