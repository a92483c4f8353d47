#!/usr/bin/env python3
"""Configurations benchmark (issue 7): the old figures A/B, re-analysis at scale, exec tools' analysis cost.

    .venv/bin/python bench/bench_config.py --base-kiln OTHER/.venv/bin/kiln
        [--kiln .venv/bin/kiln] [--parts a,b,c] [--rounds 7] [--rounds-scale 5]
        [--sizes 100,1000,10000] [--n 1000] [--dir DIR] [--json PATH]

Every figure is one kiln process started by this script: wall seconds and CPU
seconds (user+sys of kiln and every process it waited for, from os.wait4 on
that child), medians over the rounds. Where two kilns are compared they run
interleaved (A first in even rounds, B first in odd ones), each with its own
output base and its own copy of the workspace (generated alike: a workspace
shared by two output bases would have its `kiln-*` links re-pointed at every
switch, which invalidates the saved plan of `//...`), and the ratio is B/A (> 1: B is slower).
A is --base-kiln (the reference, e.g. a worktree at the commit before the
change), B is --kiln (default: this checkout's). Both accept a command line
(e.g. "env PYTHONPATH=/old/src .venv/bin/python -m kiln"), but start both
the same way: the same code measured ~5 % more CPU for a 10,000-package
re-analysis as `python -m kiln` than as a venv's `kiln` entry point, so the
fair A/B is two worktrees, each with its own `scripts/setup.sh`.

(a) The N=1000 workspace of FACTS §9 (bench/gen_workspace.py), A/B, after an
    untimed clean build and first no-op of //top:bin per kiln:
      noop          `build //top:bin` with nothing changed (checked: 0 actions)
      edit          the same after appending a comment to pkg0000/c.py (as
                    bench_ab.py; no action reads a py_library source's
                    content, so kiln re-digests the file and runs nothing)
      query         `query //...` with the saved answer removed (checked: N+1
                    labels, the same for A and B)
      query_saved   `query //...` again, answered from the saved result
    Verdict per row: B's CPU median within 10 % of A's or not (CPU is the
    steadier figure on a shared machine; wall is printed beside it).

(b) Full re-analysis at each of --sizes packages (same generator, `build
    //...`, every package a target). kiln has no `--nobuild`; the honest way to
    make it load every BUILD file and analyse every target again without running
    an action is to remove the saved plan (<output_base>/plans): the action
    cache and outputs stay, so the build executes 0 actions (checked) and does
    what the first build after a change to a .bzl loaded everywhere does, minus
    nothing (kiln keeps no loaded-package cache besides the plan). `kiln clean`
    would not do: it removes the outputs, so actions would run. A/B when a base
    is given, interleaved; then the same with the plan kept (the no-op: what
    the re-analysis build spends on checking 4N+2 actions are up to date), and
    for B `cquery 'deps(//...)'` (loading + analysis only, nothing checked or
    run; skipped for a kiln without cquery). Per package: CPU ms / N at each
    size, and the slope between consecutive sizes ((T2 - T1) / (N2 - N1), which
    leaves out the start-up): linear when the slopes agree.

(c) Analysis per configured target: N packages, each a py_binary `tool` and a
    genrule `gen` whose `tools` is that py_binary (built in the exec
    configuration), against the same packages with a genrule that has no tool
    (`cat`). B only, the two workspaces alternating round by round, after an
    untimed clean build of each:
      query         `query 'deps(//...)'`, no saved answer: loading alone
      cquery        `cquery 'deps(//...)'`: loading + analysis; its output
                    counts the configured targets (rule targets in their
                    configurations, the workspace's checked: 3N with the
                    tool, 2N without; toolchain targets such as the Python
                    runtime's counted too; source files as (null))
      re-analysis   `build //...` with the plan removed (0 actions)
      no-op         `build //...` again
    Analysis CPU per configured rule target = (cquery - query) CPU / rule
    targets; the marginal cost of one exec-configured py_binary = the cquery
    CPU difference of the two workspaces / the difference in configured
    targets (the packages are the same, so loading cancels out).

Any unexpected result (exit code, actions executed, query size) aborts: no
figure is printed from a run that did not do what it claims. The markdown
tables at the end are ready to paste into bench/RESULTS.md.
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
from benchlib import (  # noqa: E402
    KILN, BenchError, check_actions, describe_run, emit, fail, run_child, summary,
)

LIMIT = 1.10  # the bound: no figure more than 10 % worse


def log(*a) -> None:
    print(*a, file=sys.stderr, flush=True)


def order(r: int, kilns: dict) -> list[str]:
    """Interleaving: A first in even rounds, B first in odd ones."""
    names = list(kilns)
    return names if r % 2 == 0 else names[::-1]


def prepare(kiln: list[str], ob: str, ws: str, targets: list[str], what: str) -> None:
    """Untimed clean build and first no-op (which saves the plan)."""
    check_actions(run_child([*kiln, f"--output_base={ob}", "build", *targets], ws, f"{what} clean build"),
                  f"{what} clean build", executed=True)
    check_actions(run_child([*kiln, f"--output_base={ob}", "build", *targets], ws, f"{what} first no-op"),
                  f"{what} first no-op", executed=False)


def workspaces(tmp: str, kilns: dict, generate) -> tuple[dict, dict]:
    """A workspace (generated alike) and an output base per kiln. Not one shared workspace: each build
    points the `kiln-*` links at its own output base, and a listing of the workspace root that saw the
    other kiln's links no longer matches, so every switch between kilns would re-analyse `//...`."""
    wss = {k: os.path.join(tmp, f"ws-{k}") for k in kilns}
    for ws in wss.values():
        generate(ws)
    return wss, {k: os.path.join(tmp, f"ob-{k}") for k in kilns}


