"""Saved results: reused while what they read is unchanged, whatever kiln's own links do."""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

import pytest

from kiln.cli import saved_results
from kiln.cli.saved_results import SavedResults


@pytest.fixture
def setup(tmp_path: Path):
    ws = tmp_path / "ws"
    (ws / "pkg").mkdir(parents=True)
    (ws / "pkg" / "BUILD.bazel").write_text("# pkg\n")
    ob = tmp_path / "ob"
    (ob / "tmp").mkdir(parents=True)
    (ob / "execroot").mkdir()
    cache = SavedResults(ob / "plans", ob / "tmp", ob)
    key = cache.key("build", ("//...",))
    cache.save(key, {"answer": 42}, {str(ws), str(ws / "pkg"), str(ws / "pkg" / "BUILD.bazel")})
    return ws, ob, cache, key


def _bump(path: Path) -> None:
    """Makes sure a directory's stamp changes even on a coarse-mtime file system."""
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def test_unchanged_is_reused(setup):
    ws, ob, cache, key = setup
    assert cache.load(key) == {"answer": 42}


def test_own_convenience_links_do_not_invalidate(setup, monkeypatch):
    ws, ob, cache, key = setup
    # What link_convenience_symlinks does: a temporary name renamed over the link.
    os.symlink(ob / "execroot" / "bin", ws / ".kiln-bin.tmp123")
    os.replace(ws / ".kiln-bin.tmp123", ws / "kiln-bin")
    os.symlink(ob / "execroot", ws / "kiln-out")
    _bump(ws)
    assert cache.load(key) == {"answer": 42}
    # The stamps were refreshed: the next load does not list the directory again.
    def no_listing(*args):
        raise AssertionError("listed a directory although its stamp was refreshed")

    monkeypatch.setattr(saved_results, "listing_digest", no_listing)
    assert cache.load(key) == {"answer": 42}


def test_removing_own_links_does_not_invalidate(setup):
    ws, ob, cache, key = setup
    os.symlink(ob / "execroot", ws / "kiln-out")
    _bump(ws)
    assert cache.load(key) == {"answer": 42}
    (ws / "kiln-out").unlink()  # what `kiln clean` does
    _bump(ws)
    assert cache.load(key) == {"answer": 42}


def test_links_under_any_prefix_into_the_output_base_are_ignored(setup):
    ws, ob, cache, key = setup
    os.symlink(ob / "execroot", ws / "out-bin")  # --symlink_prefix=out-
    _bump(ws)
    assert cache.load(key) == {"answer": 42}


def test_new_package_invalidates(setup):
    ws, ob, cache, key = setup
    (ws / "newpkg").mkdir()
    (ws / "newpkg" / "BUILD.bazel").write_text("")
    _bump(ws)
    assert cache.load(key) is None


def test_new_file_in_a_listed_directory_invalidates(setup):
    ws, ob, cache, key = setup
    (ws / "pkg" / "extra.py").write_text("")
    _bump(ws / "pkg")
    assert cache.load(key) is None


def test_removed_package_invalidates(setup):
    ws, ob, cache, key = setup
    (ws / "pkg" / "BUILD.bazel").unlink()
    (ws / "pkg").rmdir()
    assert cache.load(key) is None


def test_user_symlink_named_like_kiln_links_invalidates(setup, tmp_path):
    ws, ob, cache, key = setup
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(elsewhere, ws / "kiln-mine")
    _bump(ws)
    assert cache.load(key) is None


def test_edited_build_file_invalidates(setup):
    ws, ob, cache, key = setup
    (ws / "pkg" / "BUILD.bazel").write_text("# edited\n")
    _bump(ws / "pkg" / "BUILD.bazel")
    assert cache.load(key) is None


def test_damaged_entry_is_a_miss(setup):
    ws, ob, cache, key = setup
    entry = ob / "plans" / key
    data = entry.read_bytes()
    entry.write_bytes(data[: len(data) - 5])
    assert cache.load(key) is None
    entry.write_bytes(b"not a pickle")
    assert cache.load(key) is None


def test_refresh_keeps_the_result_bytes(setup):
    ws, ob, cache, key = setup
    entry = ob / "plans" / key
    before = entry.read_bytes()
    os.symlink(ob / "execroot", ws / "kiln-out")
    _bump(ws)
    assert cache.load(key) == {"answer": 42}
    after = entry.read_bytes()
    assert after != before
    stream_before, stream_after = _split(before), _split(after)
    assert stream_before[1] == stream_after[1]
    assert stream_before[0] != stream_after[0]


def _split(data: bytes) -> tuple[bytes, bytes]:
    s = io.BytesIO(data)
    pickle.load(s)
    return data[: s.tell()], data[s.tell():]
