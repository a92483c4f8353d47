"""The downloader against real HTTP servers on 127.0.0.1: verification, cache, distdir, retries, messages."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import os
import shutil
import socket
import ssl
import subprocess
import tarfile
import time
from pathlib import Path

import pytest
from archive_server import ArchiveServer, Route
from conftest import unavailable

from kiln.repos.archives import ArchiveError, extract
from kiln.repos.checksums import Checksum
from kiln.repos.downloader import DownloadError, Downloader
from kiln.repos.repository_cache import RepositoryCache

BODY = os.urandom(300_000)
SHA = hashlib.sha256(BODY).hexdigest()


@pytest.fixture
def server():
    with ArchiveServer() as s:
        yield s


def _downloader(tmp_path: Path, **kw) -> Downloader:
    kw.setdefault("backoff", 0.01)
    kw.setdefault("timeout", 5.0)
    cache = kw.pop("cache", RepositoryCache(tmp_path / "cache"))
    return Downloader(cache, kw.pop("distdirs", ()), kw.pop("progress", None), **kw)


def _cache_entries(tmp_path: Path) -> list[str]:
    root = tmp_path / "cache" / "content_addressable"
    return sorted(f"{a}/{h}" for a in os.listdir(root) for h in os.listdir(root / a)) if root.exists() else []


def _refused_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/gone.tar.gz"


def test_download_is_verified_cached_and_the_second_fetch_is_a_cache_hit(tmp_path: Path, server) -> None:
    route = Route(BODY)
    url = server.add("/pkg-1.0.tar.gz", route)
    got = _downloader(tmp_path).fetch([url], sha256=SHA, output=tmp_path / "a" / "pkg.tar.gz")
    assert (got.path.read_bytes(), got.checksum, got.origin) == (BODY, Checksum("sha256", SHA), url)
    assert _cache_entries(tmp_path) == [f"sha256/{SHA}"]
    # Another workspace of the same user: same cache, another output.
    again = _downloader(tmp_path).fetch([url], sha256=SHA, output=tmp_path / "b" / "pkg.tar.gz")
    assert (again.path.read_bytes(), again.origin) == (BODY, "repository cache")
    assert route.requests == 1
    assert os.listdir(tmp_path / "cache" / "tmp") == []


@pytest.mark.parametrize("algorithm", ["sha256", "sha384", "sha512"])
def test_integrity_is_verified_and_keys_the_cache(tmp_path: Path, server, algorithm: str) -> None:
    digest = hashlib.new(algorithm, BODY).digest()
    url = server.add("/a.zip", Route(BODY))
    got = _downloader(tmp_path).fetch(
        [url], integrity=f"{algorithm}-{base64.b64encode(digest).decode()}", output=tmp_path / "a.zip")
    assert got.checksum == Checksum(algorithm, digest.hex())
    assert _cache_entries(tmp_path) == [f"{algorithm}/{digest.hex()}"]


def test_sha256_mismatch_names_both_hashes_and_stores_nothing(tmp_path: Path, server) -> None:
    url = server.add("/pkg.tar.gz", Route(BODY))
    wrong = "0" * 64
    with pytest.raises(DownloadError) as e:
        _downloader(tmp_path).fetch([url], sha256=wrong, output=tmp_path / "pkg.tar.gz")
    assert e.value.render() == (
        f"could not download pkg.tar.gz:\n  {url}: sha256 mismatch: expected {wrong}, got {SHA} "
        "(the file was not stored in the repository cache)")
    assert _cache_entries(tmp_path) == []
    assert os.listdir(tmp_path / "cache" / "tmp") == []
    assert not (tmp_path / "pkg.tar.gz").exists()


def test_integrity_mismatch_shows_both_in_sri_form(tmp_path: Path, server) -> None:
    url = server.add("/pkg.tar.gz", Route(BODY))
    wrong = "sha512-" + base64.b64encode(b"\1" * 64).decode()
    actual = "sha512-" + base64.b64encode(hashlib.sha512(BODY).digest()).decode()
    with pytest.raises(DownloadError) as e:
        _downloader(tmp_path).fetch([url], integrity=wrong, output=tmp_path / "pkg.tar.gz")
    assert e.value.render() == (
        f"could not download pkg.tar.gz:\n  {url}: sha512 mismatch: expected {wrong}, got {actual} "
        "(the file was not stored in the repository cache)")
    assert _cache_entries(tmp_path) == []


def test_without_checksum_the_file_is_stored_by_its_sha256(tmp_path: Path, server) -> None:
    route = Route(BODY)
    url = server.add("/pkg.tar.gz", route)
    got = _downloader(tmp_path).fetch([url], output=tmp_path / "1.tar.gz")
    assert got.checksum == Checksum("sha256", SHA)
    hit = _downloader(tmp_path).fetch([url], sha256=SHA, output=tmp_path / "2.tar.gz")
    assert (hit.origin, route.requests) == ("repository cache", 1)


def test_transient_errors_are_retried_with_growing_delays(tmp_path: Path, server) -> None:
    route = Route(BODY, fail_first=2)
    url = server.add("/flaky.tar.gz", route)
    start = time.monotonic()
    got = _downloader(tmp_path, attempts=3, backoff=0.2).fetch([url], sha256=SHA, output=tmp_path / "f")
    assert got.path.read_bytes() == BODY
    assert route.requests == 3
    assert time.monotonic() - start >= 0.2 + 0.4


def test_404_is_not_retried_and_the_next_url_is_tried(tmp_path: Path, server) -> None:
    missing = Route(status=404)
    mirror = Route(BODY)
    urls = [server.add("/missing/pkg.tar.gz", missing), server.add("/mirror/pkg.tar.gz", mirror)]
    got = _downloader(tmp_path, attempts=3).fetch(urls, sha256=SHA, output=tmp_path / "pkg.tar.gz")
    assert (got.origin, missing.requests, mirror.requests) == (urls[1], 1, 1)


def test_every_url_unreachable_lists_each_url_and_its_error(tmp_path: Path, server) -> None:
    refused = _refused_url()
    not_found = server.add("/nf/pkg.tar.gz", Route(status=404))
    broken = server.add("/broken/pkg.tar.gz", Route(status=500))
    truncating = server.add("/cut/pkg.tar.gz", Route(BODY, truncate=True))
    stalled = server.add("/slow/pkg.tar.gz", Route(BODY, stall_s=1.0))
    urls = [refused, not_found, broken, truncating, stalled, "ftp://127.0.0.1/pkg.tar.gz"]
    with pytest.raises(DownloadError) as e:
        _downloader(tmp_path, attempts=2, timeout=0.3).fetch(urls, sha256=SHA, output=tmp_path / "p.tar.gz")
    assert e.value.render() == "\n".join([
        "could not download gone.tar.gz:",
        f"  {refused}: connection refused",
        f"  {not_found}: HTTP 404 Not Found",
        f"  {broken}: HTTP 500 Internal Server Error (tried 2 times)",
        f"  {truncating}: connection closed after {len(BODY) // 2} of {len(BODY)} bytes (tried 2 times)",
        f"  {stalled}: timed out (no data for 0.3 s) (tried 2 times)",
        "  ftp://127.0.0.1/pkg.tar.gz: unsupported URL scheme 'ftp' (kiln downloads http, https, file URLs)",
    ])
    assert _cache_entries(tmp_path) == []
    assert not (tmp_path / "p.tar.gz").exists()


def test_a_connection_closed_early_is_retried(tmp_path: Path, server) -> None:
    route = Route(BODY, truncate=True, truncate_first=1)
    url = server.add("/cut.tar.gz", route)
    got = _downloader(tmp_path).fetch([url], sha256=SHA, output=tmp_path / "c.tar.gz")
    assert (got.path.read_bytes(), route.requests) == (BODY, 2)


def test_unknown_host_and_missing_local_file(tmp_path: Path) -> None:
    missing = (tmp_path / "nowhere" / "a.tar.gz").as_uri()
    with pytest.raises(DownloadError) as e:
        _downloader(tmp_path).fetch(["http://kiln-no-such-host.invalid/a.tar.gz", missing],
                                    sha256=SHA, output=tmp_path / "a")
    lines = e.value.render().splitlines()
    assert lines[0] == "could not download a.tar.gz:"
    assert lines[1].startswith("  http://kiln-no-such-host.invalid/a.tar.gz: unknown host (")
    assert lines[2] == f"  {missing}: No such file or directory"
    assert len(lines) == 3


def test_file_url(tmp_path: Path) -> None:
    src = tmp_path / "local.tar.gz"
    src.write_bytes(BODY)
    got = _downloader(tmp_path).fetch([src.as_uri()], sha256=SHA, output=tmp_path / "out.tar.gz")
    assert (got.path.read_bytes(), got.origin) == (BODY, src.as_uri())


def test_distdir_file_is_used_by_url_file_name_and_enters_the_cache(tmp_path: Path, server) -> None:
    route = Route(BODY)
    url = server.add("/releases/v1/pkg-1.0.tar.gz", route)
    distdir = tmp_path / "dist"
    distdir.mkdir()
    (distdir / "pkg-1.0.tar.gz").write_bytes(BODY)
    got = _downloader(tmp_path, distdirs=[tmp_path / "empty", distdir]).fetch(
        [url], sha256=SHA, output=tmp_path / "out.tar.gz")
    assert (got.path.read_bytes(), got.origin, route.requests) == (BODY, str(distdir / "pkg-1.0.tar.gz"), 0)
    assert _cache_entries(tmp_path) == [f"sha256/{SHA}"]


def test_distdir_file_with_other_content_is_not_used(tmp_path: Path, server) -> None:
    route = Route(BODY)
    url = server.add("/pkg-1.0.tar.gz", route)
    distdir = tmp_path / "dist"
    distdir.mkdir()
    (distdir / "pkg-1.0.tar.gz").write_bytes(b"an older release")
    got = _downloader(tmp_path, distdirs=[distdir]).fetch([url], sha256=SHA, output=tmp_path / "o")
    assert (got.path.read_bytes(), got.origin, route.requests) == (BODY, url, 1)


def test_distdir_mismatch_is_listed_when_nothing_else_works(tmp_path: Path) -> None:
    distdir = tmp_path / "dist"
    distdir.mkdir()
    (distdir / "gone.tar.gz").write_bytes(b"an older release")
    refused = _refused_url()
    with pytest.raises(DownloadError) as e:
        _downloader(tmp_path, distdirs=[distdir]).fetch([refused], sha256=SHA, output=tmp_path / "o")
    assert e.value.render() == (f"could not download gone.tar.gz:\n"
                                f"  {distdir}/gone.tar.gz (--distdir): sha256 does not match, not used\n"
                                f"  {refused}: connection refused")


def test_without_a_cache_the_download_lands_at_output(tmp_path: Path, server) -> None:
    url = server.add("/p.tar.gz", Route(BODY))
    got = _downloader(tmp_path, cache=None).fetch([url], sha256=SHA, output=tmp_path / "repo" / "p.tar.gz")
    assert got.path.read_bytes() == BODY
    assert os.listdir(tmp_path / "repo") == ["p.tar.gz"]
    assert not (tmp_path / "cache").exists()


def test_canonical_id_change_downloads_again(tmp_path: Path, server) -> None:
    route = Route(BODY)
    url = server.add("/p.tar.gz", route)
    d = _downloader(tmp_path)
    d.fetch([url], sha256=SHA, output=tmp_path / "1", canonical_id="p-1.0")
    assert d.fetch([url], sha256=SHA, output=tmp_path / "2", canonical_id="p-1.0").origin == "repository cache"
    assert d.fetch([url], sha256=SHA, output=tmp_path / "3", canonical_id="p-2.0").origin == url
    assert route.requests == 2


def test_progress_is_reported_for_a_slow_download_only(tmp_path: Path, server) -> None:
    body = os.urandom(10 * (1 << 16))
    slow = server.add("/slow.tar.gz", Route(body, seconds_per_chunk=0.3))
    fast = server.add("/fast.tar.gz", Route(body))
    seen: list[str] = []
    d = _downloader(tmp_path, cache=None, progress=seen.append)
    d.fetch([fast], output=tmp_path / "fast")
    assert seen == []
    d.fetch([slow], output=tmp_path / "slow")
    assert len(seen) >= 1
    for line in seen:
        assert line.startswith(f"Fetching {slow}: ") and line.endswith("%)") and " of 0.7 MB (" in line


def test_no_urls(tmp_path: Path) -> None:
    with pytest.raises(DownloadError) as e:
        _downloader(tmp_path).fetch([], sha256=SHA, output=tmp_path / "x.tar.gz")
    assert e.value.render() == "no URL to download x.tar.gz from"


def _self_signed(directory: Path, name: str) -> tuple[Path, Path]:
    """(certificate, key) for 127.0.0.1, signed by itself: trusted only where it is named as a CA."""
    if shutil.which("openssl") is None:
        unavailable("needs the openssl command to make a TLS certificate")
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return cert, key


def _https(server: ArchiveServer, cert: Path, key: Path) -> ArchiveServer:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.httpd.socket = context.wrap_socket(server.httpd.socket, server_side=True)
    return server


def test_https_downloads_load_the_ca_store_once_and_verify_the_server(tmp_path: Path, monkeypatch) -> None:
    trusted, untrusted = _self_signed(tmp_path, "trusted"), _self_signed(tmp_path, "untrusted")
    monkeypatch.setenv("SSL_CERT_FILE", str(trusted[0]))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    loads = []
    real = ssl.SSLContext.load_default_certs
    monkeypatch.setattr(ssl.SSLContext, "load_default_certs", lambda self, *a: loads.append(1) or real(self, *a))
    bodies = [os.urandom(1000 + i) for i in range(3)]
    with _https(ArchiveServer(), *trusted) as good, _https(ArchiveServer(), *untrusted) as bad:
        downloader = _downloader(tmp_path)
        for i, body in enumerate(bodies):
            url = good.add(f"/f{i}", Route(body)).replace("http://", "https://")
            got = downloader.fetch([url], sha256=hashlib.sha256(body).hexdigest(), output=tmp_path / f"f{i}")
            assert got.path.read_bytes() == body
        # Each connection was a new TLS handshake; the CA store was read for the first only.
        assert (loads, [good.routes[f"/f{i}"].requests for i in range(3)]) == ([1], [1, 1, 1])
        url = bad.add("/g", Route(BODY)).replace("http://", "https://")
        with pytest.raises(DownloadError) as e:
            downloader.fetch([url], sha256=SHA, output=tmp_path / "g")
    assert e.value.render() == (f"could not download g:\n  {url}: the server's TLS certificate was not accepted "
                                "(self-signed certificate)")
    assert not (tmp_path / "g").exists()


def _targz(entries: list[tuple[str, bytes] | tuple[str, str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for e in entries:
            info = tarfile.TarInfo(e[0])
            if len(e) == 3:
                info.type, info.linkname = e[1], e[2].decode()
                tar.addfile(info)
            else:
                info.size = len(e[1])
                tar.addfile(info, io.BytesIO(e[1]))
    return gzip.compress(buf.getvalue())


def _fetch_and_extract(tmp_path: Path, server, name: str, body: bytes, **extract_kw):
    """What an http_archive does: fetch the archive, extract it into the repository's directory."""
    url = server.add(f"/{name}", Route(body))
    got = _downloader(tmp_path).fetch([url], sha256=hashlib.sha256(body).hexdigest(),
                                      output=tmp_path / "dl" / name)
    extract(got.path, tmp_path / "repo", **extract_kw)
    return tmp_path / "repo"


