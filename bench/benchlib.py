"""What the benchmark scripts share: where kiln is, timed runs, build summaries, results."""

from __future__ import annotations

import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
VENV_BIN = os.path.join(REPO, ".venv", "bin")
KILN = os.path.join(VENV_BIN, "kiln")
PYTHON = os.path.join(VENV_BIN, "python")

SUMMARY_RE = re.compile(r"(\d+) actions? executed")


class BenchError(Exception):
    """A check failed: the benchmark stops rather than report a wrong figure."""


def fail(msg: str) -> None:
    raise BenchError(msg)


def timed(argv: list[str], cwd: str, env: dict[str, str] | None = None,
          what: str = "") -> tuple[float, float, subprocess.CompletedProcess]:
    """(wall s, CPU s of the whole process tree, process); a non-zero exit fails."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    if proc.returncode != 0:
        fail(f"{what or ' '.join(argv)}: exit code {proc.returncode}\n"
             f"--- stdout ---\n{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-4000:]}")
    return dt, cpu, proc


def actions_executed(proc: subprocess.CompletedProcess, what: str) -> int:
    m = SUMMARY_RE.search(proc.stderr) or SUMMARY_RE.search(proc.stdout)
    if not m:
        fail(f"{what}: no 'N actions executed' in the build summary\n"
             f"--- stderr ---\n{proc.stderr[-4000:]}")
    return int(m.group(1))


def stats(times: list[float], cpu: list[float] | None = None) -> dict:
    out = {"median": statistics.median(times), "min": min(times), "max": max(times),
           "runs": [round(t, 4) for t in times]}
    if cpu:
        out["cpu_median"] = statistics.median(cpu)
        out["cpu_runs"] = [round(c, 3) for c in cpu]
    return out


def describe_run(r: dict, directory: str | None) -> None:
    """Adds the machine, date and directory to a result."""
    r["dir"] = directory or tempfile.gettempdir()
    r["machine"] = {"nproc": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()}
    r["date"] = time.strftime("%Y-%m-%d")


def emit(r: dict, text: str, json_path: str | None) -> None:
    """Prints the table; `--json -` puts the JSON on stdout (table on stderr), a path writes it there."""
    if json_path == "-":
        print(text, file=sys.stderr)
        json.dump(r, sys.stdout, indent=2)
        print()
        return
    print()
    print(text)
    if json_path:
        with open(json_path, "w", encoding="utf-8") as f:
            json.dump(r, f, indent=2)
            f.write("\n")


class Run:
    """One finished child: wall s, CPU s, peak RSS MiB, output."""

    def __init__(self, wall: float, cpu: float, rss_mib: float, stdout: str, stderr: str):
        self.wall, self.cpu, self.rss_mib = wall, cpu, rss_mib
        self.stdout, self.stderr = stdout, stderr


def run_child(argv: list[str], cwd: str, what: str) -> Run:
    """Runs argv; a non-zero exit fails the benchmark. Output goes to files: no pipe limits."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        fail(f"{what}: exit code {proc.returncode}\n--- stderr ---\n{stderr[-4000:]}")
    # ru_maxrss is in KiB on Linux.
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, stdout, stderr)


def summary(runs: list[Run]) -> dict:
    walls = [r.wall for r in runs]
    return {
        "median": statistics.median(walls), "min": min(walls), "max": max(walls),
        "cpu_median": statistics.median(r.cpu for r in runs),
        "rss_mib_max": max(r.rss_mib for r in runs),
        "runs": [round(w, 3) for w in walls], "cpu_runs": [round(r.cpu, 3) for r in runs],
    }


def check_actions(run: Run, what: str, *, executed: bool) -> None:
    n = actions_executed(run, what)
    if executed and n == 0:
        fail(f"{what}: 0 actions executed, expected a real build")
    if not executed and n != 0:
        fail(f"{what}: {n} actions executed, expected none\n{run.stderr[-2000:]}")
