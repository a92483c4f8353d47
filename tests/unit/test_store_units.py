"""Unit tests for the output store: Cas, Materializer, the table of materialized outputs.

Disk-full and reflink cases run a short Python program in a private mount
namespace (`unshare -m`) with a small tmpfs, or an XFS image, mounted in it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kiln.core.digests import Digest, digest_bytes
from kiln.execution.cas import Cas
from kiln.execution.materialize import CorruptBlob, Materializer, MissingBlob
from kiln.execution.materialized_outputs import MaterializedOutputs

OUT = "kiln-out/k8-fastbuild/bin/pkg/out.txt"


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def store(tmp_path):
    for d in ("cas", "tmp", "execroot"):
        (tmp_path / d).mkdir()
    return Cas(tmp_path / "cas", tmp_path / "tmp")


def materializer(store: Cas) -> Materializer:
    base = store.root.parent
    return Materializer(base / "execroot", store, store.tmp, MaterializedOutputs(base / "materialized", store.tmp))


class CountingCopies:
    """Counts the copies a materializer makes (a no-op must make none)."""

    def __init__(self, m: Materializer, monkeypatch):
        self.count = 0
        real = m._copy_and_hash

        def counting(*args):
            self.count += 1
            return real(*args)

        monkeypatch.setattr(m, "_copy_and_hash", counting)


# =====================================================================================
# Cas
# =====================================================================================

def test_put_bytes(store):
    d = store.put_bytes(b"hello")
    assert d == Digest(hashlib.sha256(b"hello").hexdigest(), 5)
    path = Path(store.path(d))
    assert path == store.root / d.hash[:2] / d.hash
    assert path.read_bytes() == b"hello" and mode(path) == 0o444
    assert not Path(store.path(d, executable=True)).exists()
    assert list(store.tmp.iterdir()) == []


def test_executable_variant_is_a_separate_blob(store):
    d = store.put_bytes(b"#!/bin/sh\n", executable=True)
    x = Path(store.path(d, executable=True))
    assert x.name == d.hash + ".x" and mode(x) == 0o555 and x.read_bytes() == b"#!/bin/sh\n"
    assert not Path(store.path(d)).exists()


def test_put_file_copy_and_move(store, tmp_path):
    src = tmp_path / "f.txt"
    src.write_bytes(b"content")
    d = store.put_file(str(src))
    assert d == digest_bytes(b"content")
    assert src.read_bytes() == b"content" and Path(store.path(d)).read_bytes() == b"content"
    moved = tmp_path / "m.txt"
    moved.write_bytes(b"to move")
    inode = os.stat(moved).st_ino
    dm = store.put_file(str(moved), move=True)
    assert not moved.exists() and os.stat(store.path(dm)).st_ino == inode
    assert list(store.tmp.iterdir()) == []


@pytest.mark.parametrize("how", ["bytes", "copy", "move"])
def test_storing_content_again_repairs_a_damaged_blob(store, tmp_path, how):
    d = store.put_bytes(b"good content")
    blob = Path(store.path(d))
    with open(blob, "r+b") as f:
        f.write(b"BAD!")
    src = tmp_path / "src"
    src.write_bytes(b"good content")
    if how == "bytes":
        store.put_bytes(b"good content")
    else:
        store.put_file(str(src), move=how == "move")
    assert blob.read_bytes() == b"good content"


def test_discard_spares_a_blob_replaced_since_it_was_read(store):
    d = store.put_bytes(b"abc")
    old_inode = os.stat(store.path(d)).st_ino
    store.put_bytes(b"abc")  # a fresh blob under the same name
    store.discard(d, False, old_inode)
    assert Path(store.path(d)).read_bytes() == b"abc"
    store.discard(d, False, os.stat(store.path(d)).st_ino)
    assert not Path(store.path(d)).exists()


# =====================================================================================
# Materializer
# =====================================================================================

def test_output_is_a_checked_copy(store):
    m = materializer(store)
    d = store.put_bytes(b"data\n")
    x = store.put_bytes(b"#!/bin/sh\n", executable=True)
    out = Path(m.materialize(OUT, d, False))
    tool = Path(m.materialize(OUT + ".sh", x, True))
    assert out == m.execroot / OUT and out.read_bytes() == b"data\n" and mode(out) == 0o444
    assert tool.read_bytes() == b"#!/bin/sh\n" and mode(tool) == 0o555
    assert os.stat(out).st_ino != os.stat(store.path(d)).st_ino
    with open(out, "r+b") as f:  # as root: the read-only mode does not stop it
        f.write(b"DATA")
    assert Path(store.path(d)).read_bytes() == b"data\n"
    assert list(store.tmp.iterdir()) == []


def test_unchanged_output_is_not_copied_again(store, monkeypatch):
    m = materializer(store)
    copies = CountingCopies(m, monkeypatch)
    d = store.put_bytes(b"data\n")
    inode = os.stat(m.materialize(OUT, d, False)).st_ino
    m.materialize(OUT, d, False)
    assert copies.count == 1 and os.stat(m.execroot / OUT).st_ino == inode


@pytest.mark.parametrize("change", ["edit", "edit_keep_mtime", "delete", "replace", "chmod"])
def test_changed_output_is_copied_again(store, monkeypatch, change):
    m = materializer(store)
    copies = CountingCopies(m, monkeypatch)
    d = store.put_bytes(b"data\n")
    out = Path(m.materialize(OUT, d, False))
    st = os.stat(out)
    if change.startswith("edit"):
        with open(out, "r+b") as f:
            f.write(b"DATA")
        if change == "edit_keep_mtime":
            os.utime(out, ns=(st.st_atime_ns, st.st_mtime_ns))
    elif change == "delete":
        out.unlink()
    elif change == "replace":
        out.unlink()
        out.write_bytes(b"DATA\n")
    else:
        out.chmod(0o777)
    m.materialize(OUT, d, False)
    assert copies.count == 2
    assert out.read_bytes() == b"data\n" and mode(out) == 0o444


def test_other_content_or_mode_at_the_same_path_is_copied(store, monkeypatch):
    m = materializer(store)
    copies = CountingCopies(m, monkeypatch)
    one, two = store.put_bytes(b"one\n"), store.put_bytes(b"two\n")
    twox = store.put_bytes(b"two\n", executable=True)
    m.materialize(OUT, one, False)
    m.materialize(OUT, two, False)
    assert (m.execroot / OUT).read_bytes() == b"two\n"
    m.materialize(OUT, twox, True)
    assert mode(m.execroot / OUT) == 0o555 and copies.count == 3


@pytest.mark.parametrize("between", ["saved", "not saved", "damaged"])
def test_table_between_commands(store, monkeypatch, between):
    """A saved table spares the next command the copies; a table lost (a command killed before
    saving it) or damaged means copying again, never assuming an output is right."""
    d = store.put_bytes(b"data\n")
    first = materializer(store)
    first.materialize(OUT, d, False)
    if between != "not saved":
        first.table.save()
    if between == "damaged":
        (store.root.parent / "materialized").write_bytes(b"\x00garbage")
    second = materializer(store)
    copies = CountingCopies(second, monkeypatch)
    second.materialize(OUT, d, False)
    assert copies.count == (0 if between == "saved" else 1)


def test_missing_blob(store):
    m = materializer(store)
    with pytest.raises(MissingBlob) as e:
        m.materialize(OUT, digest_bytes(b"never stored"), False)
    assert not isinstance(e.value, CorruptBlob)
    assert not (m.execroot / OUT).exists()


@pytest.mark.parametrize("damage", [b"DATA\n", b"data, and more\n"])
def test_corrupt_blob_is_discarded_not_served(store, damage):
    m = materializer(store)
    d = store.put_bytes(b"data\n")
    blob = Path(store.path(d))
    blob.write_bytes(damage)
    with pytest.raises(CorruptBlob) as e:
        m.materialize(OUT, d, False)
    assert str(blob) in str(e.value)
    assert not blob.exists()
    assert not (m.execroot / OUT).exists()
    assert list(store.tmp.iterdir()) == []


def test_blob_written_after_it_was_checked_is_checked_again(store):
    m = materializer(store)
    d = store.put_bytes(b"data\n")
    m.materialize(OUT, d, False)
    with open(store.path(d), "r+b") as f:
        f.write(b"DATA")
    # The output is intact, but the blob it would be restored from (and that actions are given) is not.
    with pytest.raises(CorruptBlob):
        m.materialize(OUT, d, False)
    assert not Path(store.path(d)).exists()


def test_remove_forgets_the_output(store, monkeypatch):
    m = materializer(store)
    copies = CountingCopies(m, monkeypatch)
    d = store.put_bytes(b"data\n")
    m.materialize(OUT, d, False)
    m.remove(OUT)
    assert not (m.execroot / OUT).exists()
    m.remove(OUT)  # already gone: no error
    m.materialize(OUT, d, False)
    assert copies.count == 2


# =====================================================================================
# In a private mount namespace: a full disk, a file system with reflinks
# =====================================================================================

def _in_namespace(tmp_path: Path, mount: str, program: str) -> dict:
    """Runs `program` (Python; the mount point is sys.argv[1]) with `mount` done in a private namespace."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    script = f"{mount} {shlex.quote(str(mnt))} || exit 90\nexec {shlex.quote(sys.executable)} -c \"$0\" {shlex.quote(str(mnt))}"
    try:
        r = subprocess.run(["unshare", "-m", "sh", "-c", script, textwrap.dedent(program)], capture_output=True,
                           text=True, timeout=120)
    except FileNotFoundError:
        r = None
    if r is None or r.returncode == 90:
        reason = "cannot mount in a private mount namespace (needs unshare and root)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout.splitlines()[-1])


