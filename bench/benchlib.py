"""What the benchmark scripts share: where kiln is, timed runs, build summaries, results.

CPU figures are those of a child's whole process tree, sandboxed descendants included.
getrusage(RUSAGE_CHILDREN) only counts descendants somebody waited for, and bubblewrap with
--unshare-pid never waits for the namespace's pid 1, so every process kiln runs in the Linux
sandbox escapes it. A cgroup does not: each measured child enters a fresh cgroup of its own
before it execs, every process it starts stays in that cgroup however it is reparented, and the
cgroup's CPU counter is read once they are all gone. cgroup v1 (cpuacct) and v2 (cpu.stat) both
serve; where neither is writable, rusage is used after a one-line warning.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
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

# Hierarchy roots to try, in order, and the file at a root that says which cgroup version it is.
CGROUP_ROOTS = (("/sys/fs/cgroup/cpuacct", "cpuacct.usage"),
                ("/sys/fs/cgroup/unified", "cgroup.controllers"),
                ("/sys/fs/cgroup", "cgroup.controllers"))
# How long the descendants of an exited child may take to go (a reparented zombie is reaped
# by init, not by us) before the figure is refused.
DRAIN_TIMEOUT_S = 30.0
_group_serial = itertools.count()


class BenchError(Exception):
    """A check failed: the benchmark stops rather than report a wrong figure."""


def fail(msg: str) -> None:
    raise BenchError(msg)


class CgroupHierarchy:
    """A writable cgroup hierarchy: fresh groups under its root, each with a CPU counter."""

    def __init__(self, root: str, v2: bool):
        self.root, self.v2 = root, v2

    def cpu_s(self, group: str) -> float:
        if not self.v2:
            with open(os.path.join(group, "cpuacct.usage")) as f:
                return int(f.read()) / 1e9
        with open(os.path.join(group, "cpu.stat")) as f:
            for line in f:
                key, value = line.split()
                if key == "usage_usec":
                    return int(value) / 1e6
        raise OSError(f"{group}/cpu.stat has no usage_usec")


class TreeCpu:
    """CPU seconds of one child's process tree: pass `enter` as its preexec_fn; `seconds` is set
    when the `with` block ends, after every process of the tree is gone."""

    def __init__(self, hierarchy: CgroupHierarchy | None, what: str):
        self.hierarchy, self.what = hierarchy, what
        self.group: str | None = None
        self.seconds = 0.0
        self._procs = b""

    def __enter__(self) -> TreeCpu:
        if self.hierarchy is None:
            self._start = _children_rusage_s()
        else:
            self.group = os.path.join(self.hierarchy.root,
                                      f"kiln-bench-{os.getpid()}-{next(_group_serial)}")
            os.mkdir(self.group)
            self._procs = os.path.join(self.group, "cgroup.procs").encode()
        return self

    def enter(self) -> None:
        # Runs in the forked child before exec: no Python objects beyond these calls, and
        # "0" moves the writing process itself, in both cgroup versions.
        if self._procs:
            fd = os.open(self._procs, os.O_WRONLY)
            os.write(fd, b"0")
            os.close(fd)

    def __exit__(self, exc_type, *_) -> None:
        if self.group is None:
            self.seconds = _children_rusage_s() - self._start
            return
        try:
            left = self._drain()
            if not left:
                self.seconds = self.hierarchy.cpu_s(self.group)
            for pid in left:  # out of the group so that it can go; they are not ours to end
                with contextlib.suppress(ProcessLookupError), \
                        open(os.path.join(self.hierarchy.root, "cgroup.procs"), "w") as f:
                    f.write(pid)
        finally:
            os.rmdir(self.group)
        if left and exc_type is None:
            fail(f"{self.what}: processes {', '.join(left)} still run {DRAIN_TIMEOUT_S:g} s after it exited: "
                 f"the CPU of its process tree cannot be measured")

    def _drain(self) -> list[str]:
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        while True:
            with open(os.path.join(self.group, "cgroup.procs")) as f:
                left = f.read().split()
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(0.001)


def _children_rusage_s() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def usable_hierarchies() -> list[CgroupHierarchy]:
    """The cgroup hierarchies of CGROUP_ROOTS this process can measure a child in, best first."""
    found = []
    for root, marker in CGROUP_ROOTS:
        if not os.path.exists(os.path.join(root, marker)):
            continue
        hierarchy = CgroupHierarchy(root, v2=marker == "cgroup.controllers")
        try:  # a real child in a real group: mkdir, the move and the counter must all work
            with TreeCpu(hierarchy, "cgroup probe") as probe:
                subprocess.run(["true"], check=True, preexec_fn=probe.enter)
        except (OSError, subprocess.SubprocessError, ValueError):
            continue
        found.append(hierarchy)
    return found


@functools.cache
def cpu_hierarchy() -> CgroupHierarchy | None:
    found = usable_hierarchies()
    if not found:
        print("benchlib: no writable cgroup (cpuacct or cgroup2): CPU figures are rusage and do not "
              "count the CPU of sandboxed processes", file=sys.stderr)
    return found[0] if found else None


def tree_cpu(what: str) -> TreeCpu:
    return TreeCpu(cpu_hierarchy(), what)


def timed(argv: list[str], cwd: str, env: dict[str, str] | None = None,
          what: str = "") -> tuple[float, float, subprocess.CompletedProcess]:
    """(wall s, CPU s of the whole process tree, process); a non-zero exit fails."""
    with tree_cpu(what or " ".join(argv)) as meter:
        t0 = time.perf_counter()
        proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                              preexec_fn=meter.enter)
        dt = time.perf_counter() - t0
    cpu = meter.seconds
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
        with tree_cpu(what) as meter:
            t0 = time.perf_counter()
            proc = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=err, preexec_fn=meter.enter)
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        fail(f"{what}: exit code {proc.returncode}\n--- stderr ---\n{stderr[-4000:]}")
    # ru_maxrss is in KiB on Linux.
    return Run(wall, meter.seconds, usage.ru_maxrss / 1024, stdout, stderr)


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
