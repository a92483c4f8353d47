#!/usr/bin/env python3
"""Profiles one kiln command, including the work done on kiln's worker thread.

    cd WORKSPACE && /work/main/.venv/bin/python /work/main/bench/profile_kiln.py \
        [--top 40] [--sort cumulative] [--dump PREFIX] -- --output_base=DIR build //top:bin

`python -m cProfile -m kiln ...` only sees the main thread, and kiln's main()
runs the whole command on a "kiln-main" thread (for a deep stack) and joins
it, so that profile shows little more than `lock.acquire`.  This wrapper
profiles the main thread (interpreter start-up is not included, but kiln's
own module imports are) and, separately, the worker thread, by wrapping
kiln.cli.main._guarded, and prints both.  Exit code: kiln's.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--top", type=int, default=40, help="rows per profile (40)")
    ap.add_argument("--sort", default="cumulative", help="pstats sort key (cumulative)")
    ap.add_argument("--dump", metavar="PREFIX",
                    help="also write PREFIX.main.prof and PREFIX.worker.prof")
    ap.add_argument("kiln_args", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    kiln_args = args.kiln_args[1:] if args.kiln_args[:1] == ["--"] else args.kiln_args

    t0 = time.perf_counter()
    prof_main = cProfile.Profile()
    prof_main.enable()
    import kiln.cli.main as kiln_main  # noqa: PLC0415 (profiled on purpose)

    prof_worker = cProfile.Profile()
    original = kiln_main._guarded

    def guarded(argv: list[str]) -> int:
        return prof_worker.runcall(original, argv)

    kiln_main._guarded = guarded
    t1 = time.perf_counter()
    rc = kiln_main.main(kiln_args)
    prof_main.disable()
    t2 = time.perf_counter()
    sys.stdout.flush()

    out = sys.stderr
    print(f"\n=== wall: kiln imports {t1 - t0:.3f} s, command {t2 - t1:.3f} s, "
          f"exit code {rc} ===", file=out)
    for name, prof in (("main thread (imports + join)", prof_main),
                       ("kiln-main worker thread (the command)", prof_worker)):
        buf = io.StringIO()
        st = pstats.Stats(prof, stream=buf)
        st.sort_stats(args.sort).print_stats(args.top)
        print(f"\n=== {name} ===", file=out)
        print(buf.getvalue(), file=out)
        if args.dump:
            st.dump_stats(f"{args.dump}.{'main' if 'imports' in name else 'worker'}.prof")
    return rc


if __name__ == "__main__":
    sys.exit(main())
