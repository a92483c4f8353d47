"""The disk cache: round trips, damaged and incomplete entries, concurrent and killed writers, collection."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from kiln.core.digests import Digest, digest_bytes
from kiln.core.errors import CommandLineError
from kiln.execution.action_cache import OutputFile
from kiln.execution.disk_cache import DiskCache, action_result, output_files, parse_gc_max_age, parse_gc_max_size
from kiln.execution.reapi import remote_execution_pb2 as re_pb2

ACTION = digest_bytes(b"the action")


def _open(root: Path) -> DiskCache:
    warnings: list[str] = []
    cache = DiskCache.open(root, warnings.append)
    assert cache is not None and warnings == []
    return cache


def _files(root: Path, kind: str) -> list[Path]:
    return sorted(p for p in (root / kind).rglob("*") if p.is_file())


def _store(cache: DiskCache, out: bytes = b"output\n", stdout: bytes = b"", stderr: bytes = b"") -> re_pb2.ActionResult:
    result = action_result([OutputFile("out/a.txt", cache.put_blob_bytes(out), True)], 0,
                           cache.put_blob_bytes(stdout), cache.put_blob_bytes(stderr))
    cache.put_action_result(ACTION, result)
    return result


def test_round_trip_in_bazel_layout(tmp_path: Path) -> None:
    cache = _open(tmp_path / "dc")
    stored = _store(cache, out=b"hello", stdout=b"compiled\n", stderr=b"warning: x\n")

    got = cache.get_action_result(ACTION)
    assert got == stored
    assert output_files(got) == [OutputFile("out/a.txt", digest_bytes(b"hello"), True)]
    ac_entry = tmp_path / "dc" / "ac" / ACTION.hash[:2] / ACTION.hash
    assert re_pb2.ActionResult.FromString(ac_entry.read_bytes()) == stored
    blob = digest_bytes(b"hello")
    assert (tmp_path / "dc" / "cas" / blob.hash[:2] / blob.hash).read_bytes() == b"hello"
    dest = tmp_path / "restored" / "a.txt"
    assert cache.get_blob(blob, dest) and dest.read_bytes() == b"hello"
    assert _files(tmp_path / "dc", "tmp") == []


def test_stdout_and_stderr_kept_byte_for_byte(tmp_path: Path) -> None:
    cache = _open(tmp_path / "dc")
    stdout = b"caf\xe9 \xff\xfe\x00 not utf-8\r\n"
    stderr = b"\x1b[31merror\x1b[0m \xc3\x28\n"
    _store(cache, stdout=stdout, stderr=stderr)

    got = cache.get_action_result(ACTION)
    assert cache.get_blob_bytes(Digest(got.stdout_digest.hash, got.stdout_digest.size_bytes)) == stdout
    assert cache.get_blob_bytes(Digest(got.stderr_digest.hash, got.stderr_digest.size_bytes)) == stderr


def test_put_blob_file_checks_the_digest(tmp_path: Path) -> None:
    cache = _open(tmp_path / "dc")
    src = tmp_path / "f"
    src.write_bytes(b"content")
    assert cache.put_blob_file(src, digest_bytes(b"content"))
    assert cache.has_blob(digest_bytes(b"content"))
    assert not cache.put_blob_file(src, digest_bytes(b"other"))
    assert not cache.has_blob(digest_bytes(b"other"))
    assert _files(tmp_path / "dc", "tmp") == []


def test_blob_whose_bytes_do_not_match_is_discarded_and_the_action_reruns(tmp_path: Path) -> None:
    cache = _open(tmp_path / "dc")
    _store(cache, out=b"good output")
    blob = digest_bytes(b"good output")
    path = tmp_path / "dc" / "cas" / blob.hash[:2] / blob.hash
    path.write_bytes(b"evil output")  # same size, other bytes

    assert cache.get_action_result(ACTION) is None
    assert not path.exists()
    assert not (tmp_path / "dc" / "ac" / ACTION.hash[:2] / ACTION.hash).exists()
    # The action runs again and stores its result: a hit once more.
    stored = _store(cache, out=b"good output")
    assert cache.get_action_result(ACTION) == stored


def test_get_blob_refuses_a_damaged_blob(tmp_path: Path) -> None:
    cache = _open(tmp_path / "dc")
    blob = cache.put_blob_bytes(b"abc")
    path = tmp_path / "dc" / "cas" / blob.hash[:2] / blob.hash
    path.write_bytes(b"abd")
    dest = tmp_path / "out" / "x"
    dest.parent.mkdir()
    assert not cache.get_blob(blob, dest)
    assert not dest.exists() and not path.exists()
    assert list(dest.parent.iterdir()) == []


def test_missing_blob_is_a_miss(tmp_path: Path) -> None:
    cache = _open(tmp_path / "dc")
    _store(cache, stdout=b"some stdout")
    blob = digest_bytes(b"some stdout")
    (tmp_path / "dc" / "cas" / blob.hash[:2] / blob.hash).unlink()
    assert cache.get_action_result(ACTION) is None
    assert not (tmp_path / "dc" / "ac" / ACTION.hash[:2] / ACTION.hash).exists()


def test_output_directory_tree_files_are_checked(tmp_path: Path) -> None:
    cache = _open(tmp_path / "dc")
    file_digest = cache.put_blob_bytes(b"in a tree")
    tree = re_pb2.Tree(root=re_pb2.Directory(files=[re_pb2.FileNode(
        name="f", digest=re_pb2.Digest(hash=file_digest.hash, size_bytes=file_digest.size))]))
    tree_digest = cache.put_blob_bytes(tree.SerializeToString(deterministic=True))
    result = re_pb2.ActionResult(output_directories=[re_pb2.OutputDirectory(
        path="out/dir", tree_digest=re_pb2.Digest(hash=tree_digest.hash, size_bytes=tree_digest.size))])
    cache.put_action_result(ACTION, result)
    assert cache.get_action_result(ACTION) == result

    (tmp_path / "dc" / "cas" / file_digest.hash[:2] / file_digest.hash).unlink()
    assert cache.get_action_result(ACTION) is None


def test_entry_that_is_not_an_action_result_is_a_miss(tmp_path: Path) -> None:
    cache = _open(tmp_path / "dc")
    entry = tmp_path / "dc" / "ac" / ACTION.hash[:2] / ACTION.hash
    entry.parent.mkdir(parents=True)
    # A parseable message naming a path outside the cache: never followed.
    bad = re_pb2.ActionResult(stdout_digest=re_pb2.Digest(hash="../../../etc/passwd", size_bytes=1))
    entry.write_bytes(bad.SerializeToString())
    assert cache.get_action_result(ACTION) is None
    assert not entry.exists()
    entry.write_bytes(b"\xff\xff\xff garbage")
    assert cache.get_action_result(ACTION) is None
    assert not entry.exists()


_WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from kiln.core.digests import digest_bytes
    from kiln.execution.action_cache import OutputFile
    from kiln.execution.disk_cache import DiskCache, action_result
    root, start, me, rounds = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    cache = DiskCache(root)
    while not start.exists():
        pass
    action = digest_bytes(b"the action")
    for i in range(rounds):
        out = (me * 5000).encode()
        result = action_result([OutputFile("out", cache.put_blob_bytes(out), False)], 0,
                               cache.put_blob_bytes(b"stdout of " + me.encode()), None)
        cache.put_action_result(action, result)
""")