# ---- (a) the N=1000 workspace of FACTS §9 ----------------------------------

def part_a(kilns: dict, n: int, rounds: int, parent: str | None) -> dict:
    tmp = tempfile.mkdtemp(prefix="kiln-config-a-", dir=parent)
    try:
        wss, obs = workspaces(tmp, kilns, lambda ws: gen_workspace.generate(n, ws))
        for k, kiln in kilns.items():
            prepare(kiln, obs[k], wss[k], ["//top:bin"], f"(a) {k}")
        runs: dict = {(k, m): [] for k in kilns for m in ("noop", "edit", "query", "query_saved")}
        for r in range(rounds):
            for k in order(r, kilns):
                run = run_child([*kilns[k], f"--output_base={obs[k]}", "build", "//top:bin"], wss[k],
                                f"(a) {k} no-op")
                check_actions(run, f"(a) {k} no-op", executed=False)
                runs[(k, "noop")].append(run)
            for ws in wss.values():
                with open(os.path.join(ws, "pkg0000", "c.py"), "a", encoding="utf-8") as f:
                    f.write(f"# edit {r}\n")
            for k in order(r, kilns):
                run = run_child([*kilns[k], f"--output_base={obs[k]}", "build", "//top:bin"], wss[k], f"(a) {k} edit")
                runs[(k, "edit")].append(run)
            answers = {}
            for k in order(r, kilns):
                shutil.rmtree(os.path.join(obs[k], "queries"), ignore_errors=True)
                for m in ("query", "query_saved"):
                    run = run_child([*kilns[k], f"--output_base={obs[k]}", "query", "//..."], wss[k],
                                    f"(a) {k} {m}")
                    labels = sorted(ln for ln in run.stdout.splitlines() if ln.strip())
                    if len(labels) != n + 1:
                        fail(f"(a) {k} {m}: {len(labels)} labels, expected {n + 1}")
                    answers[(k, m)] = labels
                    runs[(k, m)].append(run)
            if len({tuple(v) for v in answers.values()}) != 1:
                fail("(a) the kilns' `query //...` answers differ")
            log(f"(a) round {r + 1}/{rounds} done")
        return {m: {k: summary(runs[(k, m)]) for k in kilns} for m in ("noop", "edit", "query", "query_saved")}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


A_LABELS = {
    "noop": "no-op `build //top:bin`",
    "edit": "one-leaf edit, `build //top:bin`",
    "query": "`query //...`, no saved answer",
    "query_saved": "`query //...`, saved answer",
}


