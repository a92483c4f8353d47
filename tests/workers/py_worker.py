"""A persistent worker for kiln's tests, speaking Bazel's JSON or proto protocol.

Startup flags: --protocol=json|proto (proto messages come from the protobuf
runtime, independently of kiln's own encoder), --persistent_worker (required),
--log=FILE (one line per event: start, request, cancel), --exit-at-start,
--die-first-request=MARKER (exits on its first request unless MARKER exists,
which it creates: a worker that dies once), --banner (writes text to stdout
at start, which no protocol allows).

Request arguments: --out PATH (written with the other arguments, the text of
--in files, and the listed inputs), --in PATH, --exit N, --output TEXT (the
response's output), --sleep S, --die, --hang, --wait-cancel (answers only
when cancelled). Relative paths are under the request's sandboxDir.
"""

import json
import os
import sys
import threading
import time

args = sys.argv[1:]
flags = dict(a[2:].split("=", 1) if "=" in a else (a[2:], "") for a in args if a.startswith("--"))
protocol = flags.get("protocol", "json")
log_path = flags.get("log")
write_lock = threading.Lock()
cancel_events: dict[int, threading.Event] = {}


def log(line: str) -> None:
    if log_path:
        with open(log_path, "a") as f:
            f.write(line + "\n")


if protocol == "proto":
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    from google.protobuf.internal.decoder import _DecodeVarint32
    from google.protobuf.internal.encoder import _VarintBytes

    fdp = descriptor_pb2.FileDescriptorProto(name="test_worker_protocol.proto", package="blaze.worker", syntax="proto3")
    F = descriptor_pb2.FieldDescriptorProto
    def message(name, *fields):
        m = fdp.message_type.add(name=name)
        for number, (fname, ftype, label, type_name) in enumerate(fields, 1):
            m.field.add(name=fname, number=number, type=ftype, label=label, type_name=type_name or None)
    OPT, REP = F.LABEL_OPTIONAL, F.LABEL_REPEATED
    message("Input", ("path", F.TYPE_STRING, OPT, ""), ("digest", F.TYPE_BYTES, OPT, ""))
    message("WorkRequest", ("arguments", F.TYPE_STRING, REP, ""), ("inputs", F.TYPE_MESSAGE, REP, ".blaze.worker.Input"),
            ("request_id", F.TYPE_INT32, OPT, ""), ("cancel", F.TYPE_BOOL, OPT, ""),
            ("verbosity", F.TYPE_INT32, OPT, ""), ("sandbox_dir", F.TYPE_STRING, OPT, ""))
    message("WorkResponse", ("exit_code", F.TYPE_INT32, OPT, ""), ("output", F.TYPE_STRING, OPT, ""),
            ("request_id", F.TYPE_INT32, OPT, ""), ("was_cancelled", F.TYPE_BOOL, OPT, ""))
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    Request = message_factory.GetMessageClass(pool.FindMessageTypeByName("blaze.worker.WorkRequest"))
    Response = message_factory.GetMessageClass(pool.FindMessageTypeByName("blaze.worker.WorkResponse"))

    def read_request():
        data = b""
        while True:
            byte = sys.stdin.buffer.read(1)
            if not byte:
                return None
            data += byte
            if not byte[0] & 0x80:
                break
        size, _ = _DecodeVarint32(data, 0)
        request = Request()
        request.ParseFromString(sys.stdin.buffer.read(size))
        return {"arguments": list(request.arguments), "requestId": request.request_id, "cancel": request.cancel,
                "sandboxDir": request.sandbox_dir,
                "inputs": [{"path": i.path, "digest": i.digest.decode()} for i in request.inputs]}

    def write_response(request_id, exit_code, output, cancelled=False):
        body = Response(exit_code=exit_code, output=output, request_id=request_id,
                        was_cancelled=cancelled).SerializeToString()
        with write_lock:
            sys.stdout.buffer.write(_VarintBytes(len(body)) + body)
            sys.stdout.buffer.flush()
