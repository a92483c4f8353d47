#!/usr/bin/env python3
"""A/B: two kiln builds (e.g. before and after a change) on the same synthetic workspace, interleaved.

    .venv/bin/python bench/bench_ab.py --a OTHER/.venv/bin/kiln [--b .venv/bin/kiln] [--n 1000] [--runs 15]

Generates the FACTS §9 workspace (bench/gen_workspace.py) once; each kiln gets
its own output base. After an untimed clean build and an untimed first no-op
(which saves the plan), it alternates A and B — A first in even rounds, B
first in odd ones — for: a no-op build, and a build after appending a comment
to a leaf source file (one action re-runs). Prints wall and CPU medians and
B/A ratios. Each timed build is checked: the no-op executes 0 actions.
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
import gen_workspace  # noqa: E402
from benchlib import KILN, actions_executed, describe_run, emit, fail, timed  # noqa: E402

TARGET = "//top:bin"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--a", required=True, help="the reference kiln command")
    ap.add_argument("--b", default=KILN, help="the kiln under test (default: this checkout's)")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--json")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="kiln-ab-")
    try:
        ws = os.path.join(tmp, "ws")
        gen_workspace.generate(args.n, ws)
        kilns = {"A": args.a, "B": args.b}
        bases = {k: os.path.join(tmp, f"ob-{k}") for k in kilns}
        for k, kiln in kilns.items():
            for _ in range(2):
                timed([kiln, f"--output_base={bases[k]}", "build", TARGET], ws, what=f"{k} warm-up")
        leaf = os.path.join(ws, "pkg0000", "c.py")
        times = {(k, m): ([], []) for k in kilns for m in ("noop", "edit")}
        for r in range(args.runs):
            order = ("A", "B") if r % 2 == 0 else ("B", "A")
            for k in order:
                argv = [kilns[k], f"--output_base={bases[k]}", "build", TARGET]
                wall, cpu, proc = timed(argv, ws, what=f"{k} no-op")
                if actions_executed(proc, k) != 0:
                    fail(f"{k}: the no-op executed actions:\n{proc.stderr[-2000:]}")
                times[(k, "noop")][0].append(wall)
                times[(k, "noop")][1].append(cpu)
            with open(leaf, "a") as f:
                f.write(f"# edit {r}\n")
            for k in order:
                argv = [kilns[k], f"--output_base={bases[k]}", "build", TARGET]
                wall, cpu, _ = timed(argv, ws, what=f"{k} edit")
                times[(k, "edit")][0].append(wall)
                times[(k, "edit")][1].append(cpu)
        result = {"n": args.n, "runs": args.runs, "a": args.a, "b": args.b, "times": {}}
        describe_run(result, tmp)
        lines = [f"N={args.n}, {args.runs} interleaved rounds; medians (wall s / CPU s)", "",
                 "| measurement | A | B | B/A wall | B/A CPU |", "|---|---|---|---|---|"]
        for m in ("noop", "edit"):
            aw, ac = (statistics.median(x) for x in times[("A", m)])
            bw, bc = (statistics.median(x) for x in times[("B", m)])
            result["times"][m] = {"A": times[("A", m)], "B": times[("B", m)]}
            lines.append(f"| {m} | {aw:.3f} / {ac:.3f} | {bw:.3f} / {bc:.3f} | {bw / aw:.2f}x | {bc / ac:.2f}x |")
        emit(result, "\n".join(lines), args.json)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
