"""The well-known rule sets' WORKSPACE setup macros, in the .bzl files the rule sets define them in.

kiln has these rule sets built in and registers the machine's Python, Rust and
PyO3 toolchains itself (kiln.rules registers @kiln_toolchains as default
toolchains, for WORKSPACE as for MODULE.bazel), so their `*_dependencies()`
and `*_register_toolchains()` macros have nothing to declare. The one that
names a version kiln cannot honour says so: rust_register_toolchains with a
Rust version other than the machine's rustc warns naming both.

Also the .bzl files of the repositories rule-set macros generate, as WORKSPACE
loads them before anything is fetched (GeneratedBzl).
"""

from __future__ import annotations

import json
from typing import Any

from kiln.core.errors import KilnError
from kiln.loading.extension_schema import GeneratedBzl, MacroResult, WorkspaceBzl
from kiln.repos.pip_extension import HUB_KIND
from kiln.repos.python_register import ALIASES_KIND


def _rust_version_check(what: str, versions: list[str]) -> MacroResult:
    """A warning for each version that is not the machine's rustc (whose version is probed only then)."""
    if not versions:
        return MacroResult()
    from kiln.repos.local_rust import probe_local_rust, rustc_version

    try:
        rust = probe_local_rust()
        machine = rustc_version(rust)
    except KilnError as e:
        return MacroResult(warnings=(f"{what}: {e.message}: Rust targets will not build",))
    return MacroResult(warnings=tuple(
        f"{what}: kiln builds with this machine's rustc {machine} ({rust.real_rustc}), not Rust {v} as written"
        for v in versions if v != machine))


def rust_register_toolchains(*, versions: Any = None, version: Any = None, **kwargs: Any) -> MacroResult:
    """rules_rust's toolchain macro: edition, rustfmt, extra triples etc. vary by rules_rust version and mean
    nothing to kiln's toolchain of the machine's rustc, so every argument is accepted."""
    given = _versions("rust_register_toolchains", versions, version)
    return _rust_version_check(f"rust_register_toolchains(versions = {json.dumps(given)})", given)


def rust_repositories(*, versions: Any = None, version: Any = None, **kwargs: Any) -> MacroResult:
    """rules_rust's older name for rust_register_toolchains (with `version = "1.x.y"`)."""
    given = _versions("rust_repositories", versions, version)
    return _rust_version_check(f"rust_repositories(versions = {json.dumps(given)})", given)


def _versions(fn: str, versions: Any, version: Any) -> list[str]:
    given = ([version] if version is not None else []) + (list(versions) if versions is not None else [])
    if not all(isinstance(v, str) for v in given):
        raise KilnError(f"{fn}(): versions must be a list of version strings, e.g. [\"1.86.0\"]")
    return given


def _python_aliases_constants(name: str, attrs: dict[str, Any]) -> dict[str, Any]:
    """`interpreter` and `host_platform` of @{name}//:defs.bzl, as python_toolchain_files writes them."""
    from kiln.repos.python_toolchain_files import host_platform

    try:
        host = host_platform(list(attrs["platforms"]), name, attrs.get("custom_platforms"))
    except KilnError:
        return {}
    return {"host_platform": host, "interpreter": f"@{attrs['user_repository_name']}_{host}//:bin/python3"}


_ASPECT_TOOLCHAINS = tuple(f"register_{t}_toolchains" for t in (
    "copy_directory", "copy_to_directory", "coreutils", "expand_template", "jq", "yq", "tar", "zstd", "bats"))

SETUP_BZLS = (
    WorkspaceBzl("rules_rust", "rust/repositories.bzl", setup_functions=("rules_rust_dependencies",),
                 macros={"rust_register_toolchains": rust_register_toolchains,
                         "rust_repositories": rust_repositories}),
    WorkspaceBzl("rules_rust", "crate_universe/repositories.bzl", setup_functions=("crate_universe_dependencies",)),
    WorkspaceBzl("rules_rust", "tools/rust_analyzer/deps.bzl", setup_functions=("rust_analyzer_dependencies",)),
    WorkspaceBzl("rules_pyo3", "pyo3/repositories.bzl",
                 setup_functions=("rules_pyo3_dependencies", "register_pyo3_toolchains")),
    WorkspaceBzl("rules_pyo3", "pyo3/repositories_transitive.bzl", setup_functions=("rules_pyo3_transitive_deps",)),
    WorkspaceBzl("rules_python", "python/pip_install/repositories.bzl", setup_functions=("pip_install_dependencies",)),
    WorkspaceBzl("bazel_skylib", "workspace.bzl", setup_functions=("bazel_skylib_workspace",)),
    # versions.check(minimum_bazel_version = ...): kiln reads the workspaces of the Bazel versions it names.
    WorkspaceBzl("bazel_skylib", "lib/versions.bzl", functions={"_kiln_versions_check": lambda *a, **k: None},
                 starlark="versions = struct(check = _kiln_versions_check)\n"),
    WorkspaceBzl("aspect_bazel_lib", "lib/repositories.bzl",
                 setup_functions=("aspect_bazel_lib_dependencies", "aspect_bazel_lib_register_toolchains",
                                  *_ASPECT_TOOLCHAINS)),
    WorkspaceBzl("rules_shell", "shell/repositories.bzl",
                 setup_functions=("rules_shell_dependencies", "rules_shell_toolchains")),
    WorkspaceBzl("rules_cc", "cc/repositories.bzl", setup_functions=("rules_cc_dependencies", "rules_cc_toolchains")),
    WorkspaceBzl("rules_pkg", "deps.bzl", setup_functions=("rules_pkg_dependencies",)),
)

GENERATED_BZLS = (
    # crates_repository's defs.bzl: crate_repositories() declares the crates, which kiln fetches itself.
    GeneratedBzl("crates_repository", "defs.bzl", setup_functions=("crate_repositories",)),
    # pip_parse's hub: install_deps() declares the wheel repositories pip_parse has declared already.
    GeneratedBzl(HUB_KIND, "requirements.bzl", setup_functions=("install_deps",)),
    GeneratedBzl(ALIASES_KIND, "defs.bzl", constants=_python_aliases_constants),
)