_FULL_DISK_SETUP = """
    import errno, json, os, sys
    from pathlib import Path
    from kiln.core.digests import digest_bytes
    from kiln.execution.action_cache import ActionCache, ActionResult, OutputFile
    from kiln.execution.cas import Cas
    from kiln.execution.materialize import Materializer
    from kiln.execution.materialized_outputs import MaterializedOutputs
    base = Path(sys.argv[1])
    for d in ("cas", "tmp", "execroot", "ac"):
        (base / d).mkdir()
    cas = Cas(base / "cas", base / "tmp")
    m = Materializer(base / "execroot", cas, base / "tmp", MaterializedOutputs(base / "materialized", base / "tmp"))

    def fill():
        fd = os.open(base / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while True:
                os.write(fd, b"f" * 4096)
        except OSError as e:
            assert e.errno == errno.ENOSPC
        finally:
            os.close(fd)

    def failure(fn):
        try:
            fn()
        except OSError as e:
            return [e.errno, e.filename]
        return None

    def leftovers():
        return sorted(p.name for p in (base / "tmp").iterdir())
"""


def test_disk_full_while_storing_and_writing_the_action_cache(tmp_path):
    result = _in_namespace(tmp_path, "mount -t tmpfs -o size=256k tmpfs", _FULL_DISK_SETUP + """
    fill()
    data = b"content that does not fit" * 1000
    d = digest_bytes(data)
    out = {"put_bytes": failure(lambda: cas.put_bytes(data)), "blob": cas.path(d),
           "blob_exists": Path(cas.path(d)).exists(), "tmp_after_put": leftovers()}
    ac = ActionCache(base / "ac", base / "tmp")
    many = tuple(OutputFile(f"out/{i:06d}/" + "x" * 200, d, False) for i in range(400))
    big = ActionResult(many, 0)
    out["ac_put"] = failure(lambda: ac.put("ab" + "0" * 62, big))
    out["entry"] = str(base / "ac" / "ab" / ("ab" + "0" * 62))
    out["entry_exists"] = os.path.exists(out["entry"])
    out["tmp_after_ac"] = leftovers()
    print(json.dumps(out))
    """)
    assert result["put_bytes"] == [28, result["blob"]]
    assert not result["blob_exists"] and result["tmp_after_put"] == []
    assert result["ac_put"] == [28, result["entry"]]
    assert not result["entry_exists"] and result["tmp_after_ac"] == []