def table_a(res: dict, n: int, rounds: int) -> str:
    lines = [f"(a) N={n:,} (FACTS §9 workspace), {rounds} interleaved rounds; wall s / CPU s, medians.", "",
             "| measurement | A (base) | B | B/A wall | B/A CPU | within 10 % (CPU) |", "|---|---|---|---|---|---|"]
    for m, label in A_LABELS.items():
        a, b = res[m]["A"], res[m]["B"]
        rw, rc = b["median"] / a["median"], b["cpu_median"] / a["cpu_median"]
        verdict = "yes" if rc <= LIMIT else f"**no: {100 * (rc - 1):+.0f} %**"
        lines.append(f"| {label} | {a['median']:.3f} / {a['cpu_median']:.3f} | {b['median']:.3f} / "
                     f"{b['cpu_median']:.3f} | {rw:.2f}x | {rc:.2f}x | {verdict} |")
    return "\n".join(lines)


# ---- (b) full re-analysis at scale -------------------------------------------

def has_cquery(kiln: list[str], ws: str, ob: str) -> bool:
    run = run_child([*kiln, f"--output_base={ob}", "help"], ws, "help")
    return "cquery" in run.stdout + run.stderr


def part_b(kilns: dict, sizes: list[int], rounds: int, parent: str | None) -> dict:
    out = {}
    for n in sizes:
        tmp = tempfile.mkdtemp(prefix=f"kiln-config-b{n}-", dir=parent)
        try:
            t0 = time.perf_counter()
            wss, obs = workspaces(tmp, kilns, lambda ws: gen_workspace.generate(n, ws))
            log(f"(b) N={n}: generated in {time.perf_counter() - t0:.1f} s")
            for k, kiln in kilns.items():
                prepare(kiln, obs[k], wss[k], ["//..."], f"(b) N={n} {k}")
            cquery = has_cquery(kilns["B"], wss["B"], obs["B"])
            runs: dict = {key: [] for key in [(k, m) for k in kilns for m in ("reanalysis", "noop")]
                          + ([("B", "cquery")] if cquery else [])}
            for r in range(rounds):
                for k in order(r, kilns):
                    argv = [*kilns[k], f"--output_base={obs[k]}", "build", "//..."]
                    shutil.rmtree(os.path.join(obs[k], "plans"))
                    run = run_child(argv, wss[k], f"(b) N={n} {k} re-analysis")
                    check_actions(run, f"(b) N={n} {k} re-analysis", executed=False)
                    runs[(k, "reanalysis")].append(run)
                    run = run_child(argv, wss[k], f"(b) N={n} {k} no-op")
                    check_actions(run, f"(b) N={n} {k} no-op", executed=False)
                    runs[(k, "noop")].append(run)
                if cquery:
                    run = run_child([*kilns["B"], f"--output_base={obs['B']}", "cquery", "deps(//...)"], wss["B"],
                                    f"(b) N={n} cquery")
                    # The workspace's own targets; toolchain targets (@...) come on top once rules use them.
                    got = sum(1 for ln in run.stdout.splitlines() if ln.startswith("//"))
                    if got != 4 * n + 2:
                        fail(f"(b) N={n} cquery deps(//...): {got} configured targets of the workspace, "
                             f"expected {4 * n + 2}")
                    runs[("B", "cquery")].append(run)
                log(f"(b) N={n}: round {r + 1}/{rounds} done")
            out[n] = {f"{k}.{m}": summary(v) for (k, m), v in runs.items()}
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def table_b(res: dict, kilns: dict, rounds: int) -> str:
    base = "A" in kilns
    head = "| N | " + ("re-analysis A | " if base else "") + "re-analysis B | " + \
        ("B/A wall | B/A CPU | " if base else "") + \
        ("no-op A | " if base else "") + "no-op B | " + ("no-op B/A CPU | " if base else "") + \
        "B: re-analysis CPU / package | B: `cquery 'deps(//...)'` | B: cquery CPU / package |"
    lines = [f"(b) Full re-analysis of `build //...` (saved plan removed, 0 actions); {rounds} rounds"
             + (", A/B interleaved" if base else "") + "; wall s / CPU s, medians; RSS = peak MiB.", "",
             head, "|---" * head.count(" | ") + "|---|"]
    for n, s in res.items():
        cells = [f"{n:,}"]
        b = s["B.reanalysis"]
        if base:
            a = s["A.reanalysis"]
            cells.append(f"{a['median']:.2f} / {a['cpu_median']:.2f} ({a['rss_mib_max']:.0f})")
        cells.append(f"{b['median']:.2f} / {b['cpu_median']:.2f} ({b['rss_mib_max']:.0f})")
        if base:
            cells += [f"{b['median'] / a['median']:.2f}x", f"{b['cpu_median'] / a['cpu_median']:.2f}x",
                      f"{s['A.noop']['median']:.3f} / {s['A.noop']['cpu_median']:.3f}"]
        cells.append(f"{s['B.noop']['median']:.3f} / {s['B.noop']['cpu_median']:.3f}")
        if base:
            cells.append(f"{s['B.noop']['cpu_median'] / s['A.noop']['cpu_median']:.2f}x")
        cells.append(f"{1000 * b['cpu_median'] / n:.3f} ms")
        c = s.get("B.cquery")
        cells += ([f"{c['median']:.2f} / {c['cpu_median']:.2f} ({c['rss_mib_max']:.0f})",
                   f"{1000 * c['cpu_median'] / n:.3f} ms"] if c else ["—", "—"])
        lines.append("| " + " | ".join(cells) + " |")
    sizes = sorted(res)
    if len(sizes) > 1:
        # T(N) = start-up + N * per-package if linear: the slopes between sizes agree.
        lines += ["", "Marginal CPU per package between sizes (ms; equal slopes = linear):"]
        for key, name in (("B.reanalysis", "re-analysis B"), ("A.reanalysis", "re-analysis A"),
                          ("B.cquery", "cquery B")):
            if not all(key in res[n] for n in sizes):
                continue
            slopes = [1000 * (res[hi][key]["cpu_median"] - res[lo][key]["cpu_median"]) / (hi - lo)
                      for lo, hi in zip(sizes, sizes[1:])]
            steps = ", ".join(f"{lo:,}→{hi:,}: {sl:.3f}" for (lo, hi), sl in zip(zip(sizes, sizes[1:]), slopes))
            ratio = f" (last / first slope {slopes[-1] / slopes[0]:.2f})" if len(slopes) > 1 and slopes[0] > 0 else ""
            lines.append(f"- {name}: {steps}{ratio}")
    return "\n".join(lines)


