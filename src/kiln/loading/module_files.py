"""Reads a workspace's MODULE.bazel, its local modules and WORKSPACE into one ModuleInfo.

With Bzlmod on (Bazel's default) MODULE.bazel is read and, when present,
WORKSPACE.bzlmod replaces WORKSPACE / WORKSPACE.bazel (which Bazel 7 still
reads otherwise: --enable_workspace is on by default). With Bzlmod off
(--noenable_bzlmod) only WORKSPACE is read.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping


from kiln.loading.extension_schema import Definitions, RepositoryDefinitions
from kiln.loading.module_file import evaluate_module
from kiln.loading.module_graph import resolve_local_modules
from kiln.loading.module_info import LocalPathOverride, ModuleInfo
from kiln.loading.repository_resolver import RepositoryResolver

_WORKSPACE_FILES = ("WORKSPACE.bazel", "WORKSPACE")


def read_module_files(root: Path, definitions: Definitions = RepositoryDefinitions(), *,
                      enable_bzlmod: bool = True, repositories: RepositoryResolver | None = None,
                      module_overrides: Mapping[str, str] | None = None) -> ModuleInfo:
    """MODULE.bazel, then WORKSPACE; `repositories` fetches what a WORKSPACE load() needs from a repository
    it declared earlier (an http_archive of macros), as Bazel does while reading WORKSPACE.
    `module_overrides` (--override_module NAME=PATH) replace the root module's overrides of those modules."""
    info = ModuleInfo()
    module_file = root / "MODULE.bazel"
    bzlmod = enable_bzlmod and module_file.is_file()
    if bzlmod:
        evaluate_module(module_file, info, definitions)
        for name, path in (module_overrides or {}).items():
            directory = Path(os.path.expanduser(path.replace("%workspace%", str(root))))
            info.overrides[name] = LocalPathOverride(name, path, root / directory, None,
                                                     given_as=f"--override_module={name}={path}")
    names = ("WORKSPACE.bzlmod", *_WORKSPACE_FILES) if enable_bzlmod else _WORKSPACE_FILES
    for name in names:
        ws = root / name
        if ws.is_file():
            from kiln.loading.workspace_file import evaluate_workspace  # WORKSPACE is rare: load on demand

            evaluate_workspace(ws, info, definitions, repositories)
            break
        info.absent_files.append(str(ws))
    if enable_bzlmod and not bzlmod:
        info.absent_files.append(str(module_file))
    if bzlmod:
        resolve_local_modules(info, definitions)
        if info.extensions or info.local_modules:
            from kiln.loading.module_extensions import run_declaring_extensions

            run_declaring_extensions(info, definitions, root)
    return info
