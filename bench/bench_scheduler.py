#!/usr/bin/env python3
"""Scheduler overhead per action, with a fake executor at the bottom of the real stack, in µs.

    .venv/bin/python bench/bench_scheduler.py [--n 2000] [--rounds 5]

N actions in chains of 10, each reading two source files and its predecessor's output, run
through kiln's real scheduler, caching layer (action cache), dispatcher and store; only the
process is fake (it "runs" instantly, writing a few bytes). Three figures, medians over rounds, wall
and CPU of this process (this VM's disk makes wall times of file-heavy work swing widely):

  clean     every action misses: input digests, the action's REAPI record (protobuf), the
            executor's report, the outputs stored and placed, the action cache written;
  memo      the same actions in a fresh output base whose key memo is warm: the record is not
            rebuilt (what an edit costs per action that misses);
  no-op     every action hits the action cache (what a no-op build costs per action).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from kiln.core.actions import Action
from kiln.core.artifacts import Artifact, SourceTree
from kiln.core.depset import Depset
from kiln.core.labels import Label
from kiln.execution.action_cache import ActionCache, OutputFile
from kiln.execution.action_keys import ActionKeys
from kiln.execution.caching import CachingExecutor
from kiln.execution.cas import Cas
from kiln.execution.dispatch import Dispatcher
from kiln.execution.events import EventBus
from kiln.execution.file_digests import FileDigests
from kiln.execution.in_process import InProcessExecutor
from kiln.execution.materialize import Materializer
from kiln.execution.materialized_outputs import MaterializedOutputs
from kiln.execution.output_view import OutputView
from kiln.execution.saved_table import SavedTable
from kiln.execution.scheduler import Scheduler
from kiln.execution.spawns import SpawnMaker
from kiln.execution.spawn import InputLocator, LazyExecutor, Report, Spawn, SpawnResult
from kiln.execution.strategies import Mode

BIN = "kiln-out/k8-fastbuild/bin"


class InstantExecutor:
    """Runs nothing: each output gets a few bytes naming the action."""

    def __init__(self, cas: Cas):
        self.cas = cas

    def can_start(self, spawn: Spawn) -> bool:
        return True

    def start(self, spawn: Spawn, report: Report, mode=None) -> None:
        report.started()
        outs = tuple(OutputFile(o.exec_path, self.cas.put_bytes(o.exec_path.encode()), False)
                     for o in spawn.action.outputs)
        report.done(SpawnResult(0, outs))

    def close(self) -> None:
        pass


def graph(n: int) -> tuple[list[Artifact], dict[Artifact, Action]]:
    generating: dict[Artifact, Action] = {}
    wanted = []
    prev = None
    for i in range(n):
        label = Label("", f"p{i // 10}", f"a{i}")
        out = Artifact(BIN, f"p{i // 10}/a{i}.out", label)
        inputs = [Artifact("", f"src/s{i % 50}.txt"), Artifact("", f"src/t{i % 7}.txt")]
        if prev is not None and i % 10:
            inputs.append(prev)
        action = Action(owner=label, mnemonic="Fake", progress_message="", outputs=(out,), inputs=Depset(inputs),
                        argv=("run", str(i)), env=(("PATH", "/bin"),))
        generating[out] = action
        prev = out
        if i % 10 == 9:
            wanted.append(out)
    return wanted, generating


def build(ws: Path, base: Path, wanted, generating) -> tuple[float, float]:
    for d in ("cas", "ac", "tmp", "execroot"):
        (base / d).mkdir(parents=True, exist_ok=True)
    cas = Cas(base / "cas", base / "tmp")
    sources = SourceTree(str(ws))
    locator = InputLocator(sources, cas.path, cas.put_bytes)
    caching = CachingExecutor(Dispatcher(InProcessExecutor(cas, locator), LazyExecutor(lambda: InstantExecutor(cas)),
                                         lambda mnemonic: Mode.LINUX_SANDBOX),
                              action_cache=ActionCache(base / "ac", base / "tmp"), cas=cas)
    keys = ActionKeys(SavedTable(base / "action_keys", base / "tmp"))
    digests = FileDigests(base / "file_digests", base / "tmp")
    outputs = MaterializedOutputs(base / "materialized_outputs", base / "tmp")
    sched = Scheduler(spawns=SpawnMaker(sources, keys, digests), executor=caching,
                      materializer=Materializer(base / "execroot", cas, base / "tmp", outputs),
                      output_view=OutputView(cas, base / "logs", 1 << 20, "logs"), events=EventBus(),
                      keep_going=False, locations={}, forget=caching.forget)
    t0, c0 = time.perf_counter(), time.process_time()
    outcome = sched.build(wanted, generating)
    keys.save()
    digests.save()
    outputs.save()
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert outcome.ok
    return dt, cpu


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    figures: dict[str, list[tuple[float, float]]] = {"clean": [], "memo": [], "no-op": []}
    for _ in range(args.rounds):
        tmp = Path(tempfile.mkdtemp(prefix="kiln-sched-bench-"))
        try:
            ws = tmp / "ws"
            (ws / "src").mkdir(parents=True)
            for i in range(50):
                (ws / "src" / f"s{i}.txt").write_text(f"s{i}\n")
            for i in range(7):
                (ws / "src" / f"t{i}.txt").write_text(f"t{i}\n")
            wanted, generating = graph(args.n)
            figures["clean"].append(build(ws, tmp / "base", wanted, generating))
            figures["no-op"].append(build(ws, tmp / "base", wanted, generating))
            fresh = tmp / "base2"
            fresh.mkdir()
            shutil.copy(tmp / "base" / "action_keys", fresh / "action_keys")
            figures["memo"].append(build(ws, fresh, wanted, generating))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"{args.n} actions, {args.rounds} rounds: scheduler + caching + store per action (medians, µs)")
    print("          wall      CPU")
    for name, runs in figures.items():
        wall = statistics.median(w for w, _ in runs) / args.n * 1e6
        cpu = statistics.median(c for _, c in runs) / args.n * 1e6
        print(f"  {name:6s} {wall:7.1f}  {cpu:7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