# ---- (c) analysis per configured target with exec tools ----------------------

TOOL_PY = 'import sys\nwith open(sys.argv[1]) as i, open(sys.argv[2], "w") as o:\n    o.write(i.read().upper())\n'


def generate_tools(n: int, out_dir: str, *, with_tool: bool) -> None:
    """N packages, each a py_binary `tool` and a genrule `gen`, which runs the tool (exec configuration)
    or, without a tool, `cat`. Everything else is identical, so loading costs the same in both."""
    def write(path: str, text: str) -> None:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)

    write(os.path.join(out_dir, "MODULE.bazel"), 'module(name = "kiln_bench_tools", version = "0.0.0")\n')
    tool = '    tools = [":tool"],\n    cmd = "$(location :tool) $< $@",\n' if with_tool else '    cmd = "cat $< > $@",\n'
    for i in range(n):
        d = os.path.join(out_dir, f"pkg{i:04d}")
        write(os.path.join(d, "BUILD.bazel"),
              'py_binary(\n    name = "tool",\n    srcs = ["tool.py"],\n    main = "tool.py",\n)\n\n'
              f'genrule(\n    name = "gen",\n    srcs = ["in.txt"],\n    outs = ["out.txt"],\n{tool})\n')
        write(os.path.join(d, "tool.py"), TOOL_PY)
        write(os.path.join(d, "in.txt"), f"package {i}\n")


VARIANTS = ("tool", "no_tool")


