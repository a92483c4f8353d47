"""Bazel's persistent-worker protocols: WorkRequest / WorkResponse as JSON lines or delimited protobuf.

JSON (`requires-worker-protocol=json`): one object per line each way, proto3's
JSON names (`requestId`, `sandboxDir`, ...), fields at their default left out.
Proto (the default): each `blaze.worker` message is preceded by its length as
a base-128 varint. The proto messages are four scalar fields and one nested
message, so they are encoded here by hand: importing the protobuf runtime
would cost every command start-up time, and the wire format of these few
fields is fixed.

An input's digest is what Bazel sends: the UTF-8 bytes of the lowercase hex
hash (base64 of those bytes in JSON).

Reading is incremental (`Decoder.feed`): a worker's stdout carries only
responses, so anything else — a line that is not a WorkResponse object, a
proto field WorkResponse does not have — raises NotAResponse with what was
read, as soon as it is seen rather than when the stream ends.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

PROTOCOLS = ("json", "proto")


@dataclass(frozen=True)
class WorkInput:
    path: str
    digest: bytes


@dataclass(frozen=True)
class WorkRequest:
    arguments: tuple[str, ...] = ()
    inputs: tuple[WorkInput, ...] = ()
    request_id: int = 0
    cancel: bool = False
    verbosity: int = 0
    sandbox_dir: str = ""


@dataclass(frozen=True)
class WorkResponse:
    exit_code: int = 0
    output: str = ""
    request_id: int = 0
    was_cancelled: bool = False


class NotAResponse(Exception):
    """The worker wrote something that is not a WorkResponse; `text` is (the start of) what it wrote."""

    def __init__(self, text: str):
        super().__init__(text)
        self.text = text


def _shown(data: bytes, limit: int = 200) -> str:
    text = data[:limit].decode("utf-8", "replace")
    return text + ("..." if len(data) > limit else "")


# ---- JSON ------------------------------------------------------------------------------------------

def encode_json(request: WorkRequest) -> bytes:
    message: dict = {"arguments": list(request.arguments)}
    if request.inputs:
        message["inputs"] = [{"path": i.path, "digest": base64.b64encode(i.digest).decode("ascii")}
                             for i in request.inputs]
    for name, value in (("requestId", request.request_id), ("cancel", request.cancel),
                        ("verbosity", request.verbosity), ("sandboxDir", request.sandbox_dir)):
        if value:
            message[name] = value
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


_JSON_FIELDS = {"exitCode": int, "output": str, "requestId": int, "wasCancelled": bool}


def _json_response(line: bytes) -> WorkResponse:
    try:
        message = json.loads(line)
    except ValueError:
        raise NotAResponse(_shown(line)) from None
    if not isinstance(message, dict):
        raise NotAResponse(_shown(line))
    for name, value in message.items():
        kind = _JSON_FIELDS.get(name)
        # bool is an int to Python; JSON's true is not an exit code.
        if kind is None or not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise NotAResponse(_shown(line))
    return WorkResponse(message.get("exitCode", 0), message.get("output", ""), message.get("requestId", 0),
                        message.get("wasCancelled", False))


class JsonDecoder:
    def __init__(self):
        self._pending = b""

    def feed(self, data: bytes) -> list[WorkResponse]:
        self._pending += data
        *lines, self._pending = self._pending.split(b"\n")
        return [_json_response(line) for line in lines if line.strip()]

    def leftover(self) -> bytes:
        return self._pending


# ---- proto -----------------------------------------------------------------------------------------

def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int32s are sign-extended to ten bytes, as protobuf does
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _bytes_field(number: int, data: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _int_field(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value) if value else b""


def encode_proto(request: WorkRequest) -> bytes:
    body = b"".join(_bytes_field(1, a.encode()) for a in request.arguments)
    body += b"".join(_bytes_field(2, _bytes_field(1, i.path.encode()) + _bytes_field(2, i.digest))
                     for i in request.inputs)
    body += _int_field(3, request.request_id) + _int_field(4, int(request.cancel))
    body += _int_field(5, request.verbosity)
    if request.sandbox_dir:
        body += _bytes_field(6, request.sandbox_dir.encode())
    return _varint(len(body)) + body


class _Truncated(Exception):
    """More bytes are needed."""


def _read_varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(data):
            raise _Truncated()
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7
        if shift >= 70:
            raise ValueError("varint too long")


def _int32(value: int) -> int:
    value &= (1 << 32) - 1
    return value - (1 << 32) if value >= 1 << 31 else value


# WorkResponse's fields: number -> (wire type, name).
_RESPONSE_FIELDS = {1: (0, "exit_code"), 2: (2, "output"), 3: (0, "request_id"), 4: (0, "was_cancelled")}


def _proto_response(body: bytes, complete: bool) -> WorkResponse | None:
    """The response in `body`; with `complete` False only checks that body can begin one (None)."""
    fields: dict[str, object] = {}
    at = 0
    try:
        while at < len(body):
            tag, at = _read_varint(body, at)
            known = _RESPONSE_FIELDS.get(tag >> 3)
            if known is None or known[0] != tag & 7:
                raise ValueError("not a WorkResponse field")
            value, at = _read_varint(body, at)
            if known[0] == 2:
                if at + value > len(body):
                    raise _Truncated()
                fields[known[1]] = body[at:at + value].decode("utf-8", "replace")
                at += value
            else:
                fields[known[1]] = value
    except _Truncated:
        if complete:
            raise ValueError("truncated") from None
        return None
    if not complete:
        return None
    return WorkResponse(_int32(fields.get("exit_code", 0)), fields.get("output", ""),
                        _int32(fields.get("request_id", 0)), bool(fields.get("was_cancelled", 0)))


class ProtoDecoder:
    def __init__(self):
        self._pending = b""

    def feed(self, data: bytes) -> list[WorkResponse]:
        self._pending += data
        found = []
        while self._pending:
            try:
                size, start = _read_varint(self._pending, 0)
            except _Truncated:
                break
            except ValueError:
                raise NotAResponse(_shown(self._pending)) from None
            body = self._pending[start:start + size]
            try:
                response = _proto_response(body, complete=len(body) == size)
            except ValueError:
                raise NotAResponse(_shown(self._pending)) from None
            if response is None:
                break
            found.append(response)
            self._pending = self._pending[start + size:]
        return found

    def leftover(self) -> bytes:
        return self._pending


def encoder(protocol: str):
    return encode_json if protocol == "json" else encode_proto


def decoder(protocol: str) -> JsonDecoder | ProtoDecoder:
    return JsonDecoder() if protocol == "json" else ProtoDecoder()
