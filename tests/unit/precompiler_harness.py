"""What the precompiler's tests share: the interpreters to run it on and a worker driven over either protocol.

The proto messages are built and parsed by the protobuf library from a descriptor of blaze.worker's
WorkRequest / WorkResponse (FACTS §3), so the tool's hand-written wire format is checked against a real
implementation, not against itself.
"""

from __future__ import annotations

import glob
import json
import os
import queue
import subprocess
import threading

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

TOOL = os.path.join(os.path.dirname(__file__), "..", "..", "src", "kiln", "tools", "precompiler.py")
TOOL = os.path.abspath(TOOL)
PYENV = os.path.expanduser("~/.pyenv/versions")
# FACTS §4: this machine has CPython 3.8-3.13 under pyenv and PyPy 3.9 as /usr/bin/pypy3.
VERSIONS = ("3.8", "3.9", "3.10", "3.11", "3.12", "3.13", "pypy3")
RESPONSE_TIMEOUT_S = 60


def interpreter(version: str) -> str:
    """The real binary (not a pyenv shim) of `version`; skipped when missing, failed under CI=true."""
    if version == "pypy3":
        found = ["/usr/bin/pypy3"] if os.path.exists("/usr/bin/pypy3") else []
    else:
        found = sorted(glob.glob(os.path.join(PYENV, f"{version}.*", "bin", f"python{version}")))
    if not found:
        why = f"no Python {version} on this machine ({PYENV}/{version}.*/bin/python{version} or /usr/bin/pypy3)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{why} (CI=true: FACTS §4 says the machine has it)")
        pytest.skip(why)
    return found[-1]


def tool_env(seed: str = "0") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(PYTHONHASHSEED=seed, PYTHONDONTWRITEBYTECODE="1", PYTHONNOUSERSITE="1")
    return env


def run_tool(python: str, *args: str, seed: str = "0", cwd: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([python, TOOL, *args], capture_output=True, text=True, env=tool_env(seed), cwd=cwd,
                          timeout=RESPONSE_TIMEOUT_S)


def _message_classes():
    f = descriptor_pb2.FileDescriptorProto(name="kiln_test_worker_protocol.proto", package="blaze.worker",
                                           syntax="proto3")
    t = descriptor_pb2.FieldDescriptorProto
    shapes = {
        "Input": [("path", 1, t.TYPE_STRING, t.LABEL_OPTIONAL), ("digest", 2, t.TYPE_BYTES, t.LABEL_OPTIONAL)],
        "WorkRequest": [("arguments", 1, t.TYPE_STRING, t.LABEL_REPEATED),
                        ("inputs", 2, t.TYPE_MESSAGE, t.LABEL_REPEATED),
                        ("request_id", 3, t.TYPE_INT32, t.LABEL_OPTIONAL), ("cancel", 4, t.TYPE_BOOL, t.LABEL_OPTIONAL),
                        ("verbosity", 5, t.TYPE_INT32, t.LABEL_OPTIONAL),
                        ("sandbox_dir", 6, t.TYPE_STRING, t.LABEL_OPTIONAL)],
        "WorkResponse": [("exit_code", 1, t.TYPE_INT32, t.LABEL_OPTIONAL), ("output", 2, t.TYPE_STRING, t.LABEL_OPTIONAL),
                         ("request_id", 3, t.TYPE_INT32, t.LABEL_OPTIONAL),
                         ("was_cancelled", 4, t.TYPE_BOOL, t.LABEL_OPTIONAL)],
    }
    for name, fields in shapes.items():
        msg = f.message_type.add(name=name)
        for field, number, kind, label in fields:
            fd = msg.field.add(name=field, number=number, type=kind, label=label)
            if kind == t.TYPE_MESSAGE:
                fd.type_name = ".blaze.worker.Input"
    pool = descriptor_pool.DescriptorPool()
    pool.Add(f)
    return (message_factory.GetMessageClass(pool.FindMessageTypeByName(f"blaze.worker.{n}"))
            for n in ("WorkRequest", "WorkResponse"))


WorkRequest, WorkResponse = _message_classes()


def varint(n: int) -> bytes:
    out = b""
    while True:
        low, n = n & 0x7F, n >> 7
        out += bytes([low | (0x80 if n else 0)])
        if not n:
            return out


class WorkerProcess:
    """The precompiler started as a persistent worker; requests are dicts with the JSON protocol's names."""

    def __init__(self, python: str, protocol: str = "json", impl: str | None = None, seed: str = "0",
                 env: dict[str, str] | None = None, cwd: str | None = None):
        argv = [python, TOOL, "--persistent_worker"]
        if protocol != "json":  # json is the default, as rules_python's
            argv.append(f"--worker_protocol={protocol}")
        if impl:
            argv.append(f"--worker_impl={impl}")
        self.protocol = protocol
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=env or tool_env(seed), cwd=cwd)
        self.responses: queue.Queue = queue.Queue()
        self.stdout_rest = b""  # anything on stdout that is not a protocol message
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def send(self, *requests: dict) -> None:
        """Writes the requests with one write: the worker reads them all at once (a pipe write of at most
        PIPE_BUF bytes is never split)."""
        self.send_raw(b"".join(self.encode(r) for r in requests))

    def encode(self, request: dict) -> bytes:
        if self.protocol == "json":
            data = json.dumps(request).encode() + b"\n"
        else:
            msg = WorkRequest(arguments=request.get("arguments", []), request_id=request.get("requestId", 0),
                              cancel=request.get("cancel", False), verbosity=request.get("verbosity", 0),
                              sandbox_dir=request.get("sandboxDir", ""))
            body = msg.SerializeToString()
            data = varint(len(body)) + body
        return data

    def send_raw(self, data: bytes) -> None:
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def recv(self) -> dict:
        try:
            return self.responses.get(timeout=RESPONSE_TIMEOUT_S)
        except queue.Empty:
            self.proc.kill()
            raise AssertionError(f"no response in {RESPONSE_TIMEOUT_S} s; stderr:\n{self.proc.stderr.read().decode()}")

    def close(self) -> tuple[int, str]:
        """Ends stdin; (exit code, stderr) once the worker has gone."""
        self.proc.stdin.close()
        code = self.proc.wait(timeout=RESPONSE_TIMEOUT_S)
        self._reader.join(timeout=RESPONSE_TIMEOUT_S)
        return code, self.proc.stderr.read().decode()

    def _read(self) -> None:
        out = self.proc.stdout
        while True:
            if self.protocol == "json":
                line = out.readline()
                if not line:
                    return
                try:
                    self.responses.put(json.loads(line))
                except ValueError:
                    self.stdout_rest += line
                continue
            size, shift, head = 0, 0, b""
            while True:
                byte = out.read(1)
                if not byte:
                    self.stdout_rest += head
                    return
                head += byte
                size |= (byte[0] & 0x7F) << shift
                shift += 7
                if not byte[0] & 0x80:
                    break
            body = out.read(size)
            try:
                msg = WorkResponse.FromString(body)
            except Exception:
                self.stdout_rest += head + body
                continue
            self.responses.put({"requestId": msg.request_id, "exitCode": msg.exit_code, "output": msg.output,
                                "wasCancelled": msg.was_cancelled})
