#!/usr/bin/env python3
"""The long version of tests/reliability/test_kills.py: many SIGKILLs, one tally.

    .venv/bin/python bench/reliability_kills.py [--kills 50] [--seed S] [--keep]

On the reliability workspace of tests/reliability/kill_harness.py (genrules that take a
little time, a py_binary run as a tool, py_tests), each trial empties the output base,
starts `kiln build //...` or `kiln test //...` (alternately), kills it with SIGKILL after a
random delay within the first 90 % of an uninterrupted run, runs the command again to
completion, and compares every output under kiln-out byte for byte with the uninterrupted
reference, and checks no sandbox directory or tmp file is left. Prints each trial and a
tally to paste into bench/RESULTS.md; exits 1 if any trial failed.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "reliability"))
from kill_harness import KillLab  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=50, help="number of trials (default 50)")
    parser.add_argument("--seed", type=int, default=None, help="replay a run (default: random, printed)")
    parser.add_argument("--keep", action="store_true", help="keep the temp directory")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 32)
    rng = random.Random(seed)
    directory = Path(tempfile.mkdtemp(prefix="kiln-kills-"))
    print(f"seed {seed}, {args.kills} kills, in {directory}", flush=True)
    started = time.monotonic()
    try:
        lab = KillLab(directory)
        seconds = {c: lab.reference(c)[1] for c in ("build", "test")}
        print("uninterrupted: " + ", ".join(f"{c} {s:.2f} s" for c, s in seconds.items()), flush=True)
        trials = []
        for i in range(args.kills):
            command = ("build", "test")[i % 2]
            delay = 0.05 + rng.random() * 0.9 * seconds[command]
            trial = lab.trial(command, delay)
            trials.append(trial)
            print(f"{i + 1:3d}. {trial.describe()}", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(directory, ignore_errors=True)
    killed = [t for t in trials if t.killed]
    failed = [t for t in trials if t.problems]
    recovered = [t for t in killed if not t.problems]
    print()
    print(f"## SIGKILL reliability ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()})")
    print()
    print(f"`.venv/bin/python bench/reliability_kills.py --kills {args.kills} --seed {seed}` "
          f"({time.monotonic() - started:.0f} s)")
    print()
    print("| trials | killed mid-command | recovered, outputs identical | ended before the kill | failures "
          "| kills that left sandboxes/tmp files (all removed by the next command unless a failure says so) |")
    print("|---|---|---|---|---|---|")
    print(f"| {len(trials)} | {len(killed)} | {len(recovered)} | {len(trials) - len(killed)} | {len(failed)} "
          f"| {sum(1 for t in killed if t.abandoned)} |")
    for t in failed:
        print(f"- FAILED: {t.describe()}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