def test_concurrent_writers_of_one_entry(tmp_path: Path) -> None:
    root = tmp_path / "dc"
    cache = _open(root)
    start = tmp_path / "start"
    names = ["a", "b", "c", "d"]
    writers = [subprocess.Popen([sys.executable, "-c", _WRITER, str(root), str(start), n, "150"]) for n in names]
    start.touch()
    reads = 0
    while any(w.poll() is None for w in writers):
        got = cache.get_action_result(ACTION)
        if got is not None:
            # Every result read is one writer's complete result, with all its blobs intact.
            (out,) = output_files(got)
            data = cache.get_blob_bytes(out.digest)
            assert data is not None and data in {(n * 5000).encode() for n in names}
            stdout = cache.get_blob_bytes(Digest(got.stdout_digest.hash, got.stdout_digest.size_bytes))
            assert stdout == b"stdout of " + data[:1]
            reads += 1
    assert [w.wait() for w in writers] == [0, 0, 0, 0]
    assert reads > 0
    assert cache.get_action_result(ACTION) is not None
    assert _files(root, "tmp") == []


_BLOCKED_WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from kiln.core.digests import Digest
    from kiln.execution.disk_cache import DiskCache
    DiskCache(Path(sys.argv[1])).put_blob_file(sys.argv[2], Digest("ab" * 32, 1 << 20))
