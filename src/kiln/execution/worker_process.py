"""One persistent worker process: its requests in flight, the responses it sends back, how it ends.

The process runs in its own session (so its whole group can be killed) with
stdin and stdout as the protocol's pipes and stderr appended to a log file
that a failure shows. A reader thread decodes what it writes to stdout and
hands each response to the request waiting for that `requestId`. When the
process ends, or writes something that is not a response, every request in
flight learns why (`WorkerGone`) and the process is not used again.

The worker's stdin is the only pipe kiln holds to it: when kiln dies the
pipe ends, and a worker ends on end of input, as Bazel's do.
"""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

from kiln.execution import processes
from kiln.execution.worker_protocol import NotAResponse, WorkRequest, WorkResponse, decoder, encoder

_LOG_TAIL = 8192


class WorkerGone(Exception):
    """The worker cannot answer: it exited, or it wrote something that is not a response (`garbage`)."""

    def __init__(self, message: str, garbage: bool = False):
        super().__init__(message)
        self.message = message
        self.garbage = garbage


class _Waiting:
    __slots__ = ("event", "response", "gone")

    def __init__(self):
        self.event = threading.Event()
        self.response: WorkResponse | None = None
        self.gone: WorkerGone | None = None


class WorkerProcess:
    def __init__(self, name: str, argv: list[str], *, cwd: str, env: dict[str, str], protocol: str, log: Path):
        self.name = name
        self.log = log
        self.cwd = cwd
        # Request inputs staged in cwd for the last request (removed before the next one when sandboxed).
        self.staged: list[str] = []
        self._encode = encoder(protocol)
        self._decoder = decoder(protocol)
        self._lock = threading.Lock()
        self._waiting: dict[int, _Waiting] = {}
        self._gone: WorkerGone | None = None
        self.in_flight = 0  # requests handed to this process and not yet answered (kept by the pool)
        with open(log, "ab") as err:
            self.proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=err, start_new_session=True)
        processes.register(self.proc)
        self._reader = threading.Thread(target=self._read, name=f"kiln-worker-{name}", daemon=True)
        self._reader.start()

    @property
    def alive(self) -> bool:
        return self._gone is None

    def send(self, request: WorkRequest) -> _Waiting:
        """Writes `request`; the returned handle's event is set when its response (or the end) comes."""
        waiting = _Waiting()
        with self._lock:
            if self._gone is not None:
                waiting.gone = self._gone
                waiting.event.set()
                return waiting
            if not request.cancel:
                self._waiting[request.request_id] = waiting
            try:
                self.proc.stdin.write(self._encode(request))
                self.proc.stdin.flush()
            except OSError:
                pass  # it exited: the reader sees the end of its stdout and says so
        return waiting

    def cancel(self, request_id: int) -> None:
        self.send(WorkRequest(request_id=request_id, cancel=True))

    def _read(self) -> None:
        out = self.proc.stdout
        gone: WorkerGone | None = None
        try:
            while True:
                chunk = out.read1(65536)
                if not chunk:
                    break
                for response in self._decoder.feed(chunk):
                    with self._lock:
                        waiting = self._waiting.pop(response.request_id, None)
                    if waiting is None:
                        gone = WorkerGone(f"worker {self.name} answered request {response.request_id}, which it "
                                          "was not sent (or had already answered)", garbage=True)
                        break
                    waiting.response = response
                    waiting.event.set()
                if gone is not None:
                    break
        except NotAResponse as e:
            gone = WorkerGone(f"worker {self.name} wrote to its stdout something that is not a WorkResponse: "
                              f"{e.text!r}", garbage=True)
        except (OSError, ValueError):
            pass
        if gone is None:
            code = self.proc.wait()
            gone = WorkerGone(f"worker {self.name} exited (exit code {code}) with requests in flight")
        self._end(gone)
        # Reaped here, whoever ended it: a pid kiln no longer waits on must not stay registered for kill_all.
        self.proc.wait()
        processes.unregister(self.proc)

    def _end(self, gone: WorkerGone) -> None:
        with self._lock:
            if self._gone is None:
                self._gone = gone
            waiting, self._waiting = list(self._waiting.values()), {}
        processes.kill_group(self.proc)
        for w in waiting:
            w.gone = self._gone
            w.event.set()

    def kill(self, why: str) -> None:
        """Ends the process; requests still waiting learn `why`."""
        with self._lock:
            if self._gone is None:
                self._gone = WorkerGone(why)
        processes.kill_group(self.proc)
        # Reaped here: a dropped worker leaves the pool, and nothing else would wait for it.
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return
        processes.unregister(self.proc)

    def close(self) -> None:
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            pass
        processes.kill_group(self.proc)
        self.proc.wait()
        processes.unregister(self.proc)
        self._reader.join(timeout=5)

    def log_tail(self) -> str:
        """The end of what the worker wrote to stderr, for a failure message."""
        try:
            size = os.path.getsize(self.log)
            with open(self.log, "rb") as f:
                f.seek(max(0, size - _LOG_TAIL))
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return ""
        return ("..." if size > _LOG_TAIL else "") + text
