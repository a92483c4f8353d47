#!/usr/bin/env python3
"""Third-party packages from a 30-package hashed lock: kiln's pip.parse against `pip install` and `uv pip
install` of the same lock from the real index, and what the hub costs a no-op build (issue 12, item 7).

    .venv/bin/python bench/bench_pip.py [--rounds 3] [--noop-rounds 11] [--dir /dev/shm] [--json out.json]

The lock is bench/pip30/requirements_lock.txt (`uv pip compile --generate-hashes --python-version 3.11` of
bench/pip30/requirements.in). Everything comes from the index pip is configured with on this machine (the
machine's pip.conf and PIP_* environment are kept; HOME is a fresh directory, so no user cache is read).

Setup, three ways, each first with an empty cache (downloads) and then again with the cache that run filled
(cache hits), into a fresh destination every time:
  kiln  `kiln build //:bin` of a workspace whose py_binary depends on the hub's all_requirements, in a fresh
        output base, with --repository_cache at the run's cache directory;
  pip   `pip install --require-hashes -r lock` (the pip of kiln's venv, `--python` pointing at the fresh venv)
        with PIP_CACHE_DIR at the cache directory;
  uv    `uv pip install -r lock --cache-dir DIR` into the fresh venv.
The venvs are made before the clock starts, without pip, from the CPython 3.11 kiln's venv is based on, the
interpreter kiln's default runtime runs. As a floor, kiln also builds the same workspace without the hub in a
fresh output base. Each round runs every cold case, then every warm case, the tools' order rotated between
rounds. After each run, untimed, the installed program imports the top-level modules of requirements.in and
checks that importlib.metadata finds every pinned distribution at its pinned version. The growth of each
cache is recorded: kiln's and uv's cold runs must fill theirs with at least the wheels' size, and no warm run
may add a tenth of what its cold run added (no download into the cache). pip's HTTP cache keeps a response only
if its headers allow it; the index here sends neither Cache-Control, ETag nor Last-Modified, so pip's stays
empty and its warm run downloads again. Each run starts after a sync; nothing is removed before the end.

No-op: after a first build of each, `kiln build //:bin` of the workspace with the hub and of the same
workspace without it, alternately (A/B interleaved); each must execute 0 actions. Goal: within 10 %.
Prints wall and whole-process-tree CPU medians and ratios.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from benchlib import KILN, PYTHON, VENV_BIN, actions_executed, describe_run, emit, fail, timed  # noqa: E402

LOCK = os.path.join(HERE, "pip30", "requirements_lock.txt")
UV = os.path.join(VENV_BIN, "uv")
# The top-level modules of requirements.in's packages; the binary ones prove their extension modules load.
MODULES = ("attr", "click", "flask", "msgpack", "numpy", "packaging", "pydantic", "pydantic_core", "dateutil",
           "pytz", "yaml", "requests", "rich", "six", "markupsafe", "charset_normalizer")
PIN_RE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)", re.M)
TOOLS = ("kiln", "pip", "uv")

CHECK = '''import importlib, importlib.metadata, sys
PINS = {pins!r}
for module in {modules!r}:
    importlib.import_module(module)
wrong = {{name: (version, importlib.metadata.version(name)) for name, version in PINS.items()
         if importlib.metadata.version(name) != version}}
if wrong:
    sys.exit(f"pinned vs installed: {{wrong}}")
print(f"checked {{len(PINS)}} distributions on", sys.version.split()[0])
'''

HUB_MODULE = '''module(name = "bench_pip")
bazel_dep(name = "rules_python", version = "1.6.0")
pip = use_extension("@rules_python//python/extensions:pip.bzl", "pip")
pip.parse(hub_name = "pypi", python_version = "3.11", requirements_lock = "//:requirements_lock.txt")
use_repo(pip, "pypi")
'''
HUB_BUILD = '''load("@pypi//:requirements.bzl", "all_requirements")
load("@rules_python//python:defs.bzl", "py_binary")

py_binary(name = "bin", srcs = ["main.py"], main = "main.py", deps = all_requirements)
'''
PLAIN_MODULE = 'module(name = "bench_pip")\nbazel_dep(name = "rules_python", version = "1.6.0")\n'
PLAIN_BUILD = '''load("@rules_python//python:defs.bzl", "py_binary")

py_binary(name = "bin", srcs = ["main.py"], main = "main.py")
'''


def _pins() -> dict[str, str]:
    with open(LOCK, encoding="utf-8") as f:
        pins = dict(PIN_RE.findall(f.read()))
    if len(pins) < 25:
        fail(f"{LOCK}: {len(pins)} pins, expected about 30")
    return pins


def _workspace(root: str, module: str, build: str, check: str) -> None:
    os.makedirs(root)
    for name, text in (("MODULE.bazel", module), ("BUILD.bazel", build), ("main.py", check)):
        with open(os.path.join(root, name), "w", encoding="utf-8") as f:
            f.write(text)
    shutil.copy(LOCK, os.path.join(root, "requirements_lock.txt"))


def _tree_bytes(root: str) -> int:
    total = 0
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                total += os.stat(path).st_size
    return total


class Setup:
    """The argv of one tool's setup into a fresh destination with a given cache, and the check after it."""

    def __init__(self, tmp: str, roots: dict[str, str], env: dict[str, str], base_python: str):
        self.tmp, self.roots, self.env, self.base_python = tmp, roots, env, base_python

    def kiln(self, output_base: str, *command: str, cache: str) -> list[str]:
        return [KILN, f"--output_base={output_base}", *command, f"--repository_cache={cache}"]

    def prepare(self, tool: str, dest: str) -> None:
        """Untimed: the fresh venv pip and uv install into."""
        if tool in ("pip", "uv"):
            timed([self.base_python, "-m", "venv", "--without-pip", dest], self.tmp, self.env,
                  what=f"making the venv {dest}")

    def argv(self, tool: str, dest: str, cache: str) -> tuple[list[str], str, dict[str, str]]:
        if tool in ("kiln", "floor"):
            root = self.roots["hub" if tool == "kiln" else "plain"]
            return self.kiln(dest, "build", "//:bin", cache=cache), root, self.env
        python = os.path.join(dest, "bin", "python")
        if tool == "pip":
            return ([PYTHON, "-m", "pip", "--python", python, "install", "--require-hashes", "-r", LOCK],
                    self.tmp, {**self.env, "PIP_CACHE_DIR": cache})
        return [UV, "pip", "install", "--python", python, "--cache-dir", cache, "-r", LOCK], self.tmp, self.env

    def check(self, tool: str, dest: str, pins: dict[str, str]) -> None:
        if tool == "floor":
            return
        program = ([os.path.join(dest, "execroot", "_main", "kiln-out", "k8-fastbuild", "bin", "bin")]
                   if tool == "kiln" else [os.path.join(dest, "bin", "python"), "-c", _check_source(pins)])
        _, _, proc = timed(program, self.tmp, self.env, what=f"{tool}: importing what {dest} holds")
        if f"checked {len(pins)} distributions" not in proc.stdout:
            fail(f"{tool}: the check printed {proc.stdout!r}")


