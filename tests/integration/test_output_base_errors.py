"""An output base that cannot be created: one message naming the path and the reason, exit code 36.

The read-only and full-disk cases run kiln inside a private mount namespace the test makes
(`unshare -m`), so no mount is seen outside it; the permission case runs kiln as `nobody`,
because root ignores permission bits.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import KILN, Workspace


def _unavailable(why: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must be able to run this test: {why}")
    pytest.skip(why)


def _assert_reported(r, path: Path, reason: str) -> None:
    assert r.code == 36, r.output
    assert f"ERROR: could not create output base directory {path}: {reason}" in r.stderr, r.stderr
    assert "Traceback" not in r.output
    assert "INTERNAL ERROR" not in r.output


@pytest.fixture
def ows(ws: Workspace) -> Workspace:
    ws.write("BUILD.bazel", """
        genrule(name = "t", outs = ["t.txt"], cmd = "echo t > $@")
    """)
    return ws


@pytest.mark.parametrize("command", [["build", "//:t"], ["test", "//..."], ["run", "//:t"], ["query", "//..."],
                                     ["clean"]])
def test_output_base_under_a_regular_file(ows, command):
    blocker = ows.output_base.parent / "a_file"
    blocker.write_text("not a directory\n")
    ows.output_base = blocker / "output_base"
    r = ows.kiln(*command)
    _assert_reported(r, ows.output_base, "Not a directory")


def test_output_base_is_a_regular_file(ows):
    ows.output_base.write_text("not a directory\n")
    r = ows.kiln("build", "//:t")
    _assert_reported(r, ows.output_base, "Not a directory")
    assert ows.output_base.read_text() == "not a directory\n"


def _in_mount_namespace(ws: Workspace, setup: str, *args: str) -> subprocess.CompletedProcess:
    """Runs `setup` (sh, with $D = the output base's parent) then kiln, in a new mount namespace."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        _unavailable("needs root and unshare(1) to make a private mount namespace")
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        _unavailable(f"unshare -m does not work here: {probe.stderr.strip()}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KILN_")}
    env["HOME"] = str(ws.output_base.parent / "home")
    env["D"] = str(ws.output_base.parent / "mnt")
    (ws.output_base.parent / "mnt").mkdir()
    script = f'set -e; {setup}; exec "$@"'
    return subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", *KILN, *args], cwd=ws.root, env=env,
                          capture_output=True, text=True, timeout=120)


class _Result:
    def __init__(self, proc: subprocess.CompletedProcess):
        self.code, self.stdout, self.stderr = proc.returncode, proc.stdout, proc.stderr
        self.output = proc.stdout + proc.stderr


def test_output_base_on_a_read_only_file_system(ows):
    target = ows.output_base.parent / "mnt" / "output_base"
    proc = _in_mount_namespace(ows, 'mount --bind "$D" "$D"; mount -o remount,ro,bind "$D"',
                               f"--output_base={target}", "build", "//:t")
    _assert_reported(_Result(proc), target, "Read-only file system")
    assert not target.exists(), "the mount leaked out of the test's namespace"


_FILL = ('i=0; dd if=/dev/zero of="$D/fill" bs=4k 2>/dev/null || true; '
         'while touch "$D/f$i" 2>/dev/null; do i=$((i+1)); done')


def test_output_base_on_a_full_disk(ows):
    """No block and no inode left: making the directory fails."""
    target = ows.output_base.parent / "mnt" / "output_base"
    proc = _in_mount_namespace(ows, f'mount -t tmpfs -o size=64k,nr_inodes=64 tmpfs "$D"; {_FILL}',
                               f"--output_base={target}", "build", "//:t")
    _assert_reported(_Result(proc), target, "No space left on device")


def test_output_base_on_a_disk_with_inodes_but_no_blocks(ows):
    """Directories can still be made, but the lock cannot take the pid: the same kind of error."""
    target = ows.output_base.parent / "mnt" / "output_base"
    proc = _in_mount_namespace(
        ows, 'mount -t tmpfs -o size=64k tmpfs "$D"; dd if=/dev/zero of="$D/fill" bs=4k 2>/dev/null || true',
        f"--output_base={target}", "build", "//:t")
    r = _Result(proc)
    assert r.code == 36, r.output
    assert f"ERROR: could not write the output base lock {target}/lock: No space left on device" in r.stderr
    assert "Traceback" not in r.output


def test_output_base_without_permission(tmp_path):
    """Root ignores permission bits, so kiln runs as `nobody` in a workspace it can read."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        _unavailable("needs root and setpriv(1) to run kiln as nobody")
    as_nobody = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    probe = subprocess.run([*as_nobody, sys.executable, "-c", "import kiln"], capture_output=True, text=True)
    if probe.returncode != 0:
        _unavailable(f"nobody cannot run kiln's interpreter here: {probe.stderr.strip()[-300:]}")
    top = Path(tempfile.mkdtemp(prefix="kiln-nobody-"))
    try:
        top.chmod(0o755)  # readable by nobody, writable only by root
        (top / "ws").mkdir()
        ws = Workspace(top / "ws", top / "output_base")
        ws.write("BUILD.bazel", 'genrule(name = "t", outs = ["t.txt"], cmd = "echo t > $@")\n')
        env = {k: v for k, v in os.environ.items() if not k.startswith("KILN_")}
        env["HOME"] = str(top)
        proc = subprocess.run([*as_nobody, *KILN, f"--output_base={ws.output_base}", "build", "//:t"],
                              cwd=ws.root, env=env, capture_output=True, text=True, timeout=120)
        _assert_reported(_Result(proc), ws.output_base, "Permission denied")
        assert not ws.output_base.exists()
    finally:
        shutil.rmtree(top)
