"""kiln's precompiler: Python sources to .pyc files, one-shot or as a persistent, multiplexed worker.

It runs on the target runtime's own interpreter (any CPython 3.8+ or PyPy), so it uses the standard library
only and must stay runnable as a plain file (`python precompiler.py ...`).

Per-request arguments, as rules_python's precompiler takes them (directly, or one a line in an `@paramfile`):
`--invalidation_mode checked_hash|unchecked_hash`, `--src`, `--src_name` (the name tracebacks show: the code's
co_filename), `--pyc`, `--optimize N`, `--python_version X.Y`. `--src`, `--src_name` and `--pyc` repeat to
compile several files in one request; the i-th of each go together.

Worker: `--persistent_worker [--worker_protocol=json|proto] [--worker_impl=async|serial]` serves Bazel's
worker protocols on stdin/stdout (JSON lines, or length-delimited blaze.worker protobuf written by hand) from
one thread, a select loop. A request id of 0 is singleplex and runs at once; others are multiplexed: `serial`
compiles them one at a time in this process; `async` in processes forked at start, one per core, each fed
over a pipe up to two requests at a time (a compile holds the GIL: threads would not run two at once). A
cancel answers `wasCancelled` for any request not yet answered, whose pyc files are then never written
(each is compiled into a temporary file that only this process renames into place). Only protocol messages
go to stdout: the real stdout is kept for them and fd 1 is pointed at stderr, so stray prints land in the
worker's log.

Output is byte-identical for identical input, whatever the hash seed, the process or what it compiled
before: hash-based pyc files only (PEP 552; timestamp ones are not reproducible); on CPython 3.11+ the
one-character string constants are interned; before 3.11 and on PyPy the marshal stream is rewritten into a
canonical form (see below).
"""

from __future__ import annotations

import importlib.util
import marshal
import os
import sys
from types import CodeType

PROTOCOLS = ("json", "proto")
IMPLS = ("async", "serial")
MODES = {"checked_hash": 0b11, "unchecked_hash": 0b01}  # PEP 552 flags: hash-based, checked
MAX_MESSAGE = 64 << 20


class UsageError(Exception):
    """Arguments a request cannot run with (exit code 2)."""


class CompileError(Exception):
    """A source that cannot be compiled; the message names the file and line (exit code 1)."""


class BadMessage(Exception):
    """Bytes on stdin that are not a worker request: the stream cannot be trusted any further."""


class Request:
    """One request's compile jobs: (src path, src_name, pyc path) triples and how to compile them."""

    __slots__ = ("jobs", "flags", "optimize", "verbose")

    def __init__(self, jobs, flags, optimize, verbose):
        self.jobs, self.flags, self.optimize, self.verbose = jobs, flags, optimize, verbose


# ---- arguments ----

def expand_paramfiles(args, base=""):
    out = []
    for arg in args:
        if not arg.startswith("@"):
            out.append(arg)
            continue
        path = _under(base, arg[1:])
        try:
            with open(path, encoding="utf-8") as f:
                out += f.read().splitlines()
        except OSError as e:
            raise UsageError("cannot read the param file %s: %s" % (arg[1:], e.strerror))
    return out


def _under(base, path):
    return path if not base or os.path.isabs(path) else os.path.join(base, path)


def parse_request(args, base="", verbose=False):
    """The Request of per-request arguments; relative paths are under `base` (a request's sandboxDir)."""
    values = {"--src": [], "--src_name": [], "--pyc": []}
    single = {"--invalidation_mode": "checked_hash", "--optimize": "0", "--python_version": None}
    args = expand_paramfiles(args, base)
    i = 0
    while i < len(args):
        name, eq, value = args[i].partition("=")
        if name not in values and name not in single:
            raise UsageError("unknown argument %r (expected %s)" % (args[i], ", ".join(sorted([*values, *single]))))
        if not eq:
            i += 1
            if i == len(args):
                raise UsageError("%s needs a value" % name)
            value = args[i]
        if name in values:
            values[name].append(value)
        else:
            single[name] = value
        i += 1
    srcs, names, pycs = values["--src"], values["--src_name"], values["--pyc"]
    if not srcs or len(pycs) != len(srcs) or len(names) not in (0, len(srcs)):
        raise UsageError("each --src needs one --pyc (and one --src_name, if any is given): got %d --src, "
                         "%d --pyc, %d --src_name" % (len(srcs), len(pycs), len(names)))
    mode = single["--invalidation_mode"]
    if mode not in MODES:
        raise UsageError("--invalidation_mode=%s: kiln's precompiler writes checked_hash or unchecked_hash "
                         "pyc files (timestamp ones are not reproducible)" % mode)
    if single["--optimize"] not in ("0", "1", "2"):
        raise UsageError("--optimize=%s: expected 0, 1 or 2" % single["--optimize"])
    _check_version(single["--python_version"])
    jobs = tuple((_under(base, src), name, _under(base, pyc)) for src, name, pyc in zip(srcs, names or srcs, pycs))
    return Request(jobs, MODES[mode], int(single["--optimize"]), verbose)


