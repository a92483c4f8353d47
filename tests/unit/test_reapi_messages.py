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


def test_each_generated_module_names_the_pinned_remote_apis_version():
    gen = _generator()
    for module in (remote_execution_pb2, semver_pb2):
        text = Path(module.__file__).read_text()
        assert gen.HEADER in text
        assert "from build." not in text and "import build." not in text


def test_the_messages_are_the_standard_reapi_types_under_kiln_module_names():
    assert remote_execution_pb2.Action.DESCRIPTOR.full_name == "build.bazel.remote.execution.v2.Action"
    assert remote_execution_pb2.DESCRIPTOR.name == "build/bazel/remote/execution/v2/remote_execution.proto"
    assert remote_execution_pb2.Action.__module__ == "kiln.execution.reapi.remote_execution_pb2"
    assert semver_pb2.SemVer.DESCRIPTOR.full_name == "build.bazel.semver.SemVer"
    # Field numbers the record relies on (output_paths is REAPI v2.1's field 7).
    assert remote_execution_pb2.Command.DESCRIPTOR.fields_by_name["output_paths"].number == 7
    assert remote_execution_pb2.Action.DESCRIPTOR.fields_by_name["platform"].number == 10
