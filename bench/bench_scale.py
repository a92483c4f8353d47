#!/usr/bin/env python3
"""The scale benchmark: kiln on synthetic workspaces of 1,000 to 20,000 packages.

    .venv/bin/python bench/bench_scale.py [--sizes 1000,5000,10000,20000] [--runs 3]
                                          [--clean-runs 1] [--dir DIR] [--json PATH]
                                          [--kiln "CMD ..."] [--only reanalysis,first_noop]

For each size N it generates bench/gen_workspace.py's workspace (N py_library
packages in a chain, one py_binary over all) and runs the real `kiln` with a
fresh --output_base, building `//...` (every package is a target):

  clean        `kiln clean --expunge`, then `kiln build //...` (must execute actions)
  first_noop   the build right after each clean build (kiln's own kiln-* links
               appeared meanwhile; must execute nothing)
  noop         `kiln build //...` again (0 actions)
  reanalysis   the saved plan removed, `kiln build //...`: every package loaded
               and every target analysed again (0 actions)
  query        `kiln query 'deps(//...)'` with no saved answer (checked: 4N+2 labels)
  query_saved  the same query again, answered from the saved result

Every command is one child process; its wall time, CPU time (user+sys) and
peak resident memory (ru_maxrss) come from os.wait4 on that child. `--kiln`
replaces the command that runs kiln (e.g. an older checkout's
`env PYTHONPATH=/old/src .venv/bin/python -m kiln`), for before/after figures.
Any unexpected result (exit code, actions executed, query size) aborts.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_workspace  # noqa: E402
from benchlib import KILN, BenchError, check_actions, describe_run, emit, fail, run_child, summary  # noqa: E402

MEASUREMENTS = ("clean", "first_noop", "noop", "reanalysis", "query", "query_saved")


def check_query(run: Run, n: int) -> None:
    labels = [ln for ln in run.stdout.splitlines() if ln.strip()]
    # N libraries, 3N sources, //top:bin and top/main.py.
    if len(labels) != 4 * n + 2 or "//top:bin" not in labels:
        fail(f"query deps(//...): {len(labels)} labels, expected {4 * n + 2} with //top:bin")


def bench_size(n: int, kiln: list[str], runs: int, clean_runs: int, only: set[str], parent: str | None,
               log) -> dict:
    tmp = tempfile.mkdtemp(prefix=f"kiln-scale-{n}-", dir=parent)
    ws = os.path.join(tmp, "ws")
    ob = os.path.join(tmp, "output_base")
    k = [*kiln, f"--output_base={ob}"]
    out: dict = {"n": n}
    try:
        t0 = time.perf_counter()
        gen_workspace.generate(n, ws)
        log(f"N={n}: generated in {time.perf_counter() - t0:.1f} s")
        clean, first = [], []
        for _ in range(clean_runs):
            run_child([*k, "clean", "--expunge"], ws, "clean --expunge")
            r = run_child([*k, "build", "//..."], ws, "clean build")
            check_actions(r, "clean build", executed=True)
            clean.append(r)
            r = run_child([*k, "build", "//..."], ws, "first build after the clean build")
            check_actions(r, "first build after the clean build", executed=False)
            first.append(r)
        out["clean"], out["first_noop"] = summary(clean), summary(first)
        log(f"N={n}: clean {out['clean']['median']:.2f} s, first no-op {out['first_noop']['median']:.3f} s")
        if "noop" in only:
            noop = []
            for _ in range(runs):
                r = run_child([*k, "build", "//..."], ws, "no-op build")
                check_actions(r, "no-op build", executed=False)
                noop.append(r)
            out["noop"] = summary(noop)
            log(f"N={n}: no-op {out['noop']['median']:.3f} s")
        if "reanalysis" in only:
            again = []
            for _ in range(runs):
                shutil.rmtree(os.path.join(ob, "plans"))
                r = run_child([*k, "build", "//..."], ws, "full re-analysis")
                check_actions(r, "full re-analysis", executed=False)
                again.append(r)
            out["reanalysis"] = summary(again)
            log(f"N={n}: full re-analysis {out['reanalysis']['median']:.2f} s")
        if "query" in only:
            fresh, saved = [], []
            for _ in range(runs):
                shutil.rmtree(os.path.join(ob, "queries"), ignore_errors=True)
                r = run_child([*k, "query", "deps(//...)"], ws, "query")
                check_query(r, n)
                fresh.append(r)
                r = run_child([*k, "query", "deps(//...)"], ws, "saved query")
                check_query(r, n)
                saved.append(r)
            out["query"], out["query_saved"] = summary(fresh), summary(saved)
            log(f"N={n}: query {out['query']['median']:.2f} s, saved {out['query_saved']['median']:.3f} s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


LABELS = {
    "clean": "clean build `//...`",
    "first_noop": "first build after the clean build (no-op)",
    "noop": "no-op build",
    "reanalysis": "full re-analysis (saved plan removed)",
    "query": "`query 'deps(//...)'` (no saved answer)",
    "query_saved": "`query 'deps(//...)'` (saved answer)",
}


def table(r: dict) -> str:
    sizes = [s["n"] for s in r["sizes"]]
    head = "| measurement | " + " | ".join(f"N={n:,}" for n in sizes) + " |"
    lines = [f"wall s median (CPU s; peak RSS MiB); {r['runs']} runs, clean builds {r['clean_runs']}.", "",
             head, "|---" * (len(sizes) + 1) + "|"]
    for key in MEASUREMENTS:
        cells = []
        for s in r["sizes"]:
            m = s.get(key)
            cells.append(f"{m['median']:.3f} ({m['cpu_median']:.2f}; {m['rss_mib_max']:.0f})" if m else "—")
        if any(c != "—" for c in cells):
            lines.append(f"| {LABELS[key]} | " + " | ".join(cells) + " |")
    per = []
    for s in r["sizes"]:
        if "reanalysis" in s:
            per.append(f"N={s['n']:,}: {1000 * s['reanalysis']['cpu_median'] / s['n']:.2f} ms")
    if per:
        lines += ["", "Full re-analysis, CPU per package: " + "; ".join(per) + "."]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,5000,10000,20000", help="package counts (1000,5000,10000,20000)")
    ap.add_argument("--runs", type=int, default=3, help="runs per median (3)")
    ap.add_argument("--clean-runs", type=int, default=1, help="clean builds per size (1)")
    ap.add_argument("--only", default="noop,reanalysis,query",
                    help="which of noop,reanalysis,query to run besides the clean builds")
    ap.add_argument("--kiln", default=KILN, help="command that runs kiln (default: the venv's kiln)")
    ap.add_argument("--dir", metavar="DIR", help="make the temp dirs under DIR")
    ap.add_argument("--json", metavar="PATH", help="write the results as JSON here ('-': stdout)")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    only = set(args.only.split(",")) - {""}
    if not only <= {"noop", "reanalysis", "query"} or args.runs < 1 or args.clean_runs < 1 or min(sizes) < 2:
        ap.error("bad --only, --runs, --clean-runs or --sizes")
    log = (lambda *a: print(*a, file=sys.stderr)) if args.json == "-" else print
    r: dict = {"runs": args.runs, "clean_runs": args.clean_runs, "kiln": args.kiln, "sizes": []}
    try:
        for n in sizes:
            r["sizes"].append(bench_size(n, shlex.split(args.kiln), args.runs, args.clean_runs, only,
                                         args.dir, log))
    except BenchError as e:
        print(f"bench_scale: FAILED: {e}", file=sys.stderr)
        return 1
    r["load_average"] = os.getloadavg()
    describe_run(r, args.dir)
    emit(r, table(r), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
