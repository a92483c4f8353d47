"""What a Python launcher costs: py_tests, a py_binary's launcher and `kiln run` against plain python.

Three A/B comparisons, interleaved (A, B, A, B, ...), medians of wall and of the whole process
tree's CPU, on the runtime kiln resolves for the workspace (the local one):

1. `kiln test` of N trivial py_tests (results never cached, everything else built) against a
   shell loop running the same N scripts with that runtime's python;
2. the launcher `kiln-bin/pkg/bin` against `python main.py`, once as the environment has it and
   once with main's bytecode cached (PYTHONDONTWRITEBYTECODE unset, as most users run);
3. `kiln run //pkg:bin` against `python main.py`: repeated, so kiln.cli.run_memo's fast path runs
   the program; and through the normal path (a no-op build, then the program), which a variable of
   the environment that changes every run (part of the memo's key) forces, via `sh -c`.

Usage: python bench/bench_launcher.py [--tests 200] [--rounds 5] [--launches 60] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile

from benchlib import KILN, fail, timed


def _workspace(root: str, n: int) -> None:
    os.makedirs(os.path.join(root, "t"))
    os.makedirs(os.path.join(root, "pkg"))
    with open(os.path.join(root, "MODULE.bazel"), "w") as f:
        f.write('module(name = "bench_launcher")\n')
    with open(os.path.join(root, "t", "BUILD.bazel"), "w") as f:
        for i in range(n):
            f.write(f'py_test(name = "test_{i:03d}", srcs = ["test_{i:03d}.py"])\n')
    for i in range(n):
        with open(os.path.join(root, "t", f"test_{i:03d}.py"), "w") as f:
            f.write(f"assert {i} + 1 == {i + 1}\n")
    with open(os.path.join(root, "pkg", "BUILD.bazel"), "w") as f:
        f.write('py_binary(name = "bin", srcs = ["main.py"], main = "main.py")\n')
    with open(os.path.join(root, "pkg", "main.py"), "w") as f:
        f.write('print("hello")\n')


def _interpreter(launcher: str) -> str:
    """The runtime's interpreter, as the launcher names it (a `#!` line or the sh stub's exec)."""
    with open(launcher) as f:
        head = f.readline().strip()
        if head != "#!/bin/sh":
            return head[2:]
        for line in f:
            if line.startswith("exec "):
                return line.split()[1].strip("'\"")
    fail(f"{launcher}: no interpreter found")
    return ""


def _ab(a: list[str], b: list[str], cwd: str, rounds: int, env: dict | None = None) -> dict:
    wall = {"a": [], "b": []}
    cpu = {"a": [], "b": []}
    for _ in range(rounds):
        for key, argv in (("a", a), ("b", b)):
            dt, c, _ = timed(argv, cwd, env=env)
            wall[key].append(dt)
            cpu[key].append(c)
    med = {f"{k}_{key}": statistics.median(v[key]) for k, v in (("wall", wall), ("cpu", cpu)) for key in "ab"}
    med["wall_ratio"] = med["wall_a"] / med["wall_b"]
    med["cpu_ratio"] = med["cpu_a"] / med["cpu_b"] if med["cpu_b"] else float("nan")
    return med


def _row(name: str, r: dict, unit: float = 1e3) -> str:
    return (f"| {name} | {r['wall_a'] * unit:.1f} | {r['wall_b'] * unit:.1f} | **{r['wall_ratio']:.2f}** | "
            f"{r['cpu_a'] * unit:.1f} | {r['cpu_b'] * unit:.1f} | {r['cpu_ratio']:.2f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tests", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--launches", type=int, default=60)
    ap.add_argument("--json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_launcher.") as tmp:
        root = os.path.join(tmp, "ws")
        _workspace(root, args.tests)
        kiln = [KILN, f"--output_base={tmp}/ob"]
        timed([*kiln, "build", "//..."], root, what="build //...")
        timed([*kiln, "test", "//t:all"], root, what="test //t:all (warm-up)")
        python = _interpreter(os.path.join(root, "kiln-bin", "t", "test_000"))
        scripts = " ".join(f"t/test_{i:03d}.py" for i in range(args.tests))
        loop = ["/bin/sh", "-c", f'for f in {scripts}; do "{python}" "$f" || exit 1; done']
        results = {
            "tests": _ab([*kiln, "test", "//t:all", "--cache_test_results=no"], loop, root, args.rounds),
            "launcher": _ab(["kiln-bin/pkg/bin"], [python, "pkg/main.py"], root, args.launches),
        }
        cached = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        timed(["kiln-bin/pkg/bin"], root, env=cached)  # writes main's bytecode once
        results["launcher_bytecode"] = _ab(["kiln-bin/pkg/bin"], [python, "pkg/main.py"], root, args.launches,
                                           env=cached)
        results["run"] = _ab([*kiln, "run", "//pkg:bin"], [python, "pkg/main.py"], root, max(args.launches // 3, 5))
        normal = ["/bin/sh", "-c", 'KILN_BENCH_NONCE=$$ exec "$@"', "sh", *kiln, "run", "//pkg:bin"]
        results["run_normal"] = _ab(normal, [python, "pkg/main.py"], root, max(args.launches // 3, 5))
    print(f"runtime: {python}; {args.tests} tests, {args.rounds} rounds; {args.launches} launches")
    print("| A vs B | A wall ms | B wall ms | wall A/B | A CPU ms | B CPU ms | CPU A/B |")
    print("|---|---|---|---|---|---|---|")
    print(_row(f"`kiln test` {args.tests} py_tests vs shell loop (whole run)", results["tests"]))
    print(_row("launcher `kiln-bin/pkg/bin` vs `python main.py`", results["launcher"]))
    print(_row("the same, main's bytecode cached", results["launcher_bytecode"]))
    print(_row("`kiln run //pkg:bin` vs `python main.py` (repeated: the fast path)", results["run"]))
    print(_row("the same through the normal path (no-op build)", results["run_normal"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
