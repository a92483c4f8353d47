"""A package index's simple API: the files of a project, and downloading one of them checked by the lock's hashes.

Which index: the lock's own `--index-url` / `--extra-index-url` lines (or a
hub's experimental_index_url, chosen by the caller) come first; otherwise the
one pip is configured with on this machine, read as pip reads it without
running pip (a `pip config` process costs more than the whole lookup):
`index-url` and `extra-index-url` of the [global] then [install] sections of
/etc/xdg/pip/pip.conf, /etc/pip.conf, ~/.pip/pip.conf, ~/.config/pip/pip.conf,
later files winning ($PIP_CONFIG_FILE, when it names a file, is read last in
place of the user's two); then the variables PIP_INDEX_URL and
PIP_EXTRA_INDEX_URL over all of them. Else PyPI. (pip also reads a pip.conf in
its own virtual environment: kiln's environment is not the user's, so not that.)
pip's `find-links` is a directory of files, not an index, and is not read.

Pages are asked for as PEP 691 JSON (`application/vnd.pypi.simple.v1+json`)
with PEP 503 HTML accepted in its place. A file's sha256 comes from the JSON
`hashes` or the HTML URL's `#sha256=` fragment. Downloads go through kiln's
downloader into the repository cache, verified against the lock's hash.
"""

from __future__ import annotations

import configparser
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Mapping, Sequence

from kiln.core.errors import KilnError
from kiln.repos.checksums import Checksum
from kiln.repos.downloader import Downloader, DownloadError
from kiln.repos.pip_lock import RequirementsLock, normalize_name

PYPI = "https://pypi.org/simple"
_JSON = "application/vnd.pypi.simple.v1+json"
_ACCEPT = f"{_JSON}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"


class PackageIndexError(KilnError):
    """An index that cannot be read, a project it does not have, or a file that is not what the lock pins."""


@dataclass(frozen=True)
class IndexConfig:
    index_url: str
    extra_index_urls: tuple[str, ...]
    source: str  # where the index was configured, for messages

    @property
    def urls(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((self.index_url, *self.extra_index_urls)))


@dataclass(frozen=True)
class IndexFile:
    filename: str
    url: str  # absolute, without the hash fragment
    sha256: str  # "" when the index gives none
    requires_python: str  # "" when the index gives none
    yanked: str | None  # None when not yanked, else the reason ("" when none given)


def machine_index(environ: Mapping[str, str], etc: Path = Path("/etc")) -> IndexConfig:
    """The index pip is configured with on this machine (see the module's docstring), else PyPI."""
    index_url, extra, source = "", "", ""
    for path in _pip_config_files(environ, etc):
        parser = configparser.RawConfigParser()
        try:
            parser.read(path, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError) as e:
            raise PackageIndexError(f"cannot read pip's configuration {path}: {e}") from None
        for section in ("global", "install"):
            for key, value in parser.items(section) if parser.has_section(section) else ():
                key = key.replace("_", "-")
                if key == "index-url":
                    index_url, source = value.strip(), str(path)
                elif key == "extra-index-url":
                    extra = value
    if environ.get("PIP_INDEX_URL"):
        index_url, source = environ["PIP_INDEX_URL"].strip(), "PIP_INDEX_URL"
    if environ.get("PIP_EXTRA_INDEX_URL"):
        extra = environ["PIP_EXTRA_INDEX_URL"]
    if not index_url:
        index_url, source = PYPI, "PyPI (pip configures no index-url on this machine)"
    return IndexConfig(index_url, tuple(dict.fromkeys(extra.split())), source)


def lock_index(lock: RequirementsLock, machine: IndexConfig) -> IndexConfig:
    """The lock's --index-url over the machine's; its --extra-index-url lines added to the machine's."""
    if lock.index_url:
        return IndexConfig(lock.index_url, lock.extra_index_urls, f"{lock.path} (--index-url)")
    return IndexConfig(machine.index_url, tuple(dict.fromkeys((*machine.extra_index_urls, *lock.extra_index_urls))),
                       machine.source)


def _pip_config_files(environ: Mapping[str, str], etc: Path) -> list[Path]:
    chosen = environ.get("PIP_CONFIG_FILE", "")
    xdg_dirs = environ["XDG_CONFIG_DIRS"].split(os.pathsep) if environ.get("XDG_CONFIG_DIRS") else [str(etc / "xdg")]
    files = [Path(d) / "pip" / "pip.conf" for d in reversed(xdg_dirs) if d] + [etc / "pip.conf"]
    if chosen and os.path.exists(chosen):
        return [p for p in files if p.is_file()] + [Path(chosen)]
    home = Path(environ.get("HOME") or os.path.expanduser("~"))
    config_home = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
    files += [home / ".pip" / "pip.conf", config_home / "pip" / "pip.conf"]
    return [p for p in files if p.is_file()]


def project_files(index: IndexConfig, project: str, *, timeout: float = 60.0) -> tuple[IndexFile, ...]:
    """Every file of `project` on the index and its extra indexes (pip merges them)."""
    name = normalize_name(project)
    found: list[IndexFile] = []
    missing: list[str] = []
    for base in index.urls:
        page = base.rstrip("/") + f"/{name}/"
        got = _read_page(page, timeout)
        if got is None:
            missing.append(page)
            continue
        body, content_type, final_url = got
        found.extend(_parse_json(body, final_url) if content_type == _JSON else _parse_html(body, final_url))
    if not found and missing:
        raise PackageIndexError(f"{name} is not on the package index ({', '.join(missing)} answered 404; the index "
                                f"is configured by {index.source})")
    return tuple(found)


