"""Worker processes kept for the length of a command, pooled by worker key.

A worker key is everything that makes two processes interchangeable: the
mnemonic, the startup arguments, the digests of the tools it runs, the
environment, the protocol, and whether it is multiplexed or sandboxed. An
action whose key has no process with room gets a new one, up to
`--worker_max_instances` singleplex processes (one request each) or
`--worker_max_multiplex_instances` multiplex processes per key; beyond that
it waits. Requests to multiplex processes go to the least loaded one, and a
new process starts only when every existing one is busy: one Python worker
is bound by its GIL to one core, so on a 2-core machine a second process
doubles what a multiplexed Python worker gets done.

kiln keeps no server, so workers end with the command (close()); a process
that died or misbehaved is dropped from the pool and the next request gets
a new one.
"""

from __future__ import annotations

import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from kiln.execution.worker_process import WorkerProcess


@dataclass(frozen=True)
class WorkerKey:
    mnemonic: str
    argv: tuple[str, ...]
    # (exec path, hex digest) of the files the worker runs: a changed tool is a new worker.
    tools: tuple[tuple[str, str], ...]
    env: tuple[tuple[str, str], ...]
    protocol: str
    multiplex: bool
    sandboxed: bool


@dataclass(frozen=True)
class WorkerLimits:
    max_instances: int
    max_multiplex_instances: int
    # MNEMONIC=N overrides of each.
    instances_by_mnemonic: tuple[tuple[str, int], ...] = ()
    multiplex_by_mnemonic: tuple[tuple[str, int], ...] = ()

    def limit(self, key: WorkerKey) -> int:
        overrides = dict(self.multiplex_by_mnemonic if key.multiplex else self.instances_by_mnemonic)
        return overrides.get(key.mnemonic, self.max_multiplex_instances if key.multiplex else self.max_instances)


class WorkerPool:
    def __init__(self, base: Path, limits: WorkerLimits):
        self.base = base
        self.limits = limits
        self._lock = threading.Condition()
        self._by_key: dict[WorkerKey, list[WorkerProcess]] = {}
        self._starting: dict[WorkerKey, int] = {}
        # The output base's lock says no other command uses these: what an earlier one left goes.
        shutil.rmtree(base, ignore_errors=True)

    def acquire(self, key: WorkerKey, start: Callable[[], WorkerProcess]) -> WorkerProcess:
        """A live process of `key` with room for one more request (started by `start` if needed)."""
        with self._lock:
            while True:
                procs = self._by_key.setdefault(key, [])
                procs[:] = [p for p in procs if p.alive]
                room = [p for p in procs if key.multiplex or p.in_flight == 0]
                idle = [p for p in room if p.in_flight == 0]
                full = len(procs) + self._starting.get(key, 0) >= self.limits.limit(key)
                if idle or (room and full):
                    chosen = min(idle or room, key=lambda p: p.in_flight)
                    chosen.in_flight += 1
                    return chosen
                if not full:
                    self._starting[key] = self._starting.get(key, 0) + 1
                    break
                self._lock.wait()
        # Started outside the lock: a slow start does not hold up other keys.
        try:
            proc = start()
        except BaseException:
            with self._lock:
                self._starting[key] -= 1
                self._lock.notify_all()
            raise
        with self._lock:
            self._starting[key] -= 1
            proc.in_flight += 1
            self._by_key.setdefault(key, []).append(proc)
            self._lock.notify_all()  # a multiplex process has room for those waiting on its start
        return proc

    def release(self, proc: WorkerProcess) -> None:
        with self._lock:
            proc.in_flight -= 1
            self._lock.notify_all()

    def drop(self, proc: WorkerProcess, why: str) -> None:
        """Ends a process that may not serve again (it died, lied, or wedged)."""
        proc.kill(why)
        with self._lock:
            for procs in self._by_key.values():
                if proc in procs:
                    procs.remove(proc)
            self._lock.notify_all()

    def processes(self) -> list[WorkerProcess]:
        with self._lock:
            return [p for procs in self._by_key.values() for p in procs]

    def close(self) -> None:
        for proc in self.processes():
            proc.close()
        with self._lock:
            self._by_key.clear()