def part_c(kiln: list[str], n: int, rounds: int, parent: str | None) -> dict:
    tmp = tempfile.mkdtemp(prefix="kiln-config-c-", dir=parent)
    try:
        wss = {v: os.path.join(tmp, f"ws-{v}") for v in VARIANTS}
        obs = {v: os.path.join(tmp, f"ob-{v}") for v in VARIANTS}
        ks = {v: [*kiln, f"--output_base={obs[v]}"] for v in VARIANTS}
        for v in VARIANTS:
            generate_tools(n, wss[v], with_tool=v == "tool")
            t0 = time.perf_counter()
            prepare(kiln, obs[v], wss[v], ["//..."], f"(c) {v}")
            log(f"(c) {v}: clean build and first no-op in {time.perf_counter() - t0:.1f} s")
        runs: dict = {(v, m): [] for v in VARIANTS for m in ("query", "cquery", "reanalysis", "noop")}
        counts: dict = {}
        for r in range(rounds):
            # The variants alternate like A and B, so that the machine's load falls on both alike.
            for v in (VARIANTS if r % 2 == 0 else VARIANTS[::-1]):
                ws, k = wss[v], ks[v]
                shutil.rmtree(os.path.join(obs[v], "queries"), ignore_errors=True)
                run = run_child([*k, "query", "deps(//...)"], ws, f"(c) {v} query")
                if sum(1 for ln in run.stdout.splitlines() if ln.strip()) != 4 * n:
                    fail(f"(c) {v} query deps(//...): expected {4 * n} labels")
                runs[(v, "query")].append(run)
                run = run_child([*k, "cquery", "deps(//...)"], ws, f"(c) {v} cquery")
                lines = [ln for ln in run.stdout.splitlines() if ln.strip()]
                rules = [ln for ln in lines if not ln.endswith("(null)")]
                counts[v] = {"rule": len(rules), "all": len(lines),
                             "own_rule": sum(1 for ln in rules if ln.startswith("//"))}
                runs[(v, "cquery")].append(run)
                shutil.rmtree(os.path.join(obs[v], "plans"))
                run = run_child([*k, "build", "//..."], ws, f"(c) {v} re-analysis")
                check_actions(run, f"(c) {v} re-analysis", executed=False)
                runs[(v, "reanalysis")].append(run)
                run = run_child([*k, "build", "//..."], ws, f"(c) {v} no-op")
                check_actions(run, f"(c) {v} no-op", executed=False)
                runs[(v, "noop")].append(run)
            log(f"(c) round {r + 1}/{rounds} done")
        for v in VARIANTS:
            # Per package: gen and tool in the target configuration, and with a tool, tool in the exec one.
            want = (3 if v == "tool" else 2) * n
            if counts[v]["own_rule"] != want:
                fail(f"(c) {v}: cquery shows {counts[v]['own_rule']} configured rule targets of the workspace, "
                     f"expected {want}")
        return {v: {"counts": counts[v], **{m: summary(runs[(v, m)]) for m in ("query", "cquery", "reanalysis",
                                                                                "noop")}} for v in VARIANTS}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def table_c(res: dict, n: int, rounds: int) -> str:
    lines = [f"(c) N={n:,} packages, each a py_binary and a genrule; {rounds} rounds, the two workspaces "
             "alternating, B only; wall s / CPU s, medians. Loading = `query 'deps(//...)'` (no saved answer); "
             "analysis = `cquery 'deps(//...)'` CPU - loading CPU.", "",
             "| workspace | configured targets (rules / all) | loading (`query`) | loading + analysis (`cquery`) "
             "| analysis CPU / configured rule target | re-analysis build | no-op build |",
             "|---|---|---|---|---|---|---|"]
    names = {"tool": "genrule `tools = [\":tool\"]` (py_binary in exec config)", "no_tool": "genrule without tool"}
    analysis = {}
    for v in VARIANTS:
        s = res[v]
        q, c, ra, no = s["query"], s["cquery"], s["reanalysis"], s["noop"]
        rules = s["counts"]["rule"]
        analysis[v] = c["cpu_median"] - q["cpu_median"]
        lines.append(f"| {names[v]} | {rules:,} / {s['counts']['all']:,} | {q['median']:.2f} / {q['cpu_median']:.2f}"
                     f" | {c['median']:.2f} / {c['cpu_median']:.2f} | {1000 * analysis[v] / rules:.3f} ms | "
                     f"{ra['median']:.2f} / {ra['cpu_median']:.2f} | {no['median']:.3f} / {no['cpu_median']:.3f} |")
    extra = res["tool"]["counts"]["rule"] - res["no_tool"]["counts"]["rule"]
    dc = res["tool"]["cquery"]["cpu_median"] - res["no_tool"]["cquery"]["cpu_median"]
    dr = res["tool"]["reanalysis"]["cpu_median"] - res["no_tool"]["reanalysis"]["cpu_median"]
    lines += ["", f"Marginal cost of one exec-configured py_binary tool ({extra:,} more configured targets, same "
              f"packages): cquery {1000 * dc / extra:.3f} ms CPU, re-analysis build {1000 * dr / extra:.3f} ms CPU "
              "(which also plans and checks its actions)."]
    return "\n".join(lines)


