"""MODULE.bazel and WORKSPACE: the workspace's name and the rule sets it uses.

kiln provides the well-known rule sets itself, so `bazel_dep` on them (and
WORKSPACE's `http_archive` of them) is accepted without fetching anything.
Every other directive fails with a message naming it, never silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import starlark as sl

from kiln.core.errors import KilnError, LoadingError
from kiln.loading import wellknown
from kiln.loading.starlark_errors import to_kiln_error

_GLOBALS = sl.Globals.extended_by([sl.LibraryExtension.StructType, sl.LibraryExtension.Json])

# Modules whose names Bazel users depend on that kiln needs nothing from.
_HARMLESS_MODULES = frozenset({"rules_cc", "rules_license", "rules_shell", "rules_pkg", "protobuf", "rules_proto"})

# Directives the next issues implement; until then they are named in the error.
_LATER = {
    "use_extension": "module extensions (use_extension)",
    "use_repo": "use_repo",
    "use_repo_rule": "repository rules (use_repo_rule)",
    "register_toolchains": "register_toolchains",
    "register_execution_platforms": "register_execution_platforms",
    "single_version_override": "single_version_override",
    "multiple_version_override": "multiple_version_override",
    "archive_override": "archive_override",
    "git_override": "git_override",
    "local_path_override": "local_path_override",
    "include": "include()",
    "inject_repo": "inject_repo",
    "override_repo": "override_repo",
}


@dataclass
class ModuleInfo:
    name: str = ""
    version: str = ""
    repo_name: str = ""
    bazel_deps: dict[str, str] = field(default_factory=dict)  # apparent name -> module name
    files: list[str] = field(default_factory=list)


def read_module_files(root: Path) -> ModuleInfo:
    info = ModuleInfo()
    module_file = root / "MODULE.bazel"
    if module_file.is_file():
        _evaluate_module(module_file, info)
    for name in ("WORKSPACE.bazel", "WORKSPACE"):
        ws = root / name
        if ws.is_file():
            _evaluate_workspace(ws, info)
            break
    return info


class _Recorder:
    def __init__(self) -> None:
        self.pending: KilnError | None = None

    def guard(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except KilnError as e:
                self.pending = e
                raise

        return wrapper

    def run(self, path: Path, display: str, module: Any, loader: Any = None) -> None:
        try:
            ast = sl.parse(display, path.read_text(encoding="utf-8"))
            sl.eval(module, ast, _GLOBALS, loader)
        except sl.StarlarkError as e:
            raise to_kiln_error(str(e), self.pending) from None


def _unsupported(what: str, file: str) -> Callable[..., Any]:
    def fail(*args: Any, **kwargs: Any) -> None:
        raise LoadingError(f"kiln does not support {what} in {file} yet")

    return fail


def _evaluate_module(path: Path, info: ModuleInfo) -> None:
    info.files.append(str(path))
    rec = _Recorder()

    def module(name: str = "", version: str = "", compatibility_level: int = 0, repo_name: str = "",
               bazel_compatibility: Any = None) -> None:
        info.name, info.version, info.repo_name = name, version, repo_name

    def bazel_dep(name: str, version: str = "", max_compatibility_level: int = -1, repo_name: str = "",
                  dev_dependency: bool = False) -> None:
        canonical = wellknown.canonical_repo(name)
        if canonical not in wellknown.WELL_KNOWN_REPOS and name not in _HARMLESS_MODULES:
            known = ", ".join(sorted(wellknown.WELL_KNOWN_REPOS))
            raise LoadingError(
                f"bazel_dep(name = \"{name}\"): kiln cannot fetch modules yet; it provides these rule sets "
                f"itself: {known}"
            )
        info.bazel_deps[repo_name or name] = canonical

    m = sl.Module()
    m.add_callable("module", rec.guard(module))
    m.add_callable("bazel_dep", rec.guard(bazel_dep))
    for fn, what in _LATER.items():
        m.add_callable(fn, rec.guard(_unsupported(what, "MODULE.bazel")))
    rec.run(path, "MODULE.bazel", m)


def _evaluate_workspace(path: Path, info: ModuleInfo) -> None:
    info.files.append(str(path))
    rec = _Recorder()
    display = path.name

    def workspace(name: str = "", **_: Any) -> None:
        info.name = info.name or name

    def archive(name: str = "", **_: Any) -> None:
        # Fetching a well-known rule set is a no-op: kiln has it built in.
        if wellknown.canonical_repo(name) not in wellknown.WELL_KNOWN_REPOS and name not in _HARMLESS_MODULES:
            raise LoadingError(f"repository '@{name}': kiln does not fetch external repositories yet")

    def noop(*args: Any, **kwargs: Any) -> None:
        return None

    setup_functions = {
        "py_repositories", "rules_python_dependencies", "bazel_skylib_workspace", "aspect_bazel_lib_dependencies",
        "rules_rust_dependencies", "rust_register_toolchains", "pip_install_dependencies", "rules_pkg_dependencies",
    }

    def load_module(module_id: str) -> Any:
        mod = sl.Module()
        for fn in ("http_archive", "git_repository", "local_repository", "new_local_repository", "http_file"):
            mod.add_callable(fn, rec.guard(archive))
        for fn in setup_functions:
            mod.add_callable(fn, rec.guard(noop))
        for fn in ("python_register_toolchains", "pip_parse", "crates_repository", "crate_universe_dependencies"):
            mod.add_callable(fn, rec.guard(_unsupported(fn, display)))
        return mod.freeze()

    m = sl.Module()
    m.add_callable("workspace", rec.guard(workspace))
    for fn in ("register_toolchains", "register_execution_platforms", "bind"):
        m.add_callable(fn, rec.guard(_unsupported(fn, display)))
    for fn in ("local_repository", "new_local_repository"):
        m.add_callable(fn, rec.guard(archive))
    rec.run(path, display, m, sl.FileLoader(load_module))
