#!/usr/bin/env python3
"""What the sandbox costs: a clean build of N small genrules under each spawn strategy.

    .venv/bin/python bench/bench_sandbox.py [--n 1000] [--rounds 3] [--jobs 2] [--json PATH]

The workspace has N packages, each with one source file and one genrule that
copies it (`cat $< > $@`): real processes, almost no work, so what is measured
is the per-action cost of starting and confining a process. Each round builds
it clean (fresh output base) with `linux-sandbox` (bubblewrap), then
`processwrapper-sandbox` (copied exec root, no namespaces), then `local`
(exec root of symlinks, no isolation), the order rotated per round so load
from other processes falls on all alike; then a no-op build of each. Reports
wall and CPU medians and the sandbox's cost per action against `local`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from benchlib import KILN, actions_executed, describe_run, emit, fail, timed  # noqa: E402

STRATEGIES = ("linux-sandbox", "processwrapper-sandbox", "local")


def write_workspace(root: str, n: int) -> None:
    with open(os.path.join(root, "MODULE.bazel"), "w") as f:
        f.write('module(name = "sandbox_bench")\n')
    for i in range(n):
        pkg = os.path.join(root, f"p{i:05d}")
        os.makedirs(pkg)
        with open(os.path.join(pkg, "in.txt"), "w") as f:
            f.write(f"input {i}\n")
        with open(os.path.join(pkg, "BUILD.bazel"), "w") as f:
            f.write('genrule(name = "g", srcs = ["in.txt"], outs = ["out.txt"], cmd = "cat $< > $@")\n')


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--json")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="kiln-sandbox-bench-")
    try:
        ws = os.path.join(tmp, "ws")
        os.makedirs(ws)
        write_workspace(ws, args.n)
        clean = {s: ([], []) for s in STRATEGIES}
        noop = {s: ([], []) for s in STRATEGIES}
        for r in range(args.rounds):
            order = STRATEGIES[r % 3:] + STRATEGIES[:r % 3]
            for s in order:
                base = os.path.join(tmp, f"ob-{s}-{r}")
                argv = [KILN, f"--output_base={base}", "build", "//...", f"--spawn_strategy={s}",
                        f"--jobs={args.jobs}"]
                wall, cpu, proc = timed(argv, ws, what=f"clean build ({s})")
                if actions_executed(proc, s) != args.n:
                    fail(f"{s}: expected {args.n} actions executed:\n{proc.stderr[-2000:]}")
                clean[s][0].append(wall)
                clean[s][1].append(cpu)
            for s in order:
                base = os.path.join(tmp, f"ob-{s}-{r}")
                argv = [KILN, f"--output_base={base}", "build", "//...", f"--spawn_strategy={s}"]
                wall, cpu, proc = timed(argv, ws, what=f"no-op ({s})")
                if actions_executed(proc, s) != 0:
                    fail(f"{s}: the no-op executed actions")
                noop[s][0].append(wall)
                noop[s][1].append(cpu)
                shutil.rmtree(os.path.join(tmp, f"ob-{s}-{r}"))
        result = {"n": args.n, "rounds": args.rounds, "jobs": args.jobs, "clean": {}, "noop": {}}
        describe_run(result, tmp)
        lines = [f"{args.n} genrules, --jobs={args.jobs}, {args.rounds} rounds (medians; wall / CPU seconds)", "",
                 "| strategy | clean build | CPU | no-op | CPU | clean / local |", "|---|---|---|---|---|---|"]
        local = statistics.median(clean["local"][0])
        for s in STRATEGIES:
            cw, cc = statistics.median(clean[s][0]), statistics.median(clean[s][1])
            nw, nc = statistics.median(noop[s][0]), statistics.median(noop[s][1])
            result["clean"][s] = {"wall": clean[s][0], "cpu": clean[s][1]}
            result["noop"][s] = {"wall": noop[s][0], "cpu": noop[s][1]}
            lines.append(f"| {s} | {cw:.2f} | {cc:.2f} | {nw:.3f} | {nc:.3f} | {cw / local:.2f}x |")
        per_action = (statistics.median(clean["linux-sandbox"][0]) - local) / args.n * 1000 * args.jobs
        per_action_cpu = (statistics.median(clean["linux-sandbox"][1]) - statistics.median(clean["local"][1])) \
            / args.n * 1000
        lines += ["", f"linux-sandbox over local: {per_action:.2f} ms wall per action per job slot, "
                      f"{per_action_cpu:.2f} ms CPU per action"]
        result["per_action_ms"] = per_action
        result["per_action_cpu_ms"] = per_action_cpu
        emit(result, "\n".join(lines), args.json)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
