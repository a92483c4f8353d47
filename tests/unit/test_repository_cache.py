"""The repository cache: verified copies in and out, canonical ids, and temp files left by killed writers."""

from __future__ import annotations

import fcntl
import hashlib
import os
import time
from pathlib import Path

from kiln.repos.checksums import Checksum
from kiln.repos.repository_cache import RepositoryCache, default_repository_cache_dir

DATA = b"an archive\n" * 1000
CHECKSUM = Checksum("sha256", hashlib.sha256(DATA).hexdigest())


def _cache(tmp_path: Path) -> RepositoryCache:
    return RepositoryCache(tmp_path / "cache")


def _source(tmp_path: Path, data: bytes = DATA) -> Path:
    p = tmp_path / "src.tar.gz"
    p.write_bytes(data)
    return p


def test_put_then_get_copies_the_file_out(tmp_path: Path) -> None:
    cache = _cache(tmp_path)
    assert cache.put(_source(tmp_path), CHECKSUM)
    out = tmp_path / "repo" / "a.tar.gz"
    assert cache.get(CHECKSUM, out)
    assert out.read_bytes() == DATA
    entry = tmp_path / "cache/content_addressable/sha256" / CHECKSUM.hex / "file"
    assert entry.read_bytes() == DATA
    assert not os.path.samefile(entry, out)  # a copy: writing the output cannot change the cache
    assert os.listdir(tmp_path / "cache/tmp") == []


def test_miss_writes_no_output(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert not _cache(tmp_path).get(CHECKSUM, out)
    assert not out.exists()


def test_put_of_other_content_stores_nothing(tmp_path: Path) -> None:
    cache = _cache(tmp_path)
    assert not cache.put(_source(tmp_path, b"something else"), CHECKSUM)
    assert not (tmp_path / "cache/content_addressable/sha256" / CHECKSUM.hex).exists()
    assert os.listdir(tmp_path / "cache/tmp") == []


def test_damaged_entry_is_a_miss_and_the_next_put_repairs_it(tmp_path: Path) -> None:
    cache = _cache(tmp_path)
    cache.put(_source(tmp_path), CHECKSUM)
    entry = tmp_path / "cache/content_addressable/sha256" / CHECKSUM.hex / "file"
    entry.write_bytes(DATA[:100])
    out = tmp_path / "out"
    assert not cache.get(CHECKSUM, out)
    assert not out.exists()
    assert [p for p in os.listdir(tmp_path) if p.startswith(".out.")] == []
    assert cache.put(_source(tmp_path), CHECKSUM)
    assert cache.get(CHECKSUM, out) and out.read_bytes() == DATA


def test_canonical_id_must_match_when_given(tmp_path: Path) -> None:
    cache = _cache(tmp_path)
    cache.put(_source(tmp_path), CHECKSUM, canonical_id="https://a/x-1.0.tar.gz")
    out = tmp_path / "out"
    assert not cache.get(CHECKSUM, out, canonical_id="https://a/x-2.0.tar.gz")
    assert cache.get(CHECKSUM, out, canonical_id="https://a/x-1.0.tar.gz")
    assert cache.get(CHECKSUM, tmp_path / "out2")


def test_abandoned_temp_files_are_removed_but_not_ones_being_written(tmp_path: Path) -> None:
    cache = _cache(tmp_path)
    tmp_dir = tmp_path / "cache/tmp"
    tmp_dir.mkdir(parents=True)
    old = time.time() - 3600
    abandoned = tmp_dir / "abandoned"
    abandoned.write_bytes(b"half a download")
    os.utime(abandoned, (old, old))
    being_written = tmp_dir / "being_written"
    being_written.write_bytes(b"a slow download")
    os.utime(being_written, (old, old))
    young = tmp_dir / "young"
    young.write_bytes(b"its writer has not locked it yet")
    with open(being_written, "rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert cache.put(_source(tmp_path), CHECKSUM)
        assert sorted(os.listdir(tmp_dir)) == ["being_written", "young"]


def test_default_directory_follows_xdg_then_home() -> None:
    assert default_repository_cache_dir({"XDG_CACHE_HOME": "/x/cache", "HOME": "/home/u"}) == \
        Path("/x/cache/kiln/repository_cache")
    assert default_repository_cache_dir({"HOME": "/home/u"}) == Path("/home/u/.cache/kiln/repository_cache")
    # XDG says a relative value is invalid and must be ignored.
    assert default_repository_cache_dir({"XDG_CACHE_HOME": "rel", "HOME": "/home/u"}) == \
        Path("/home/u/.cache/kiln/repository_cache")
