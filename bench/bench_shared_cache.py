#!/usr/bin/env python3
"""A shared disk cache across workspaces: a copy at another path builds from the cache.

    .venv/bin/python bench/bench_shared_cache.py [--n 1000] [--rounds 3] [--jobs 2] [--json PATH]

The workspace has N packages, each with one genrule (a real process: `cat $< > $@`).
Each round, with a fresh `--disk_cache` directory:

  clean   the workspace built at path A into an empty output base (every action runs
          and is stored in the disk cache);
  copy    the same workspace copied to path B (another absolute path), built into
          another empty output base with the same disk cache: every action must come
          from the cache (checked), since action keys hold no machine path.

Reports wall and CPU medians of both and the ratio copy/clean (goal: <= 0.3).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_sandbox import write_workspace  # noqa: E402
from benchlib import KILN, describe_run, emit, fail, timed  # noqa: E402

_COUNTS = re.compile(r"(\d+) actions? executed, (\d+) from cache")


def _counts(proc, what: str) -> tuple[int, int]:
    m = _COUNTS.search(proc.stderr)
    if not m:
        fail(f"{what}: no build summary\n{proc.stderr[-3000:]}")
    return int(m[1]), int(m[2])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--json")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="kiln-shared-cache-bench-")
    try:
        a = os.path.join(tmp, "a", "ws")
        os.makedirs(a)
        write_workspace(a, args.n)
        b = os.path.join(tmp, "elsewhere", "copy", "ws")
        shutil.copytree(a, b)
        env = {k: v for k, v in os.environ.items() if not k.startswith("KILN_")}
        clean, copy = ([], []), ([], [])
        for r in range(args.rounds):
            disk = os.path.join(tmp, f"disk{r}")
            for ws, out, label in ((a, clean, "clean"), (b, copy, "copy")):
                base = os.path.join(tmp, f"ob-{label}-{r}")
                wall, cpu, proc = timed([KILN, f"--output_base={base}", "build", "//...", f"--jobs={args.jobs}",
                                         f"--disk_cache={disk}"], ws, env, what=f"{label} build, round {r}")
                executed, cached = _counts(proc, label)
                want = (args.n, 0) if label == "clean" else (0, args.n)
                if (executed, cached) != want:
                    fail(f"{label} build, round {r}: {executed} executed, {cached} from cache; expected {want}")
                out[0].append(wall)
                out[1].append(cpu)
                shutil.rmtree(base)
            shutil.rmtree(disk)
        med = {k: (statistics.median(v[0]), statistics.median(v[1])) for k, v in (("clean", clean), ("copy", copy))}
        result = {"n": args.n, "jobs": args.jobs, "rounds": args.rounds,
                  "clean": {"wall": clean[0], "cpu": clean[1]}, "copy": {"wall": copy[0], "cpu": copy[1]},
                  "ratio_wall": med["copy"][0] / med["clean"][0], "ratio_cpu": med["copy"][1] / med["clean"][1]}
        describe_run(result, tmp)
        text = (f"{args.n} genrules, --jobs={args.jobs}, {args.rounds} rounds (medians)\n"
                f"  clean at path A, disk cache written : {med['clean'][0]:7.2f} s wall  {med['clean'][1]:7.2f} s CPU\n"
                f"  copy at path B, all from disk cache : {med['copy'][0]:7.2f} s wall  {med['copy'][1]:7.2f} s CPU\n"
                f"  ratio copy/clean                    : {result['ratio_wall']:7.2f} wall     "
                f"{result['ratio_cpu']:7.2f} CPU   (goal <= 0.3)")
        emit(result, text, args.json)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
