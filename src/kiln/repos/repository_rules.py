"""Fetching the repositories http_archive, http_file, git_repository and new_local_repository declare.

Each fetch writes a complete directory under `external/` (in a temporary
directory renamed into place) and then its marker (kiln.repos.repository_marker):
a repository is fetched again only when its definition or a file it read
(build_file, patches) changes. local_repository needs no copy: its
directory is the path itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from kiln.core.errors import KilnError, LabelError, LoadingError, Location
from kiln.core.labels import PackageId, parse_label


class RepositoryError(KilnError):
    """A repository rule that could not produce its repository."""


@dataclass
class FetchContext:
    """What a rule's fetch needs: where to write, the workspace its labels point into, the downloader."""

    name: str
    rule: str
    attrs: dict[str, Any]
    directory: Path
    workspace_root: Path
    location: Location
    downloader: Callable[[], Any]
    # Files the fetch read, recorded in the marker.
    inputs: list[Path]

    def fail(self, why: str) -> RepositoryError:
        return RepositoryError(f"{self.rule}(name = \"{self.name}\"): {why}", location=self.location)

    def label_file(self, attr: str, text: str) -> Path:
        """A label attribute (build_file, patches) as a file of the main repository, recorded as an input."""
        try:
            label = parse_label(text, base=PackageId("", ""))
        except LabelError as e:
            raise self.fail(f"{attr}: {e.message}") from None
        if label.repo:
            raise self.fail(f"{attr} '{text}': kiln reads repository rule files only from the main repository")
        path = self.workspace_root / label.relative_path()
        if not path.is_file():
            raise self.fail(f"{attr} '{text}' does not exist ({path})")
        self.inputs.append(path)
        return path

    def local_path(self) -> Path:
        path = Path(os.path.expanduser(self.attrs["path"]))
        return path if path.is_absolute() else self.workspace_root / path


def fetch_http_archive(ctx: FetchContext) -> None:
    from kiln.repos.archives import ArchiveError, archive_type, extract

    archive = ctx.directory.parent / f"{ctx.directory.name}.archive"
    urls = _urls(ctx)
    fetched = _download(ctx, urls, archive)
    kind = ctx.attrs.get("type") or archive_type(urls[0].rsplit("/", 1)[-1]) or archive_type(archive.name)
    try:
        extract(fetched, ctx.directory, strip_prefix=ctx.attrs.get("strip_prefix", ""),
                add_prefix=ctx.attrs.get("add_prefix", ""), type=kind)
    except ArchiveError as e:
        raise ctx.fail(f"{urls[0]}: {e.message}") from None
    finally:
        archive.unlink(missing_ok=True)
    _finish(ctx)


def fetch_http_file(ctx: FetchContext) -> None:
    urls = _urls(ctx)
    rel = ctx.attrs.get("downloaded_file_path") or urls[0].rsplit("/", 1)[-1] or "downloaded"
    target = ctx.directory / "file" / rel
    target.parent.mkdir(parents=True)
    _download(ctx, urls, target)
    if ctx.attrs.get("executable"):
        target.chmod(0o755)
    (ctx.directory / "file" / "BUILD.bazel").write_text(
        'package(default_visibility = ["//visibility:public"])\n\n'
        f'filegroup(name = "file", srcs = ["{rel}"])\n\nexports_files(["{rel}"])\n')
    (ctx.directory / "BUILD.bazel").write_text("")


def fetch_git_repository(ctx: FetchContext) -> None:
    remote = ctx.attrs["remote"]
    checkout = ctx.directory.parent / f"{ctx.directory.name}.git-checkout"
    shutil.rmtree(checkout, ignore_errors=True)
    ref = ctx.attrs.get("commit") or ctx.attrs.get("tag") or ctx.attrs.get("branch")
    try:
        _git(ctx, "clone", "--quiet", "--no-checkout", remote, str(checkout))
        _git(ctx, "-C", str(checkout), "checkout", "--quiet", "--detach", ref)
        if ctx.attrs.get("init_submodules") or ctx.attrs.get("recursive_init_submodules"):
            args = ["--recursive"] if ctx.attrs.get("recursive_init_submodules") else []
            _git(ctx, "-C", str(checkout), "submodule", "update", "--init", "--quiet", *args)
        shutil.rmtree(checkout / ".git")
        source = checkout / ctx.attrs["strip_prefix"] if ctx.attrs.get("strip_prefix") else checkout
        if not source.is_dir():
            raise ctx.fail(f"strip_prefix '{ctx.attrs['strip_prefix']}' is not a directory of {remote} at {ref}")
        source.rename(ctx.directory)
    finally:
        shutil.rmtree(checkout, ignore_errors=True)
    _finish(ctx)


