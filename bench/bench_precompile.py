#!/usr/bin/env python3
"""Precompiling a copy of the CPython stdlib: compileall vs kiln's precompiler, one-shot and as workers.

    .venv/bin/python bench/bench_precompile.py [--python ~/.pyenv/versions/3.11.7/bin/python3.11]
        [--rounds 5] [--per-file-sample 150] [--window 16] [--tool src/kiln/tools/precompiler.py] [--json out]

The tree: the target interpreter's lib/python3.X without test/, plus the pip, setuptools, pkg_resources and
_distutils_hack of its site-packages (what a fresh install holds); files that do not compile are dropped
once, untimed. Methods, on the target interpreter, checked-hash pyc files throughout:

- compileall: `python -m compileall -q -j0 --invalidation-mode checked-hash` (a process per core);
- one process per file: the precompiler run once per file, on a fixed sample (--per-file-sample) of the
  tree, scaled to files/s (the whole tree would take minutes a round);
- worker serial / worker async: one persistent worker (JSON protocol), every file its own multiplexed
  request, at most --window requests in flight, as Bazel's worker executor keeps them;
- 2 workers serial: two worker processes, requests spread round-robin (rules_python's best setup here).

Rounds interleave the methods, each round in a rotated order; each run starts with no outputs. Medians of
wall and of the CPU of the whole process tree (benchlib's cgroups). Every precompiler method's outputs are
checked byte-identical to the others' (a reproducible pyc does not depend on how it was made).

kiln end to end (`kiln build` of the tree as py_library targets with precompiling on, and the per-action
overhead it adds over the worker's throughput) is bench_precompile_kiln.py, which runs these references
again in the same run.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from benchlib import REPO, describe_run, emit, fail, timed, tree_cpu  # noqa: E402

TOOL = os.path.join(REPO, "src", "kiln", "tools", "precompiler.py")
BUNDLED = ("pip", "setuptools", "pkg_resources", "_distutils_hack")
ENV = {**{k: v for k, v in os.environ.items() if not k.startswith("PYTHON")},
       "PYTHONHASHSEED": "0", "PYTHONNOUSERSITE": "1", "PYTHONDONTWRITEBYTECODE": "1"}
# Drops, on the target interpreter, the files of the tree that do not compile (lib2to3 fixtures and such).
PRUNE = ("import os, sys\nfor root, _, files in os.walk(sys.argv[1]):\n    for f in files:\n"
         "        p = os.path.join(root, f)\n        try:\n            compile(open(p, 'rb').read(), p, 'exec')\n"
         "        except Exception:\n            os.remove(p)\n")


def default_python() -> str:
    found = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.11.*/bin/python3.11")))
    if not found:
        fail("no ~/.pyenv/versions/3.11.*/bin/python3.11: pass --python")
    return found[-1]


def copy_tree(python: str, dest: str) -> list[str]:
    """The copied sources, relative to dest, sorted."""
    lib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])"],
                         capture_output=True, text=True, check=True).stdout.strip()
    ignore = shutil.ignore_patterns("__pycache__", "test", "site-packages")

    def only_py(directory: str, names: list[str]) -> set[str]:
        skipped = set(ignore(directory, names))
        return skipped | {n for n in names if not n.endswith(".py") and not os.path.isdir(os.path.join(directory, n))}

    shutil.copytree(lib, dest, ignore=only_py)
    for name in BUNDLED:
        src = os.path.join(lib, "site-packages", name)
        if os.path.isdir(src):
            shutil.copytree(src, os.path.join(dest, "site-packages", name), ignore=only_py)
    subprocess.run([python, "-c", PRUNE, dest], check=True, env=ENV)
    return sorted(os.path.relpath(os.path.join(root, f), dest)
                  for root, _, files in os.walk(dest) for f in files if f.endswith(".py"))


def request(tree: str, out: str, rel: str) -> list[str]:
    return ["--invalidation_mode", "checked_hash", "--src", os.path.join(tree, rel), "--src_name", rel,
            "--pyc", os.path.join(out, rel + "c")]


def run_workers(python: str, tool: str, tree: str, out: str, files: list[str], impl: str, processes: int,
                window: int) -> tuple[float, float]:
    """Wall and CPU s of `processes` workers serving one request per file, started and ended within."""
    with tree_cpu(f"{processes} worker(s) {impl}") as meter:
        t0 = time.perf_counter()
        workers = [subprocess.Popen([python, tool, "--persistent_worker", f"--worker_impl={impl}"],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=ENV,
                                    preexec_fn=meter.enter) for _ in range(processes)]
        errors: list[str] = []
        threads = [threading.Thread(target=_drive, args=(w, tree, out, files[i::processes], window, errors))
                   for i, w in enumerate(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for w in workers:
            w.stdin.close()
            if w.wait() != 0:
                errors.append(f"a worker exited {w.returncode}")
        wall = time.perf_counter() - t0
    if errors:
        fail(f"{impl} workers: " + "; ".join(errors[:5]))
    return wall, meter.seconds


def _drive(worker: subprocess.Popen, tree: str, out: str, files: list[str], window: int, errors: list[str]) -> None:
    sent = answered = 0
    while answered < len(files):
        while sent < len(files) and sent - answered < window:
            msg = {"arguments": request(tree, out, files[sent]), "requestId": sent + 1}
            worker.stdin.write(json.dumps(msg).encode() + b"\n")
            sent += 1
        worker.stdin.flush()
        line = worker.stdout.readline()
        if not line:
            errors.append("a worker closed its stdout")
            return
        response = json.loads(line)
        if response.get("exitCode", 0) != 0:
            errors.append(response.get("output", ""))
        answered += 1


def run_per_file(python: str, tool: str, tree: str, out: str, files: list[str]) -> tuple[float, float]:
    with tree_cpu("one process per file") as meter:
        t0 = time.perf_counter()
        for rel in files:
            proc = subprocess.run([python, tool, *request(tree, out, rel)], env=ENV, preexec_fn=meter.enter,
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                fail(f"precompiler {rel}: {proc.stderr}")
        wall = time.perf_counter() - t0
    return wall, meter.seconds


def digests(out: str, files: list[str]) -> dict[str, str]:
    result = {}
    for rel in files:
        with open(os.path.join(out, rel + "c"), "rb") as f:
            result[rel] = hashlib.sha256(f.read()).hexdigest()
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--python", default=None, help="the target interpreter (default: pyenv's newest 3.11)")
    ap.add_argument("--tool", default=TOOL, help="the precompiler to run (default: kiln's)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--per-file-sample", type=int, default=150)
    ap.add_argument("--window", type=int, default=16, help="requests in flight per worker")
    ap.add_argument("--json")
    args = ap.parse_args()
    python = args.python or default_python()
    tmp = tempfile.mkdtemp(prefix="bench_precompile.")
    try:
        tree = os.path.join(tmp, "lib")
        files = copy_tree(python, tree)
        sample = files[::max(1, len(files) // args.per_file_sample)][:args.per_file_sample]
        out = os.path.join(tmp, "out")
        # Each method: (the files it compiles, a run returning wall and CPU s). compileall writes __pycache__
        # in the tree; the others into `out`.
        methods = {
            "compileall -j0": (files, lambda: timed([python, "-m", "compileall", "-q", "-j0", "--invalidation-mode",
                                                     "checked-hash", tree], tmp, env=ENV)[:2]),
            "one process per file": (sample, lambda: run_per_file(python, args.tool, tree, out, sample)),
            "worker serial": (files, lambda: run_workers(python, args.tool, tree, out, files, "serial", 1,
                                                         args.window)),
            "worker async": (files, lambda: run_workers(python, args.tool, tree, out, files, "async", 1,
                                                        args.window)),
            "2 workers serial": (files, lambda: run_workers(python, args.tool, tree, out, files, "serial", 2,
                                                            args.window)),
        }
        names = list(methods)
        times: dict[str, tuple[list[float], list[float]]] = {n: ([], []) for n in names}
        reference: dict[str, str] = {}
        for r in range(args.rounds):
            for name in names[r % len(names):] + names[:r % len(names)]:
                shutil.rmtree(out, ignore_errors=True)
                for cache in glob.glob(os.path.join(tree, "**", "__pycache__"), recursive=True):
                    shutil.rmtree(cache)
                method_files, run = methods[name]
                wall, cpu = run()
                times[name][0].append(wall)
                times[name][1].append(cpu)
                if name != "compileall -j0":
                    got = digests(out, method_files)
                    for rel, digest in got.items():
                        if reference.setdefault(rel, digest) != digest:
                            fail(f"{name}: {rel}c differs from another method's output")
        result = {"python": python, "tool": args.tool, "files": len(files), "sample": len(sample),
                  "rounds": args.rounds, "window": args.window, "times": {}}
        describe_run(result, tmp)
        base = len(files) / statistics.median(times["compileall -j0"][0])
        lines = [f"{python}: {len(files)} files ({len(sample)} for one process per file), {args.rounds} "
                 f"interleaved rounds, window {args.window}; medians", "",
                 "| method | files/s | vs compileall -j0 | wall s | CPU s | CPU ms/file |", "|---|---|---|---|---|---|"]
        for name in names:
            n = len(methods[name][0])
            wall, cpu = (statistics.median(x) for x in times[name])
            result["times"][name] = {"files": n, "wall": times[name][0], "cpu": times[name][1]}
            lines.append(f"| {name} | {n / wall:.0f} | {n / wall / base:.2f}x | {wall:.2f} | {cpu:.2f} | "
                         f"{1000 * cpu / n:.2f} |")
        emit(result, "\n".join(lines), args.json)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
