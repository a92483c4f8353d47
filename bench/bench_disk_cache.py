"""Cost per action of the disk cache (kiln.execution.disk_cache), in µs.

For --entries actions, each with one output file of --size bytes, a stdout and an empty stderr:
  put: storing the three blobs and the ActionResult (a miss that ran);
  get: get_action_result (which reads and checks every blob) plus copying the output out
       with get_blob (a hit in a fresh output base);
  collect: one garbage collection pass over the whole cache that removes nothing.
Medians over --rounds rounds, each into a new cache under a temporary directory.

    .venv/bin/python bench/bench_disk_cache.py [--entries 1000] [--size 4096] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from kiln.core.digests import digest_bytes
from kiln.execution.action_cache import OutputFile
from kiln.execution.disk_cache import DiskCache, action_result, output_files


def one_round(entries: int, size: int) -> tuple[float, float, float]:
    with tempfile.TemporaryDirectory() as d:
        cache = DiskCache.open(Path(d) / "dc", print)
        assert cache is not None
        actions = [digest_bytes(b"action %d" % i) for i in range(entries)]

        t0 = time.perf_counter()
        for i, action in enumerate(actions):
            out = cache.put_blob_bytes(b"%d" % i + b"x" * (size - 8))
            result = action_result([OutputFile("out/file", out, False)], 0,
                                   cache.put_blob_bytes(b"stdout of action %d\n" % i), cache.put_blob_bytes(b""))
            cache.put_action_result(action, result)
        t1 = time.perf_counter()
        dest = Path(d) / "outputs"
        for i, action in enumerate(actions):
            result = cache.get_action_result(action)
            assert result is not None
            (out,) = output_files(result)
            assert cache.get_blob(out.digest, dest / str(i))
        t2 = time.perf_counter()
        assert cache.collect(max_size_bytes=1 << 40).removed_files == 0
        t3 = time.perf_counter()
    per = 1e6 / entries
    return (t1 - t0) * per, (t2 - t1) * per, (t3 - t2) * per


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=1000)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    runs = [one_round(args.entries, args.size) for _ in range(args.rounds)]
    for name, values in zip(("put", "get", "collect"), zip(*runs)):
        print(f"{name:8s} {statistics.median(values):8.1f} µs/action   (rounds: "
              + ", ".join(f"{v:.1f}" for v in values) + ")")


if __name__ == "__main__":
    main()
