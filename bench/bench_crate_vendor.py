#!/usr/bin/env python3
"""What vendoring the crates of examples/word_count/Cargo.lock costs: crates.io vs the repository cache.

    .venv/bin/python bench/bench_crate_vendor.py [--rounds 3]

Each round, in this process (the figures leave out the start of Python): the
cold fetch (empty repository cache and vendor directory: every crate downloaded
from static.crates.io, verified and unpacked), once with the thread pool kiln
uses and once with one thread, for what the pool saves; the cache hit (same
cache, a new vendor directory: copied out of the cache and unpacked); and the
second call on a complete vendor directory (markers read, nothing fetched).
Reference in the same rounds: `tar xzf` of the same .crate files, one after the other.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import kiln.repos.crate_vendor as crate_vendor
from kiln.repos.crate_cargo import read_lock
from kiln.repos.downloader import Downloader
from kiln.repos.repository_cache import RepositoryCache

LOCK = Path(__file__).resolve().parent.parent / "examples" / "word_count" / "Cargo.lock"


def timed(lock, dest: Path, cache: Path) -> tuple[float, int]:
    start = time.perf_counter()
    result = crate_vendor.vendor_crates(lock, dest, lambda: Downloader(RepositoryCache(cache)))
    return time.perf_counter() - start, len(result.unpacked)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    lock = read_lock(LOCK, "examples/word_count/Cargo.lock")
    pool = crate_vendor._WORKERS
    times: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            t = Path(tmp)
            for case, workers, dest, cache in (
                (f"cold, {pool} threads", pool, "a", "cache"),
                ("cold, 1 thread", 1, "b", "cache1"),
                ("cache hit (new vendor dir)", pool, "c", "cache"),
                ("second call (up to date)", pool, "a", "cache"),
            ):
                crate_vendor._WORKERS = workers
                seconds, unpacked = timed(lock, t / dest, t / cache)
                times.setdefault(f"{case}: {unpacked} crates unpacked", []).append(seconds)
            (t / "tar").mkdir()
            start = time.perf_counter()
            for crate in sorted((t / "cache" / "content_addressable" / "sha256").glob("*/file")):
                subprocess.run(["tar", "xzf", str(crate), "-C", str(t / "tar")], check=True)
            times.setdefault("ref: tar xzf of the same .crate files", []).append(time.perf_counter() - start)
    crates = sum(1 for p in lock.packages if p.checksum)
    print(f"{LOCK.name} of word_count: {crates} crates; medians of {args.rounds} rounds (s)")
    for case, values in times.items():
        print(f"  {case:45} {statistics.median(values):.3f}  (min {min(values):.3f})")


if __name__ == "__main__":
    main()