""")


def _start_blocked_writer(root: Path, fifo: Path) -> tuple[subprocess.Popen, object]:
    """A writer copying from a FIFO into the cache, stopped after its first 1 MiB chunk: it is mid-write."""
    os.mkfifo(fifo)
    before = set(_files(root, "tmp"))
    proc = subprocess.Popen([sys.executable, "-c", _BLOCKED_WRITER, str(root), str(fifo)])
    feed = open(fifo, "wb")
    feed.write(b"x" * (1 << 20))
    feed.flush()
    deadline = time.monotonic() + 120
    while not [p for p in _files(root, "tmp") if p not in before and p.stat().st_size == 1 << 20]:
        assert time.monotonic() < deadline, "the writer never wrote its temp file"
        time.sleep(0.01)
    return proc, feed


def _age(paths: list[Path]) -> None:
    old = time.time() - 3600
    for p in paths:
        os.utime(p, (old, old))


def test_writer_killed_mid_write_leaves_no_entry_and_its_temp_is_swept(tmp_path: Path) -> None:
    root = tmp_path / "dc"
    cache = _open(root)
    killed, killed_feed = _start_blocked_writer(root, tmp_path / "fifo1")
    (killed_temp,) = _files(root, "tmp")
    alive, alive_feed = _start_blocked_writer(root, tmp_path / "fifo2")
    (alive_temp,) = [p for p in _files(root, "tmp") if p != killed_temp]

    killed.send_signal(signal.SIGKILL)
    assert killed.wait() == -signal.SIGKILL
    killed_feed.close()
    assert _files(root, "cas") == []
    assert not cache.has_blob(Digest("ab" * 32, 1 << 20))

    # Young temps are left alone (their writer may not hold its lock yet); old ones only if unlocked.
    cache.collect()
    assert _files(root, "tmp") == sorted([killed_temp, alive_temp])
    _age([killed_temp, alive_temp])
    cache.collect()
    assert _files(root, "tmp") == [alive_temp]
    alive_feed.close()  # end of input: the live writer finds a wrong digest and stores nothing
    assert alive.wait() == 0
    assert _files(root, "tmp") == [] and _files(root, "cas") == []


def test_collect_by_size_removes_least_recently_used(tmp_path: Path) -> None:
    root = tmp_path / "dc"
    cache = _open(root)
    blobs = [cache.put_blob_bytes(bytes([i]) * 1000) for i in range(4)]
    paths = [root / "cas" / b.hash[:2] / b.hash for b in blobs]
    for i, p in enumerate(paths):
        t = time.time() - 1000 + i * 100
        os.utime(p, (t, t))
    # A hit refreshes the oldest blob: now the least recently used is the second.
    assert cache.get_blob_bytes(blobs[0]) is not None

    collected = cache.collect(max_size_bytes=2500)
    assert [p.exists() for p in paths] == [True, False, False, True]
    assert (collected.removed_files, collected.removed_bytes, collected.remaining_bytes) == (2, 2000, 2000)


def test_collect_by_age(tmp_path: Path) -> None:
    root = tmp_path / "dc"
    cache = _open(root)
    _store(cache, stdout=b"out", stderr=b"err")
    entry = root / "ac" / ACTION.hash[:2] / ACTION.hash
    old = time.time() - 8 * 86400
    os.utime(entry, (old, old))

    cache.collect(max_age_seconds=parse_gc_max_age("7d"))
    assert not entry.exists()
    assert len(_files(root, "cas")) == 3
    cache.collect(max_age_seconds=parse_gc_max_age("7d"))
    assert len(_files(root, "cas")) == 3


def test_gc_flag_values() -> None:
    assert parse_gc_max_size("10G") == 10 * 1024**3
    assert parse_gc_max_size("512M") == 512 * 1024**2
    assert parse_gc_max_size("3K") == 3072
    assert parse_gc_max_size("2T") == 2 * 1024**4
    assert parse_gc_max_size("1048576") == 1048576
    assert parse_gc_max_size("0") is None
    assert parse_gc_max_age("7d") == 7 * 86400
    assert parse_gc_max_age("12h") == 43200
    assert parse_gc_max_age("30m") == 1800
    assert parse_gc_max_age("45s") == 45
    assert parse_gc_max_age("500ms") == 0.5
    assert parse_gc_max_age("0") is None


@pytest.mark.parametrize("value", ["10GB", "-1", "1.5G", "ten", ""])
def test_bad_gc_max_size(value: str) -> None:
    with pytest.raises(CommandLineError) as e:
        parse_gc_max_size(value)
    assert e.value.render() == (
        f"--experimental_disk_cache_gc_max_size={value}: expected a size in bytes, optionally followed by "
        "K, M, G or T (e.g. 10G)")


@pytest.mark.parametrize("value", ["7", "7w", "1.5h", "-3d", ""])
def test_bad_gc_max_age(value: str) -> None:
    with pytest.raises(CommandLineError) as e:
        parse_gc_max_age(value)
    assert e.value.render() == (
        f"--experimental_disk_cache_gc_max_age={value}: expected a duration such as 7d, 12h, 30m, 45s or 500ms")


def test_unusable_directory_warns_once_and_gives_no_cache(tmp_path: Path) -> None:
    in_the_way = tmp_path / "disk_cache"
    in_the_way.write_text("a regular file")
    warnings: list[str] = []
    assert DiskCache.open(in_the_way, warnings.append) is None
    assert warnings == [f"--disk_cache={in_the_way} cannot be used ({in_the_way}/cas: Not a directory); "
                        "building without the disk cache"]
    assert in_the_way.read_text() == "a regular file"