def _check_version(wanted):
    if wanted is None:
        return
    parts = wanted.split(".")
    if len(parts) < 2 or not all(p.isdigit() for p in parts):
        raise UsageError("--python_version=%s: expected X.Y" % wanted)
    have = sys.version_info
    if tuple(int(p) for p in parts[:3]) != tuple(have[:len(parts[:3])]):
        raise UsageError("--python_version=%s, but this interpreter (%s) is Python %d.%d.%d: run the precompiler "
                         "on the target runtime's interpreter" % (wanted, sys.executable, have[0], have[1], have[2]))


# ---- compiling ----

def compile_pyc(source, src_name, flags, optimize):
    """The bytes of a hash-based pyc file (PEP 552) of `source`, whose code names `src_name`."""
    try:
        code = compile(source, src_name, "exec", dont_inherit=True, optimize=optimize)
    except SyntaxError as e:
        raise CompileError(_describe(e))
    except (ValueError, RecursionError, MemoryError) as e:  # null bytes before 3.12, nesting too deep
        raise CompileError("%s: %s: %s" % (src_name, type(e).__name__, e))
    if not CANONICALIZE:
        return _pyc(source, flags, marshal.dumps(_intern_short_strings(code)))
    try:
        return _pyc(source, flags, canonical_marshal(marshal.dumps(code)))
    except (ValueError, IndexError) as e:  # a marshal format this reader does not know
        raise CompileError("%s: cannot write a reproducible pyc on %s %s: %s" % (
            src_name, sys.implementation.name, sys.version.split()[0], e))


def _describe(error):
    import traceback  # only on errors: it costs a one-shot run ~10 ms of imports
    return "".join(traceback.format_exception_only(type(error), error)).rstrip()


def _pyc(source, flags, data):
    return importlib.util.MAGIC_NUMBER + flags.to_bytes(4, "little") + importlib.util.source_hash(source) + data


def _intern_short_strings(code):
    """CPython 3.11+: the code with every constant string of 0 or 1 characters interned.

    Those strings are the interpreter's shared singletons, interned or not depending on what the process
    did before, and marshal writes that flag; everything else in these versions' output is stable.
    """
    consts = tuple(_interned(c) for c in code.co_consts)
    if all(a is b for a, b in zip(consts, code.co_consts)):
        return code
    return code.replace(co_consts=consts)


def _interned(value):
    kind = type(value)
    if kind is str:
        return sys.intern(value) if len(value) <= 1 else value
    if kind is tuple or kind is frozenset:
        items = [_interned(v) for v in value]
        return value if all(a is b for a, b in zip(items, value)) else kind(items)
    return _intern_short_strings(value) if kind is CodeType else value


def compile_request(request):
    """(exit code, output, [(temporary file, pyc path)]): compiles every job into a temporary file beside its
    pyc; `publish` renames them into place. On failure nothing is left behind."""
    written, lines = [], []
    try:
        for src, src_name, pyc in request.jobs:
            try:
                with open(src, "rb") as f:
                    source = f.read()
            except OSError as e:
                raise CompileError("cannot read %s: %s" % (src, e.strerror))
            data = compile_pyc(source, src_name, request.flags, request.optimize)
            tmp = "%s.tmp-%d" % (pyc, os.getpid())
            try:
                os.makedirs(os.path.dirname(pyc) or ".", exist_ok=True)
                with open(tmp, "wb") as f:
                    written.append((tmp, pyc))
                    f.write(data)
            except OSError as e:
                raise CompileError("cannot write %s: %s" % (e.filename or pyc, e.strerror))
            if request.verbose:
                lines.append("compiled %s (%s) to %s" % (src, src_name, pyc))
    except CompileError as e:
        discard(written)
        return 1, str(e), []
    return 0, "\n".join(lines), written


def publish(code, output, written):
    """Renames each temporary file onto its pyc (a reader sees the old file or the whole new one); the
    request's (exit code, output)."""
    try:
        for tmp, pyc in written:
            os.replace(tmp, pyc)
    except OSError as e:
        discard(written)
        return 1, "cannot write %s: %s" % (e.filename, e.strerror)
    return code, output


def discard(written):
    for tmp, _ in written:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def run_request(request):
    return publish(*compile_request(request))


# ---- canonical marshal streams (CPython < 3.11, PyPy) ----
# CPython before 3.11 marks an object FLAG_REF when its reference count is above 1, which depends on what
# else the process holds, and writes a frozenset in hash order; PyPy and CPython mark a string interned when
# the process happens to have interned it (a PyPy worker that imported threading interns "Thread"). Parsing
# the stream into its object graph and writing it back with FLAG_REF exactly on the objects used more than
# once, frozensets sorted and strings interned when they look like names (CPython's compiler's rule) gives
# one stream per code object, which loads into equal code.

