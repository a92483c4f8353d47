"""The registry crates of a Cargo.lock, unpacked into a directory cargo reads as a vendored source.

Every `[[package]]` from crates.io is downloaded from the registry's download
URL with the sha256 its `checksum` records (through the Downloader, so the
repository cache serves it the next time) and unpacked into
`<dest>/<name>-<version>/`, beside the `.cargo-checksum.json` cargo requires of
a directory source: `{"files": {}, "package": "<checksum>"}` (no per-file
sums; cargo checks `package` against the lock file). cargo builds from it with
`source.crates-io.replace-with` naming a `directory` source, offline.

How it survives a crash: a crate is unpacked under `<dest>/.<name>-<version>.*`
(cargo skips entries whose name starts with a dot) and renamed into place once
complete, its `.cargo-checksum.json` written first, so that file doubles as the
marker: a directory holding it with the lock's checksum is whole and is never
unpacked again. Leftovers of a crash and crates the lock no longer lists are
removed on the next call. One kiln command at a time owns an output base (its
lock), so nothing else writes `dest` meanwhile; only the repository cache the
crates come through is shared between commands, and it is safe for that.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from kiln.core.errors import KilnError, Location
from kiln.repos.crate_cargo import CargoLock, LockedPackage, read_lock

if TYPE_CHECKING:
    from kiln.repos.downloader import Downloader

# How Cargo.lock names crates.io: the git index, and the sparse index (cargo's default since 1.70).
CRATES_IO_SOURCES = frozenset({
    "registry+https://github.com/rust-lang/crates.io-index",
    "sparse+https://index.crates.io/",
})
# The `dl` of crates.io's index config.json: where `{name}/{name}-{version}.crate` are.
CRATES_IO_DOWNLOADS = "https://static.crates.io/crates"
CHECKSUM_FILE = ".cargo-checksum.json"
# Crates are small: the time goes to round trips, which threads overlap.
_WORKERS = 8


class VendorError(KilnError):
    """A crate of the lock file that cannot be vendored: no checksum, or no download that matches it."""


@dataclass(frozen=True)
class VendoredCrates:
    directory: Path
    unpacked: tuple[str, ...]      # "<name>-<version>" unpacked by this call
    present: tuple[str, ...]       # already unpacked with the lock's checksum
    # Packages cargo cannot take from `directory` (git, other registries), one message each.
    not_vendored: tuple[str, ...]


def vendor_crates(lock: CargoLock, dest: Path, downloader: Callable[[], Downloader], *,
                  downloads: str = CRATES_IO_DOWNLOADS) -> VendoredCrates:
    """Makes `dest` hold exactly the crates.io packages of `lock`. `downloader` is called only when
    a crate must be fetched (an up-to-date directory costs no network code); `downloads` is the
    registry's download root."""
    wanted, not_vendored = _registry_packages(lock)
    dest.mkdir(parents=True, exist_ok=True)
    _remove_unlisted(dest, {_dir_name(p) for p in wanted})
    missing = [p for p in wanted if _unpacked_checksum(dest / _dir_name(p)) != p.checksum]
    if missing:
        _fetch_all(lock, missing, dest, downloader(), downloads)
    missing_names = {_dir_name(p) for p in missing}
    return VendoredCrates(
        directory=dest,
        unpacked=tuple(sorted(missing_names)),
        present=tuple(sorted(_dir_name(p) for p in wanted if _dir_name(p) not in missing_names)),
        not_vendored=tuple(not_vendored),
    )


def _registry_packages(lock: CargoLock) -> tuple[list[LockedPackage], list[str]]:
    """The crates.io packages to vendor, and a message for each package cargo would fetch elsewhere.
    Packages without a source are the workspace's own or path dependencies: nothing to fetch."""
    wanted: list[LockedPackage] = []
    not_vendored: list[str] = []
    unchecked: list[str] = []
    for p in lock.packages:
        if p.source is None:
            continue
        where = Location(lock.display, p.line)
        if p.source not in CRATES_IO_SOURCES:
            origin = "git" if p.is_git else "another registry"
            not_vendored.append(f"{where}: crate '{p.name}' {p.version} comes from {origin} ({p.source}); "
                                "kiln fetches crates from crates.io only")
        elif not p.checksum:
            unchecked.append(f"  {where}: crate '{p.name}' {p.version}")
        else:
            wanted.append(p)
    if unchecked:
        raise VendorError(
            f"{lock.display} records no checksum for these crates.io packages, so kiln cannot verify them "
            "(regenerate the lock file with `cargo generate-lockfile` or `cargo update`):\n" + "\n".join(unchecked))
    return wanted, not_vendored


def _fetch_all(lock: CargoLock, packages: list[LockedPackage], dest: Path, downloader: Downloader,
               downloads: str) -> None:
    # Imported here, as the downloader is: an up-to-date vendor directory needs neither.
    from concurrent.futures import ThreadPoolExecutor

    def fetch(p: LockedPackage) -> str | None:
        try:
            _fetch_one(p, dest, downloader, downloads)
        except KilnError as e:
            return f"{Location(lock.display, p.line)}: crate '{p.name}' {p.version}: {e.render()}"
        return None

    with ThreadPoolExecutor(max_workers=min(_WORKERS, len(packages))) as pool:
        failures = [f for f in pool.map(fetch, packages) if f is not None]
    if failures:
        raise VendorError(f"cannot vendor the crates of {lock.display}:\n" + "\n".join(failures))


def _fetch_one(p: LockedPackage, dest: Path, downloader: Downloader, downloads: str) -> None:
    import tempfile

    from kiln.repos.archives import extract

    name = _dir_name(p)
    work = Path(tempfile.mkdtemp(dir=dest, prefix=f".{name}."))
    try:
        crate_file = work / f"{name}.crate"
        downloader.fetch([f"{downloads}/{p.name}/{name}.crate"], output=crate_file, sha256=p.checksum or "")
        unpacked = work / name
        extract(crate_file, unpacked, strip_prefix=name, type="tar.gz")
        (unpacked / CHECKSUM_FILE).write_text(json.dumps({"files": {}, "package": p.checksum}))
        target = dest / name
        if target.exists():  # unpacked for another checksum, or damaged: moved aside, then replaced
            os.rename(target, work / "replaced")
        os.rename(unpacked, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _unpacked_checksum(directory: Path) -> str | None:
    try:
        return json.loads((directory / CHECKSUM_FILE).read_text()).get("package")
    except (OSError, ValueError, AttributeError):
        return None


def _remove_unlisted(dest: Path, names: set[str]) -> None:
    for entry in os.scandir(dest):
        if entry.name not in names:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)


def _dir_name(p: LockedPackage) -> str:
    return f"{p.name}-{p.version}"


# Where a generated crate repository keeps its vendored crates: `@<repo>//vendor`'s directory.
VENDOR_DIR = "vendor"


def vendor_crate_repo(lockfile: Path | None, display: str, repo_dir: Path,
                      downloader: Callable[[], Downloader]) -> VendoredCrates | None:
    """Vendors the crates of a crate repository's Cargo.lock (`lockfile`, shown as `display`; None when
    the repository has none) into `<repo_dir>/vendor`."""
    if lockfile is None:
        return None
    return vendor_crates(read_lock(lockfile, display), repo_dir / VENDOR_DIR, downloader)