def fetch_new_local_repository(ctx: FetchContext) -> None:
    path = ctx.local_path()
    if not path.is_dir():
        raise ctx.fail(f"path '{ctx.attrs['path']}' is not a directory ({path})")
    ctx.directory.mkdir()
    for entry in sorted(os.listdir(path)):
        if entry not in ("BUILD", "BUILD.bazel", "WORKSPACE", "WORKSPACE.bazel", "REPO.bazel"):
            (ctx.directory / entry).symlink_to(path / entry)
    _finish(ctx)


FETCHERS: dict[str, Callable[[FetchContext], None]] = {
    "http_archive": fetch_http_archive,
    "http_file": fetch_http_file,
    "git_repository": fetch_git_repository,
    "new_git_repository": fetch_git_repository,
    "new_local_repository": fetch_new_local_repository,
}


def _urls(ctx: FetchContext) -> list[str]:
    urls = list(ctx.attrs.get("urls") or [])
    if ctx.attrs.get("url"):
        urls.insert(0, ctx.attrs["url"])
    return urls


def _download(ctx: FetchContext, urls: list[str], output: Path) -> Path:
    from kiln.repos.checksums import ChecksumError
    from kiln.repos.downloader import DownloadError

    try:
        fetched = ctx.downloader().fetch(urls, output=output, sha256=ctx.attrs.get("sha256", ""),
                                         integrity=ctx.attrs.get("integrity", ""),
                                         canonical_id=ctx.attrs.get("canonical_id", ""))
    except (DownloadError, ChecksumError) as e:
        raise ctx.fail(e.message) from None
    return fetched.path


def _finish(ctx: FetchContext) -> None:
    """Patches, then patch commands, then the BUILD and WORKSPACE files the rule gives."""
    for patch in ctx.attrs.get("patches") or ():
        _apply_patch(ctx, patch)
    for command in ctx.attrs.get("patch_cmds") or ():
        done = subprocess.run(["bash", "-c", command], cwd=ctx.directory, capture_output=True, text=True)
        if done.returncode != 0:
            raise ctx.fail(f"patch command '{command}' failed (exit {done.returncode}): "
                           f"{(done.stderr or done.stdout).strip()}")
    if ctx.attrs.get("build_file"):
        text = ctx.label_file("build_file", ctx.attrs["build_file"]).read_text()
        _replace_build_file(ctx.directory, text)
    elif "build_file_content" in ctx.attrs:
        _replace_build_file(ctx.directory, ctx.attrs["build_file_content"])
    if ctx.attrs.get("workspace_file"):
        shutil.copyfile(ctx.label_file("workspace_file", ctx.attrs["workspace_file"]), ctx.directory / "WORKSPACE")
    elif ctx.attrs.get("workspace_file_content"):
        (ctx.directory / "WORKSPACE").write_text(ctx.attrs["workspace_file_content"])


def _replace_build_file(directory: Path, text: str) -> None:
    for name in ("BUILD", "BUILD.bazel"):
        if (directory / name).is_symlink() or (directory / name).exists():
            (directory / name).unlink()
    (directory / "BUILD.bazel").write_text(text)


def _apply_patch(ctx: FetchContext, patch: str) -> None:
    path = ctx.label_file("patches", patch)
    tool = ctx.attrs.get("patch_tool") or "patch"
    args = list(ctx.attrs.get("patch_args") or [])
    if "patch_strip" in ctx.attrs:
        args.append(f"-p{ctx.attrs['patch_strip']}")
    elif not any(a.startswith("-p") for a in args):
        args.append("-p0")
    done = subprocess.run([tool, *args, "--batch", "--forward", "-i", str(path)], cwd=ctx.directory,
                          capture_output=True, text=True)
    if done.returncode != 0:
        output = (done.stdout + done.stderr).strip()
        raise ctx.fail(f"patch {patch} does not apply: {output}")


def _git(ctx: FetchContext, *args: str) -> None:
    done = subprocess.run(["git", *args], capture_output=True, text=True,
                          env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})
    if done.returncode != 0:
        raise ctx.fail(f"git {' '.join(args[:2])} failed for {ctx.attrs['remote']}: {done.stderr.strip()}")


def local_repository_path(name: str, attrs: dict[str, Any], workspace_root: Path, location: Location) -> Path:
    """local_repository: the directory itself, which must exist."""
    path = Path(os.path.expanduser(attrs["path"]))
    path = path if path.is_absolute() else workspace_root / path
    if not path.is_dir():
        raise LoadingError(f"local_repository(name = \"{name}\"): path '{attrs['path']}' is not a directory "
                           f"({path})", location=location)
    return path
