"""The simple API on 127.0.0.1 (JSON and HTML), pip's index configuration, and downloads checked by the lock."""

from __future__ import annotations

import pytest
from pip_wheels import IndexServer, make_wheel, sha256

from kiln.repos.downloader import Downloader
from kiln.repos.pip_index import (PYPI, IndexConfig, IndexFile, PackageIndexError, download, lock_index,
                                  machine_index, project_files)
from kiln.repos.pip_lock import parse_lock
from kiln.repos.repository_cache import RepositoryCache

WHEEL, WHEEL_BYTES = make_wheel("Demo_Pkg", "1.0", {"demo_pkg/__init__.py": "X = 1\n"})


def config(url: str) -> IndexConfig:
    return IndexConfig(url, (), "the test")


@pytest.mark.parametrize("html_only", [False, True])
def test_a_projects_files_with_hashes_requires_python_and_yanked(html_only):
    with IndexServer(html_only=html_only) as index:
        index.add("demo-pkg", WHEEL, WHEEL_BYTES, requires_python=">=3.8")
        index.add("demo-pkg", "demo_pkg-1.0.tar.gz", b"sdist", claimed_sha256="", yanked="bad release")
        files = project_files(config(index.url), "Demo.Pkg")
        base = index.url.removesuffix("/simple")
        assert files == (
            IndexFile(WHEEL, f"{base}/files/{WHEEL}", sha256(WHEEL_BYTES), ">=3.8", None),
            IndexFile("demo_pkg-1.0.tar.gz", f"{base}/files/demo_pkg-1.0.tar.gz", "", "", "bad release"),
        )
        assert index.requests == ["/simple/demo-pkg/"]


def test_files_of_the_extra_indexes_are_merged():
    with IndexServer() as main, IndexServer(html_only=True) as extra:
        extra.add("demo-pkg", WHEEL, WHEEL_BYTES)
        files = project_files(IndexConfig(main.url, (extra.url,), "the test"), "demo-pkg")
        assert [f.filename for f in files] == [WHEEL]
        assert main.requests == ["/simple/demo-pkg/"]


def test_a_project_on_no_index():
    with IndexServer() as index:
        with pytest.raises(PackageIndexError) as e:
            project_files(config(index.url), "Nope")
        assert e.value.render() == (f"nope is not on the package index ({index.url}/nope/ answered 404; the index "
                                    "is configured by the test)")


def test_an_unreachable_index():
    with IndexServer() as index:
        url = index.url
    with pytest.raises(PackageIndexError) as e:
        project_files(config(url), "demo")
    assert e.value.render() == f"the package index is unreachable: {url}/demo/: Connection refused"


def test_download_checks_the_lock_and_fills_the_repository_cache(tmp_path):
    cache = RepositoryCache(tmp_path / "cache")
    with IndexServer() as index:
        index.add("demo-pkg", WHEEL, WHEEL_BYTES)
        (found,) = project_files(config(index.url), "demo-pkg")
        out = download(Downloader(cache), found, pinned="demo-pkg==1.0", allowed=[sha256(WHEEL_BYTES)],
                       output=tmp_path / "a" / WHEEL)
        assert out.read_bytes() == WHEEL_BYTES
        assert index.requests == ["/simple/demo-pkg/", f"/files/{WHEEL}"]
        # A second setup is a cache hit: no request.
        download(Downloader(cache), found, pinned="demo-pkg==1.0", allowed=[sha256(WHEEL_BYTES)],
                 output=tmp_path / "b" / WHEEL)
        assert (tmp_path / "b" / WHEEL).read_bytes() == WHEEL_BYTES
        assert index.requests == ["/simple/demo-pkg/", f"/files/{WHEEL}"]


def test_a_hash_mismatch_names_package_url_and_both_digests_and_caches_nothing(tmp_path):
    cache = RepositoryCache(tmp_path / "cache")
    locked = sha256(b"what the lock pinned")
    with IndexServer() as index:
        index.add("demo-pkg", WHEEL, WHEEL_BYTES, claimed_sha256=locked)  # the index lies about the file
        (found,) = project_files(config(index.url), "demo-pkg")
        with pytest.raises(PackageIndexError) as e:
            download(Downloader(cache, attempts=1), found, pinned="demo-pkg==1.0", allowed=[locked],
                     output=tmp_path / "out" / WHEEL)
        base = index.url.removesuffix("/simple")
        assert e.value.render() == (
            f"demo-pkg==1.0: could not download {WHEEL}:\n  {base}/files/{WHEEL}: sha256 mismatch: expected {locked}, "
            f"got {sha256(WHEEL_BYTES)} (the file was not stored in the repository cache)")
    assert not (tmp_path / "out" / WHEEL).exists()
    assert not list((tmp_path / "cache").glob("content_addressable/*/*"))


