"""The test engine of tools/reapi builds, starts, serves the Remote Execution API, and stops completely."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import time
import urllib.request
from pathlib import Path

import grpc
from google.longrunning import operations_proto_pb2
from kiln.execution.reapi import remote_execution_pb2 as re_pb2
from .reapi_engine import ENGINE, engine_command

SERVICE = "/build.bazel.remote.execution.v2."


def unary(channel: grpc.Channel, method: str, response_type):
    return channel.unary_unary(SERVICE + method, request_serializer=lambda m: m.SerializeToString(),
                               response_deserializer=response_type.FromString)


def digest_of(data: bytes) -> re_pb2.Digest:
    return re_pb2.Digest(hash=hashlib.sha256(data).hexdigest(), size_bytes=len(data))


def processes_running_from(directory: Path) -> list[int]:
    """Pids of live (non-zombie) processes whose executable lies in `directory`."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            exe = os.readlink(f"/proc/{entry.name}/exe")
            state = Path(f"/proc/{entry.name}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if Path(exe).parent == directory and state != "Z":
            found.append(int(entry.name))
    return found


def test_engine_executes_an_action_and_stops_completely(engine):
    platform = re_pb2.Platform(properties=[
        re_pb2.Platform.Property(name=name, value=value)
        for name, value in sorted(engine.endpoints["buildbarn"]["platform"].items())])
    command = re_pb2.Command(
        arguments=["/bin/sh", "-c", "echo hi > out"],
        environment_variables=[re_pb2.Command.EnvironmentVariable(name="PATH", value="/bin:/usr/bin")],
        output_paths=["out"],
        platform=platform,
    ).SerializeToString()
    input_root = re_pb2.Directory().SerializeToString()
    action = re_pb2.Action(command_digest=digest_of(command), input_root_digest=digest_of(input_root),
                           platform=platform).SerializeToString()
    payload = b"a blob that only travels through the CAS\n"

    with grpc.insecure_channel(engine.buildbarn_target) as channel:
        capabilities = unary(channel, "Capabilities/GetCapabilities", re_pb2.ServerCapabilities)(
            re_pb2.GetCapabilitiesRequest(instance_name=""), timeout=30)
        assert re_pb2.DigestFunction.SHA256 in capabilities.cache_capabilities.digest_functions
        assert capabilities.execution_capabilities.exec_enabled

        uploaded = unary(channel, "ContentAddressableStorage/BatchUpdateBlobs", re_pb2.BatchUpdateBlobsResponse)(
            re_pb2.BatchUpdateBlobsRequest(requests=[
                re_pb2.BatchUpdateBlobsRequest.Request(digest=digest_of(data), data=data)
                for data in (command, input_root, action, payload)]), timeout=30)
        assert [r.status.code for r in uploaded.responses] == [0, 0, 0, 0]

        execute = channel.unary_stream(SERVICE + "Execution/Execute", request_serializer=lambda m: m.SerializeToString(),
                                       response_deserializer=operations_proto_pb2.Operation.FromString)
        operations = list(execute(re_pb2.ExecuteRequest(action_digest=digest_of(action), skip_cache_lookup=True),
                                  timeout=120))
        assert operations[-1].done
        response = re_pb2.ExecuteResponse()
        assert operations[-1].response.Unpack(response)
        assert response.status.code == 0, response.status.message
        assert response.result.exit_code == 0
        [out] = response.result.output_files
        assert out.path == "out"

        read = unary(channel, "ContentAddressableStorage/BatchReadBlobs", re_pb2.BatchReadBlobsResponse)(
            re_pb2.BatchReadBlobsRequest(digests=[out.digest, digest_of(payload)]), timeout=30)
        assert [(r.status.code, r.data) for r in read.responses] == [(0, b"hi\n"), (0, payload)]

    pids = [record["pid"] for record in json.loads((engine.state / "processes.json").read_text())]
    assert len(pids) == 5
    assert sorted(processes_running_from(engine.bin_dir)) == sorted(pids)

    stopped = engine_command("stop", str(engine.state))
    assert stopped.returncode == 0, stopped.stderr
    assert processes_running_from(engine.bin_dir) == []
    assert not (engine.state / "processes.json").exists()


def test_bazel_remote_serves_grpc_and_the_http_cache_protocol(engine):
    with grpc.insecure_channel(engine.endpoints["bazel_remote"]["grpc"].removeprefix("grpc://")) as channel:
        capabilities = unary(channel, "Capabilities/GetCapabilities", re_pb2.ServerCapabilities)(
            re_pb2.GetCapabilitiesRequest(instance_name=""), timeout=30)
    assert re_pb2.DigestFunction.SHA256 in capabilities.cache_capabilities.digest_functions
    assert not capabilities.execution_capabilities.exec_enabled

    blob = b"stored in bazel-remote\n"
    url = f"{engine.endpoints['bazel_remote']['http']}/cas/{hashlib.sha256(blob).hexdigest()}"
    urllib.request.urlopen(urllib.request.Request(url, data=blob, method="PUT"), timeout=30).close()
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.read() == blob


def test_build_is_a_cache_hit_the_second_time(engine_bin):
    before = {path.name: path.stat().st_mtime_ns for path in engine_bin.iterdir()}
    assert sorted(before) == ["bazel-remote", "bb_runner", "bb_scheduler", "bb_storage", "bb_worker"]
    again = engine_command("build")
    assert again.returncode == 0, again.stderr
    assert Path(again.stdout.strip()) == engine_bin
    assert {path.name: path.stat().st_mtime_ns for path in engine_bin.iterdir()} == before


def test_starting_a_running_engine_again_is_refused(engine):
    again = engine_command("start", str(engine.state))
    assert again.returncode == 1
    assert again.stderr.strip() == f"engine.py start: an engine is already running in {engine.state}: stop it first"


def test_an_engine_starts_again_where_a_killed_one_left_its_state(engine):
    for record in json.loads((engine.state / "processes.json").read_text()):
        os.killpg(record["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while processes_running_from(engine.bin_dir) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_running_from(engine.bin_dir) == []
    assert (engine.state / "runner.sock").exists()

    restarted = engine_command("start", str(engine.state))
    assert restarted.returncode == 0, restarted.stderr
    assert len(processes_running_from(engine.bin_dir)) == 5


def test_start_before_build_says_to_build(engine_bin, tmp_path):
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "empty-cache")}
    result = engine_command("start", str(tmp_path / "state"), env=env)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "engine.py start: bb_storage, bb_scheduler, bb_worker, bb_runner, bazel-remote not built: "
        f"run `python3 {ENGINE} build` first")
    assert "Traceback" not in result.stderr


def test_a_state_directory_that_is_a_file_is_refused(engine_bin, tmp_path):
    state = tmp_path / "state"
    state.write_text("not a directory\n")
    result = engine_command("start", str(state))
    assert result.returncode == 1
    assert result.stderr.strip() == f"engine.py start: {state} is not a directory"


def test_build_without_go_says_so(tmp_path):
    path = [d for d in os.environ["PATH"].split(os.pathsep) if d and not Path(d, "go").exists()]
    result = engine_command("build", env={**os.environ, "PATH": os.pathsep.join(path)})
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "engine.py build: `go` is not on PATH: install Go (https://go.dev/doc/install) to build the engine")