else:
    import base64

    def read_request():
        line = sys.stdin.readline()
        if not line:
            return None
        request = json.loads(line)
        request["inputs"] = [{"path": i["path"], "digest": base64.b64decode(i["digest"]).decode()}
                             for i in request.get("inputs", [])]
        return request

    def write_response(request_id, exit_code, output, cancelled=False):
        message = {"exitCode": exit_code, "output": output, "requestId": request_id}
        if cancelled:
            message["wasCancelled"] = True
        with write_lock:
            sys.stdout.write(json.dumps(message) + "\n")
            sys.stdout.flush()


def handle(request) -> None:
    try:
        respond(request)
    except Exception as e:
        write_response(request.get("requestId", 0), 1, f"test worker: {e}\n")


def respond(request) -> None:
    request_id = request.get("requestId", 0)
    argv = request["arguments"]
    log(f"request {request_id} {' '.join(argv)}")
    opts, ins = {}, []
    i = 0
    while i < len(argv):
        name = argv[i][2:]
        if name in ("die", "hang", "wait-cancel"):
            opts[name] = True
            i += 1
            continue
        if name == "in":
            ins.append(argv[i + 1])
        else:
            opts[name] = argv[i + 1]
        i += 2
    root = request.get("sandboxDir") or "."
    if "die" in opts:
        print(f"worker {os.getpid()} dies on purpose", file=sys.stderr, flush=True)
        os._exit(7)
    if "hang" in opts:
        time.sleep(3600)
    if "wait-cancel" in opts:
        cancel_events.setdefault(request_id, threading.Event()).wait()
        log(f"cancelled {request_id}")
        write_response(request_id, 0, "", cancelled=True)
        return
    time.sleep(float(opts.get("sleep", 0)))
    if "out" in opts:
        text = "args: " + " ".join(argv) + "\n"
        for path in ins:
            with open(os.path.join(root, path)) as f:
                text += f"{path}: {f.read()}"
        if "list-inputs" in flags:
            text += "".join(f"input {i['path']} {i['digest']}\n" for i in request.get("inputs", []))
            text += f"sandbox: {request.get('sandboxDir', '')}\n"
        with open(os.path.join(root, opts["out"]), "w") as f:
            f.write(text)
    log(f"done {request_id}")
    write_response(request_id, int(opts.get("exit", 0)), opts.get("output", ""))


def one_shot() -> None:
    """Run as an ordinary action: the last argument is the @file of arguments."""
    with open(args[-1][1:]) as f:
        arguments = f.read().splitlines()
    codes = []

    def write_response(request_id, exit_code, output, cancelled=False):
        sys.stderr.write(output)
        codes.append(exit_code)

    globals()["write_response"] = write_response
    log(f"one-shot {' '.join(arguments)}")
    handle({"arguments": arguments})
    sys.exit(codes[0])


def main() -> None:
    if "--persistent_worker" not in args:
        one_shot()
    log(f"start {os.getpid()} {' '.join(args)}")
    if "exit-at-start" in flags:
        print("test worker: cannot start, configuration missing", file=sys.stderr, flush=True)
        sys.exit(3)
    if "banner" in flags:
        sys.stdout.write("Test worker ready!\n")
        sys.stdout.flush()
    marker = flags.get("die-first-request")
    threads = []
    while True:
        request = read_request()
        if request is None:
            break
        if request.get("cancel"):
            log(f"cancel {request.get('requestId', 0)}")
            cancel_events.setdefault(request.get("requestId", 0), threading.Event()).set()
            continue
        if marker and not os.path.exists(marker):
            open(marker, "w").close()
            print("test worker: dying on the first request", file=sys.stderr, flush=True)
            os._exit(9)
        if request.get("requestId", 0):
            t = threading.Thread(target=handle, args=(request,))
            t.start()
            threads.append(t)
        else:
            handle(request)
    for t in threads:
        t.join()


main()
