"""The benchmarks' CPU figures count every process of a child's tree, sandboxed ones included.

bubblewrap with --unshare-pid never waits for the namespace's pid 1, so rusage misses all the
CPU spent inside the sandbox; bench/benchlib.py measures each child in a cgroup of its own.
No timing assertions: a busy loop reports the CPU it used itself (time.process_time), and the
figure measured for its process tree — sandboxed or not — must be at least that (rusage, blind to the
sandbox, sees almost none of it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench"))
import benchlib  # noqa: E402

BUSY_LOOP = ["sh", "-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"]
# Spins for ~0.2 s of CPU, then prints the CPU it used (its own measurement) on stdout.
SELF_TIMED = [sys.executable, "-c", "import time\nwhile time.process_time() < 0.2: pass\nprint(time.process_time())"]
# Tick rounding in the kernel's accounting: the tree's figure may fall a hair short of the process's own.
_SLACK = 0.95
BWRAP = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-pid", "--"]


@pytest.fixture
def bwrap() -> None:
    if shutil.which("bwrap") is None:
        reason = "bubblewrap (Debian package bubblewrap) is needed to measure a sandboxed process"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture
def hierarchies() -> list[benchlib.CgroupHierarchy]:
    found = benchlib.usable_hierarchies()
    if not found:
        pytest.skip("no writable cgroup hierarchy (cpuacct or cgroup2) on this machine")
    return found


def tree_cpu_s(hierarchy: benchlib.CgroupHierarchy, argv: list[str]) -> tuple[float, float]:
    """(the tree's CPU as measured, the CPU the process reported for itself)."""
    with benchlib.TreeCpu(hierarchy, " ".join(argv)) as meter:
        out = subprocess.run(argv, check=True, preexec_fn=meter.enter, capture_output=True, text=True).stdout
    return meter.seconds, float(out)


@pytest.mark.parametrize("sandboxed", [False, True])
def test_the_cpu_of_a_sandboxed_process_is_counted_in_every_usable_hierarchy(bwrap, hierarchies, sandboxed):
    for h in hierarchies:
        measured, own = tree_cpu_s(h, (BWRAP if sandboxed else []) + SELF_TIMED)
        assert measured >= _SLACK * own, (h.root, measured, own)
        assert not [g for g in os.listdir(h.root) if g.startswith(f"kiln-bench-{os.getpid()}-")]


def test_timed_and_run_child_count_sandboxed_cpu(bwrap, hierarchies):
    _, cpu, proc = benchlib.timed(BWRAP + SELF_TIMED, "/")
    assert cpu >= _SLACK * float(proc.stdout), (cpu, proc.stdout)
    run = benchlib.run_child(BWRAP + SELF_TIMED, "/", "sandboxed loop")
    assert run.cpu >= _SLACK * float(run.stdout), (run.cpu, run.stdout)


def test_a_process_outliving_the_child_refuses_the_figure(hierarchies, monkeypatch):
    monkeypatch.setattr(benchlib, "DRAIN_TIMEOUT_S", 0.2)
    h = hierarchies[0]
    with pytest.raises(benchlib.BenchError, match=r"^leaves a sleep: processes \d+ still run 0\.2 s after it "
                                                  r"exited: the CPU of its process tree cannot be measured$"):
        with benchlib.TreeCpu(h, "leaves a sleep") as meter:
            subprocess.run(["sh", "-c", "sleep 2 >/dev/null 2>&1 &"], check=True, preexec_fn=meter.enter)
    assert not os.path.exists(meter.group)


def test_without_a_writable_cgroup_rusage_is_used_with_a_warning(monkeypatch, capsys):
    monkeypatch.setattr(benchlib, "CGROUP_ROOTS", (("/nonexistent/cgroup", "cpuacct.usage"),))
    benchlib.cpu_hierarchy.cache_clear()
    try:
        assert benchlib.cpu_hierarchy() is None
        _, cpu, _ = benchlib.timed(BUSY_LOOP, "/")
    finally:
        benchlib.cpu_hierarchy.cache_clear()
    assert cpu > 0
    assert capsys.readouterr().err == ("benchlib: no writable cgroup (cpuacct or cgroup2): CPU figures are "
                                       "rusage and do not count the CPU of sandboxed processes\n")
