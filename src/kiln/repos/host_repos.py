"""The repositories kiln writes for the machine's own toolchains, and the resolver loading asks.

@kiln_local_python (the interpreter kiln runs on, in an empty virtual environment of it), @kiln_local_runtime_env_python
(python3 from PATH at run time), @kiln_local_rust (the machine's rustc and cargo) and @kiln_local_uv (the uv
kiln installs, for compile_pip_requirements) are written under the output base when a build
first loads them (kiln.repos.resolver asks here first). @kiln_local_pyo3 holds kiln's default
PyO3 toolchain, pyo3 from @crate_index, when the workspace declares @crate_index (else nothing: a
toolchain naming a repository that does not exist would fail every pyo3_extension that resolves it).
A BUILD file is rewritten only when its text changes, so a saved plan that
read it stays valid.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from kiln.loading.module_info import ModuleInfo
from kiln.loading.repository_resolver import ResolvedRepository


def _python(module: ModuleInfo | None, directory: Path) -> tuple[str, tuple[str, ...]]:
    from kiln.repos.local_runtime import host_runtime_build_file

    return host_runtime_build_file(directory)


def _runtime_env_python(module: ModuleInfo | None, directory: Path) -> tuple[str, tuple[str, ...]]:
    from kiln.repos.local_runtime import runtime_env_build_file

    return runtime_env_build_file()


def _rust(module: ModuleInfo | None, directory: Path) -> tuple[str, tuple[str, ...]]:
    from kiln.repos.local_rust import local_rust_build_file

    return local_rust_build_file()


_CRATE_INDEX_PYO3 = """# kiln's default PyO3 toolchain: the pyo3 crate of the workspace's @crate_index.
rust_pyo3_toolchain(name = "rust_pyo3_toolchain", pyo3 = "@crate_index//:pyo3")

toolchain(
    name = "rust_pyo3",
    toolchain = ":rust_pyo3_toolchain",
    toolchain_type = "@rules_rust_pyo3//:rust_toolchain_type",
)
"""


def _crate_index_pyo3(module: ModuleInfo | None, directory: Path) -> tuple[str, tuple[str, ...]]:
    if module is not None and "crate_index" in module.repos:
        return _CRATE_INDEX_PYO3, ()
    return "# The workspace declares no @crate_index: kiln registers no default pyo3.\n", ()


def _uv(module: ModuleInfo | None, directory: Path) -> tuple[str, tuple[str, ...]]:
    return ('# Written by kiln: uv, the resolver compile_pip_requirements runs (a link to kiln\'s own).\n'
            'package(default_visibility = ["//visibility:public"])\n\nexports_files(["uv"])\n'), ()


def _uv_links() -> dict[str, str]:
    from uv import find_uv_bin

    return {"uv": find_uv_bin()}


# Links a repository holds besides its BUILD file: name -> the file it points to.
_LINKS: dict[str, Callable[[], dict[str, str]]] = {"kiln_local_uv": _uv_links}

# Imported when first asked for: most commands need neither.
_WRITERS: dict[str, Callable[[ModuleInfo | None, Path], tuple[str, tuple[str, ...]]]] = {
    "kiln_local_python": _python,
    "kiln_local_rust": _rust,
    "kiln_local_runtime_env_python": _runtime_env_python,
    "kiln_local_pyo3": _crate_index_pyo3,
    "kiln_local_uv": _uv,
}


class HostRepositories:
    def __init__(self, external_dir: Path):
        self._external_dir = external_dir

    def __call__(self, name: str, module: ModuleInfo | None = None) -> ResolvedRepository | None:
        """The repository's directory and the files whose change invalidates it; None if not ours."""
        writer = _WRITERS.get(name)
        if writer is None:
            return None
        directory = self._external_dir / name
        text, files = writer(module, directory)
        build = directory / "BUILD.bazel"
        try:
            unchanged = build.read_text() == text
        except OSError:
            unchanged = False
        if not unchanged:
            directory.mkdir(parents=True, exist_ok=True)
            tmp = build.with_suffix(".tmp")
            tmp.write_text(text)
            tmp.replace(build)
        for link, target in (_LINKS[name]() if name in _LINKS else {}).items():
            path = directory / link
            if not (path.is_symlink() and os.readlink(path) == target):
                path.unlink(missing_ok=True)
                os.symlink(target, path)
        return ResolvedRepository(directory, files)
