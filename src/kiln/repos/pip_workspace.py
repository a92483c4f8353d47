"""rules_python's WORKSPACE pip integration (@rules_python//python:pip.bzl): pip_parse and
package_annotation.

pip_parse(name, requirements_lock, python_interpreter_target, ...) declares the hub `{name}` and a wheel
repository `{name}_{package}` per package its lock pins (kiln.repos.pip_extension.wheel_repos); the wheels
are chosen for the interpreter python_interpreter_target (or python_interpreter) names, else for CPython of
rules_python's default version. `load("@{name}//:requirements.bzl", "install_deps")` and `install_deps()`
then change nothing: the repositories are already declared.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kiln.core.errors import KilnError, LoadingError
from kiln.loading.extension_schema import MacroResult, WorkspaceBzl

# pip_parse arguments that change nothing kiln does (pip's own behaviour when it installs).
_IGNORED = ("quiet", "timeout", "isolated", "download_only", "enable_implicit_namespace_pkgs", "environment",
            "pip_data_exclude", "extra_pip_args", "experimental_target_platforms", "netrc", "auth_patterns",
            "requirements_darwin", "requirements_windows", "incompatible_generate_aliases", "repo_prefix")


def pip_parse(*, name: str, requirements_lock: str | None = None, requirements_by_platform: dict | None = None,
              requirements_linux: str | None = None, python_interpreter_target: str | None = None,
              python_interpreter: str | None = None, annotations: dict | None = None,
              experimental_requirement_cycles: dict | None = None, envsubst: list | None = None,
              experimental_index_url: str | None = None, _root: Path | None = None, **kwargs: Any) -> MacroResult:
    from kiln.repos.pip_extension import hub_repo, indexes, lock_for_this_machine, wheel_repos
    from kiln.repos.pip_lock import normalize_name, parse_lock

    what = f"pip_parse(name = \"{name}\")"
    unknown = sorted(set(kwargs) - set(_IGNORED))
    if unknown:
        raise KilnError(f"{what}: kiln does not support '{unknown[0]}' yet")
    attrs = {"requirements_lock": requirements_lock, "requirements_by_platform": requirements_by_platform,
             "requirements_linux": requirements_linux, "envsubst": envsubst,
             "experimental_index_url": experimental_index_url, "extra_pip_args": kwargs.get("extra_pip_args")}
    try:
        label = lock_for_this_machine(attrs, None, what)
    except LoadingError as e:
        raise KilnError(e.message) from None
    if not label.startswith("//") and not label.startswith("@//") and not label.startswith(":"):
        raise KilnError(f"{what}: kiln reads the lock '{label}' only from the main repository")
    assert _root is not None
    path = _root / label.lstrip("@").lstrip("/").replace(":", "/").lstrip("/")
    try:
        text = path.read_text()
    except OSError as e:
        raise KilnError(f"{what}: the lock {label} cannot be read: {e.strerror}") from None
    lock = parse_lock(text, str(path.relative_to(_root)))
    env: list[str] = []
    index_url, extra = indexes(attrs, env)
    mods = {normalize_name(k): _annotation(what, k, v) for k, v in (annotations or {}).items()}
    cycles = {g: sorted({normalize_name(m) for m in ms}) for g, ms in (experimental_requirement_cycles or {}).items()}
    interpreter = python_interpreter_target or python_interpreter or ""
    repos = wheel_repos(name, name, "", lock, str(path), index_url, extra, cycles, lambda p: mods.get(p, {}),
                        interpreter)
    repos.append(hub_repo(name, {"": name}, {"": lock.path}, {p.name for p in lock.pins}, cycles))
    return MacroResult(tuple(repos), (), (), (str(path),), tuple(env))


def package_annotation(additive_build_content: str | None = None, copy_files: dict | None = None,
                       copy_executables: dict | None = None, data: list | None = None,
                       data_exclude_glob: list | None = None, srcs_exclude_glob: list | None = None) -> str:
    """rules_python's package_annotation: the modification, as the JSON string pip_parse takes."""
    return json.dumps({"additive_build_content": additive_build_content or "", "copy_files": copy_files or {},
                       "copy_executables": copy_executables or {}, "data": data or [],
                       "data_exclude_glob": data_exclude_glob or [], "srcs_exclude_glob": srcs_exclude_glob or []})


def _annotation(what: str, package: str, value: Any) -> dict[str, Any]:
    try:
        decoded = json.loads(value) if isinstance(value, str) else None
    except ValueError:
        decoded = None
    if not isinstance(decoded, dict):
        raise KilnError(f"{what}: annotations[\"{package}\"] must be a package_annotation(...)")
    return decoded


PIP_BZL = WorkspaceBzl(
    "rules_python", "python/pip.bzl",
    functions={"package_annotation": package_annotation},
    macros={"pip_parse": pip_parse},
)
