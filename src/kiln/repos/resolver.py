"""The repository resolver the command layer hands to loading: a repository name to its directory.

In order: `--override_repository` paths; kiln's own repositories (the
machine's Python and Rust, kiln.repos.host_repos); the repositories MODULE.bazel
and WORKSPACE declare — repository rules (http_archive, local_repository, ...)
fetched by kiln.repos.repository_rules, and crate universes, whose BUILD and
defs.bzl are written from the Cargo files they name. Everything fetched or
written goes under the output base's `external/`. Local Python runtimes and
their toolchains (local_runtime_repo) are written by kiln.repos.local_runtime_repos; hermetic runtimes and
the repositories around them (python_register_toolchains) by kiln.repos.python_runtime_repos; pip hubs and
wheels (pip.parse, pip_parse) by kiln.repos.pip_repos.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from kiln.loading.module_info import ModuleInfo, RepoDecl
from kiln.loading.repository_resolver import ResolvedRepository

# The declarations whose repositories are crate indexes: the bzlmod extension and WORKSPACE's rules.
_CRATE_REPO_KINDS = ("crate", "crates_repository", "crates_vendor")


class Repositories:
    def __init__(self, workspace_root: Path, external_dir: Path, *, overrides: Mapping[str, str] | None = None,
                 repository_cache: str | None = None, distdirs: Sequence[Path] = (),
                 report: Callable[[str, str], None] | None = None):
        self._workspace_root = workspace_root
        self._external_dir = external_dir
        self._overrides = dict(overrides or {})
        self._repository_cache = repository_cache
        self._distdirs = tuple(distdirs)
        self._report = report or (lambda level, text: None)
        self._host: Any = None
        self._downloader: Any = None
        self._local_runtimes: Any = None
        self._python_runtimes: Any = None
        self._pip: Any = None

    def __call__(self, name: str, module: ModuleInfo) -> ResolvedRepository | None:
        override = self._overrides.get(name)
        if override is not None:
            return ResolvedRepository(self._override_path(name, override))
        if name.startswith("kiln_local_"):
            if self._host is None:
                from kiln.repos.host_repos import HostRepositories

                self._host = HostRepositories(self._external_dir)
            found = self._host(name, module)
            if found is not None:
                return found
        local = module.local_modules.get(name)
        if local is not None:  # a module on the local disk (local_path_override): its own directory
            return ResolvedRepository(local.directory, (local.module_file,))
        decl = module.repos.get(name)
        if decl is None:
            return None
        if decl.kind in _CRATE_REPO_KINDS:
            return self._crate_index(name, decl.generated_name, module)
        from kiln.repos.bazel_repo_rules import REPOSITORY_RULE_KINDS
        from kiln.repos.local_runtime_repos import LOCAL_RUNTIME_KINDS

        if decl.kind in REPOSITORY_RULE_KINDS:
            return self._repository_rule(name, decl)
        from kiln.repos.python_register import PYTHON_REPO_KINDS

        if decl.kind in PYTHON_REPO_KINDS:
            if self._python_runtimes is None:
                from kiln.repos.python_runtime_repos import PythonRepositories

                self._python_runtimes = PythonRepositories(self._external_dir, self.downloader, self._report)
            return self._python_runtimes(name, decl)
        from kiln.repos.pip_extension import PIP_REPO_KINDS

        if decl.kind in PIP_REPO_KINDS:
            if self._pip is None:
                from kiln.repos.pip_repos import PipRepositories

                self._pip = PipRepositories(self._external_dir, self.downloader, self._report, self)
            return self._pip(name, decl, module)
        if decl.kind in LOCAL_RUNTIME_KINDS:
            if self._local_runtimes is None:
                from kiln.repos.local_runtime_repos import LocalRuntimes

                self._local_runtimes = LocalRuntimes(self._external_dir, self._report)
            return self._local_runtimes(name, decl, module)
        return None

    def _override_path(self, name: str, path: str) -> Path:
        from kiln.core.errors import CommandLineError

        directory = Path(os.path.expanduser(path))
        directory = directory if directory.is_absolute() else self._workspace_root / directory
        if not directory.is_dir():
            raise CommandLineError(f"--override_repository={name}={path}: {directory} is not a directory")
        return directory

    def _crate_index(self, name: str, generated_name: str, module: ModuleInfo) -> ResolvedRepository:
        """@name's BUILD and defs.bzl, written from the Cargo files its crate universe names."""
        from kiln.repos.crate_repo_files import write_crate_repo
        from kiln.repos.crate_universe import build_crate_index
        from kiln.repos.crate_vendor import vendor_crate_repo

        index = build_crate_index(module, generated_name, self._workspace_root)
        directory = self._external_dir / generated_name
        lock = self._workspace_root / index.lockfile if index.lockfile else None
        if lock is None:
            from kiln.repos.crate_splicing import splice_lock
            from kiln.repos.local_rust import probe_local_rust

            if index.crates:
                rust = probe_local_rust()
                lock = splice_lock(index, directory, rust.cargo, rust.real_rustc)
            if lock is not None:
                index = build_crate_index(module, generated_name, self._workspace_root, spliced_lock=lock)
        write_crate_repo(index, directory, self._workspace_root, repo=name)
        vendor_crate_repo(lock, index.lockfile or f"@{name}//:Cargo.lock", directory, self.downloader)
        return ResolvedRepository(directory, tuple(index.files))

    def _repository_rule(self, name: str, decl: RepoDecl) -> ResolvedRepository:
        from kiln.repos.repository_marker import current_inputs, definition_key, write_marker
        from kiln.repos.repository_rules import FETCHERS, FetchContext, local_repository_path

        (tag,) = decl.usage.tags
        attrs = dict(tag.attrs)
        if decl.kind == "local_repository":
            return ResolvedRepository(local_repository_path(name, attrs, self._workspace_root, decl.location))
        directory = self._external_dir / name
        marker = self._external_dir / f"@{name}.marker"
        key = definition_key(decl.kind, attrs)
        inputs = current_inputs(marker, directory, key)
        if inputs is not None:
            return ResolvedRepository(directory, inputs)
        self._report("INFO", f"Fetching @{name} ({decl.kind})")
        staging = self._external_dir / ".fetching" / name
        shutil.rmtree(staging, ignore_errors=True)
        staging.parent.mkdir(parents=True, exist_ok=True)
        marker.unlink(missing_ok=True)
        ctx = FetchContext(name, decl.kind, attrs, staging, self._workspace_root, decl.location,
                           self.downloader, [])
        try:
            FETCHERS[decl.kind](ctx)
            if directory.is_symlink() or directory.is_file():
                directory.unlink()
            shutil.rmtree(directory, ignore_errors=True)
            staging.rename(directory)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        write_marker(marker, key, ctx.inputs)
        return ResolvedRepository(directory, tuple(str(p) for p in ctx.inputs))

    def downloader(self) -> Any:
        """Made on first use: commands that fetch nothing never import the HTTP stack."""
        if self._downloader is None:
            from kiln.repos.downloader import Downloader
            from kiln.repos.repository_cache import RepositoryCache

            from kiln.repos.repository_cache import default_repository_cache_dir

            # --repository_cache: unset means the user's default cache, empty means none.
            option = self._repository_cache
            root = default_repository_cache_dir(os.environ) if option is None else (
                Path(option).expanduser() if option else None)
            cache = RepositoryCache(root) if root is not None else None
            self._downloader = Downloader(cache, self._distdirs, lambda text: self._report("INFO", text))
        return self._downloader
