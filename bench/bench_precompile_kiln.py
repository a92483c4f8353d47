#!/usr/bin/env python3
"""Precompiling end to end through kiln: `kiln build` of a stdlib copy vs compileall, and a binary's start.

    .venv/bin/python bench/bench_precompile_kiln.py [--python ~/.pyenv/versions/3.11.7/bin/python3.11]
        [--rounds 5] [--per-file-sample 100] [--launches 21] [--json out]

The tree is bench_precompile.py's (the target interpreter's stdlib without test/, plus the bundled
pip/setuptools), laid out as a workspace: `lib/` holds it, with one py_library per top-level package (and
one for the top-level modules); the target runtime is that interpreter (kiln's local toolchain resolves to
it: kiln's pyc files carry its tag, checked). Part 1, all in one run, rounds interleaved in a rotated order, each
build in a fresh output base:

- references: `compileall -q -j0`, one precompiler process per file (a sample), kiln's precompiler as one
  async worker and as two serial workers driven directly (bench_precompile.py's drivers);
- `kiln build -- //lib:all -//lib:start` (every library) with precompiling off (the floor: start-up,
  loading, analysis, the plan), and on in three process models: the default (--worker_max_multiplex_instances = one per CPU, each worker
  --worker_impl=async), `--worker_extra_flag=PyCompile=--worker_impl=serial`, and one async worker
  (`--worker_max_multiplex_instances=1`); and the default with `--jobs=8` (--jobs, one per CPU by default,
  bounds the requests kiln keeps in flight over all workers).

kiln's per-action overhead = (kiln with precompiling − kiln without − the same process model driven
directly) / files: what each PyCompile action (and its params FileWrite) costs beyond compiling.

Part 2: the start of a py_binary in that workspace (lib/start.py, importing email, json and http from the
copy, which its runfiles put ahead of the stdlib) built with and without precompiling: the launcher run
directly (`kiln run` excluded), interleaved, with PYTHONDONTWRITEBYTECODE=1 as this machine sets it.

Checks: every kiln build executes the expected number of actions with none from a cache; every kiln pyc is
a checked-hash pyc of its source, byte-identical across the four kiln configurations; the start program
imports the modules from the copy (from its pyc files exactly when precompiled) and prints the same line.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_precompile import ENV, TOOL, copy_tree, default_python, run_per_file, run_workers  # noqa: E402
from benchlib import KILN, actions_executed, describe_run, emit, fail, timed  # noqa: E402

PRECOMPILE = "--@rules_python//python/config_settings:precompile="
START = '''import email.message, email.parser, email.policy, email.headerregistry, email.utils
import email.mime.multipart, email.mime.text
import json
import http.client, http.cookiejar, http.cookies, http.server
msg = email.message_from_string("Subject: hi\\n\\nbody")
print(msg["Subject"], json.dumps({"a": 1}), http.HTTPStatus.OK.phrase)
'''
# Every library of the copy; a library's outputs are its own files, so the aggregate alone builds nothing.
LIBRARIES = ["//lib:all", "-//lib:start"]
STARTED = "hi {\"a\": 1} OK"


def write_workspace(ws: str, files: list[str]) -> None:
    with open(os.path.join(ws, "MODULE.bazel"), "w") as f:
        f.write('module(name = "bench_precompile")\n')
    tops = sorted({f.split("/")[0] for f in files if "/" in f and not f.startswith("site-packages/")})
    tops += sorted({"/".join(f.split("/")[:2]) for f in files if f.startswith("site-packages/")})
    names = [t.replace("/", "_") for t in tops]
    lines = ['load("@rules_python//python:defs.bzl", "py_binary", "py_library")', "",
             'py_library(name = "modules", srcs = glob(["*.py"], exclude = ["start.py"]))']
    lines += [f'py_library(name = "{n}", srcs = glob(["{t}/**/*.py"]))' for n, t in zip(names, tops)]
    lines.append('py_library(name = "stdlib", deps = [":modules"' + "".join(f', ":{n}"' for n in names) + "])")
    # deps on the whole copy: whatever email/json/http import comes from it too, not from the stdlib.
    lines.append('py_binary(name = "start", srcs = ["start.py"], deps = [":stdlib"])')
    with open(os.path.join(ws, "lib", "BUILD.bazel"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(ws, "lib", "start.py"), "w") as f:
        f.write(START)


def kiln_build(ws: str, base: str, targets: list[str], flags: list[str],
               expect: int | None, src: str | None = None) -> tuple[float, float, int]:
    """One build; with `src`, by the kiln whose sources are there (an A/B baseline), on the same venv."""
    command, env = [KILN], ENV
    if src:
        command, env = [os.path.join(os.path.dirname(KILN), "python"), "-m", "kiln"], {**ENV, "PYTHONPATH": src}
    wall, cpu, proc = timed([*command, f"--output_base={base}", "build", *flags, "--", *targets], ws, env=env,
                            what=f"kiln build {' '.join(flags)} -- {' '.join(targets)}")
    n = actions_executed(proc, "kiln build")
    if "0 from cache" not in proc.stderr:
        fail(f"kiln build {flags}: some actions came from a cache:\n{proc.stderr[-2000:]}")
    if expect is not None and n != expect:
        fail(f"kiln build {flags}: {n} actions executed, expected {expect}")
    return wall, cpu, n


def kiln_pycs(base: str, files: list[str], tree: str, tag: str) -> dict[str, str]:
    """Digests of kiln's pyc files, each checked to be a checked-hash pyc (PEP 552) of its source."""
    bin_lib = os.path.join(base, "execroot", "_main", "kiln-out", "k8-fastbuild", "bin", "lib")
    result = {}
    for rel in files:
        head, stem = os.path.split(rel[:-3])
        with open(os.path.join(bin_lib, head, "__pycache__", f"{stem}.{tag}.pyc"), "rb") as f:
            pyc = f.read()
        with open(os.path.join(tree, rel), "rb") as f:
            source_hash = importlib.util.source_hash(f.read())
        if pyc[4:8] != (3).to_bytes(4, "little") or pyc[8:16] != source_hash:
            fail(f"kiln's pyc of {rel} is not a checked-hash pyc of its source")
        result[rel] = hashlib.sha256(pyc).hexdigest()
    return result


