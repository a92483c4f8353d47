#!/usr/bin/env python3
"""The foundation benchmark: kiln on a synthetic N-package workspace.

    .venv/bin/python bench/bench_foundation.py [--n 1000] [--runs 5]
                                                [--clean-runs 3] [--json PATH]
                                                [--keep] [--no-run]

Generates the workspace of FACTS.md §9 (bench/gen_workspace.py) into a temp
dir and times the real `kiln` command with time.perf_counter around
subprocess.run, using a fresh --output_base inside the temp dir:

  reference   `python -c pass` with the interpreter kiln runs on
  startup     `kiln version` (interpreter + kiln's imports, no workspace work)
  clean       `kiln build //top:bin` after `kiln clean --expunge`
  no-op       `kiln build //top:bin` again (must say "0 actions executed")
  edit        `kiln build //top:bin` after appending a line to pkg0000/c.py
  query       `kiln query 'deps(//top:bin)'` (checked: N libraries, 3N+1 files)
  run         `kiln run //top:bin`, the built launcher alone, and plain python

Every kiln command must exit 0; anything unexpected aborts with exit code 1.
kiln has no server, so every invocation is a "cold server" one; the OS file
cache is warm (the workspace has just been written and read).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_workspace  # noqa: E402
from benchlib import KILN, PYTHON, REPO, BenchError, actions_executed, describe_run, emit, fail, stats  # noqa: E402
from benchlib import timed as timed_with_cpu  # noqa: E402

# The targets (seconds).
TARGETS = {"noop": 0.5, "edit": 0.7, "query": 0.5}

# FACTS.md §9: 2 cores, medians, 1,000 packages.
FACTS = {
    "noop": {"Bazel 4.2.3 warm": 0.39, "Bazel 4.2.3 server cold": 4.9,
             "ninja": 0.018, "doit": 0.27, "make": 0.44},
    "edit": {"Bazel 4.2.3 warm": 0.45, "ninja": 0.059, "doit": 0.31, "make": 0.48},
    "query": {"Bazel 4.2.3 warm": 0.20, "Bazel 4.2.3 cold": 2.5},
    "run": {"Bazel 4.2.3 (ratio to python main.py)": 7.2,
            "Bazel launcher alone (ratio)": 2.1},
}
FACTS_PYTHON_C_PASS = 0.032



def timed(argv: list[str], cwd: str, env: dict[str, str] | None = None,
          what: str = "") -> tuple[float, subprocess.CompletedProcess]:
    dt, _cpu, proc = timed_with_cpu(argv, cwd, env, what)
    return dt, proc


def check_query(stdout: str, n: int) -> dict:
    labels = [ln.strip() for ln in stdout.splitlines() if ln.strip()]
    libs = [lb for lb in labels if re.fullmatch(r"//pkg\d{4}:pkg\d{4}", lb)]
    files = [lb for lb in labels if lb.endswith(".py")]
    has_bin = "//top:bin" in labels
    info = {"labels": len(labels), "libraries": len(libs), "py_files": len(files)}
    if len(libs) != n or len(files) != 3 * n + 1 or not has_bin:
        fail(f"query deps(//top:bin): expected {n} libraries, {3 * n + 1} .py files "
             f"and //top:bin, got {info} (has //top:bin: {has_bin})")
    return info


def kiln_source_stamp() -> str:
    """mtime/size of kiln's sources: kiln's plans are invalidated when they change."""
    parts = []
    for dirpath, dirnames, filenames in os.walk(os.path.join(REPO, "src", "kiln")):
        dirnames.sort()
        for name in sorted(filenames):
            if name.endswith((".py", ".bazel", ".bzl")):
                st = os.stat(os.path.join(dirpath, name))
                parts.append(f"{dirpath}/{name}:{st.st_mtime_ns}:{st.st_size}")
    return "\n".join(parts)


def run_bench(n: int, runs: int, clean_runs: int, keep: bool, do_run: bool,
              log=print, parent: str | None = None) -> dict:
    tmp = tempfile.mkdtemp(prefix=f"kiln-bench-{n}-", dir=parent)
    ws = os.path.join(tmp, "ws")
    ob = os.path.join(tmp, "output_base")
    kiln = [KILN, f"--output_base={ob}"]
    results: dict = {"n": n, "runs": runs, "clean_runs": clean_runs, "tmp": tmp}
    try:
        t0 = time.perf_counter()
        gen_workspace.generate(n, ws)
        results["generate_s"] = time.perf_counter() - t0
        log(f"generated {n} packages in {results['generate_s']:.2f} s into {ws}")

        # Reference: the interpreter kiln runs on.
        timed([PYTHON, "-c", "pass"], ws)  # warm-up
        ref = [timed([PYTHON, "-c", "pass"], ws)[0] for _ in range(runs)]
        results["python_c_pass"] = stats(ref)
        log(f"python -c pass: {statistics.median(ref):.4f} s")

        timed(kiln + ["version"], ws)  # warm-up
        startup = [timed(kiln + ["version"], ws, what="kiln version")[0]
                   for _ in range(runs)]
        results["kiln_version"] = stats(startup)
        log(f"kiln version: {statistics.median(startup):.4f} s")

        # Clean builds.
        clean, clean_actions = [], []
        for _ in range(clean_runs):
            timed(kiln + ["clean", "--expunge"], ws, what="kiln clean --expunge")
            dt, proc = timed(kiln + ["build", "//top:bin"], ws, what="clean build")
            a = actions_executed(proc, "clean build")
            if a == 0:
                fail("clean build: 0 actions executed after clean --expunge")
            clean.append(dt)
            clean_actions.append(a)
        results["clean_build"] = stats(clean) | {"actions": clean_actions}
        log(f"clean build: {statistics.median(clean):.3f} s ({clean_actions} actions)")

        # No-op rebuilds.
        noop = []
        for _ in range(runs):
            dt, proc = timed(kiln + ["build", "//top:bin"], ws, what="no-op build")
            a = actions_executed(proc, "no-op build")
            if a != 0 or "0 actions executed" not in proc.stderr + proc.stdout:
                fail(f"no-op build: expected '0 actions executed', got {a}\n{proc.stderr}")
            noop.append(dt)
        results["noop"] = stats(noop)
        log(f"no-op build: {statistics.median(noop):.3f} s")

        # One leaf file edited per iteration (pkg0000 has no deps).
        leaf = os.path.join(ws, "pkg0000", "c.py")
        edit, edit_actions = [], []
        for k in range(runs):
            with open(leaf, "a", encoding="utf-8") as f:
                f.write(f"# bench edit {k}\n")
            dt, proc = timed(kiln + ["build", "//top:bin"], ws, what="edit build")
            a = actions_executed(proc, "edit build")
            # kiln (like Bazel) links sources into the runfiles tree, so the
            # edit may need no action; check the binary sees the new text.
            seen = os.path.join(ws, "kiln-bin", "top", "bin.runfiles", "_main",
                                "pkg0000", "c.py")
            with open(seen, encoding="utf-8") as f:
                if not f.read().endswith(f"# bench edit {k}\n"):
                    fail(f"edit build: {seen} does not show edit {k}")
            edit.append(dt)
            edit_actions.append(a)
        results["edit"] = stats(edit) | {"actions": edit_actions, "file": "pkg0000/c.py"}
        log(f"one-file edit: {statistics.median(edit):.3f} s ({edit_actions} actions)")
        # Leave the outputs up to date for what follows.
        _, proc = timed(kiln + ["build", "//top:bin"], ws, what="no-op build")
        if actions_executed(proc, "no-op build") != 0:
            fail("no-op build after the edits executed actions")

        # Query.
        # The first query has no saved answer yet; report it apart.
        dt, proc = timed(kiln + ["query", "deps(//top:bin)"], ws, what="first query")
        check_query(proc.stdout, n)
        results["query_first"] = stats([dt])
        query, qinfo = [], None
        for _ in range(runs):
            dt, proc = timed(kiln + ["query", "deps(//top:bin)"], ws, what="query")
            qinfo = check_query(proc.stdout, n)
            query.append(dt)
        results["query"] = stats(query) | {"output": qinfo}
        log(f"query: {statistics.median(query):.3f} s ({qinfo})")

        # Editing a BUILD file (a comment: nothing to rebuild) invalidates the
        # saved build plan and query answers, so all packages are loaded and
        # analysed again: kiln's equivalent of a cold Bazel server.
        build_file = os.path.join(ws, "pkg0000", "BUILD.bazel")
        miss_build, miss_query = [], []
        for k in range(runs):
            with open(build_file, "a", encoding="utf-8") as f:
                f.write(f"# bench build edit {k}\n")
            dt, proc = timed(kiln + ["build", "//top:bin"], ws, what="build after BUILD edit")
            if actions_executed(proc, "build after BUILD edit") != 0:
                fail("build after a comment-only BUILD edit executed actions")
            miss_build.append(dt)
            with open(build_file, "a", encoding="utf-8") as f:
                f.write(f"# bench query edit {k}\n")
            dt, proc = timed(kiln + ["query", "deps(//top:bin)"], ws,
                             what="query after BUILD edit")
            check_query(proc.stdout, n)
            miss_query.append(dt)
        results["build_file_edit"] = stats(miss_build) | {"file": "pkg0000/BUILD.bazel"}
        results["query_uncached"] = stats(miss_query)
        log(f"build after BUILD edit: {statistics.median(miss_build):.3f} s; "
            f"query after BUILD edit: {statistics.median(miss_query):.3f} s")

        if do_run:
            env = dict(os.environ, PYTHONPATH=ws)
            _, want = timed([PYTHON, "top/main.py"], ws, env=env, what="python top/main.py")
            plain = [timed([PYTHON, "top/main.py"], ws, env=env)[0] for _ in range(runs)]
            results["python_main"] = stats(plain)
            launcher = os.path.join(ws, "kiln-bin", "top", "bin")
            if os.access(launcher, os.X_OK):
                lt = []
                for _ in range(runs):
                    dt, proc = timed([launcher], ws, what="kiln-bin/top/bin")
                    if proc.stdout != want.stdout:
                        fail(f"kiln-bin/top/bin printed {proc.stdout!r}, want {want.stdout!r}")
                    lt.append(dt)
                results["launcher"] = stats(lt)
            # `run` has its own saved plan: the first one loads and analyses.
            dt, proc = timed(kiln + ["run", "//top:bin"], ws, what="first kiln run")
            if proc.stdout != want.stdout:
                fail(f"kiln run printed {proc.stdout!r}, want {want.stdout!r}")
            results["run_first"] = stats([dt])
            rt = []
            for _ in range(runs):
                dt, proc = timed(kiln + ["run", "//top:bin"], ws, what="kiln run")
                if proc.stdout != want.stdout:
                    fail(f"kiln run printed {proc.stdout!r}, want {want.stdout!r}")
                rt.append(dt)
            results["run"] = stats(rt)
            log(f"run: {statistics.median(rt):.3f} s; python top/main.py: "
                f"{statistics.median(plain):.4f} s")
    finally:
        if keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return results


def table(r: dict) -> str:
    ref = r["python_c_pass"]["median"]

    def row(name: str, key: str, target: str = "", compare: str = "") -> str:
        s = r[key]
        return (f"| {name} | {s['median']:.3f} | {s['min']:.3f}–{s['max']:.3f} | "
                f"{s['median'] / ref:.1f}× | {target} | {compare} |")

    def facts(key: str) -> str:
        return ", ".join(f"{k} {v:g} s" for k, v in FACTS[key].items())

    lines = [
        f"N = {r['n']} packages; median of {r['runs']} runs "
        f"(clean build: {r['clean_runs']}); times in seconds; temp dir under {r['dir']}.",
        "",
        "| measurement | median s | min–max s | × `python -c pass` | target | FACTS §9 (1,000 pkgs) |",
        "|---|---|---|---|---|---|",
        row("`python -c pass` (reference)", "python_c_pass", "",
            f"~{FACTS_PYTHON_C_PASS:g} s"),
        row("`kiln version` (startup only)", "kiln_version"),
        row(f"clean build `//top:bin` ({r['clean_build']['actions'][0]} actions)",
            "clean_build"),
        row("no-op rebuild (0 actions)", "noop", f"≤ {TARGETS['noop']} s", facts("noop")),
        row(f"one leaf file edited ({r['edit']['actions'][0]} action(s))", "edit",
            f"≤ {TARGETS['edit']} s", facts("edit")),
        row(f"`query 'deps(//top:bin)'` ({r['query']['output']['labels']} labels)",
            "query", f"≤ {TARGETS['query']} s", facts("query")),
    ]
    lines += [
        row("first `query 'deps(//top:bin)'` (no saved answer; 1 run)", "query_first"),
        row("build after a comment-only BUILD edit (plan cache miss, 0 actions)",
            "build_file_edit", "", "cf. Bazel no-op server cold 4.9 s"),
        row("`query 'deps(//top:bin)'` after a BUILD edit (query cache miss)",
            "query_uncached", "", "cf. Bazel query cold 2.5 s"),
    ]
    if "run" in r:
        pm = r["python_main"]["median"]
        lines.append(row("`python top/main.py` (PYTHONPATH=workspace)", "python_main"))
        if "launcher" in r:
            lines.append(row("built launcher `kiln-bin/top/bin` alone", "launcher", "",
                             f"{r['launcher']['median'] / pm:.1f}× python main.py "
                             f"(Bazel launcher 2.1×)"))
        lines.append(row("first `kiln run //top:bin` (no saved run plan; 1 run)", "run_first"))
        lines.append(row("`kiln run //top:bin`", "run", "",
                         f"{r['run']['median'] / pm:.1f}× python main.py (Bazel 7.2×)"))
    verdict = []
    for key in ("noop", "edit", "query"):
        m = r[key]["median"]
        verdict.append(f"{key}: {m:.3f} s {'meets' if m <= TARGETS[key] else 'MISSES'} "
                       f"≤ {TARGETS[key]} s")
    lines += ["", "Targets: " + "; ".join(verdict) + "."]
    if r.get("kiln_sources_changed"):
        lines.append("WARNING: kiln's sources changed during the run (plans invalidated).")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000, help="number of packages (1000)")
    ap.add_argument("--runs", type=int, default=5, help="runs per median (5)")
    ap.add_argument("--clean-runs", type=int, default=3, help="clean builds (3)")
    ap.add_argument("--json", metavar="PATH", help="write the results as JSON here ('-': stdout)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    ap.add_argument("--dir", metavar="DIR",
                    help="make the temp dir (workspace + output base) under DIR, e.g. /dev/shm")
    ap.add_argument("--no-run", action="store_true", help="skip the `kiln run` timings")
    args = ap.parse_args(argv)
    if args.n < 2 or args.runs < 1 or args.clean_runs < 1:
        ap.error("need --n >= 2, --runs >= 1, --clean-runs >= 1")
    for exe in (KILN, PYTHON):
        if not os.access(exe, os.X_OK):
            print(f"bench_foundation: {exe} not found; run scripts/setup.sh", file=sys.stderr)
            return 1
    log = (lambda *a: print(*a, file=sys.stderr)) if args.json == "-" else print
    before = kiln_source_stamp()
    try:
        r = run_bench(args.n, args.runs, args.clean_runs, args.keep, not args.no_run, log,
                      args.dir)
    except BenchError as e:
        print(f"bench_foundation: FAILED: {e}", file=sys.stderr)
        return 1
    r["kiln_sources_changed"] = kiln_source_stamp() != before
    if r["kiln_sources_changed"]:
        print("bench_foundation: WARNING: kiln's sources changed during the run; kiln "
              "discards its saved plans then, so some figures include cache misses",
              file=sys.stderr)
    r["load_average"] = os.getloadavg()
    describe_run(r, args.dir)
    r["targets"] = TARGETS
    r["facts"] = FACTS
    emit(r, table(r), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