def test_served_archive_extracts_with_strip_prefix(tmp_path: Path, server) -> None:
    body = _targz([("lib-2.1/BUILD.bazel", b"# b\n"), ("lib-2.1/lib.py", b"V = 2\n")])
    repo = _fetch_and_extract(tmp_path, server, "lib-2.1.tar.gz", body, strip_prefix="lib-2.1")
    assert sorted(os.listdir(repo)) == ["BUILD.bazel", "lib.py"]


def test_served_truncated_archive_is_a_clear_error(tmp_path: Path, server) -> None:
    body = _targz([("lib/a.bin", os.urandom(100_000))])
    with pytest.raises(ArchiveError) as e:
        _fetch_and_extract(tmp_path, server, "lib.tar.gz", body[: len(body) // 2])
    assert e.value.render() == ("lib.tar.gz is truncated or corrupt (Compressed file ended before the "
                                "end-of-stream marker was reached)")


def test_served_archive_with_escaping_entry_and_link_is_refused(tmp_path: Path, server) -> None:
    for name, body, message in [
        ("dotdot.tar.gz", _targz([("lib/ok", b"ok"), ("../escape", b"owned")]),
         "dotdot.tar.gz: entry '../escape' would be written outside the directory it is extracted to (refused)"),
        ("link.tar.gz", _targz([("lib/ok", b"ok"), ("lib/etc", tarfile.SYMTYPE, b"/etc")]),
         "link.tar.gz: entry 'lib/etc' is a symlink to '/etc', which points outside the directory it is "
         "extracted to (refused)"),
    ]:
        with pytest.raises(ArchiveError) as e:
            _fetch_and_extract(tmp_path / name, server, name, body)
        assert e.value.render() == message
        assert not (tmp_path / name / "escape").exists()


def test_served_archive_strip_prefix_missing_lists_top_level(tmp_path: Path, server) -> None:
    body = _targz([("lib-2.1/lib.py", b"V = 2\n"), ("LICENSE", b"MIT\n")])
    with pytest.raises(ArchiveError) as e:
        _fetch_and_extract(tmp_path, server, "lib-2.1.tar.gz", body, strip_prefix="lib-2.0")
    assert e.value.render() == ("strip_prefix 'lib-2.0' is not in lib-2.1.tar.gz; "
                                "its top-level entries are: LICENSE, lib-2.1")
