"""kiln's precompiler as a persistent worker: Bazel's JSON and length-delimited proto worker protocols (the
protobuf wire format written by hand), served from one thread with a select loop; `serial` compiles in this
process, `async` in processes forked at start. Imported by precompiler.py (same directory) for
`--persistent_worker`; standard library only, as the precompiler.
"""

from __future__ import annotations

import os
import sys

from precompiler import (IMPLS, MAX_MESSAGE, PROTOCOLS, BadMessage, UsageError, compile_request, describe_error,
                         discard, parse_request, publish, run_request)

# ---- worker ----

def _int(value, field):
    if value.__class__ is not int:
        raise BadMessage("%s is %r, not an integer" % (field, value))
    return value


class WorkRequest:
    __slots__ = ("arguments", "request_id", "cancel", "verbosity", "sandbox_dir")

    def __init__(self, arguments=(), request_id=0, cancel=False, verbosity=0, sandbox_dir=""):
        self.arguments, self.request_id, self.cancel = arguments, request_id, cancel
        self.verbosity, self.sandbox_dir = verbosity, sandbox_dir


class JsonProtocol:
    """One JSON object a line each way, with the proto3 JSON names of FACTS §3."""

    def __init__(self):
        import json
        self.json, self.buffer = json, b""

    def feed(self, data):
        """The requests completed by `data`; b"" means stdin ended."""
        if not data:
            lines, self.buffer = [self.buffer], b""
        else:
            *lines, self.buffer = (self.buffer + data).split(b"\n")
        return [self.decode(line) for line in lines if line.strip()]

    def decode(self, line):
        try:
            msg = self.json.loads(line)
        except ValueError as e:
            raise BadMessage("not JSON (%s): %r" % (e, line[:200]))
        if not isinstance(msg, dict):
            raise BadMessage("not a JSON object: %r" % line[:200])
        args = msg.get("arguments", [])
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise BadMessage("arguments is %r, not a list of strings" % (args,))
        cancel, sandbox = msg.get("cancel", False), msg.get("sandboxDir", "")
        if cancel.__class__ is not bool or not isinstance(sandbox, str):
            raise BadMessage("cancel must be a boolean and sandboxDir a string: %r" % line[:200])
        return WorkRequest(tuple(args), _int(msg.get("requestId", 0), "requestId"), cancel,
                           _int(msg.get("verbosity", 0), "verbosity"), sandbox)

    def encode(self, request_id, exit_code, output, cancelled):
        msg = {"exitCode": exit_code, "output": output, "requestId": request_id}
        if cancelled:
            msg["wasCancelled"] = True
        return self.json.dumps(msg).encode("utf-8") + b"\n"


def _varint(value):
    value &= (1 << 64) - 1  # negative int32 values go on the wire sign-extended to 64 bits
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _read_varint(buf, pos):
    """(value, position after it), or None when `buf` ends inside it."""
    value = shift = 0
    while pos < len(buf):
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift >= 70:
            raise BadMessage("an over-long varint")
    return None


def _varint_at(buf, pos):
    found = _read_varint(buf, pos)
    if found is None:
        raise BadMessage("a truncated varint")
    return found


def _int32(value):
    value &= (1 << 32) - 1
    return value - (1 << 32) if value >> 31 else value


