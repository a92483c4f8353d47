"""The benchmarks' CPU figures count every process of a child's tree, sandboxed ones included.

bubblewrap with --unshare-pid never waits for the namespace's pid 1, so rusage misses all the
CPU spent inside the sandbox; bench/benchlib.py measures each child in a cgroup of its own.
No timing assertions: a sandboxed busy loop must show about the CPU of the same loop unsandboxed,
both measured here, in the same run.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench"))
import benchlib  # noqa: E402

BUSY_LOOP = ["sh", "-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"]
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


def tree_cpu_s(hierarchy: benchlib.CgroupHierarchy, argv: list[str]) -> float:
    with benchlib.TreeCpu(hierarchy, " ".join(argv)) as meter:
        subprocess.run(argv, check=True, preexec_fn=meter.enter)
    return meter.seconds


def test_sandboxed_busy_loop_cpu_is_counted_in_every_usable_hierarchy(bwrap, hierarchies):
    for h in hierarchies:
        plain, sandboxed = [], []
        for _ in range(3):  # interleaved, so that load from elsewhere falls on both alike
            plain.append(tree_cpu_s(h, BUSY_LOOP))
            sandboxed.append(tree_cpu_s(h, BWRAP + BUSY_LOOP))
        assert statistics.median(sandboxed) > 0.8 * statistics.median(plain), (h.root, plain, sandboxed)
        assert not [g for g in os.listdir(h.root) if g.startswith(f"kiln-bench-{os.getpid()}-")]


def test_timed_and_run_child_count_sandboxed_cpu(bwrap, hierarchies):
    _, plain, _ = benchlib.timed(BUSY_LOOP, "/")
    _, sandboxed, _ = benchlib.timed(BWRAP + BUSY_LOOP, "/")
    assert sandboxed > 0.8 * plain, (plain, sandboxed)
    plain_run = benchlib.run_child(BUSY_LOOP, "/", "plain loop")
    sandboxed_run = benchlib.run_child(BWRAP + BUSY_LOOP, "/", "sandboxed loop")
    assert sandboxed_run.cpu > 0.8 * plain_run.cpu, (plain_run.cpu, sandboxed_run.cpu)


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
