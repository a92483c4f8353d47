"""kiln killed with SIGKILL at random moments of `build` and `test` recovers on the next run.

A few kill points per run, drawn from a seed printed on failure; replay one with
KILN_RELIABILITY_SEED=<seed>. bench/reliability_kills.py runs the long version.
"""

from __future__ import annotations

import os
import random

import pytest

from kill_harness import KillLab

SEED = int(os.environ.get("KILN_RELIABILITY_SEED") or random.randrange(1 << 32))


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> KillLab:
    return KillLab(tmp_path_factory.mktemp("kills"))


@pytest.mark.parametrize("command", ["build", "test"])
def test_killed_command_recovers_with_identical_outputs(lab, command):
    rng = random.Random(f"{SEED}-{command}")
    _, seconds = lab.reference(command)
    # Within the first 90 % of an uninterrupted run, so that (almost) every trial is a real kill.
    delays = [0.05 + rng.random() * 0.9 * seconds for _ in range(rng.randint(2, 4))]
    print(f"KILN_RELIABILITY_SEED={SEED}: {command} killed at " + ", ".join(f"{d:.2f} s" for d in delays))
    trials = [lab.trial(command, delay) for delay in delays]
    report = "\n".join(t.describe() for t in trials)
    assert not [t for t in trials if t.problems], f"KILN_RELIABILITY_SEED={SEED}\n{report}"
    assert any(t.killed for t in trials), f"no trial was killed before it ended: {report}"