class ProtoProtocol:
    """blaze.worker WorkRequest / WorkResponse, each preceded by its length as a varint."""

    def __init__(self):
        self.buffer = b""

    def feed(self, data):
        """The requests completed by `data`; b"" means stdin ended."""
        self.buffer += data
        requests = []
        while self.buffer:
            head = _read_varint(self.buffer, 0)
            if head is None:
                if not data:
                    raise BadMessage("stdin ended inside a message's length")
                break
            size, pos = head
            if size > MAX_MESSAGE:
                raise BadMessage("a message of %d bytes announced: not a WorkRequest" % size)
            if len(self.buffer) < pos + size:
                if not data:
                    raise BadMessage("stdin ended %d bytes into a %d-byte message" % (len(self.buffer) - pos, size))
                break
            requests.append(self.decode(self.buffer[pos:pos + size]))
            self.buffer = self.buffer[pos + size:]
        return requests

    @staticmethod
    def decode(body):
        req, args, pos = WorkRequest(), [], 0
        while pos < len(body):
            key, pos = _varint_at(body, pos)
            field, wire = key >> 3, key & 7
            if wire == 0:
                value, pos = _varint_at(body, pos)
            elif wire == 2:
                size, pos = _varint_at(body, pos)
                if pos + size > len(body):
                    raise BadMessage("field %d runs past the end of the message" % field)
                value, pos = body[pos:pos + size], pos + size
            elif wire in (1, 5):
                pos += 8 if wire == 1 else 4
                continue
            else:
                raise BadMessage("wire type %d (field %d): not a WorkRequest" % (wire, field))
            if (field in (1, 6)) != (wire == 2) or (field in (3, 4, 5)) != (wire == 0):
                raise BadMessage("field %d has wire type %d: not a WorkRequest" % (field, wire))
            try:
                if field == 1:
                    args.append(value.decode("utf-8"))
                elif field == 6:
                    req.sandbox_dir = value.decode("utf-8")
            except UnicodeDecodeError:
                raise BadMessage("field %d is not UTF-8" % field)
            if field == 3:
                req.request_id = _int32(value)
            elif field == 4:
                req.cancel = bool(value)
            elif field == 5:
                req.verbosity = _int32(value)
        if pos != len(body):
            raise BadMessage("a fixed-width field runs past the end of the message")
        req.arguments = tuple(args)
        return req

    @staticmethod
    def encode(request_id, exit_code, output, cancelled):
        body = bytearray()
        if exit_code:
            body += b"\x08" + _varint(exit_code)
        if output:
            data = output.encode("utf-8")
            body += b"\x12" + _varint(len(data)) + data
        if request_id:
            body += b"\x18" + _varint(request_id)
        if cancelled:
            body += b"\x20\x01"
        return _varint(len(body)) + bytes(body)


class WorkerDied(Exception):
    """A compiling process ended: the worker cannot promise its requests any more."""


def _send_frame(fd, obj):
    import pickle
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    _write_all(fd, len(data).to_bytes(4, "little") + data)


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class Compiler:
    """A forked process compiling one request at a time: requests on one pipe, results on another.

    It holds up to DEPTH requests, so that it starts the next while this process reads its last result."""

    DEPTH = 2

    def __init__(self, keep_closed):
        to_child, self.to_child = os.pipe()
        self.from_child, from_parent = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            for fd in (self.to_child, self.from_child, 0, *keep_closed):
                os.close(fd)
            os._exit(self.serve(to_child, from_parent))
        os.close(to_child)
        os.close(from_parent)
        self.request_ids, self.buffer = [], b""

    @staticmethod
    def serve(requests, results):
        import pickle
        stream = os.fdopen(requests, "rb")
        while True:
            head = stream.read(4)
            if len(head) < 4:
                return 0
            request_id, request = pickle.loads(stream.read(int.from_bytes(head, "little")))
            try:
                result = compile_request(request)
            except Exception as e:  # a bug of ours: the request fails, the process goes on
                result = (1, "precompiler: %s" % describe_error(e), [])
            _send_frame(results, (request_id,) + result)

    def start(self, request_id, request):
        self.request_ids.append(request_id)
        _send_frame(self.to_child, (request_id, request))

    def collect(self):
        """The (request id, exit code, output, written) of the requests the process finished since."""
        import pickle
        data = os.read(self.from_child, 1 << 20)
        if not data:
            raise WorkerDied("a compiling process (pid %d) ended while compiling requests %s"
                             % (self.pid, self.request_ids))
        self.buffer += data
        results = []
        while len(self.buffer) >= 4 and len(self.buffer) >= 4 + int.from_bytes(self.buffer[:4], "little"):
            size = int.from_bytes(self.buffer[:4], "little")
            results.append(pickle.loads(self.buffer[4:4 + size]))
            self.buffer = self.buffer[4 + size:]
            self.request_ids.remove(results[-1][0])
        return results