_OPENER: list = []


def _opener():
    """One opener with one TLS context for every index page: making a context loads the machine's CA store
    (~20-50 ms), which urlopen() without one does again for every page."""
    if not _OPENER:
        import ssl

        context = ssl.create_default_context()
        _OPENER.append(urllib.request.build_opener(urllib.request.HTTPSHandler(context=context)))
    return _OPENER[0]


def _read_page(url: str, timeout: float) -> tuple[bytes, str, str] | None:
    """(body, content type, URL after redirects), or None when the index has no such project (404)."""
    request = urllib.request.Request(url, headers={"Accept": _ACCEPT, "User-Agent": "kiln"})
    try:
        with _opener().open(request, timeout=timeout) as response:
            content_type = response.headers.get_content_type()
            return response.read(), content_type, response.geturl()
    except urllib.error.HTTPError as e:
        e.close()
        if e.code == 404:
            return None
        raise PackageIndexError(f"the package index answered {url} with HTTP {e.code} {e.reason}") from None
    except (OSError, ValueError) as e:
        reason = e.reason if isinstance(e, urllib.error.URLError) else e
        raise PackageIndexError(f"the package index is unreachable: {url}: "
                                f"{getattr(reason, 'strerror', None) or reason}") from None


def _parse_json(body: bytes, page: str) -> list[IndexFile]:
    try:
        files = json.loads(body)["files"]
        return [_file(urllib.parse.urljoin(page, f["url"]), (f.get("hashes") or {}).get("sha256", ""),
                      f.get("requires-python") or "", f.get("yanked", False), f.get("filename")) for f in files]
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise PackageIndexError(f"the package index's page {page} is not PEP 691 JSON ({e!r})") from None


def _parse_html(body: bytes, page: str) -> list[IndexFile]:
    parser = _AnchorParser(page)
    parser.feed(body.decode("utf-8", errors="replace"))
    return parser.files


class _AnchorParser(HTMLParser):
    def __init__(self, page: str):
        super().__init__()
        self.base = page
        self.files: list[IndexFile] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "base" and values.get("href"):
            self.base = urllib.parse.urljoin(self.base, values["href"] or "")
        if tag != "a" or not values.get("href"):
            return
        url, _, fragment = urllib.parse.urljoin(self.base, values["href"] or "").partition("#")
        algorithm, _, digest = fragment.partition("=")
        yanked = (values["data-yanked"] or "") if "data-yanked" in values else False
        self.files.append(_file(url, digest if algorithm == "sha256" else "",
                                values.get("data-requires-python") or "", yanked, None))


def _file(url: str, sha256: str, requires_python: str, yanked: object, filename: str | None) -> IndexFile:
    url = url.partition("#")[0]
    name = filename or urllib.parse.unquote(url.rsplit("/", 1)[-1])
    reason = None if yanked is False or yanked is None else ("" if yanked is True else str(yanked))
    return IndexFile(name, url, sha256.lower(), requires_python, reason)


def download(downloader: Downloader, file: IndexFile, *, pinned: str, allowed: Sequence[str], output: Path) -> Path:
    """Puts `file` at `output`, its content checked to be one the lock allows; `pinned` is "name==version"."""
    if file.sha256:
        if file.sha256 not in allowed:
            raise PackageIndexError(f"{pinned}: the index gives {file.filename} the sha256 {file.sha256}, which the "
                                    f"lock does not allow (it allows {', '.join(allowed)})")
        try:
            return downloader.fetch([file.url], output=output, sha256=file.sha256).path
        except DownloadError as e:
            raise PackageIndexError(f"{pinned}: {e.message}") from None
    return _download_unhashed(downloader, file, pinned=pinned, allowed=allowed, output=output)


def _download_unhashed(downloader: Downloader, file: IndexFile, *, pinned: str, allowed: Sequence[str],
                       output: Path) -> Path:
    # The index does not say which of the lock's hashes is this file's: the cache is asked for each under the
    # file's name (so another file of the same pin is never taken for it), else the file is downloaded,
    # and stored only once its digest is found among the allowed.
    cache = downloader.cache
    for digest in allowed:
        if cache is not None and cache.get(Checksum("sha256", digest), output, canonical_id=file.url):
            return output
    plain = Downloader(None, downloader.distdirs, downloader.progress, timeout=downloader.timeout,
                       attempts=downloader.attempts, backoff=downloader.backoff)
    try:
        got = plain.fetch([file.url], output=output).checksum
    except DownloadError as e:
        raise PackageIndexError(f"{pinned}: {e.message}") from None
    if got.hex not in allowed:
        output.unlink()
        raise PackageIndexError(f"{pinned}: sha256 mismatch for {file.url}: the lock allows {', '.join(allowed)}, "
                                f"the file's is {got.hex} (it was not stored in the repository cache)")
    if cache is not None:
        cache.put(output, got, canonical_id=file.url)
    return output
