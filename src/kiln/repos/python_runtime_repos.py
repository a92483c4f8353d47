"""Hermetic Python runtimes: python-build-standalone archives as repositories, and the repositories around them.

python_repository (`{name}_{platform}`): the install_only archive, fetched by the downloader with its sha256
(through the shared repository cache and --distdir), extracted (strip_prefix), and described by its own
interpreter once (kiln.repos.runtime_probe): its BUILD holds rules_python's targets — `:files` (the
runtime's files without test suites and bytecode), `:includes`, `:python_headers`, `:libpython`,
`:py3_runtime`, `:python_runtimes` (the py_runtime_pair) and `:py_cc_toolchain`. A marker beside it says
when it is up to date, so a build fetches, extracts and probes a runtime once per output base.

The other repositories python_register_toolchains declares are written from their attributes alone
(kiln.repos.python_toolchain_files), so loading them never fetches a runtime.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Callable

from kiln.loading.module_info import RepoDecl
from kiln.loading.repository_resolver import ResolvedRepository
from kiln.repos.python_register import RUNTIME_KIND
from kiln.repos.repository_rules import RepositoryError
from kiln.repos.repo_files import write_if_changed

# Bumped when what a runtime repository holds changes: every runtime is extracted and probed again.
_LAYOUT_VERSION = "1"


class PythonRepositories:
    """The repositories of python_register_toolchains and python_register_multi_toolchains, under external/."""

    def __init__(self, external_dir: Path, downloader: Callable[[], Any], report: Callable[[str, str], None]):
        self._external_dir = external_dir
        self._downloader = downloader
        self._report = report

    def __call__(self, name: str, decl: RepoDecl) -> ResolvedRepository:
        (tag,) = decl.usage.tags
        attrs = {k: v for k, v in tag.attrs.items() if k != "name"}
        if decl.kind == RUNTIME_KIND:
            return ResolvedRepository(self._runtime(name, attrs, decl))
        from kiln.repos.python_toolchain_files import repository_files

        directory = self._external_dir / name
        for relative, text in repository_files(decl.kind, name, attrs).items():
            write_if_changed(directory / relative, text)
        return ResolvedRepository(directory)

    def _runtime(self, name: str, attrs: dict[str, Any], decl: RepoDecl) -> Path:
        from kiln.repos.repository_marker import current_inputs, definition_key, write_marker

        directory = self._external_dir / name
        marker = self._external_dir / f"@{name}.marker"
        key = definition_key(RUNTIME_KIND, {**attrs, "_layout": _LAYOUT_VERSION})
        if current_inputs(marker, directory, key) is not None:
            return directory
        self._report("INFO", f"Fetching @{name} (Python {attrs['python_version']}, {attrs['release_filename']})")
        staging = self._external_dir / ".fetching" / name
        archive = staging.parent / f"{name}.archive"
        shutil.rmtree(staging, ignore_errors=True)
        staging.parent.mkdir(parents=True, exist_ok=True)
        marker.unlink(missing_ok=True)
        what = f"python_repository(name = \"{name}\") at {decl.location}"
        try:
            self._download(what, attrs, archive)
            _extract(what, attrs, archive, staging)
            record = _probe(what, attrs, staging)
            from kiln.repos.python_toolchain_files import runtime_build_file

            (staging / "BUILD.bazel").write_text(runtime_build_file(name, attrs, record, directory))
            (staging / "WORKSPACE").write_text("")
            if not os.path.lexists(staging / "python"):
                os.symlink("bin/python3", staging / "python")
            if directory.is_symlink() or directory.is_file():
                directory.unlink()
            shutil.rmtree(directory, ignore_errors=True)
            staging.rename(directory)
        finally:
            archive.unlink(missing_ok=True)
            shutil.rmtree(staging, ignore_errors=True)
        write_marker(marker, key, [])
        return directory

    def _download(self, what: str, attrs: dict[str, Any], archive: Path) -> None:
        from kiln.repos.checksums import ChecksumError
        from kiln.repos.downloader import DownloadError

        try:
            self._downloader().fetch(attrs["urls"], output=archive, sha256=attrs["sha256"])
        except (DownloadError, ChecksumError) as e:
            raise RepositoryError(f"{what}: {e.message}") from None


def _extract(what: str, attrs: dict[str, Any], archive: Path, staging: Path) -> None:
    from kiln.repos.archives import ArchiveError, archive_type, extract

    try:
        extract(archive, staging, strip_prefix=attrs.get("strip_prefix", ""),
                type=archive_type(attrs["release_filename"]))
    except ArchiveError as e:
        raise RepositoryError(f"{what}: {attrs['release_filename']}: {e.message}") from None


def _probe(what: str, attrs: dict[str, Any], staging: Path) -> dict[str, Any]:
    """The runtime's own account of itself; its version must be the one the table promised."""
    from kiln.repos.local_runtime_repos import run_probe

    interpreter = staging / "bin" / "python3"
    if not interpreter.exists():
        raise RepositoryError(f"{what}: {attrs['release_filename']} has no bin/python3 below strip_prefix "
                              f"'{attrs.get('strip_prefix', '')}'")
    found = run_probe(str(interpreter))
    if found.record is None:
        raise RepositoryError(f"{what}: the extracted interpreter {found.why}")
    version = ".".join(found.record["version"])
    if version != attrs["python_version"]:
        raise RepositoryError(f"{what}: {attrs['release_filename']} holds Python {version}, not "
                              f"{attrs['python_version']} as its table entry says")
    return found.record