class Worker:
    """Serves requests until stdin ends, answering each request id once; one thread, no locks.

    Multiplexed requests wait in `pending` (FIFO) until this process (serial) or an idle compiling process
    (async) takes them; `running` maps the ones taken to their Compiler (async)."""

    def __init__(self, protocol, impl, out_fd):
        from collections import OrderedDict
        self.protocol, self.out_fd = protocol, out_fd
        self.pending, self.running, self.cancelled = OrderedDict(), {}, set()
        self.compilers = []
        if impl == "async" and hasattr(os, "fork"):
            cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
            for _ in range(cores or 1):  # each child closes what it does not own: pipes end with their owners
                owned = [fd for c in self.compilers for fd in (c.to_child, c.from_child)]
                self.compilers.append(Compiler([out_fd, *owned]))

    def serve(self):
        import selectors
        selector = selectors.DefaultSelector()
        selector.register(0, selectors.EVENT_READ)
        for compiler in self.compilers:
            selector.register(compiler.from_child, selectors.EVENT_READ, compiler)
        reading = True
        while reading or self.pending or self.running:
            serial_work = self.pending and not self.compilers
            for key, _ in selector.select(0 if serial_work else None):
                if key.data is None:
                    data = os.read(0, 1 << 16)
                    for request in self.protocol.feed(data):
                        self.take(request)
                    if not data:
                        reading = False
                        selector.unregister(0)
                else:
                    for result in key.data.collect():
                        self.finish(*result)
            if self.pending and not self.compilers:
                request_id, request = self.pending.popitem(last=False)
                self.answer(request_id, *run_request(request))
            for depth in range(1, Compiler.DEPTH + 1):  # idle processes first
                for compiler in self.compilers:
                    if len(compiler.request_ids) < depth and self.pending:
                        request_id, request = self.pending.popitem(last=False)
                        self.running[request_id] = compiler
                        compiler.start(request_id, request)
        return 0

    def take(self, req):
        if req.cancel:
            if self.pending.pop(req.request_id, None) is not None:
                self.answer(req.request_id, 0, "", True)
            elif req.request_id in self.running and req.request_id not in self.cancelled:
                self.cancelled.add(req.request_id)  # its result is dropped when it comes
                self.answer(req.request_id, 0, "", True)
            return  # unknown or already answered: a cancel adds nothing
        try:
            request = parse_request(req.arguments, req.sandbox_dir, req.verbosity > 0)
        except UsageError as e:
            self.answer(req.request_id, 2, "precompiler: %s" % e)
            return
        if req.request_id == 0:  # singleplex: one at a time by contract
            self.answer(0, *run_request(request))
        elif req.request_id in self.pending or req.request_id in self.running:
            raise BadMessage("request id %d is already in flight" % req.request_id)
        else:
            self.pending[req.request_id] = request

    def finish(self, request_id, code, output, written):
        del self.running[request_id]
        if request_id in self.cancelled:
            self.cancelled.discard(request_id)
            discard(written)
        else:
            self.answer(request_id, *publish(code, output, written))

    def answer(self, request_id, code, output, cancelled=False):
        _write_all(self.out_fd, self.protocol.encode(request_id, code, output, cancelled))


def _guard_stdout():
    """A new fd for the real stdout; fd 1 and sys.stdout then go to stderr, so that nothing else reaches it."""
    sys.stdout.flush()
    fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return fd


def worker_main(startup):
    protocol, impl = "json", "async"
    for arg in startup:
        name, _, value = arg.partition("=")
        if name == "--worker_protocol" and value in PROTOCOLS:
            protocol = value
        elif name == "--worker_impl" and value in IMPLS:
            impl = value
        elif name != "--persistent_worker":
            print("precompiler: unknown startup argument %r (expected --worker_protocol=json|proto, "
                  "--worker_impl=async|serial)" % arg, file=sys.stderr)
            return 2
    worker = Worker(JsonProtocol() if protocol == "json" else ProtoProtocol(), impl, _guard_stdout())
    try:
        return worker.serve()
    except BadMessage as e:
        print("precompiler: bad worker request on stdin: %s" % e, file=sys.stderr)
        return 2
    except WorkerDied as e:
        print("precompiler: %s" % e, file=sys.stderr)
        return 1
