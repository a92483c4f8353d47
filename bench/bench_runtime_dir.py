#!/usr/bin/env python3
"""py_tests on an in-build runtime of ~1,600 files: two kilns A/B, e.g. per-file runfiles vs one directory.

    .venv/bin/python bench/bench_runtime_dir.py --a OTHER/.venv/bin/kiln [--b .venv/bin/kiln] \
        [--tests 200] [--rounds 5] [--json out.json]

(OTHER: a checkout of the reference with its own venv, scripts/setup.sh; test actions run kiln's
test wrapper from the kiln that runs them, so PYTHONPATH tricks do not reach into the sandbox.)

The workspace: a CPython 3.11 installation under `rt/python/` (tests/integration/runtime_install.py:
the system's python3.11 and its standard library), registered as an in-build py_runtime with
`files = glob(["python/**"])`, and N trivial py_tests on it (rules_python #1653's shape). Each kiln
gets its own output base. After an untimed build and first test run, A and B alternate (A first in
even rounds) for: `kiln test //t:all` with every result cached (a no-op: 0 actions executed,
checked), and the same with `--cache_test_results=no` (every test runs in the Linux sandbox).
Prints wall and whole-process-tree CPU medians, B/A ratios, and how many entries one test's
runfiles tree holds under each kiln.
"""

from __future__ import annotations

import argparse
import glob
import os
import shlex
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "integration"))
from benchlib import KILN, actions_executed, describe_run, emit, fail, timed  # noqa: E402
from runtime_install import make_installation, runtime_build, system_micro  # noqa: E402

def _workspace(root: str, n: int) -> int:
    micro = system_micro()
    if micro is None:
        fail("no /usr/bin/python3.11 with /usr/lib/python3.11: the runtime is made from them")
    os.makedirs(os.path.join(root, "t"))
    with open(os.path.join(root, "MODULE.bazel"), "w") as f:
        f.write('module(name = "bench_runtime_dir")\nregister_toolchains("//rt:toolchain")\n')
    files = make_installation(Path(root, "rt", "python"))
    with open(os.path.join(root, "rt", "BUILD.bazel"), "w") as f:
        f.write(runtime_build(micro))
    with open(os.path.join(root, "t", "BUILD.bazel"), "w") as f:
        for i in range(n):
            f.write(f'py_test(name = "test_{i:03d}", srcs = ["test_{i:03d}.py"], size = "small")\n')
    for i in range(n):
        with open(os.path.join(root, "t", f"test_{i:03d}.py"), "w") as f:
            f.write(f"assert {i} + 1 == {i + 1}\n")
    return files


def _tree_size(output_base: str) -> int:
    """Names in test_000's runfiles tree (not following links): what building the tree cost."""
    found = glob.glob(os.path.join(output_base, "execroot", "_main", "kiln-out", "*", "bin", "t", "test_000.runfiles"))
    if len(found) != 1:
        fail(f"not one runfiles tree of test_000 under {output_base}: {found}")
    tree = found[0]
    return sum(len(dirs) + len(names) for _, dirs, names in os.walk(tree))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--a", required=True, help="the reference kiln command (words split as a shell would)")
    ap.add_argument("--b", default=KILN, help="the kiln under test (default: this checkout's)")
    ap.add_argument("--tests", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench_runtime_dir.")
    try:
        root = os.path.join(tmp, "ws")
        files = _workspace(root, args.tests)
        kilns = {"a": [*shlex.split(args.a), f"--output_base={tmp}/ob_a"],
                 "b": [*shlex.split(args.b), f"--output_base={tmp}/ob_b"]}
        # Each kiln keeps its convenience links to itself: none in the shared workspace.
        test = ["test", "//t:all", "--symlink_prefix=/"]
        for key, kiln in kilns.items():
            timed([*kiln, *test], root, what=f"{key}: first test //t:all")
        trees = {key: _tree_size(f"{tmp}/ob_{key}") for key in kilns}
        commands = {"noop": test, "rerun": [*test, "--cache_test_results=no"]}
        results: dict = {"tests": args.tests, "rounds": args.rounds, "runtime_files": files, "tree_entries": trees}
        for name, command in commands.items():
            wall: dict = {"a": [], "b": []}
            cpu: dict = {"a": [], "b": []}
            for r in range(args.rounds):
                for key in ("ab" if r % 2 == 0 else "ba"):
                    dt, c, proc = timed([*kilns[key], *command], root, what=f"{key}: {' '.join(command)}")
                    executed = actions_executed(proc, f"{key}: {' '.join(command)}")
                    if name == "noop" and executed != 0:
                        fail(f"{key}: the no-op test run executed {executed} actions")
                    wall[key].append(dt)
                    cpu[key].append(c)
            results[name] = {f"{m}_{key}": statistics.median(v[key]) for m, v in (("wall", wall), ("cpu", cpu))
                             for key in "ab"}
        describe_run(results, None)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    lines = [f"{args.tests} py_tests on an in-build runtime of {files} files; {args.rounds} rounds; "
             f"test_000's runfiles tree: A {trees['a']} names, B {trees['b']}",
             "| run | A wall s | B wall s | B/A wall | A CPU s | B CPU s | B/A CPU |", "|---|---|---|---|---|---|---|"]
    for name, label in (("noop", "`kiln test //t:all`, all cached"), ("rerun", "`--cache_test_results=no`")):
        r = results[name]
        lines.append(f"| {label} | {r['wall_a']:.2f} | {r['wall_b']:.2f} | **{r['wall_b'] / r['wall_a']:.3f}** | "
                     f"{r['cpu_a']:.2f} | {r['cpu_b']:.2f} | {r['cpu_b'] / r['cpu_a']:.3f} |")
    emit(results, "\n".join(lines), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