def test_a_file_without_an_index_hash_is_checked_against_every_allowed_hash(tmp_path):
    cache = RepositoryCache(tmp_path / "cache")
    with IndexServer(html_only=True) as index:
        index.add("demo-pkg", WHEEL, WHEEL_BYTES, claimed_sha256="")
        (found,) = project_files(config(index.url), "demo-pkg")
        assert found.sha256 == ""
        allowed = ["0" * 64, sha256(WHEEL_BYTES)]
        download(Downloader(cache), found, pinned="demo-pkg==1.0", allowed=allowed, output=tmp_path / "a.whl")
        assert (tmp_path / "a.whl").read_bytes() == WHEEL_BYTES
        download(Downloader(cache), found, pinned="demo-pkg==1.0", allowed=allowed, output=tmp_path / "b.whl")
        assert index.requests.count(f"/files/{WHEEL}") == 1  # the second came from the cache
        with pytest.raises(PackageIndexError) as e:
            download(Downloader(RepositoryCache(tmp_path / "other")), found, pinned="demo-pkg==1.0",
                     allowed=["0" * 64], output=tmp_path / "c.whl")
        assert e.value.render() == (
            f"demo-pkg==1.0: sha256 mismatch for {found.url}: the lock allows {'0' * 64}, the file's is "
            f"{sha256(WHEEL_BYTES)} (it was not stored in the repository cache)")
        assert not (tmp_path / "c.whl").exists()
        assert not list((tmp_path / "other").glob("content_addressable/*/*"))


def test_the_machines_pip_configuration(tmp_path):
    etc, home = tmp_path / "etc", tmp_path / "home"
    (etc / "xdg" / "pip").mkdir(parents=True)
    (home / ".config" / "pip").mkdir(parents=True)
    (home / ".pip").mkdir()
    env = {"HOME": str(home)}
    assert machine_index(env, etc) == IndexConfig(PYPI, (), "PyPI (pip configures no index-url on this machine)")
    (etc / "xdg" / "pip" / "pip.conf").write_text("[global]\nindex-url = https://xdg.example/simple\n")
    (etc / "pip.conf").write_text("[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n")
    assert machine_index(env, etc) == IndexConfig("https://xdg.example/simple", (), str(etc / "xdg/pip/pip.conf"))
    (etc / "pip.conf").write_text("[global]\nindex-url = https://etc.example/simple\n")
    assert machine_index(env, etc) == IndexConfig("https://etc.example/simple", (), str(etc / "pip.conf"))
    (home / ".pip" / "pip.conf").write_text("[global]\nindex-url = https://legacy.example/simple\n")
    assert machine_index(env, etc).index_url == "https://legacy.example/simple"
    user = home / ".config" / "pip" / "pip.conf"
    user.write_text("[global]\nindex_url = https://user.example/simple\nextra-index-url =\n  https://x.example/simple\n"
                    "  https://y.example/simple\n")
    assert machine_index(env, etc) == IndexConfig(
        "https://user.example/simple", ("https://x.example/simple", "https://y.example/simple"), str(user))
    user.write_text("[global]\nindex-url = https://user.example/simple\n[install]\n"
                    "index-url = https://install.example/simple\n")
    assert machine_index(env, etc).index_url == "https://install.example/simple"
    # $PIP_CONFIG_FILE replaces the user's files, not the machine's.
    chosen = tmp_path / "chosen.conf"
    chosen.write_text("[global]\nextra-index-url = https://chosen.example/simple\n")
    assert machine_index({**env, "PIP_CONFIG_FILE": str(chosen)}, etc) == IndexConfig(
        "https://etc.example/simple", ("https://chosen.example/simple",), str(etc / "pip.conf"))
    from_env = machine_index({**env, "PIP_INDEX_URL": "https://env.example/simple",
                              "PIP_EXTRA_INDEX_URL": "https://e1.example https://e2.example"}, etc)
    assert from_env == IndexConfig("https://env.example/simple", ("https://e1.example", "https://e2.example"),
                                   "PIP_INDEX_URL")


def test_a_broken_pip_configuration(tmp_path):
    (tmp_path / "pip.conf").write_text("index-url = https://x.example\n")
    with pytest.raises(PackageIndexError) as e:
        machine_index({"HOME": str(tmp_path / "home")}, tmp_path)
    assert e.value.render().startswith(f"cannot read pip's configuration {tmp_path / 'pip.conf'}: File contains no "
                                       "section headers.")


def test_the_locks_index_lines_come_first():
    machine = IndexConfig("https://machine.example/simple", ("https://m2.example/simple",), "PIP_INDEX_URL")
    with_index = parse_lock("--index-url https://lock.example/simple\n--extra-index-url https://l2.example/simple\n",
                            "req.txt")
    assert lock_index(with_index, machine) == IndexConfig("https://lock.example/simple",
                                                          ("https://l2.example/simple",), "req.txt (--index-url)")
    extra_only = parse_lock("--extra-index-url https://l2.example/simple\n", "req.txt")
    assert lock_index(extra_only, machine) == IndexConfig(
        "https://machine.example/simple", ("https://m2.example/simple", "https://l2.example/simple"), "PIP_INDEX_URL")