CANONICALIZE = sys.implementation.name == "pypy" or sys.version_info < (3, 11)
FLAG_REF = 0x80
# Code objects: (bytes of int32 fields, objects, bytes of int32 fields, objects).
CODE_LAYOUT = (24, 8, 4, 1) if sys.version_info < (3, 11) else (20, 8, 4, 2)
_INTERNED = {"z": "Z", "a": "A", "u": "t", "Z": "Z", "A": "A", "t": "t"}
_PLAIN = {interned: plain for plain, interned in _INTERNED.items() if plain != interned}


class _Node:
    __slots__ = ("kind", "parts")

    def __init__(self, kind):
        self.kind, self.parts = kind, []


def _name_like(raw):
    return raw.replace(b"_", b"a").isalnum() or not raw  # bytes.isalnum is ASCII-only, as CPython's rule


class _MarshalReader:
    def __init__(self, data):
        self.data, self.pos, self.refs, self.names = data, 0, [], {}

    def take(self, n):
        self.pos += n
        return self.data[self.pos - n:self.pos]

    def sized(self, width, signed=False):
        raw = self.take(width)
        return raw, abs(int.from_bytes(raw, "little", signed=signed))

    def read(self):
        code = self.data[self.pos]
        self.pos += 1
        kind = chr(code & ~FLAG_REF)
        if kind == "r":
            return self.refs[int.from_bytes(self.take(4), "little")]
        node = _Node(code & ~FLAG_REF)
        if code & FLAG_REF:  # indices are given in pre-order, before any child is read
            self.refs.append(node)
        parts = node.parts
        if kind in "0NFTS.":
            pass
        elif kind in "ig":
            parts.append(self.take(4 if kind == "i" else 8))
        elif kind == "y":
            parts.append(self.take(16))
        elif kind == "l":  # the sign of its digit count is the number's
            raw, n = self.sized(4, signed=True)
            parts += [raw, self.take(2 * n)]
        elif kind in "stuaAzZf":
            raw, n = self.sized(1 if kind in "zZf" else 4)
            parts += [raw, self.take(n)]
            if kind in _INTERNED:
                return self.intern(node, code)
        elif kind == "x":
            for _ in range(2):
                raw, n = self.sized(1)
                parts += [raw, self.take(n)]
        elif kind in ")([<>":
            raw, n = self.sized(1 if kind == ")" else 4)
            parts.append(raw)
            parts += [self.read() for _ in range(n)]
        elif kind == "{":
            while True:
                key = self.read()
                parts.append(key)
                if key.kind == ord("0"):
                    break
                parts.append(self.read())
        elif kind == "c":
            head, objects, middle, tail = CODE_LAYOUT
            parts.append(self.take(head))
            parts += [self.read() for _ in range(objects)]
            parts.append(self.take(middle))
            parts += [self.read() for _ in range(tail)]
        else:
            raise ValueError("marshal type %r at offset %d" % (kind, self.pos - 1))
        return node

    def intern(self, node, code):
        """One node for all equal name-like strings, marked interned; other strings marked plain."""
        kind, text = chr(node.kind), node.parts[1]
        if not _name_like(text):
            node.kind = ord(_PLAIN.get(kind, kind))
            return node
        node.kind = ord(_INTERNED[kind])
        shared = self.names.setdefault(text, node)
        if shared is not node and code & FLAG_REF:
            self.refs[-1] = shared
        return shared


def canonical_marshal(data):
    root = _MarshalReader(data).read()
    uses = {}
    _count_uses(root, uses)
    out = bytearray()
    _emit(root, uses, {}, out)
    return bytes(out)


def _count_uses(node, uses):
    seen = id(node) in uses
    uses[id(node)] = uses.get(id(node), 0) + 1
    if not seen:
        for part in node.parts:
            if part.__class__ is _Node:
                _count_uses(part, uses)


def _emit(node, uses, index, out):
    if id(node) in index:
        out += b"r" + index[id(node)].to_bytes(4, "little")
        return
    parts = node.parts
    if uses is not None and uses[id(node)] > 1:
        index[id(node)] = len(index)
        out.append(node.kind | FLAG_REF)
    else:
        out.append(node.kind)
    if node.kind == ord(">"):
        parts = [parts[0]] + sorted(parts[1:], key=_value_bytes)
    for part in parts:
        if part.__class__ is _Node:
            _emit(part, uses, index, out)
        else:
            out += part


def _value_bytes(node):
    """The node written without sharing: equal only for equal values, whatever the process held."""
    out = bytearray()
    _emit(node, None, {}, out)
    return bytes(out)


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
                result = (1, "precompiler: %s" % _describe(e), [])
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


def main(argv):
    if "--persistent_worker" in argv:
        return worker_main(argv)
    try:
        code, output = run_request(parse_request(argv))
    except UsageError as e:
        code, output = 2, "precompiler: %s" % e
    if output:
        print(output, file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
