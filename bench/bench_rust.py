#!/usr/bin/env python3
"""The Rust benchmark: examples/word_count through kiln vs cargo vs maturin.

    .venv/bin/python bench/bench_rust.py [--runs 5] [--clean-runs 3]
                                         [--json PATH] [--keep] [--dir DIR]
                                         [--no-breakdown] [--no-test]

Copies examples/word_count into a temp dir three times and builds the same
crate, with the same Cargo.lock, three ways, timing each with
time.perf_counter around subprocess.run:

  kiln     a workspace `ws/` with MODULE.bazel like the repo's (crate.from_cargo
           on the copied Cargo.toml / Cargo.lock) and examples/word_count;
           `kiln --output_base=OB build -c opt
           //examples/word_count:word_count_rs`, a fresh OB per clean build.
  cargo    a copy of the crate (Cargo.toml, Cargo.lock, src/);
           `cargo build --release --locked --target-dir T`, a fresh T per clean
           build, in an environment holding only PATH, HOME, CARGO_HOME and
           PYO3_PYTHON (the venv's python).
  maturin  a copy of the crate plus word_count/ and a minimal pyproject.toml
           (module-name word_count._word_count, the module kiln builds);
           `maturin build --release -i PYTHON --target-dir T --out W`, same
           environment as cargo.

cargo and maturin are given the toolchain's own cargo and rustc (PATH =
`rustc --print sysroot`/bin first), the binaries kiln's actions run, so no
rustup proxy sits in front of one side only. All three share one CARGO_HOME,
warmed first by an untimed `cargo fetch --locked`, so no timing downloads.

Measured (medians): clean builds (run round-robin, the order rotated each
round, so load from other processes hits all three alike); no-op rebuilds
(kiln must say "0 actions executed", and one extra kiln no-op runs under
`strace -f -e trace=execve` to prove no cargo process starts); rebuilds after
appending a comment to src/lib.rs (checked from each cargo target directory's
.fingerprint/ and deps/ mtimes: only the word_count crate recompiled, no
dependency). The module each tool built must import and count words; `kiln
test -c opt //examples/word_count/...` runs once. With strace available, one
extra untimed kiln clean build runs under strace to split kiln's time into its
own work, `cargo update` (fitting the lock file) and `cargo rustc`.
Anything unexpected aborts with exit code 1.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from benchlib import (  # noqa: E402
    KILN, PYTHON, REPO, VENV_BIN, BenchError, actions_executed, describe_run, emit, fail, stats, timed,
)

MATURIN = os.path.join(VENV_BIN, "maturin")
EXAMPLE = os.path.join(REPO, "examples", "word_count")
PKG = "examples/word_count"
TARGET = f"//{PKG}:word_count_rs"

# Goals (seconds or ratios; issue 9: clean ≤ 1.05× cargo, one-file edit ≤ 1.1× cargo).
GOALS = {"clean_ratio_cargo": 1.05, "edit_ratio_cargo": 1.1, "noop": 0.3}


MODULE_BAZEL = """\
# Written by bench/bench_rust.py: the repo's MODULE.bazel, pointing at the copy.
module(name = "wcbench", version = "0.1.0")

bazel_dep(name = "rules_python", version = "1.5.0")
bazel_dep(name = "rules_rust", version = "0.61.0")
bazel_dep(name = "bazel_skylib", version = "1.7.1")

crate = use_extension("@rules_rust//crate_universe:extensions.bzl", "crate")
crate.from_cargo(
    name = "crate_index",
    cargo_lockfile = "//examples/word_count:Cargo.lock",
    manifests = ["//examples/word_count:Cargo.toml"],
)
use_repo(crate, "crate_index")
"""

PYPROJECT = """\
[build-system]
requires = ["maturin>=1.5,<2"]
build-backend = "maturin"

[project]
name = "word_count"
version = "0.1.0"
requires-python = ">=3.8"