# ---- driver ------------------------------------------------------------------

def command(text: str, ap: argparse.ArgumentParser) -> list[str]:
    """A kiln command line; a relative program path is made absolute (kiln runs in the workspaces)."""
    argv = shlex.split(text)
    if not argv:
        ap.error("an empty kiln command")
    if os.sep in argv[0]:
        argv[0] = os.path.abspath(argv[0])
    if not shutil.which(argv[0]):
        ap.error(f"{argv[0]}: no such program")
    return argv


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=__doc__.split("\n", 2)[2],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base-kiln", metavar="CMD",
                    help="the reference kiln (A): a path or a command line; needed for (a), optional for (b)")
    ap.add_argument("--kiln", metavar="CMD", default=KILN, help="the kiln under test (B; default: this checkout's)")
    ap.add_argument("--parts", default="a,b,c", help="which of a,b,c to run (default: all)")
    ap.add_argument("--n", type=int, default=1000, help="packages in (a) and (c) (default 1000)")
    ap.add_argument("--rounds", type=int, default=7, help="rounds of (a) (default 7)")
    ap.add_argument("--rounds-scale", type=int, default=5, help="rounds of (b) and (c) (default 5)")
    ap.add_argument("--sizes", default="100,1000,10000", help="package counts of (b) (default 100,1000,10000)")
    ap.add_argument("--dir", metavar="DIR", help="make the temporary directories under DIR")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON here ('-': stdout)")
    args = ap.parse_args(argv)
    parts = set(args.parts.split(",")) - {""}
    sizes = [int(s) for s in args.sizes.split(",")]
    if not parts <= {"a", "b", "c"} or args.rounds < 1 or args.rounds_scale < 1 or args.n < 2 or min(sizes) < 2:
        ap.error("bad --parts, --rounds, --rounds-scale, --n or --sizes")
    if "a" in parts and not args.base_kiln:
        ap.error("(a) compares against a reference: give --base-kiln, or leave a out of --parts")
    kilns = {"A": command(args.base_kiln, ap)} if args.base_kiln else {}
    kilns["B"] = command(args.kiln, ap)
    r: dict = {"kiln": args.kiln, "base_kiln": args.base_kiln, "n": args.n, "rounds": args.rounds,
               "rounds_scale": args.rounds_scale, "load_average_start": os.getloadavg()}
    tables = []
    t0 = time.perf_counter()
    try:
        if "a" in parts:
            r["a"] = part_a(kilns, args.n, args.rounds, args.dir)
            tables.append(table_a(r["a"], args.n, args.rounds))
        if "b" in parts:
            r["b"] = part_b(kilns, sizes, args.rounds_scale, args.dir)
            tables.append(table_b(r["b"], kilns, args.rounds_scale))
        if "c" in parts:
            r["c"] = part_c(kilns["B"], args.n, args.rounds_scale, args.dir)
            tables.append(table_c(r["c"], args.n, args.rounds_scale))
    except BenchError as e:
        print(f"bench_config: FAILED: {e}", file=sys.stderr)
        return 1
    r["load_average_end"] = os.getloadavg()
    r["seconds"] = round(time.perf_counter() - t0, 1)
    describe_run(r, args.dir)
    head = ((f"A = `{args.base_kiln}`, " if args.base_kiln else "") + f"B = `{args.kiln}`; {r['date']}, {r['machine']['nproc']} cores, "
            f"load average {r['load_average_start'][0]:.1f} at the start, {r['load_average_end'][0]:.1f} at the "
            f"end; {r['seconds']:.0f} s in all.")
    emit(r, "\n\n".join([head, *tables]), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