def test_disk_full_while_materializing(tmp_path):
    result = _in_namespace(tmp_path, "mount -t tmpfs -o size=256k tmpfs", _FULL_DISK_SETUP + """
    d = cas.put_bytes(b"o" * 100_000)
    fill()
    target = base / "execroot" / "kiln-out/bin/out.txt"
    out = {"materialize": failure(lambda: m.materialize("kiln-out/bin/out.txt", d, False)),
           "target": str(target), "target_exists": target.exists(), "tmp": leftovers(),
           "blob_intact": Path(cas.path(d)).read_bytes() == b"o" * 100_000}
    os.unlink(base / "filler")
    m.materialize("kiln-out/bin/out.txt", d, False)
    out["after_room"] = target.read_bytes() == b"o" * 100_000
    print(json.dumps(out))
    """)
    assert result["materialize"] == [28, result["target"]]
    assert not result["target_exists"] and result["tmp"] == []
    assert result["blob_intact"] and result["after_room"]


def test_reflink_where_the_file_system_shares_blocks(tmp_path):
    if shutil.which("mkfs.xfs") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("mkfs.xfs (Debian package xfsprogs) is needed to test reflinked outputs")
        pytest.skip("mkfs.xfs (Debian package xfsprogs) is not installed")
    image = tmp_path / "xfs.img"
    with open(image, "wb") as f:
        f.truncate(300 << 20)  # the smallest XFS that mkfs.xfs accepts
    subprocess.run(["mkfs.xfs", "-q", "-m", "reflink=1", str(image)], check=True)
    result = _in_namespace(tmp_path, f"mount -o loop {shlex.quote(str(image))}", _FULL_DISK_SETUP + """
    data = os.urandom(1 << 20)
    d = cas.put_bytes(data)
    before = os.statvfs(base).f_bfree
    out = Path(m.materialize("kiln-out/bin/out.bin", d, False))
    after = os.statvfs(base).f_bfree
    result = {"reflink": m._reflink, "same": out.read_bytes() == data, "blocks_used": before - after}
    with open(out, "r+b") as f:
        f.write(b"changed")
    result["blob_intact"] = Path(cas.path(d)).read_bytes() == data
    bad = cas.put_bytes(b"q" * 10000)
    Path(cas.path(bad)).write_bytes(b"Q" * 10000)
    try:
        m.materialize("kiln-out/bin/bad.bin", bad, False)
        result["corrupt_served"] = True
    except Exception as e:
        result["corrupt_served"] = False
        result["corrupt_error"] = type(e).__name__
    print(json.dumps(result))
    """)
    assert result["reflink"] is True and result["same"] and result["blob_intact"]
    # A 1 MiB copy would take 256 blocks of 4 KiB; the clone shares the blob's.
    assert result["blocks_used"] < 16
    assert result["corrupt_served"] is False and result["corrupt_error"] == "CorruptBlob"