def _check_source(pins: dict[str, str]) -> str:
    return CHECK.format(pins=pins, modules=MODULES)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3, help="rounds of cold and warm setups")
    ap.add_argument("--noop-rounds", type=int, default=11)
    ap.add_argument("--dir", help="where the workspaces, caches and venvs go (e.g. /dev/shm: no disk)")
    ap.add_argument("--json")
    args = ap.parse_args()
    pins = _pins()
    base_python = timed([PYTHON, "-c", "import sys; print(sys._base_executable)"], HERE)[2].stdout.strip()
    tmp = tempfile.mkdtemp(prefix="bench_pip.", dir=args.dir)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KILN_", "UV_"))}
    env["HOME"] = os.path.join(tmp, "home")
    os.makedirs(env["HOME"])
    try:
        roots = {"hub": os.path.join(tmp, "hub"), "plain": os.path.join(tmp, "plain")}
        _workspace(roots["hub"], HUB_MODULE, HUB_BUILD, _check_source(pins))
        _workspace(roots["plain"], PLAIN_MODULE, PLAIN_BUILD, _check_source(pins))
        setup = Setup(tmp, roots, env, base_python)
        versions = {"python": timed([base_python, "-V"], tmp, env)[2].stdout.split()[1],
                    "pip": timed([PYTHON, "-m", "pip", "-V"], tmp, env)[2].stdout.split()[1],
                    "uv": timed([UV, "-V"], tmp, env)[2].stdout.split()[1]}
        results: dict = {"pins": len(pins), "rounds": args.rounds, "python": base_python, "versions": versions}
        results["setup"], last_cache = _setups(args, setup, pins, tmp)
        results["noop"] = _noops(args, setup, last_cache, tmp)
        describe_run(results, args.dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    emit(results, _report(results), args.json)
    return 0


def _setups(args, setup: Setup, pins: dict[str, str], tmp: str) -> tuple[dict, str]:
    cases = [f"{tool}_{state}" for tool in TOOLS for state in ("cold", "warm")] + ["floor"]
    samples: dict = {case: ([], []) for case in cases}
    grown: dict = {case: [] for case in cases}
    for r in range(args.rounds):
        work = os.path.join(tmp, f"round{r}")
        order = TOOLS[r % 3:] + TOOLS[:r % 3]
        plan = [(tool, "cold") for tool in order] + [(tool, "warm") for tool in order] + [("floor", "")]
        for tool, state in plan:
            case = f"{tool}_{state}" if state else tool
            dest = os.path.join(work, case)
            # The warm case uses the cache its cold case filled; the floor's cache stays empty.
            cache = os.path.join(work, f"{tool}_cache")
            os.makedirs(cache, exist_ok=True)
            setup.prepare(tool, dest)
            before = _tree_bytes(cache)
            argv, cwd, env = setup.argv(tool, dest, cache)
            os.sync()  # the previous case's writes are not this one's to wait for
            dt, cpu, proc = timed(argv, cwd, env, what=f"round {r}: {case}")
            if tool in ("kiln", "floor") and actions_executed(proc, case) == 0:
                fail(f"round {r}: {case}: nothing was built")
            grown[case].append(_tree_bytes(cache) - before)
            setup.check(tool, dest, pins)
            samples[case][0].append(dt)
            samples[case][1].append(cpu)
        for tool in TOOLS:
            cold, warm = grown[f"{tool}_cold"][-1], grown[f"{tool}_warm"][-1]
            # pip's HTTP cache keeps only what the response headers allow: see the report's cache columns.
            if (tool != "pip" and cold < 5_000_000) or warm > cold / 10:
                fail(f"round {r}: {tool}'s cache grew by {cold} bytes cold and {warm} bytes warm: "
                     "expected the wheels' size, then no download")
    out = {case: {"wall": statistics.median(w), "cpu": statistics.median(c), "wall_runs": w, "cpu_runs": c,
                  "cache_growth_bytes": grown[case]} for case, (w, c) in samples.items()}
    return out, os.path.join(tmp, f"round{args.rounds - 1}", "kiln_cache")


def _noops(args, setup: Setup, cache: str, tmp: str) -> dict:
    obs = {key: os.path.join(tmp, f"noop_{key}") for key in setup.roots}
    build = ("build", "//:bin")
    for key, root in setup.roots.items():
        timed(setup.kiln(obs[key], *build, cache=cache), root, setup.env, what=f"no-op: first build, {key}")
    samples: dict = {key: ([], []) for key in setup.roots}
    for r in range(args.noop_rounds):
        for key in (("hub", "plain") if r % 2 == 0 else ("plain", "hub")):
            what = f"no-op {key}"
            dt, cpu, proc = timed(setup.kiln(obs[key], *build, cache=cache), setup.roots[key],
                                  setup.env, what=what)
            if actions_executed(proc, what) != 0:
                fail(f"{what}: actions were executed")
            samples[key][0].append(dt)
            samples[key][1].append(cpu)
    return {key: {"wall": statistics.median(w), "cpu": statistics.median(c), "wall_runs": w, "cpu_runs": c}
            for key, (w, c) in samples.items()}


def _mb(case: dict) -> str:
    return f"{statistics.median(case['cache_growth_bytes']) / 1e6:.1f}"


def _report(r: dict) -> str:
    s, n = r["setup"], r["noop"]
    lines = [f"Setup of a {r['pins']}-package hashed lock from the index (CPython {r['versions']['python']}, "
             f"pip {r['versions']['pip']}, uv {r['versions']['uv']}); {r['rounds']} rounds, medians, seconds",
             "", "| tool | cold wall | cold CPU | warm wall | warm CPU | cold / uv cold | warm / uv warm | "
             "warm / pip warm | cache added cold / warm MB |", "|---|---|---|---|---|---|---|---|---|"]
    for tool, label in (("kiln", "kiln build //:bin (fresh output base)"),
                        ("pip", "pip install --require-hashes -r"), ("uv", "uv pip install -r")):
        cold, warm = s[f"{tool}_cold"], s[f"{tool}_warm"]
        lines.append(f"| {label} | {cold['wall']:.2f} | {cold['cpu']:.2f} | {warm['wall']:.2f} | {warm['cpu']:.2f} | "
                     f"{cold['wall'] / s['uv_cold']['wall']:.2f} | {warm['wall'] / s['uv_warm']['wall']:.2f} | "
                     f"{warm['wall'] / s['pip_warm']['wall']:.2f} | {_mb(cold)} / {_mb(warm)} |")
    floor = s["floor"]
    lines += [f"| floor: kiln build //:bin without the hub (fresh output base) | | | {floor['wall']:.2f} | "
              f"{floor['cpu']:.2f} | | | | |", "",
              f"No-op `kiln build //:bin`, {len(n['hub']['wall_runs'])} rounds A/B interleaved, medians", "",
              "| workspace | wall | CPU |", "|---|---|---|",
              f"| with the hub ({r['pins']} packages) | {n['hub']['wall']:.3f} | {n['hub']['cpu']:.3f} |",
              f"| without it | {n['plain']['wall']:.3f} | {n['plain']['cpu']:.3f} |",
              f"| ratio (goal <= 1.10) | **{n['hub']['wall'] / n['plain']['wall']:.3f}** | "
              f"{n['hub']['cpu'] / n['plain']['cpu']:.3f} |"]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
