"""The repositories kiln writes for the machine's own toolchains, and the resolver loading asks.

@kiln_local_python (the interpreter kiln runs on), @kiln_local_runtime_env_python
(python3 from PATH at run time) and @kiln_local_rust (the machine's rustc and cargo) are written under the output base when a build
first loads them (kiln.repos.resolver asks here first).
A BUILD file is rewritten only when its text changes, so a saved plan that
read it stays valid.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from kiln.loading.module_info import ModuleInfo
from kiln.loading.repository_resolver import ResolvedRepository


def _python() -> tuple[str, tuple[str, ...]]:
    from kiln.repos.local_runtime import host_runtime_build_file

    return host_runtime_build_file()


def _runtime_env_python() -> tuple[str, tuple[str, ...]]:
    from kiln.repos.local_runtime import runtime_env_build_file

    return runtime_env_build_file()


def _rust() -> tuple[str, tuple[str, ...]]:
    from kiln.repos.local_rust import local_rust_build_file

    return local_rust_build_file()


# Imported when first asked for: most commands need neither.
_WRITERS: dict[str, Callable[[], tuple[str, tuple[str, ...]]]] = {
    "kiln_local_python": _python,
    "kiln_local_rust": _rust,
    "kiln_local_runtime_env_python": _runtime_env_python,
}


class HostRepositories:
    def __init__(self, external_dir: Path):
        self._external_dir = external_dir

    def __call__(self, name: str, module: ModuleInfo | None = None) -> ResolvedRepository | None:
        """The repository's directory and the files whose change invalidates it; None if not ours."""
        writer = _WRITERS.get(name)
        if writer is None:
            return None
        text, files = writer()
        directory = self._external_dir / name
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
        return ResolvedRepository(directory, files)
