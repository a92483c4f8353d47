"""The downloader: a file named by URLs and a checksum, verified before anything uses it.

Where a file comes from, in order: the repository cache (by checksum), the
--distdir directories (by each URL's file name, checked against the checksum;
so both are consulted only when the rule gives a checksum), then each URL in
turn. http, https and file URLs; urllib, with a timeout on connecting and on
each read. An attempt that fails in a way that may pass (HTTP 5xx,
408 or 429, a timeout, a connection reset or closed before the announced
length) is retried with exponential backoff; any other failure (a 404, a
refused connection, a wrong checksum) moves on to the next URL. When every
source fails, the error lists each with its failure.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import shutil
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterator, Sequence

from kiln.core.errors import KilnError
from kiln.repos.checksums import Checksum, parse_checksum
from kiln.repos.repository_cache import RepositoryCache, TempFile, copy_verified, new_temp_file

_CHUNK = 1 << 16
# Progress is shown only for downloads that last: a quick one stays silent.
PROGRESS_AFTER_S = 2.0
PROGRESS_EVERY_S = 1.0
_RETRIED_STATUSES = {408, 429}
_SCHEMES = ("http", "https", "file")


class DownloadError(KilnError):
    """No source gave the file with the expected checksum."""


@dataclass(frozen=True)
class Fetched:
    path: Path
    # The checksum the file was verified against, or the sha256 of a file
    # downloaded without one (for a message telling the user to pin it).
    checksum: Checksum
    origin: str  # "repository cache", the distdir file, or the URL


class _Failed(Exception):
    """One source did not give the file; `retry` when trying it again may help."""

    def __init__(self, reason: str, *, retry: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.retry = retry


class Downloader:
    def __init__(self, cache: RepositoryCache | None, distdirs: Sequence[Path] = (),
                 progress: Callable[[str], None] | None = None, *,
                 timeout: float = 60.0, attempts: int = 3, backoff: float = 1.0):
        self.cache = cache
        self.distdirs = tuple(distdirs)
        self.progress = progress
        self.timeout = timeout  # for connecting and for each read
        self.attempts = attempts  # per URL
        self.backoff = backoff  # seconds before the second attempt, doubled after each
        self._opener: urllib.request.OpenerDirector | None = None

    def fetch(self, urls: Sequence[str], *, output: Path, sha256: str = "", integrity: str = "",
              canonical_id: str = "") -> Fetched:
        """Puts the file at `output`. A file downloaded without a checksum is not verified
        (there is nothing to verify it against) but is stored in the cache by its sha256."""
        if not urls:
            raise DownloadError(f"no URL to download {output.name} from")
        checksum = parse_checksum(sha256, integrity)
        failures: list[str] = []
        if checksum is not None:
            if self.cache is not None and self.cache.get(checksum, output, canonical_id=canonical_id):
                return Fetched(output, checksum, "repository cache")
            found = self._from_distdirs(urls, checksum, output, canonical_id, failures)
            if found is not None:
                return found
        for url in urls:
            try:
                return self._download(url, checksum, output, canonical_id)
            except _Failed as e:
                failures.append(f"  {url}: {e.reason}")
        raise DownloadError(f"could not download {_file_name(urls[0]) or output.name}:\n" + "\n".join(failures))

    def _from_distdirs(self, urls: Sequence[str], checksum: Checksum, output: Path, canonical_id: str,
                       failures: list[str]) -> Fetched | None:
        names = dict.fromkeys(n for n in map(_file_name, urls) if n)
        for directory in self.distdirs:
            for name in names:
                candidate = directory / name
                if not candidate.is_file():
                    continue
                if self.cache is not None:
                    ok = (self.cache.put(candidate, checksum, canonical_id=canonical_id)
                          and self.cache.get(checksum, output))
                else:
                    with open(candidate, "rb") as src:
                        ok = copy_verified(src, output, checksum)
                if ok:
                    return Fetched(output, checksum, str(candidate))
                failures.append(f"  {candidate} (--distdir): {checksum.algorithm} does not match, not used")
        return None

    def _download(self, url: str, checksum: Checksum | None, output: Path, canonical_id: str) -> Fetched:
        delay = self.backoff
        attempt = 1
        while True:
            try:
                return self._download_once(url, checksum, output, canonical_id)
            except _Failed as e:
                if not e.retry:
                    raise
                if attempt == self.attempts:
                    raise _Failed(f"{e.reason} (tried {self.attempts} times)") from None
            time.sleep(delay)
            delay *= 2
            attempt += 1

    def _download_once(self, url: str, checksum: Checksum | None, output: Path, canonical_id: str) -> Fetched:
        algorithm = checksum.algorithm if checksum is not None else "sha256"
        with self._open(url) as response, self._temp_for(output) as temp:
            actual = self._receive(url, response, temp.file, hashlib.new(algorithm))
            got = Checksum(algorithm, actual)
            if checksum is not None and got != checksum:
                raise _Failed(f"{algorithm} mismatch: expected {checksum.as_written()}, got {got.as_written()} "
                              "(the file was not stored in the repository cache)")
            if self.cache is None:
                temp.move_to(output)
            else:
                entry = self.cache.commit(temp, got, canonical_id=canonical_id)
                _copy_into_place(entry, output)
        return Fetched(output, got, url)

    @contextlib.contextmanager
    def _open(self, url: str) -> Iterator[http.client.HTTPResponse]:
        scheme = urllib.parse.urlsplit(url).scheme
        if scheme not in _SCHEMES:
            raise _Failed(f"unsupported URL scheme '{scheme}' (kiln downloads {', '.join(_SCHEMES)} URLs)")
        request = urllib.request.Request(url, headers={"User-Agent": "kiln", "Accept-Encoding": "identity"})
        try:
            response = self._urls().open(request, timeout=self.timeout)
        except (OSError, ValueError, http.client.HTTPException) as e:
            raise self._failure(e) from None
        with response:
            yield response

    def _urls(self) -> urllib.request.OpenerDirector:
        # One TLS context for all of this downloader's connections: making one loads the machine's CA store
        # (~20 ms here), which urlopen() without a context does again for every HTTPS connection.
        if self._opener is None:
            context = ssl.create_default_context()
            context.set_alpn_protocols(["http/1.1"])
            self._opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context))
        return self._opener

    def _temp_for(self, output: Path) -> contextlib.AbstractContextManager[TempFile]:
        # Into the cache's own temp directory, so that a verified file enters the
        # cache by a rename instead of a second copy.
        if self.cache is not None:
            return self.cache.temp()
        output.parent.mkdir(parents=True, exist_ok=True)
        return new_temp_file(output.parent, prefix=f".{output.name}.")

    def _receive(self, url: str, response: http.client.HTTPResponse, sink: BinaryIO,
                 h: "hashlib._Hash") -> str:
        """Copies the body to sink; returns its hex digest."""
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        done = 0
        next_report = time.monotonic() + PROGRESS_AFTER_S
        while True:
            try:
                chunk = response.read(_CHUNK)
            except (OSError, http.client.HTTPException) as e:
                raise self._failure(e) from None
            if not chunk:
                break
            # Errors writing (a full disk) are not the URL's: they propagate as they are.
            h.update(chunk)
            sink.write(chunk)
            done += len(chunk)
            if self.progress is not None and time.monotonic() >= next_report:
                self.progress(_progress_text(url, done, total))
                next_report = time.monotonic() + PROGRESS_EVERY_S
        # http.client returns a short body without complaint when the server closes early.
        if total is not None and done < total:
            raise _Failed(f"connection closed after {done} of {total} bytes", retry=True)
        return h.hexdigest()

    def _failure(self, e: BaseException) -> _Failed:
        if isinstance(e, urllib.error.HTTPError):
            e.close()
            return _Failed(f"HTTP {e.code} {e.reason}", retry=e.code >= 500 or e.code in _RETRIED_STATUSES)
        if isinstance(e, urllib.error.URLError) and isinstance(e.reason, BaseException):
            e = e.reason
        if isinstance(e, TimeoutError):
            return _Failed(f"timed out (no data for {self.timeout:g} s)", retry=True)
        if isinstance(e, ConnectionRefusedError):
            return _Failed("connection refused")
        if isinstance(e, (ConnectionError, http.client.IncompleteRead, http.client.BadStatusLine)):
            return _Failed(f"connection reset ({e.__class__.__name__})", retry=True)
        if isinstance(e, ssl.SSLCertVerificationError):  # before ValueError, which it also is
            return _Failed(f"the server's TLS certificate was not accepted ({e.verify_message})")
        if isinstance(e, socket.gaierror):
            return _Failed(f"unknown host ({e.strerror})")
        if isinstance(e, ValueError):
            return _Failed(f"not a URL ({e})")
        if isinstance(e, urllib.error.URLError):
            return _Failed(str(e.reason))
        if isinstance(e, OSError) and e.strerror:
            return _Failed(e.strerror)
        return _Failed(str(e) or e.__class__.__name__)


def _copy_into_place(src: Path, output: Path) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    with new_temp_file(output.parent, prefix=f".{output.name}.") as temp:
        temp.file.close()
        shutil.copyfile(src, temp.path)
        temp.move_to(output)


def _file_name(url: str) -> str:
    return urllib.parse.unquote(os.path.basename(urllib.parse.urlsplit(url).path))


def _progress_text(url: str, done: int, total: int | None) -> str:
    if total:
        return f"Fetching {url}: {done / 1e6:.1f} of {total / 1e6:.1f} MB ({100 * done // total}%)"
    return f"Fetching {url}: {done / 1e6:.1f} MB"
