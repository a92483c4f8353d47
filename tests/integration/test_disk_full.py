"""A disk that fills up during a build: kiln's own writes fail cleanly, an action's are its own.

Each test runs kiln with its output base on a small tmpfs mounted in a private
mount namespace (`unshare -m`), then grows the tmpfs and builds again on the
same output base: what the full disk left behind must not be served.

- kiln's write fails (copying an output out of the store, storing a
  write_file's content): exit 36, the path and the target named, no temporary
  left, no truncated blob under a digest's name.
- the action's own write fails: an ordinary action failure (exit 1) showing
  the action's output.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import Result

BUILD = """
load("@bazel_skylib//rules:write_file.bzl", "write_file")
genrule(name = "out200k", outs = ["out200k.txt"], cmd = "head -c 204800 /dev/zero | tr '\\\\0' x > $@")
genrule(name = "out400k", outs = ["out400k.txt"], cmd = "head -c 409600 /dev/zero | tr '\\\\0' y > $@")
write_file(name = "w200k", out = "w200k.txt", content = ["z" * 204799])
"""
CONTENT = {"out200k": "x" * 204800, "out400k": "y" * 409600, "w200k": "z" * 204799 + "\n"}
OUT_DIR = "kiln-out/k8-fastbuild/bin/big"


def _private_tmpfs_works(where: Path) -> bool:
    where.mkdir(exist_ok=True)
    try:
        r = subprocess.run(["unshare", "-m", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {shlex.quote(str(where))}"],
                           capture_output=True)
    except FileNotFoundError:
        return False
    return r.returncode == 0


class SmallDisk:
    """Runs a sequence of steps in one private mount namespace, the output base on a tmpfs."""

    def __init__(self, ws, tmp_path: Path):
        self.ws = ws
        self.mnt = tmp_path / "disk"
        self.out = tmp_path / "disk-results"
        self.out.mkdir()
        self.lines = ["set -u"]
        self.steps = 0

    @property
    def output_base(self) -> str:
        return str(self.mnt / "ob")

    def mount(self, size: str) -> None:
        self.lines.append(f"mount -t tmpfs -o size={size} tmpfs {shlex.quote(str(self.mnt))} || exit 90")

    def resize(self, size: str) -> None:
        self.lines.append(f"mount -o remount,size={size} {shlex.quote(str(self.mnt))} || exit 91")

    def kiln(self, *args: str) -> int:
        n = self.steps
        self.steps += 1
        cmd = " ".join(shlex.quote(a) for a in (sys.executable, "-m", "kiln", f"--output_base={self.output_base}", *args))
        o = shlex.quote(str(self.out / str(n)))
        self.lines.append(f"{cmd} >{o}.out 2>{o}.err; echo $? >{o}.rc")
        return n

    def snapshot(self, name: str) -> Path:
        """A copy of the output base as it is at this point (the tmpfs goes with the namespace)."""
        dest = self.out / name
        self.lines.append(f"cp -a {shlex.quote(self.output_base)} {shlex.quote(str(dest))}")
        return dest

    def run(self) -> None:
        self.mnt.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith("KILN_")}
        env["HOME"] = str(self.ws.output_base.parent / "home")
        r = subprocess.run(["unshare", "-m", "sh", "-c", "\n".join(self.lines)], cwd=self.ws.root, env=env,
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stdout + r.stderr

    def result(self, n: int) -> Result:
        p = self.out / str(n)
        return Result(int(Path(f"{p}.rc").read_text()), Path(f"{p}.out").read_text(), Path(f"{p}.err").read_text())


@pytest.fixture
def disk(ws, tmp_path):
    if not _private_tmpfs_works(tmp_path / "probe"):
        if os.environ.get("CI") == "true":
            pytest.fail("cannot mount a tmpfs in a private mount namespace (unshare -m, as root)")
        pytest.skip("cannot mount a tmpfs in a private mount namespace (needs unshare and root)")
    ws.write("big/BUILD.bazel", BUILD)
    return SmallDisk(ws, tmp_path)


def _assert_store_valid(ob: Path) -> None:
    """Every blob holds the content its name says, and no temporary is left behind."""
    blobs = [p for p in (ob / "cas").rglob("*") if p.is_file()]
    for blob in blobs:
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name.removesuffix(".x"), blob
    assert [p for p in (ob / "tmp").rglob("*")] == []


def _blob_name(content: str) -> str:
    return hashlib.sha256(content.encode()).hexdigest()


def _full_then_roomy(disk: SmallDisk, target: str) -> tuple[Result, Path]:
    """Builds on a 300 KiB disk, then on the same output base grown to 4 MiB; checks the second build.

    Returns the first build's result and a copy of the output base as it left it."""
    disk.mount("300k")
    full = disk.kiln("build", f"//big:{target}")
    after_full = disk.snapshot("after_full")
    disk.resize("4m")
    roomy = disk.kiln("build", f"//big:{target}")
    after_roomy = disk.snapshot("after_roomy")
    disk.run()
    r = disk.result(roomy)
    assert r.code == 0, r.output
    assert (after_roomy / f"execroot/_main/{OUT_DIR}/{target}.txt").read_text() == CONTENT[target]
    _assert_store_valid(after_roomy)
    r = disk.result(full)
    assert "Traceback" not in r.output
    _assert_store_valid(after_full)
    return r, after_full


def test_disk_full_while_copying_an_output_out_of_the_store(disk):
    # The action's 200 KiB fit once, not twice.
    r, after_full = _full_then_roomy(disk, "out200k")
    assert r.code == 36, r.output
    output = f"{disk.output_base}/execroot/_main/{OUT_DIR}/out200k.txt"
    assert f"ERROR: in //big:out200k: cannot write {output}: No space left on device" in r.stderr, r.output
    assert not (after_full / f"execroot/_main/{OUT_DIR}/out200k.txt").exists()


def test_disk_full_while_storing_an_output(disk):
    # The saved plan holds the 200 KiB content once; the store cannot take it again.
    r, after_full = _full_then_roomy(disk, "w200k")
    assert r.code == 36, r.output
    name = _blob_name(CONTENT["w200k"])
    blob = f"{disk.output_base}/cas/{name[:2]}/{name}"
    assert f"ERROR: in //big:w200k: cannot write {blob}: No space left on device" in r.stderr, r.output
    assert not (after_full / "cas" / name[:2] / name).exists()


def test_action_that_fills_the_disk_is_an_ordinary_failure(disk):
    r, _ = _full_then_roomy(disk, "out400k")
    assert r.code == 1, r.output
    assert "Executing genrule //big:out400k failed" in r.stderr, r.output
    # The action's stderr file is on the same full disk, so its own message may be lost: kiln says why.
    assert "note: the file system holding the action's exec root" in r.stderr and "is full" in r.stderr