[tool.maturin]
module-name = "word_count._word_count"
"""

IMPORT_CHECK = (
    "import word_count as w\n"
    "t = 'The quick brown fox. The lazy dog, the end!\\n' * 2000\n"
    "assert w.search(t, 'the') == w.search_sequential(t, 'the') == w.search_py(t, 'the') == 2000\n"
    "print(w._word_count.__file__)\n"
)


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def top_processes(n: int = 6) -> list[str]:
    """The busiest processes over one second (top's second frame): '%CPU command'."""
    try:
        out = subprocess.run(["top", "-b", "-n", "2", "-d", "1", "-w", "200"],
                             capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    frame = out.split("\ntop -")[-1].splitlines()
    head = next((i for i, ln in enumerate(frame) if ln.lstrip().startswith("PID")), None)
    if head is None:
        return []
    busy = []
    for ln in frame[head + 1:]:
        f = ln.split(None, 11)
        if len(f) == 12 and float(f[8].replace(",", ".")) >= 5.0:
            busy.append(f"{f[8]}% {f[11]}")
    return busy[:n]


# --- the three copies -------------------------------------------------------------------

def copy_crate(dst: str, parts: tuple[str, ...]) -> None:
    os.makedirs(dst, exist_ok=True)
    for name in parts:
        src = os.path.join(EXAMPLE, name)
        if os.path.isdir(src):
            shutil.copytree(src, os.path.join(dst, name),
                            ignore=shutil.ignore_patterns("__pycache__", "target"))
        else:
            shutil.copy2(src, os.path.join(dst, name))


def setup(tmp: str) -> dict[str, str]:
    ws = os.path.join(tmp, "ws")
    copy_crate(os.path.join(ws, PKG), ("BUILD.bazel", "Cargo.toml", "Cargo.lock", "src",
                                       "word_count", "tests"))
    with open(os.path.join(ws, "MODULE.bazel"), "w", encoding="utf-8") as f:
        f.write(MODULE_BAZEL)
    cargo = os.path.join(tmp, "cargo")
    copy_crate(cargo, ("Cargo.toml", "Cargo.lock", "src"))
    mat = os.path.join(tmp, "maturin")
    copy_crate(mat, ("Cargo.toml", "Cargo.lock", "src", "word_count"))
    with open(os.path.join(mat, "pyproject.toml"), "w", encoding="utf-8") as f:
        f.write(PYPROJECT)
    return {"kiln": ws, "cargo": cargo, "maturin": mat}


def toolchain() -> dict[str, str]:
    rustc = shutil.which("rustc") or os.path.expanduser("~/.cargo/bin/rustc")
    sysroot = subprocess.run([rustc, "--print", "sysroot"], capture_output=True, text=True,
                             check=True).stdout.strip()
    version = subprocess.run([rustc, "--version"], capture_output=True, text=True,
                             check=True).stdout.strip()
    cargo = os.path.join(sysroot, "bin", "cargo")
    if not os.access(cargo, os.X_OK):
        fail(f"no cargo in the toolchain's sysroot ({sysroot}/bin)")
    return {"sysroot": sysroot, "bin": os.path.join(sysroot, "bin"), "cargo": cargo,
            "rustc_version": version}


# --- checks -----------------------------------------------------------------------------

def snapshot(target_dir: str) -> dict[tuple[str, str], int]:
    """mtimes of release/.fingerprint/<unit>/* and release/deps/* (compiled outputs)."""
    snap: dict[tuple[str, str], int] = {}
    fp = os.path.join(target_dir, "release", ".fingerprint")
    for unit in os.listdir(fp):
        d = os.path.join(fp, unit)
        for name in os.listdir(d):
            snap[(unit, name)] = os.stat(os.path.join(d, name)).st_mtime_ns
    deps = os.path.join(target_dir, "release", "deps")
    for name in os.listdir(deps):
        if name.endswith((".rlib", ".rmeta", ".so")):
            snap[("deps", name)] = os.stat(os.path.join(deps, name)).st_mtime_ns
    return snap


def unit_package(unit: str) -> str:
    return unit.rsplit("-", 1)[0]


def recompiled(before: dict, after: dict) -> tuple[set[str], list[str]]:
    """(packages whose fingerprints changed, deps/ files that changed)."""
    changed = [k for k in after if before.get(k) != after[k]]
    packages = {unit_package(u) for u, _ in changed if u != "deps"}
    files = sorted(name for u, name in changed if u == "deps")
    return packages, files


def check_only_crate(before: dict, after: dict, package: str, crate_file: str, who: str) -> dict:
    packages, files = recompiled(before, after)
    if packages != {package}:
        fail(f"{who}: after editing src/lib.rs expected only package {package} to recompile; "
             f"fingerprints changed for {sorted(packages)}")
    others = [f for f in files if not f.startswith(crate_file)]
    if others:
        fail(f"{who}: after editing src/lib.rs, dependency outputs changed: {others}")
    return {"recompiled": sorted(packages), "deps_changed": files}


def action_seconds(output_base: str, suffix: str) -> float:
    """Seconds of the newest action whose output ends with `suffix`, from kiln's action cache."""
    newest = None
    ac = os.path.join(output_base, "ac")
    for sub in os.listdir(ac):
        for name in os.listdir(os.path.join(ac, sub)):
            path = os.path.join(ac, sub, name)
            mtime = os.stat(path).st_mtime_ns
            if newest is None or mtime > newest[0]:
                with open(path, encoding="utf-8") as f:
                    entry = json.load(f)
                if any(o[0].endswith(suffix) for o in entry["outputs"]):
                    newest = (mtime, entry["seconds"])
    if newest is None:
        fail(f"no action with an output ending in {suffix} in {ac}")
    return newest[1]


def units_built(target_dir: str) -> int:
    fp = os.path.join(target_dir, "release", ".fingerprint")
    return len(os.listdir(fp))


def ext_suffix() -> str:
    return subprocess.run([PYTHON, "-c", "import sysconfig; print(sysconfig.get_config_var('EXT_SUFFIX'))"],
                          capture_output=True, text=True, check=True).stdout.strip()


def import_check(tmp: str, who: str, so: str | None = None, wheel: str | None = None) -> str:
    d = os.path.join(tmp, "import", who)
    shutil.rmtree(d, ignore_errors=True)
    if wheel:
        with zipfile.ZipFile(wheel) as z:
            z.extractall(d)
    else:
        pkg = os.path.join(d, "word_count")
        os.makedirs(pkg)
        shutil.copy2(os.path.join(EXAMPLE, "word_count", "__init__.py"), pkg)
        shutil.copy2(so, os.path.join(pkg, "_word_count" + ext_suffix()))
    env = {"PATH": "/usr/bin:/bin", "HOME": os.path.expanduser("~"), "PYTHONPATH": d}
    _, _, proc = timed([PYTHON, "-c", IMPORT_CHECK], tmp, env=env, what=f"import check ({who})")
    where = proc.stdout.strip()
    if not where.startswith(d):
        fail(f"import check ({who}): imported {where}, not the module under {d}")
    return os.path.relpath(where, tmp)


# --- strace -----------------------------------------------------------------------------

_EXEC_RE = re.compile(r'^(\d+)\s+([\d.]+)\s+execve\("([^"]*)", \[(.*?)\]')
_EXIT_RE = re.compile(r"^(\d+)\s+([\d.]+)\s+\+\+\+ (?:exited with|killed by)")


def parse_strace(path: str) -> tuple[list[dict], dict[int, float]]:
    execs, exits = [], {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = _EXEC_RE.match(line)
            if m and " = 0" in line[m.end():] or (m and "<unfinished" in line):
                execs.append({"pid": int(m.group(1)), "t": float(m.group(2)), "path": m.group(3),
                              "args": m.group(4)})
                continue
            m = _EXIT_RE.match(line)
            if m:
                exits[int(m.group(1))] = float(m.group(2))
    return execs, exits


def strace_argv(out: str) -> list[str]:
    return ["strace", "-f", "-q", "-ttt", "-s", "512", "--seccomp-bpf", "-e", "trace=execve", "-e",
            "signal=none", "-o", out]


def cargo_execs(execs: list[dict]) -> list[dict]:
    return [e for e in execs if os.path.basename(e["path"]) == "cargo"]


def breakdown(execs: list[dict], exits: dict[int, float]) -> dict:
    """Split a kiln clean build: kiln's own work, cargo update, cargo rustc, the rest."""
    t0 = execs[0]["t"]
    end = exits.get(execs[0]["pid"], max(exits.values()))
    tool = next((e for e in execs if "kiln.tools.cargo_build" in e["args"]), None)
    cargos = cargo_execs(execs)
    upd = next((e for e in cargos if '"update"' in e["args"]), None)
    rc = next((e for e in cargos if '"rustc"' in e["args"]), None)
    rustc_units = [e for e in execs if os.path.basename(e["path"]) == "rustc" and "--crate-name" in e["args"]]
    out = {"total": end - t0, "execs": len(execs), "rustc_compiles": len(rustc_units),
           "cargo_processes": len(cargos)}
    if tool:
        out["kiln_before_action"] = tool["t"] - t0
        tool_end = exits.get(tool["pid"], end)
        out["action"] = tool_end - tool["t"]
        out["kiln_after_action"] = end - tool_end
        first_cargo = cargos[0]["t"] if cargos else tool_end
        out["tool_before_cargo"] = first_cargo - tool["t"]
    if upd:
        out["cargo_update"] = exits.get(upd["pid"], end) - upd["t"]
    if rc:
        rc_end = exits.get(rc["pid"], end)
        out["cargo_rustc"] = rc_end - rc["t"]
        if tool:
            out["tool_after_cargo"] = exits.get(tool["pid"], end) - rc_end
    return out


# --- the benchmark ----------------------------------------------------------------------

def run_bench(runs: int, clean_runs: int, keep: bool, breakdown_run: bool, do_test: bool,
              parent: str | None, log=print) -> dict:
    for exe in (KILN, PYTHON, MATURIN):
        if not os.access(exe, os.X_OK):
            fail(f"{exe} not found (maturin: .venv/bin/pip install -e '.[bench]')")
    tc = toolchain()
    have_strace = shutil.which("strace") is not None
    tmp = tempfile.mkdtemp(prefix="kiln-bench-rust-", dir=parent)
    dirs = setup(tmp)
    home = os.path.expanduser("~")
    cargo_home = os.environ.get("CARGO_HOME") or os.path.join(home, ".cargo")
    env_tool = {"PATH": f"{tc['bin']}:/usr/bin:/bin", "HOME": home, "CARGO_HOME": cargo_home,
                "PYO3_PYTHON": PYTHON}
    env_kiln = dict(os.environ, CARGO_HOME=cargo_home)
    r: dict = {"runs": runs, "clean_runs": clean_runs, "tmp": tmp, "toolchain": tc,
               "cargo_home": cargo_home, "load": {"start": load()},
               "top_processes_start": top_processes()}
    ob_of = lambda k: os.path.join(tmp, f"output_base-{k}")           # noqa: E731
    tgt_of = lambda who, k: os.path.join(tmp, f"{who}-target-{k}")    # noqa: E731

    def kiln(k, *args):
        return [KILN, f"--output_base={ob_of(k)}", *args]

    def cargo_build(k):
        return [tc["cargo"], "build", "--release", "--locked", "--target-dir", tgt_of("cargo", k)]

    def maturin_build(k):
        return [MATURIN, "build", "--release", "-i", PYTHON, "--target-dir", tgt_of("maturin", k),
                "--out", os.path.join(tmp, f"wheels-{k}")]

    try:
        log(f"workspace copies in {tmp}; {tc['rustc_version']}; load {r['load']['start']}")
        log("processes using >= 5% CPU: " + ("; ".join(r["top_processes_start"]) or "none"))
        # Warm the registry cache (untimed) so no measurement downloads anything.
        dt, _, _ = timed([tc["cargo"], "fetch", "--locked"], dirs["cargo"], env=env_tool,
                         what="cargo fetch")
        log(f"cargo fetch (untimed warm-up): {dt:.2f} s")
        timed(kiln("warm", "version"), dirs["kiln"], env=env_kiln)   # warm kiln's imports
        shutil.rmtree(ob_of("warm"), ignore_errors=True)

        # Clean builds: round-robin, order rotated each round.
        tools = ["kiln", "cargo", "maturin"]
        clean = {t: [] for t in tools}
        clean_cpu = {t: [] for t in tools}
        kiln_actions, kiln_action_s = [], []
        so_suffix = "_word_count" + ext_suffix()
        for k in range(clean_runs):
            order = tools[k % 3:] + tools[:k % 3]
            for who in order:
                if who == "kiln":
                    dt, cpu, proc = timed(kiln(k, "build", "-c", "opt", TARGET), dirs["kiln"],
                                          env=env_kiln, what="kiln clean build")
                    a = actions_executed(proc, "kiln clean build")
                    if a == 0:
                        fail("kiln clean build in a fresh output base executed 0 actions")
                    kiln_actions.append(a)
                    kiln_action_s.append(action_seconds(ob_of(k), so_suffix))
                elif who == "cargo":
                    dt, cpu, _ = timed(cargo_build(k), dirs["cargo"], env=env_tool,
                                       what="cargo clean build")
                else:
                    dt, cpu, _ = timed(maturin_build(k), dirs["maturin"], env=env_tool,
                                       what="maturin clean build")
                clean[who].append(dt)
                clean_cpu[who].append(cpu)
                note = f" (CargoBuild action {kiln_action_s[-1]:.2f} s)" if who == "kiln" else ""
                log(f"clean build #{k + 1} {who}: {dt:.2f} s{note} (CPU {cpu:.1f} s), "
                    f"load {load()[0]}")
            if k + 1 < clean_runs:   # keep only the last round's outputs
                shutil.rmtree(ob_of(k), ignore_errors=True)
                shutil.rmtree(tgt_of("cargo", k), ignore_errors=True)
                shutil.rmtree(tgt_of("maturin", k), ignore_errors=True)
                shutil.rmtree(os.path.join(tmp, f"wheels-{k}"), ignore_errors=True)
        last = clean_runs - 1
        for who in tools:
            r[f"clean_{who}"] = stats(clean[who], clean_cpu[who])
        r["clean_kiln"]["actions"] = kiln_actions
        r["clean_kiln_action"] = stats(kiln_action_s)
        # Same-round ratios: less sensitive to load that changes between rounds.
        r["clean_ratio_rounds"] = {
            "cargo": [round(k / c, 3) for k, c in zip(clean["kiln"], clean["cargo"])],
            "maturin": [round(k / c, 3) for k, c in zip(clean["kiln"], clean["maturin"])]}
        r["clean_kiln_outside_action"] = stats([w - a for w, a in zip(clean["kiln"], kiln_action_s)])
        r["load"]["after_clean"] = load()
        kiln_target = os.path.join(ob_of(last), "caches", "cargo", "target")
        r["units"] = {"kiln": units_built(kiln_target),
                      "cargo": units_built(tgt_of("cargo", last)),
                      "maturin": units_built(tgt_of("maturin", last))}
        log(f"compile units (.fingerprint dirs): {r['units']}")

        # No-op rebuilds. The first kiln build after a clean one is reported apart.
        dt, _, proc = timed(kiln(last, "build", "-c", "opt", TARGET), dirs["kiln"], env=env_kiln,
                            what="first kiln no-op")
        if actions_executed(proc, "first kiln no-op") != 0:
            fail(f"first kiln no-op build executed actions:\n{proc.stderr[-2000:]}")
        r["noop_first_kiln"] = stats([dt])
        log(f"first kiln no-op after the clean build: {dt:.3f} s")
        noop = {t: [] for t in tools}
        for _ in range(runs):
            dt, _, proc = timed(kiln(last, "build", "-c", "opt", TARGET), dirs["kiln"],
                                env=env_kiln, what="kiln no-op")
            if actions_executed(proc, "kiln no-op") != 0:
                fail(f"kiln no-op build executed actions:\n{proc.stderr[-2000:]}")
            noop["kiln"].append(dt)
            dt, _, _ = timed(cargo_build(last), dirs["cargo"], env=env_tool, what="cargo no-op")
            noop["cargo"].append(dt)
            dt, _, _ = timed(maturin_build(last), dirs["maturin"], env=env_tool,
                             what="maturin no-op")
            noop["maturin"].append(dt)
        for who in tools:
            r[f"noop_{who}"] = stats(noop[who])
        log("no-op: " + ", ".join(f"{w} {statistics.median(noop[w]):.3f} s" for w in tools))
        if have_strace:
            trace = os.path.join(tmp, "noop.strace")
            _, _, proc = timed(strace_argv(trace) + kiln(last, "build", "-c", "opt", TARGET),
                               dirs["kiln"], env=env_kiln, what="kiln no-op under strace")
            if actions_executed(proc, "kiln no-op under strace") != 0:
                fail("kiln no-op under strace executed actions")
            execs, _ = parse_strace(trace)
            if not execs:
                fail(f"strace recorded no execve in {trace}")
            started = cargo_execs(execs)
            if started:
                fail(f"kiln no-op started cargo: {[e['path'] for e in started]}")
            r["noop_strace"] = {"execve": len(execs), "cargo_execve": 0,
                                "programs": sorted({os.path.basename(e["path"]) for e in execs})}
            log(f"kiln no-op under strace: {len(execs)} execve "
                f"({r['noop_strace']['programs']}), none of cargo")
        else:
            r["noop_strace"] = None
            log("strace not found: the no-cargo check is skipped (apt-get install -y strace)")

        # Edit src/lib.rs (a comment) and rebuild; check only the crate recompiled.
        edit = {t: [] for t in tools}
        edit_cpu = {t: [] for t in tools}
        checks = {}
        edit_action_s = []
        targets = {"kiln": kiln_target, "cargo": tgt_of("cargo", last),
                   "maturin": tgt_of("maturin", last)}
        lib_rs = {"kiln": os.path.join(dirs["kiln"], PKG, "src", "lib.rs"),
                  "cargo": os.path.join(dirs["cargo"], "src", "lib.rs"),
                  "maturin": os.path.join(dirs["maturin"], "src", "lib.rs")}
        for k in range(runs):
            order = tools[k % 3:] + tools[:k % 3]
            for who in order:
                before = snapshot(targets[who])
                with open(lib_rs[who], "a", encoding="utf-8") as f:
                    f.write(f"// bench edit {k}\n")
                if who == "kiln":
                    dt, cpu, proc = timed(kiln(last, "build", "-c", "opt", TARGET), dirs["kiln"],
                                          env=env_kiln, what="kiln edit build")
                    if actions_executed(proc, "kiln edit build") < 1:
                        fail("kiln edit build executed no action after src/lib.rs changed")
                    edit_action_s.append(action_seconds(ob_of(last), so_suffix))
                    checks[who] = check_only_crate(before, snapshot(targets[who]),
                                                   "k_examples_word_count_word_count_rs",
                                                   "libword_count_rs", "kiln")
                elif who == "cargo":
                    dt, cpu, _ = timed(cargo_build(last), dirs["cargo"], env=env_tool,
                                       what="cargo edit build")
                    checks[who] = check_only_crate(before, snapshot(targets[who]), "word_count",
                                                   "libword_count", "cargo")
                else:
                    dt, cpu, _ = timed(maturin_build(last), dirs["maturin"], env=env_tool,
                                       what="maturin edit build")
                    checks[who] = check_only_crate(before, snapshot(targets[who]), "word_count",
                                                   "libword_count", "maturin")
                edit[who].append(dt)
                edit_cpu[who].append(cpu)
        for who in tools:
            r[f"edit_{who}"] = stats(edit[who], edit_cpu[who]) | {"check": checks[who]}
        log("edit src/lib.rs: " + ", ".join(f"{w} {statistics.median(edit[w]):.3f} s" for w in tools)
            + f"; recompiled only {checks['kiln']['recompiled']} (kiln), "
              f"{checks['cargo']['recompiled']} (cargo)")
        r["edit_kiln_action"] = stats(edit_action_s)
        r["edit_kiln_outside_action"] = stats([w - a for w, a in zip(edit["kiln"], edit_action_s)])
        r["load"]["after_edit"] = load()
        if have_strace:      # one more edit, traced: which processes an edit build starts
            trace = os.path.join(tmp, "edit.strace")
            with open(lib_rs["kiln"], "a", encoding="utf-8") as f:
                f.write("// bench edit (traced)\n")
            dt, _, _ = timed(strace_argv(trace) + kiln(last, "build", "-c", "opt", TARGET),
                             dirs["kiln"], env=env_kiln, what="kiln edit build under strace")
            execs, exits = parse_strace(trace)
            r["edit_kiln_breakdown"] = breakdown(execs, exits) | {"wall": dt}
            log(f"edit kiln build under strace: {json.dumps(r['edit_kiln_breakdown'])}")

        # The modules work.
        so = os.path.join(dirs["kiln"], "kiln-bin", PKG, "word_count", "_word_count" + ext_suffix())
        wheels = os.listdir(os.path.join(tmp, f"wheels-{last}"))
        r["imports"] = {
            "kiln": import_check(tmp, "kiln", so=so),
            "cargo": import_check(tmp, "cargo", so=os.path.join(tgt_of("cargo", last), "release",
                                                                 "libword_count.so")),
            "maturin": import_check(tmp, "maturin", wheel=os.path.join(tmp, f"wheels-{last}",
                                                                        wheels[0])),
        }
        log(f"imports: {r['imports']}")
        if do_test:
            dt, _, proc = timed(kiln(last, "test", "-c", "opt", f"//{PKG}/..."), dirs["kiln"],
                                env=env_kiln, what="kiln test")
            tail = (proc.stdout + proc.stderr).strip().splitlines()
            r["kiln_test"] = {"seconds": dt, "summary": [ln for ln in tail if "PASSED" in ln
                                                         or "test" in ln.lower()][-3:]}
            log(f"kiln test -c opt //{PKG}/...: {dt:.2f} s: {r['kiln_test']['summary']}")

        # Where a clean kiln build spends its time (one extra, untimed-for-the-table run).
        if breakdown_run and have_strace:
            trace = os.path.join(tmp, "clean.strace")
            ob = ob_of("strace")
            dt, _, _ = timed(strace_argv(trace) + [KILN, f"--output_base={ob}", "build", "-c", "opt",
                                                   TARGET], dirs["kiln"], env=env_kiln,
                             what="kiln clean build under strace")
            execs, exits = parse_strace(trace)
            r["clean_kiln_breakdown"] = breakdown(execs, exits) | {"wall": dt}
            log(f"clean kiln build under strace: {json.dumps(r['clean_kiln_breakdown'])}")
            shutil.rmtree(ob, ignore_errors=True)
        r["load"]["end"] = load()
        r["top_processes_end"] = top_processes()
    finally:
        if keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return r


def table(r: dict) -> str:
    def m(key: str) -> float:
        return r[key]["median"]

    def cell(key: str) -> str:
        s = r[key]
        return f"{s['median']:.3f} ({s['min']:.2f}–{s['max']:.2f})"

    def cpu(key: str) -> str:
        return f"{r[key]['cpu_median']:.1f}" if "cpu_median" in r[key] else ""

    rows = [
        ("clean build", "clean", True),
        ("no-op rebuild", "noop", False),
        ("`src/lib.rs` edited (comment)", "edit", True),
    ]
    # kiln split from its action cache: the CargoBuild action (tool + cargo) and the rest.
    parts = [
        ("clean: kiln's CargoBuild action alone", "clean_kiln_action", "clean_cargo", "clean_maturin"),
        ("clean: kiln outside the action", "clean_kiln_outside_action", None, None),
        ("edit: kiln's CargoBuild action alone", "edit_kiln_action", "edit_cargo", "edit_maturin"),
        ("edit: kiln outside the action", "edit_kiln_outside_action", None, None),
    ]
    lines = [
        f"Medians of {r['clean_runs']} clean builds and {r['runs']} no-op / edit runs; wall seconds "
        f"(min–max); CPU = user+sys seconds of the process tree (median).",
        "",
        "| measurement | kiln s | cargo s | maturin s | kiln / cargo | kiln / maturin "
        "| CPU kiln / cargo / maturin |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, key, with_cpu in rows:
        k, c, mt = m(f"{key}_kiln"), m(f"{key}_cargo"), m(f"{key}_maturin")
        cpus = (f"{cpu(f'{key}_kiln')} / {cpu(f'{key}_cargo')} / {cpu(f'{key}_maturin')}"
                if with_cpu else "")
        lines.append(f"| {name} | {cell(f'{key}_kiln')} | {cell(f'{key}_cargo')} | "
                     f"{cell(f'{key}_maturin')} | {k / c:.2f}× | {k / mt:.2f}× | {cpus} |")
    for name, key, vs_cargo, vs_maturin in parts:
        rc = f"{m(key) / m(vs_cargo):.2f}×" if vs_cargo else ""
        rm = f"{m(key) / m(vs_maturin):.2f}×" if vs_maturin else ""
        lines.append(f"| {name} | {cell(key)} | | | {rc} | {rm} | |")
    if "noop_first_kiln" in r:
        lines.append(f"| first kiln no-op after the clean build (1 run) | "
                     f"{m('noop_first_kiln'):.3f} | | | | | |")
    ratio = m("clean_kiln") / m("clean_cargo")
    rounds = r["clean_ratio_rounds"]
    lines.append("")
    lines.append(f"Clean kiln/cargo per round: {rounds['cargo']} (median "
                 f"{statistics.median(rounds['cargo']):.2f}×); kiln/maturin per round: "
                 f"{rounds['maturin']} (median {statistics.median(rounds['maturin']):.2f}×).")
    noop = m("noop_kiln")
    edit = m("edit_kiln") / m("edit_cargo")
    verdict = [
        f"clean kiln/cargo {ratio:.2f}× {'meets' if ratio <= GOALS['clean_ratio_cargo'] else 'MISSES'} "
        f"≤ {GOALS['clean_ratio_cargo']}×",
        f"edit kiln/cargo {edit:.2f}× {'meets' if edit <= GOALS['edit_ratio_cargo'] else 'MISSES'} "
        f"≤ {GOALS['edit_ratio_cargo']}×",
        f"no-op {noop:.3f} s {'meets' if noop <= GOALS['noop'] else 'MISSES'} ≤ {GOALS['noop']} s",
    ]
    if r.get("noop_strace"):
        verdict.append(f"no-op starts no cargo (strace: {r['noop_strace']['execve']} execve, "
                       f"{', '.join(r['noop_strace']['programs'])})")
    lines.append("Goals: " + "; ".join(verdict) + ".")
    lines.append(f"Edit rebuilds recompiled only: kiln {r['edit_kiln']['check']['recompiled']}, "
                 f"cargo {r['edit_cargo']['check']['recompiled']}, "
                 f"maturin {r['edit_maturin']['check']['recompiled']} (no dependency output changed).")
    lines.append(f"Compile units per clean build (.fingerprint dirs): {r['units']}.")
    for what in ("clean", "edit"):
        b = r.get(f"{what}_kiln_breakdown")
        if b:
            steps = [f"{k} {b[k]:.2f} s" for k in ("kiln_before_action", "tool_before_cargo",
                                                   "cargo_update", "cargo_rustc", "tool_after_cargo",
                                                   "kiln_after_action", "total") if k in b]
            lines.append(f"{what.capitalize()} kiln build under strace (1 extra run; strace slows "
                         f"it): {'; '.join(steps)}; {b['rustc_compiles']} rustc compiles, "
                         f"{b['cargo_processes']} cargo process(es).")
    lines.append(f"Load average (1, 5, 15 min): start {r['load']['start']}, after clean builds "
                 f"{r['load']['after_clean']}, end {r['load']['end']}.")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5, help="no-op and edit runs per median (5)")
    ap.add_argument("--clean-runs", type=int, default=3, help="clean builds per tool (3)")
    ap.add_argument("--json", metavar="PATH", help="write the results as JSON here ('-': stdout)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    ap.add_argument("--dir", metavar="DIR", help="make the temp dir under DIR")
    ap.add_argument("--no-breakdown", action="store_true",
                    help="skip the extra clean kiln build under strace")
    ap.add_argument("--no-test", action="store_true", help="skip `kiln test -c opt //examples/word_count/...`")
    args = ap.parse_args(argv)
    if args.runs < 1 or args.clean_runs < 1:
        ap.error("need --runs >= 1, --clean-runs >= 1")
    log = (lambda *a: print(*a, file=sys.stderr, flush=True)) if args.json == "-" else \
        (lambda *a: print(*a, flush=True))
    started = time.time()
    try:
        r = run_bench(args.runs, args.clean_runs, args.keep, not args.no_breakdown, not args.no_test,
                      args.dir, log)
    except BenchError as e:
        print(f"bench_rust: FAILED: {e}", file=sys.stderr)
        return 1
    r["seconds_total"] = time.time() - started
    describe_run(r, args.dir)
    r["goals"] = GOALS
    emit(r, table(r), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
