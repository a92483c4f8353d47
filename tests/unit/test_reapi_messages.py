"""The committed REAPI message modules: what scripts/gen_reapi_protos.py pins is what is shipped."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from kiln.execution.reapi import remote_execution_pb2, semver_pb2

ROOT = Path(__file__).resolve().parents[2]


def _generator():
    spec = importlib.util.spec_from_file_location("gen_reapi_protos", ROOT / "scripts" / "gen_reapi_protos.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_each_generated_module_names_its_source_the_pinned_remote_apis_version_or_kiln_own_proto():
    gen = _generator()
    shipped = Path(remote_execution_pb2.__file__).parent
    checked = set()
    for proto in gen.PROTOS:
        suffixes = ("_pb2.py", "_pb2_grpc.py") if proto in gen.SERVICE_PROTOS else ("_pb2.py",)
        for suffix in suffixes:
            text = (shipped / f"{Path(proto).stem}{suffix}").read_text()
            assert gen._header(proto) in text
            assert "from build." not in text and "import build." not in text
            checked.add(f"{Path(proto).stem}{suffix}")
    assert checked == {p.name for p in shipped.glob("*_pb2*.py")}
    assert f"@{gen.REMOTE_APIS_VERSION}" in gen._header("build/bazel/remote/execution/v2/remote_execution.proto")
    assert "scripts/reapi_protos/google/bytestream/bytestream.proto" in gen._header("google/bytestream/bytestream.proto")


def test_the_bytestream_service_is_the_standard_one():
    from kiln.execution.reapi import bytestream_pb2

    assert bytestream_pb2.DESCRIPTOR.name == "google/bytestream/bytestream.proto"
    service = bytestream_pb2.DESCRIPTOR.services_by_name["ByteStream"]
    assert service.full_name == "google.bytestream.ByteStream"
    assert [m.name for m in service.methods] == ["Read", "Write"]
    assert bytestream_pb2.WriteRequest.DESCRIPTOR.fields_by_name["data"].number == 10


def test_the_messages_are_the_standard_reapi_types_under_kiln_module_names():
    assert remote_execution_pb2.Action.DESCRIPTOR.full_name == "build.bazel.remote.execution.v2.Action"
    assert remote_execution_pb2.DESCRIPTOR.name == "build/bazel/remote/execution/v2/remote_execution.proto"
    assert remote_execution_pb2.Action.__module__ == "kiln.execution.reapi.remote_execution_pb2"
    assert semver_pb2.SemVer.DESCRIPTOR.full_name == "build.bazel.semver.SemVer"
    # Field numbers the record relies on (output_paths is REAPI v2.1's field 7).
    assert remote_execution_pb2.Command.DESCRIPTOR.fields_by_name["output_paths"].number == 7
    assert remote_execution_pb2.Action.DESCRIPTOR.fields_by_name["platform"].number == 10
