#!/usr/bin/env python3
"""py_tests on a hermetic python-build-standalone runtime vs a local runtime of the same interpreter,
and what a cold and a warm repository cache cost the first build (issue 11, item 6).

    .venv/bin/python bench/bench_hermetic_runtime.py [--version 3.11] [--tests 200] [--rounds 5] \
        [--fetch-rounds 3] [--json out.json]

The runtime archive is made from pyenv's CPython (tests/integration/pbs_archives.py, bytecode kept as
the published install_only archives ship it) and served on 127.0.0.1. Two workspaces hold the same N
trivial py_tests (rules_python #1653's shape): "hermetic" configures Python with the `python` extension
(python.toolchain + single_version_override + override(base_url)), "local" names the same archive
unpacked with `tar xzf` (as a user unpacks a release into /opt) with local_runtime_repo +
local_runtime_toolchains_repo: the same files, not pyenv's installation, whose site-packages (.pth files
importing packages) would cost each test's start ~30 ms the hermetic runtime does not pay. Each
workspace has its own output base; both share one repository cache. After an untimed first run, which
checks that every test ran on the runtime it should (sys.executable in the extracted repository vs in
the unpacked copy), the two
alternate (hermetic first in even rounds) for `kiln test //t:all` with every result cached (0 actions
executed, checked) and with `--cache_test_results=no` (every test runs in the Linux sandbox).

Then the first build: `kiln build //t:test_000` in a fresh output base, three ways, rotated each round:
hermetic with an empty repository cache (download, sha256, extraction, probe), hermetic with the cache
the former filled (extraction and probe), and local (no archive). The archive's extraction alone is
measured too, by kiln.repos.archives.extract in a fresh process, against `tar xzf`. Nothing is removed
before the end and each of these runs starts after a sync: on this machine's ext4 (mounted with
`discard`) removing a tree or flushing the last one's pages during a run doubled its time.
Prints wall and whole-process-tree CPU medians and ratios.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "integration"))
from archive_server import ArchiveServer, Route  # noqa: E402
from benchlib import KILN, PYTHON, actions_executed, describe_run, emit, fail, timed  # noqa: E402
from pbs_archives import RELEASE, TRIPLE, build_archive, pyenv_install  # noqa: E402

# Prints where it runs, so the first run can check which runtime each test got.
TEST = 'import sys\nassert {i} + 1 == {j}\nprint("runtime:", sys.executable)\n'
EXTRACT = "import sys\nfrom pathlib import Path\nfrom kiln.repos.archives import extract\n" \
          "extract(Path(sys.argv[1]), Path(sys.argv[2]))\n"


def _hermetic_module(minor: str, full: str, sha256: str, base_url: str) -> str:
    return f'''module(name = "bench_hermetic")
bazel_dep(name = "rules_python", version = "1.6.0")
python = use_extension("@rules_python//python/extensions:python.bzl", "python")
python.toolchain(python_version = "{minor}")
python.single_version_override(
    python_version = "{full}",
    sha256 = {{"{TRIPLE}": "{sha256}"}},
    urls = ["{RELEASE}/cpython-{{python_version}}+{RELEASE}-{{platform}}-{{build}}.tar.gz"],
)
python.override(base_url = "{base_url}", minor_mapping = {{"{minor}": "{full}"}})
'''


def _local_module(interpreter: str) -> str:
    return f'''module(name = "bench_local")
local_runtime_repo = use_repo_rule("@rules_python//python/local_toolchains:repos.bzl", "local_runtime_repo")
local_runtime_toolchains_repo = use_repo_rule(
    "@rules_python//python/local_toolchains:repos.bzl", "local_runtime_toolchains_repo")
local_runtime_repo(name = "local_python3", interpreter_path = "{interpreter}", on_failure = "fail")
local_runtime_toolchains_repo(name = "local_toolchains", runtimes = ["local_python3"])
register_toolchains("@local_toolchains//:all")
'''


def _workspace(root: str, module: str, n: int) -> None:
    os.makedirs(os.path.join(root, "t"))
    with open(os.path.join(root, "MODULE.bazel"), "w") as f:
        f.write(module)
    with open(os.path.join(root, "t", "BUILD.bazel"), "w") as f:
        for i in range(n):
            f.write(f'py_test(name = "test_{i:03d}", srcs = ["test_{i:03d}.py"], size = "small")\n')
    for i in range(n):
        with open(os.path.join(root, "t", f"test_{i:03d}.py"), "w") as f:
            f.write(TEST.format(i=i, j=i + 1))


def _check_runtimes(output: str, where: str, n: int, what: str) -> None:
    found = [line.split("runtime:", 1)[1].strip() for line in output.splitlines() if "runtime: " in line]
    if len(found) != n or any(where not in exe for exe in found):
        fail(f"{what}: expected {n} tests on a runtime under {where}, got {sorted(set(found))[:5]} "
             f"({len(found)} lines)")


def _median_table(samples: dict[str, tuple[list[float], list[float]]]) -> dict[str, dict[str, float]]:
    return {k: {"wall": statistics.median(w), "cpu": statistics.median(c), "wall_runs": w, "cpu_runs": c}
            for k, (w, c) in samples.items()}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--version", default="3.11", help="pyenv's CPython X.Y to make the runtime from")
    ap.add_argument("--tests", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--fetch-rounds", type=int, default=3)
    ap.add_argument("--json")
    args = ap.parse_args()
    if pyenv_install(args.version) is None or shutil.which("patchelf") is None:
        fail(f"needs pyenv's CPython {args.version} and patchelf: the runtime archive is made from them")
    tmp = tempfile.mkdtemp(prefix="bench_hermetic_runtime.")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KILN_")}
    env["HOME"] = os.path.join(tmp, "home")
    os.makedirs(env["HOME"])
    try:
        archive = build_archive(args.version, Path(tmp), keep_bytecode=True)
        minor = archive.version.rsplit(".", 1)[0]
        with ArchiveServer() as server:
            route = Route(body=archive.path.read_bytes())
            server.add("/" + archive.url_path, route)
            roots = {"hermetic": os.path.join(tmp, "hermetic"), "local": os.path.join(tmp, "local")}
            _workspace(roots["hermetic"], _hermetic_module(minor, archive.version, archive.sha256, server.url("")),
                       args.tests)
            local = os.path.join(tmp, "local_runtime")
            os.makedirs(local)
            timed(["tar", "xzf", str(archive.path), "-C", local], tmp, what="unpacking the local runtime")
            interpreter = os.path.join(local, "python", "bin", f"python{minor}")
            _workspace(roots["local"], _local_module(interpreter), args.tests)
            cache = os.path.join(tmp, "repository_cache")

            def kiln(output_base: str, *command: str, repo_cache: str = cache) -> list[str]:
                return [KILN, f"--output_base={output_base}", *command, f"--repository_cache={repo_cache}"]

            results: dict = {"version": archive.version, "tests": args.tests, "rounds": args.rounds,
                             "archive_bytes": archive.path.stat().st_size}
            where = {"hermetic": f"/python_{minor.replace('.', '_')}_{TRIPLE}/bin/python3", "local": local + "/"}
            results["runtime"] = _test_runs(args, roots, where, tmp, kiln, env)
            results["first_build"] = _first_builds(args, roots, tmp, kiln, env, route)
            results["extract"] = _extraction(args, archive.path, tmp)
        describe_run(results, None)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    emit(results, _report(results), args.json)
    return 0


def _test_runs(args, roots: dict[str, str], where: dict[str, str], tmp: str, kiln, env: dict) -> dict:
    test = ["test", "//t:all"]
    obs = {key: os.path.join(tmp, f"ob_{key}") for key in roots}
    for key in roots:
        _, _, proc = timed([*kiln(obs[key], *test, "--test_output=all")], roots[key], env,
                           what=f"{key}: first test //t:all")
        _check_runtimes(proc.stdout + proc.stderr, where[key], args.tests, key)
    out: dict = {}
    for name, command in (("noop", test), ("rerun", [*test, "--cache_test_results=no"])):
        samples: dict = {key: ([], []) for key in roots}
        for r in range(args.rounds):
            for key in (("hermetic", "local") if r % 2 == 0 else ("local", "hermetic")):
                what = f"{key}: {' '.join(command)}"
                dt, cpu, proc = timed(kiln(obs[key], *command), roots[key], env, what=what)
                executed = actions_executed(proc, what)
                if executed != (0 if name == "noop" else args.tests):
                    fail(f"{what}: {executed} actions executed")
                samples[key][0].append(dt)
                samples[key][1].append(cpu)
        out[name] = _median_table(samples)
    return out


def _first_builds(args, roots: dict[str, str], tmp: str, kiln, env: dict, route: Route) -> dict:
    cases = ("cold", "warm", "local")
    samples: dict = {case: ([], []) for case in cases}
    build = ["build", "//t:test_000"]
    for r in range(args.fetch_rounds):
        work = os.path.join(tmp, f"first{r}")
        cold_cache = os.path.join(work, "cache")
        # The warm case needs the cache the cold one filled: it follows it; local moves around them.
        order = (("local", "cold", "warm"), ("cold", "local", "warm"), ("cold", "warm", "local"))[r % 3]
        for case in order:
            before = route.requests
            os.sync()  # the previous case's writes are not this one's to wait for
            root = roots["local" if case == "local" else "hermetic"]
            argv = kiln(os.path.join(work, f"ob_{case}"), *build, repo_cache=cold_cache)
            dt, cpu, proc = timed(argv, root, env, what=f"first build, {case}")
            fetched = route.requests - before
            if fetched != (1 if case == "cold" else 0):
                fail(f"first build, {case}: the archive was downloaded {fetched} times")
            if actions_executed(proc, case) == 0:
                fail(f"first build, {case}: nothing was built")
            samples[case][0].append(dt)
            samples[case][1].append(cpu)
    return _median_table(samples)


def _extraction(args, archive: Path, tmp: str) -> dict:
    samples: dict = {"kiln": ([], []), "tar": ([], [])}
    for r in range(args.fetch_rounds):
        for case in (("kiln", "tar") if r % 2 == 0 else ("tar", "kiln")):
            dest = os.path.join(tmp, f"x_{case}_{r}")
            os.makedirs(dest)
            os.sync()
            argv = ([PYTHON, "-c", EXTRACT, str(archive), dest] if case == "kiln"
                    else ["tar", "xzf", str(archive), "-C", dest])
            dt, cpu, _ = timed(argv, tmp, what=f"extract, {case}")
            if not os.path.isfile(os.path.join(dest, "python", "bin", "python3")):
                fail(f"extract, {case}: no python/bin/python3 in the extracted tree")
            samples[case][0].append(dt)
            samples[case][1].append(cpu)
    return _median_table(samples)


def _report(r: dict) -> str:
    rt, fb, ex = r["runtime"], r["first_build"], r["extract"]
    lines = [f"{r['tests']} py_tests, CPython {r['version']} as a hermetic runtime "
             f"({r['archive_bytes'] / 1e6:.1f} MB archive) vs as a local runtime; {r['rounds']} rounds, medians",
             "", "| run | hermetic wall s | local wall s | wall ratio | hermetic CPU s | local CPU s | CPU ratio |",
             "|---|---|---|---|---|---|---|"]
    for name, label in (("noop", "`kiln test //t:all`, all cached"), ("rerun", "`--cache_test_results=no`")):
        h, loc = rt[name]["hermetic"], rt[name]["local"]
        lines.append(f"| {label} | {h['wall']:.2f} | {loc['wall']:.2f} | **{h['wall'] / loc['wall']:.3f}** | "
                     f"{h['cpu']:.2f} | {loc['cpu']:.2f} | {h['cpu'] / loc['cpu']:.3f} |")
    lines += ["", "First `kiln build //t:test_000` in a fresh output base (s)", "",
              "| case | wall | CPU | wall - local |", "|---|---|---|---|"]
    for case, label in (("cold", "hermetic, empty repository cache (download, extract, probe)"),
                        ("warm", "hermetic, warm repository cache (extract, probe)"),
                        ("local", "local runtime (no archive)")):
        lines.append(f"| {label} | {fb[case]['wall']:.3f} | {fb[case]['cpu']:.3f} | "
                     f"{fb[case]['wall'] - fb['local']['wall']:+.3f} |")
    lines.append(f"| extraction alone: kiln.repos.archives.extract (fresh process) | {ex['kiln']['wall']:.3f} | "
                 f"{ex['kiln']['cpu']:.3f} | |")
    lines.append(f"| extraction alone: `tar xzf` | {ex['tar']['wall']:.3f} | {ex['tar']['cpu']:.3f} | |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
