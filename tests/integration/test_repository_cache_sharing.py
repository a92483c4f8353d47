"""Concurrent kiln processes of different workspaces sharing one repository cache, and a killed download."""

from __future__ import annotations

import hashlib
import os
import shlex
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from archive_server import ArchiveServer, Route
from test_disk_full import _private_tmpfs_works

BODY = os.urandom(3 << 20)
SHA = hashlib.sha256(BODY).hexdigest()

FETCH = textwrap.dedent("""
    import sys
    from pathlib import Path
    from kiln.repos.downloader import Downloader
    from kiln.repos.repository_cache import RepositoryCache
    cache, url, sha, output = sys.argv[1:]
    got = Downloader(RepositoryCache(Path(cache))).fetch([url], sha256=sha, output=Path(output))
    print(got.origin)
""")

# Stores the same file again and again (a writer) or reads it again and again (a reader)
# until the stop file appears; prints how many reads found the file whole.
CHURN = textwrap.dedent("""
    import hashlib, os, sys
    from pathlib import Path
    from kiln.repos.checksums import Checksum
    from kiln.repos.repository_cache import RepositoryCache
    role, cache, src, sha, stop, out = sys.argv[1:]
    cache = RepositoryCache(Path(cache))
    checksum = Checksum("sha256", sha)
    hits = misses = 0
    while not os.path.exists(stop):
        if role == "writer":
            assert cache.put(Path(src), checksum)
        elif cache.get(checksum, Path(out)):
            hits += 1
        else:
            misses += 1
    print(hits, misses)
""")


@pytest.fixture
def server():
    with ArchiveServer() as s:
        yield s


def _start(script: str, *args: object) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", script, *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_concurrent_fetches_of_one_file_all_succeed_and_store_it_once(tmp_path: Path, server) -> None:
    route = Route(BODY, seconds_per_chunk=0.01)  # about 0.5 s: the fetches overlap
    url = server.add("/pkg.tar.gz", route)
    cache = tmp_path / "cache"
    procs = [_start(FETCH, cache, url, SHA, tmp_path / f"ws{i}" / "pkg.tar.gz") for i in range(4)]
    results = [(p.wait(timeout=120), p.stdout.read(), p.stderr.read()) for p in procs]
    assert [r[0] for r in results] == [0, 0, 0, 0], results
    for i in range(4):
        assert (tmp_path / f"ws{i}" / "pkg.tar.gz").read_bytes() == BODY
    assert os.listdir(cache / "content_addressable" / "sha256") == [SHA]
    assert (cache / "content_addressable" / "sha256" / SHA / "file").read_bytes() == BODY
    assert os.listdir(cache / "tmp") == []


def test_readers_never_see_a_partial_file_while_writers_replace_it(tmp_path: Path) -> None:
    src = tmp_path / "src.tar.gz"
    src.write_bytes(BODY * 3)
    sha = hashlib.sha256(BODY * 3).hexdigest()
    cache, stop = tmp_path / "cache", tmp_path / "stop"
    writers = [_start(CHURN, "writer", cache, src, sha, stop, "-") for _ in range(2)]
    # The file is in the cache before any reader starts: every read must find it whole.
    deadline = time.monotonic() + 60
    while not (cache / "content_addressable" / "sha256" / sha / "file").exists():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    readers = [_start(CHURN, "reader", cache, src, sha, stop, tmp_path / f"out{i}") for i in range(2)]
    time.sleep(3)
    stop.touch()
    for p in writers + readers:
        assert p.wait(timeout=60) == 0, p.stderr.read()
    for p in readers:
        hits, misses = map(int, p.stdout.read().split())
        assert hits > 0 and misses == 0
    assert os.listdir(cache / "tmp") == []


def test_a_killed_download_leaves_no_entry_and_its_temp_file_is_removed_later(tmp_path: Path, server) -> None:
    url = server.add("/slow.tar.gz", Route(BODY, seconds_per_chunk=0.05))  # about 2.5 s
    cache = tmp_path / "cache"
    proc = _start(FETCH, cache, url, SHA, tmp_path / "ws1" / "pkg.tar.gz")
    deadline = time.monotonic() + 30
    while not ((cache / "tmp").exists() and os.listdir(cache / "tmp")
               and os.path.getsize(cache / "tmp" / os.listdir(cache / "tmp")[0]) > 0):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    (left,) = os.listdir(cache / "tmp")
    assert not (cache / "content_addressable").exists()
    # An hour later, the next command of any workspace removes what the killed one left.
    old = time.time() - 3600
    os.utime(cache / "tmp" / left, (old, old))
    fast = server.add("/pkg.tar.gz", Route(BODY))
    done = _start(FETCH, cache, fast, SHA, tmp_path / "ws2" / "pkg.tar.gz")
    assert done.wait(timeout=60) == 0, done.stderr.read()
    assert os.listdir(cache / "tmp") == []
    assert (tmp_path / "ws2" / "pkg.tar.gz").read_bytes() == BODY


def test_a_full_disk_is_not_blamed_on_the_url_and_leaves_nothing_in_the_cache(tmp_path: Path, server) -> None:
    if not _private_tmpfs_works(tmp_path / "probe"):
        if os.environ.get("CI") == "true":
            pytest.fail("cannot mount a tmpfs in a private mount namespace (unshare -m, as root)")
        pytest.skip("cannot mount a tmpfs in a private mount namespace (needs unshare and root)")
    url = server.add("/pkg.tar.gz", Route(BODY))
    cache = tmp_path / "cache"
    cache.mkdir()
    q = {k: shlex.quote(str(v)) for k, v in
         {"cache": cache, "py": sys.executable, "script": FETCH, "url": url, "out": tmp_path / "ws" / "a.tar.gz",
          "res": tmp_path / "res"}.items()}
    script = (f"mount -t tmpfs -o size=1m tmpfs {q['cache']} || exit 90\n"
              f"{q['py']} -c {q['script']} {q['cache']} {q['url']} {SHA} {q['out']} 2>{q['res']}.err;"
              f" echo $? >{q['res']}.rc\n"
              f"find {q['cache']} -type f >{q['res']}.files\n")
    r = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    err = (tmp_path / "res.err").read_text()
    assert (tmp_path / "res.rc").read_text().strip() == "1"
    assert err.strip().splitlines()[-1] == "OSError: [Errno 28] No space left on device", err
    assert (tmp_path / "res.files").read_text() == ""
