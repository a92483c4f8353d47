"""Reads a workspace's MODULE.bazel and WORKSPACE into one ModuleInfo."""

from __future__ import annotations

from pathlib import Path

from kiln.loading.extension_schema import Definitions, RepositoryDefinitions
from kiln.loading.module_file import evaluate_module
from kiln.loading.module_info import ModuleInfo


def read_module_files(root: Path, definitions: Definitions = RepositoryDefinitions()) -> ModuleInfo:
    info = ModuleInfo()
    module_file = root / "MODULE.bazel"
    if module_file.is_file():
        evaluate_module(module_file, info, definitions)
    for name in ("WORKSPACE.bazel", "WORKSPACE"):
        ws = root / name
        if ws.is_file():
            from kiln.loading.workspace_file import evaluate_workspace  # WORKSPACE is rare: load on demand

            evaluate_workspace(ws, info, definitions)
            break
    return info
