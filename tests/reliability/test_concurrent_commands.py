"""Two real kiln commands on one output base: the second waits, both succeed, outputs are right."""

from __future__ import annotations

import pytest

from kill_harness import KillLab, differences, leftovers, snapshot, start_kiln, wait_until_locked_by


@pytest.fixture
def lab(tmp_path) -> KillLab:
    return KillLab(tmp_path)


def _waits_for(stderr: str, holder: int) -> bool:
    return f"Another command is running (pid {holder}). Waiting for it to complete...\n" in stderr


def test_build_and_test_at_once_both_succeed_with_correct_outputs(lab):
    expected, _ = lab.reference("test")
    first = start_kiln(lab.workspace, lab.output_base, ["build", "//..."], lab.env)
    wait_until_locked_by(lab.output_base, first)
    second = start_kiln(lab.workspace, lab.output_base, ["test", "//..."], lab.env)
    out1, err1 = first.communicate(timeout=300)
    out2, err2 = second.communicate(timeout=300)
    assert first.returncode == 0, err1
    assert second.returncode == 0, err2
    assert _waits_for(err2, first.pid), err2
    assert err2.count("Another command is running") == 1
    assert "PASSED" in out2 + err2
    assert differences(expected, snapshot(lab.output_base)) == []
    assert leftovers(lab.output_base) == []


def test_clean_during_a_build_waits_then_cleans(lab):
    expected, _ = lab.reference("build")
    build = start_kiln(lab.workspace, lab.output_base, ["build", "//..."], lab.env)
    wait_until_locked_by(lab.output_base, build)
    clean = start_kiln(lab.workspace, lab.output_base, ["clean"], lab.env)
    _, build_err = build.communicate(timeout=300)
    _, clean_err = clean.communicate(timeout=300)
    assert build.returncode == 0, build_err
    assert "Build completed successfully" in build_err
    assert clean.returncode == 0, clean_err
    assert _waits_for(clean_err, build.pid), clean_err
    assert not (lab.output_base / "execroot").exists()
    assert not (lab.workspace / "kiln-bin").exists()
    again = start_kiln(lab.workspace, lab.output_base, ["build", "//..."], lab.env)
    _, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    assert differences(expected, snapshot(lab.output_base)) == []


def test_noblock_for_lock_during_a_build_exits_9(lab):
    build = start_kiln(lab.workspace, lab.output_base, ["build", "//..."], lab.env)
    wait_until_locked_by(lab.output_base, build)
    refused = start_kiln(lab.workspace, lab.output_base, ["build", "//..."], lab.env, "--noblock_for_lock")
    _, refused_err = refused.communicate(timeout=60)
    still_running = build.poll() is None
    _, build_err = build.communicate(timeout=300)
    assert refused.returncode == 9, refused_err
    assert f"Another command (pid {build.pid}) is running" in refused_err
    assert still_running, "the build ended before the refused command was checked: the test proves nothing"
    assert build.returncode == 0, build_err
