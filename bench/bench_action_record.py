"""Cost of building an action's canonical REAPI record (kiln.execution.action_record).

Times build_action_record for actions of 10, 100, 1,000 and 10,000 input files spread over a
directory tree (20 files per directory, directories 3 deep, as a source tree or a runtime looks),
medians of --rounds calls in this process; and the one-time cost of importing the module
(protobuf and the generated messages) in a fresh interpreter.

    .venv/bin/python bench/bench_action_record.py [--rounds 51]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from benchlib import PYTHON

from kiln.core.digests import digest_bytes
from kiln.execution.action_record import ActionSpec, build_action_record

SIZES = (10, 100, 1_000, 10_000)


def spec_with(n: int) -> ActionSpec:
    inputs = {}
    for i in range(n):
        d = i // 20
        path = f"pkg{d // 100}/sub{(d // 10) % 10}/dir{d % 10}/file{i % 20}.py"
        inputs[path] = (digest_bytes(b"content %d" % i), i % 7 == 0)
    return ActionSpec(
        argv=("bazel-out/k8-opt-exec/bin/tool", "--out", "bazel-out/k8-fastbuild/bin/pkg/out.txt"),
        env=(("PATH", "/bin:/usr/bin"), ("LANG", "C.UTF-8"), ("PYTHONHASHSEED", "0")),
        output_files=("bazel-out/k8-fastbuild/bin/pkg/out.txt",),
        input_files=inputs,
        platform=(("OSFamily", "Linux"),),
        timeout_seconds=300,
    )


def median_us(spec: ActionSpec, rounds: int) -> tuple[float, int]:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        record = build_action_record(spec)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e6, len(record.blobs)


def import_ms(rounds: int) -> float:
    code = (
        "import time; t = time.perf_counter(); import kiln.execution.action_record; "
        "print(time.perf_counter() - t)"
    )
    runs = [float(subprocess.run([PYTHON, "-c", code], check=True, capture_output=True, text=True).stdout)
            for _ in range(rounds)]
    return statistics.median(runs) * 1e3


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=51)
    args = parser.parse_args()
    print("| input files | directories (blobs - 2) | build_action_record (µs) | µs per input |")
    print("|---|---|---|---|")
    for n in SIZES:
        us, blobs = median_us(spec_with(n), args.rounds if n < 10_000 else max(5, args.rounds // 5))
        print(f"| {n:,} | {blobs - 2} | {us:,.0f} | {us / n:.1f} |")
    print(f"\nimport kiln.execution.action_record in a fresh process: {import_ms(min(args.rounds, 11)):.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
