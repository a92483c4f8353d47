"""The repository resolver the command layer hands to loading: a repository name to its directory.

kiln's own repositories (the machine's Python and Rust, kiln.repos.host_repos)
come first; then the repositories MODULE.bazel and WORKSPACE declare through
the crate universe, whose BUILD and defs.bzl are written from the Cargo files
they name. Everything is written under the output base's `external/`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from kiln.loading.module_info import ModuleInfo
from kiln.loading.repository_resolver import ResolvedRepository
from kiln.repos.host_repos import HostRepositories

# The declarations whose repositories are crate indexes: the bzlmod extension and WORKSPACE's rules.
_CRATE_REPO_KINDS = ("crate", "crates_repository", "crates_vendor")


class Repositories:
    def __init__(self, workspace_root: Path, external_dir: Path):
        self._workspace_root = workspace_root
        self._external_dir = external_dir
        self._host = HostRepositories(external_dir)

    def __call__(self, name: str, module: ModuleInfo) -> ResolvedRepository | None:
        found = self._host(name, module) or self.local_module(name, module)
        if found is not None:
            return found
        decl = module.repos.get(name)
        if decl is not None and decl.kind in _CRATE_REPO_KINDS:
            return self._crate_index(name, decl.generated_name, module)
        return None

    def local_module(self, name: str, module: ModuleInfo) -> ResolvedRepository | None:
        """A module on the local disk (local_path_override): its own directory, linked as
        `external/<name>` where actions and runfiles find an external repository's source files."""
        found = module.local_modules.get(name)
        if found is None:
            return None
        link = self._external_dir / name
        if not (link.is_symlink() and link.resolve() == found.directory):
            self._external_dir.mkdir(parents=True, exist_ok=True)
            temp = self._external_dir / f".{name}.link-{os.getpid()}"
            temp.unlink(missing_ok=True)
            temp.symlink_to(found.directory)
            if link.is_dir() and not link.is_symlink():
                shutil.rmtree(link)  # an earlier definition of the repository, fetched
            os.replace(temp, link)  # atomic: a concurrent reader sees the old link or the new one
        # The link too: were it removed, a saved build plan's external source paths would lead nowhere.
        return ResolvedRepository(found.directory, (found.module_file, str(link)))

    def _crate_index(self, name: str, generated_name: str, module: ModuleInfo) -> ResolvedRepository:
        """@name's BUILD and defs.bzl, written from the Cargo files its crate universe names."""
        from kiln.repos.crate_repo_files import write_crate_repo
        from kiln.repos.crate_universe import build_crate_index

        index = build_crate_index(module, generated_name, self._workspace_root)
        directory = self._external_dir / generated_name
        write_crate_repo(index, directory, self._workspace_root, repo=name)
        return ResolvedRepository(directory, tuple(index.files))
