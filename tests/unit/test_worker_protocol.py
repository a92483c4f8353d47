"""kiln's WorkRequest / WorkResponse codecs against an independent implementation (the protobuf runtime),
and what they make of a worker's stdout that is not made of responses."""

import base64
import json

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.internal.decoder import _DecodeVarint32
from google.protobuf.internal.encoder import _VarintBytes

from kiln.execution.worker_protocol import (JsonDecoder, NotAResponse, ProtoDecoder, WorkInput, WorkRequest,
                                            WorkResponse, encode_json, encode_proto)


def _messages():
    F = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(name="kiln_test_worker_protocol.proto", package="blaze.worker",
                                             syntax="proto3")

    def message(name, *fields):
        m = fdp.message_type.add(name=name)
        for number, (fname, ftype, label, type_name) in fields:
            m.field.add(name=fname, number=number, type=ftype, label=label, type_name=type_name or None)

    OPT, REP = F.LABEL_OPTIONAL, F.LABEL_REPEATED
    message("Input", (1, ("path", F.TYPE_STRING, OPT, "")), (2, ("digest", F.TYPE_BYTES, OPT, "")))
    message("WorkRequest", (1, ("arguments", F.TYPE_STRING, REP, "")),
            (2, ("inputs", F.TYPE_MESSAGE, REP, ".blaze.worker.Input")), (3, ("request_id", F.TYPE_INT32, OPT, "")),
            (4, ("cancel", F.TYPE_BOOL, OPT, "")), (5, ("verbosity", F.TYPE_INT32, OPT, "")),
            (6, ("sandbox_dir", F.TYPE_STRING, OPT, "")))
    message("WorkResponse", (1, ("exit_code", F.TYPE_INT32, OPT, "")), (2, ("output", F.TYPE_STRING, OPT, "")),
            (3, ("request_id", F.TYPE_INT32, OPT, "")), (4, ("was_cancelled", F.TYPE_BOOL, OPT, "")))
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    get = lambda name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"blaze.worker.{name}"))
    return get("WorkRequest"), get("WorkResponse")


Request, Response = _messages()
REQUEST = WorkRequest(("--src", "pkg/a.py", "--pyc", "ü.pyc"), (WorkInput("pkg/a.py", b"ab12" * 16),),
                      request_id=300, verbosity=10, sandbox_dir="__sandbox/300")


def test_proto_request_is_what_protobuf_reads():
    data = encode_proto(REQUEST)
    size, start = _DecodeVarint32(data, 0)
    assert len(data) == start + size
    parsed = Request.FromString(data[start:])
    assert list(parsed.arguments) == ["--src", "pkg/a.py", "--pyc", "ü.pyc"]
    assert [(i.path, i.digest) for i in parsed.inputs] == [("pkg/a.py", b"ab12" * 16)]
    assert (parsed.request_id, parsed.cancel, parsed.verbosity, parsed.sandbox_dir) == (300, False, 10, "__sandbox/300")
    cancel = Request.FromString(encode_proto(WorkRequest(request_id=7, cancel=True))[1:])
    assert (cancel.request_id, cancel.cancel, list(cancel.arguments)) == (7, True, [])


def test_proto_responses_written_by_protobuf_are_read_in_any_chunking():
    stream = b""
    expected = [WorkResponse(0, "", 0, False), WorkResponse(-3, "x" * 300 + "é", 2**31 - 1, False),
                WorkResponse(1, "", 5, True)]
    for r in expected:
        body = Response(exit_code=r.exit_code, output=r.output, request_id=r.request_id,
                        was_cancelled=r.was_cancelled).SerializeToString()
        stream += _VarintBytes(len(body)) + body
    decoder = ProtoDecoder()
    got = [m for i in range(len(stream)) for m in decoder.feed(stream[i:i + 1])]
    assert got == expected
    assert ProtoDecoder().feed(stream) == expected


def test_json_request_uses_proto3_json_names_and_base64_digests():
    message = json.loads(encode_json(REQUEST))
    assert message == {"arguments": ["--src", "pkg/a.py", "--pyc", "ü.pyc"],
                       "inputs": [{"path": "pkg/a.py", "digest": base64.b64encode(b"ab12" * 16).decode()}],
                       "requestId": 300, "verbosity": 10, "sandboxDir": "__sandbox/300"}
    assert encode_json(WorkRequest(("a",))) == b'{"arguments":["a"]}\n'


def test_json_responses_split_anywhere():
    stream = b'{"exitCode": 2, "output": "bad\\n", "requestId": 4}\n\n{"requestId": 5, "wasCancelled": true}\n{"exi'
    decoder = JsonDecoder()
    got = [m for i in range(len(stream)) for m in decoder.feed(stream[i:i + 1])]
    assert got == [WorkResponse(2, "bad\n", 4, False), WorkResponse(0, "", 5, True)]
    assert decoder.leftover() == b'{"exi'


@pytest.mark.parametrize("line", [b"Starting worker...", b"[1, 2]", b'{"exitCode": true}', b'{"exit_code": 0}',
                                  b'{"output": 3}'])
def test_json_stdout_that_is_not_a_response(line):
    with pytest.raises(NotAResponse) as e:
        JsonDecoder().feed(line + b"\n")
    assert e.value.text == line.decode()


def test_proto_stdout_text_is_seen_at_once_not_when_the_stream_ends():
    """'T' reads as a length of 84; the next byte is no WorkResponse field: no need to wait for 84 bytes."""
    decoder = ProtoDecoder()
    with pytest.raises(NotAResponse) as e:
        decoder.feed(b"Test worker ready!\n")
    assert e.value.text == "Test worker ready!\n"


def test_proto_partial_message_waits_for_the_rest():
    body = Response(exit_code=1, output="hello", request_id=3).SerializeToString()
    data = _VarintBytes(len(body)) + body
    decoder = ProtoDecoder()
    assert decoder.feed(data[:-2]) == []
    assert decoder.feed(data[-2:]) == [WorkResponse(1, "hello", 3, False)]