def start_check(launcher: str, runfiles_lib: str, precompiled: bool) -> int:
    """How many modules the start program loads from the copy; fails unless all come from pyc files
    exactly when precompiled (python -v names each code object's origin)."""
    proc = subprocess.run([launcher], env={**ENV, "PYTHONVERBOSE": "1"}, capture_output=True, text=True)
    if proc.returncode != 0 or proc.stdout.strip() != STARTED:
        fail(f"{launcher}: exit {proc.returncode}, printed {proc.stdout!r}\n{proc.stderr[-2000:]}")
    # A pyc's path is quoted, a source's is not.
    origins = [line[len("# code object from "):].strip("'") for line in proc.stderr.splitlines()
               if line.startswith("# code object from ")]
    ours = [o for o in origins if o.startswith(runfiles_lib)]
    from_pyc = [o for o in ours if o.endswith(".pyc")]
    if len(ours) < 30 or len(from_pyc) != (len(ours) if precompiled else 0):
        fail(f"{launcher}: {len(ours)} modules from the copy, {len(from_pyc)} of them from pyc files")
    return len(ours)


def part_start(ws: str, tmp: str, python: str, launches: int) -> dict:
    bases = {"precompiled": os.path.join(tmp, "start-pc"), "sources only": os.path.join(tmp, "start-src")}
    launchers, modules = {}, {}
    for name, base in bases.items():
        flag = PRECOMPILE + ("enabled" if name == "precompiled" else "disabled")
        kiln_build(ws, base, ["//lib:start"], [flag], None)
        launchers[name] = os.path.join(base, "execroot", "_main", "kiln-out", "k8-fastbuild", "bin", "lib", "start")
        runfiles_lib = os.path.realpath(launchers[name] + ".runfiles") + "/_main/lib/"
        modules[name] = start_check(launchers[name], runfiles_lib, name == "precompiled")
    times: dict[str, tuple[list[float], list[float]]] = {n: ([], []) for n in bases}
    order = list(bases)
    for i in range(launches):
        for name in order[i % 2:] + order[:i % 2]:
            wall, cpu, proc = timed([launchers[name]], ws, env=ENV, what=f"start ({name})")
            if proc.stdout.strip() != STARTED:
                fail(f"start ({name}) printed {proc.stdout!r}")
            times[name][0].append(wall)
            times[name][1].append(cpu)
    # `python -c pass` on the target interpreter: the floor under any start.
    floor = [timed([python, "-c", "pass"], ws, env=ENV)[0] for _ in range(launches)]
    for name, base in bases.items():
        if name == "sources only" and glob.glob(os.path.join(base, "**", "__pycache__"), recursive=True):
            fail("the sources-only build has __pycache__ directories: a start wrote bytecode")
    return {"modules": modules, "times": times, "python -c pass": statistics.median(floor)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--python", default=None, help="the target interpreter (default: pyenv's newest 3.11)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--per-file-sample", type=int, default=100)
    ap.add_argument("--window", type=int, default=16, help="requests in flight per directly driven worker")
    ap.add_argument("--launches", type=int, default=21, help="starts of each variant of the binary")
    ap.add_argument("--json")
    ap.add_argument("--baseline-src", help="also time the default build by the kiln whose src/ is here (an A/B "
                    "baseline, e.g. an earlier commit's `git archive REV src`); its action count is not checked")
    ap.add_argument("--quick", action="store_true",
                    help="only the references, kiln off and kiln default (and the baseline); no start-time part")
    args = ap.parse_args()
    python = args.python or default_python()
    tag = subprocess.run([python, "-c", "import sys; print(sys.implementation.cache_tag)"], capture_output=True,
                         text=True, check=True).stdout.strip()
    tmp = tempfile.mkdtemp(prefix="bench_precompile_kiln.")
    try:
        ws = os.path.join(tmp, "ws")
        tree = os.path.join(ws, "lib")
        files = copy_tree(python, tree)
        write_workspace(ws, files)
        sample = files[::max(1, len(files) // args.per_file_sample)][:args.per_file_sample]
        out = os.path.join(tmp, "out")
        base = os.path.join(tmp, "base")
        n = len(files)
        on = PRECOMPILE + "enabled"

        def kiln(flags: list[str], expect: int | None, src: str | None = None):
            return lambda: kiln_build(ws, base, LIBRARIES, flags, expect, src)[:2]

        floor_actions = kiln_build(ws, os.path.join(tmp, "probe"), LIBRARIES, [PRECOMPILE + "disabled"], None)[2]
        shutil.rmtree(os.path.join(tmp, "probe"))
        expect = floor_actions + n  # a PyCompile per source (its param file is written for its spawn)
        methods = {
            "compileall -j0": (files, lambda: timed([python, "-m", "compileall", "-q", "-j0", "--invalidation-mode",
                                                     "checked-hash", tree], tmp, env=ENV)[:2]),
            "one process per file": (sample, lambda: run_per_file(python, TOOL, tree, out, sample)),
            "worker async, driven directly": (files, lambda: run_workers(python, TOOL, tree, out, files, "async",
                                                                         1, args.window)),
            "2 workers serial, driven directly": (files, lambda: run_workers(python, TOOL, tree, out, files,
                                                                             "serial", 2, args.window)),
            "kiln build, precompiling off": (files, kiln([PRECOMPILE + "disabled"], floor_actions)),
            "kiln build (default: async, 1 worker per CPU)": (files, kiln([on], expect)),
            "kiln build, serial workers": (files, kiln([on, "--worker_extra_flag=PyCompile=--worker_impl=serial"],
                                                       expect)),
            "kiln build, 1 async worker": (files, kiln([on, "--worker_max_multiplex_instances=1"], expect)),
            # --jobs (default: one per CPU) bounds the requests in flight over all workers.
            "kiln build, --jobs=8": (files, kiln([on, "--jobs=8"], expect)),
        }
        if args.quick:
            for name in ("kiln build, serial workers", "kiln build, 1 async worker", "kiln build, --jobs=8"):
                del methods[name]
        if args.baseline_src:
            methods["kiln build (default), baseline kiln"] = (files, kiln([on], None, args.baseline_src))
        names = list(methods)
        times: dict[str, tuple[list[float], list[float]]] = {m: ([], []) for m in names}
        reference: dict[str, str] = {}
        t0 = time.time()
        for r in range(args.rounds):
            for name in names[r % len(names):] + names[:r % len(names)]:
                shutil.rmtree(out, ignore_errors=True)
                shutil.rmtree(base, ignore_errors=True)
                for cache in glob.glob(os.path.join(tree, "**", "__pycache__"), recursive=True):
                    shutil.rmtree(cache)
                wall, cpu = methods[name][1]()
                times[name][0].append(wall)
                times[name][1].append(cpu)
                if name.startswith("kiln build") and name != "kiln build, precompiling off" \
                        and "baseline" not in name:
                    for rel, digest in kiln_pycs(base, files, tree, tag).items():
                        if reference.setdefault(rel, digest) != digest:
                            fail(f"{name}: the pyc of {rel} differs from another kiln configuration's")
        shutil.rmtree(base, ignore_errors=True)
        start = None if args.quick else part_start(ws, tmp, python, args.launches)
        result = {"python": python, "files": n, "sample": len(sample), "rounds": args.rounds,
                  "window": args.window, "part1_s": round(time.time() - t0, 1), "times": {}, "start": {}}
        describe_run(result, tmp)
        med = {m: tuple(statistics.median(x) for x in times[m]) for m in names}
        base_rate = n / med["compileall -j0"][0]
        lines = [f"{python}: {n} files ({len(sample)} for one process per file), {args.rounds} interleaved rounds; "
                 "medians", "",
                 "| method | files/s | vs compileall -j0 | vs process per file | wall s | CPU s | CPU ms/file |",
                 "|---|---|---|---|---|---|---|"]
        per_file_rate = len(sample) / med["one process per file"][0]
        for m in names:
            k = len(methods[m][0])
            wall, cpu = med[m]
            result["times"][m] = {"files": k, "wall": times[m][0], "cpu": times[m][1]}
            lines.append(f"| {m} | {k / wall:.0f} | {k / wall / base_rate:.2f}x | {k / wall / per_file_rate:.0f}x | "
                         f"{wall:.2f} | {cpu:.2f} | {1000 * cpu / k:.2f} |")
        floor = med["kiln build, precompiling off"]
        lines += ["", "kiln's overhead per PyCompile action (kiln with − kiln without − the same workers driven "
                  "directly) / files:", ""]
        for kiln_m, direct in (("kiln build, 1 async worker", "worker async, driven directly"),
                               ("kiln build, serial workers", "2 workers serial, driven directly"),
                               ("kiln build (default: async, 1 worker per CPU)", "2 workers serial, driven directly"),
                               ("kiln build (default), baseline kiln", "2 workers serial, driven directly")):
            if kiln_m not in med:
                continue
            w = (med[kiln_m][0] - floor[0] - med[direct][0]) / n
            c = (med[kiln_m][1] - floor[1] - med[direct][1]) / n
            result.setdefault("overhead_ms", {})[kiln_m] = {"wall": 1000 * w, "cpu": 1000 * c}
            lines.append(f"- {kiln_m} vs {direct}: wall {1000 * w:.2f} ms, CPU {1000 * c:.2f} ms per action")
        if start is None:
            emit(result, "\n".join(lines), args.json)
            return 0
        lines += ["", f"start of //lib:start, {args.launches} interleaved launches each "
                  f"(`python -c pass`: {1000 * start['python -c pass']:.0f} ms):", "",
                  "| build | modules from the copy | wall ms | CPU ms |", "|---|---|---|---|"]
        for name, (walls, cpus) in start["times"].items():
            result["start"][name] = {"wall": walls, "cpu": cpus, "modules": start["modules"][name]}
            lines.append(f"| {name} | {start['modules'][name]} | {1000 * statistics.median(walls):.1f} | "
                         f"{1000 * statistics.median(cpus):.1f} |")
        src, pc = (start["times"][k] for k in ("sources only", "precompiled"))
        lines.append(f"| ratio | | {statistics.median(src[0]) / statistics.median(pc[0]):.2f}x | "
                     f"{statistics.median(src[1]) / statistics.median(pc[1]):.2f}x |")
        result["start"]["python -c pass"] = start["python -c pass"]
        emit(result, "\n".join(lines), args.json)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
