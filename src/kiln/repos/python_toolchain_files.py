"""The text of the repositories python_register_toolchains declares, as rules_python lays them out.

- `{name}_{platform}` (python_repository): the extracted runtime's BUILD (`runtime_build_file`).
- `{name}` (toolchain_aliases): `:python3`, `:files`, `:includes`, `:libpython`, `:py3_runtime`,
  `:python_headers`, `:python_runtimes`, each the target platform's; `defs.bzl` with `interpreter` (the
  host platform's interpreter, as a label string), `host_platform` and py_binary / py_test pinned to the
  version.
- `{name}_host` (host_toolchain): `:python`, the host platform's interpreter.
- `{name}_toolchains` (toolchains_repo): `{platform}_toolchain` and `{platform}_py_cc_toolchain` for each
  platform, matching its OS, CPU, libc and free-threading, and the version flag
  (@rules_python//python/config_settings:python_version) at X.Y, X.Y.Z or — unless the version is
  constrained — unset. A custom platform (`custom_platforms`, the extension's single_version_platform_override)
  matches its own target_compatible_with and target_settings instead of an OS, CPU, libc and threading.
- `{name}` (multi_toolchain_aliases): `X.Y/defs.bzl` re-exporting each version's defs.bzl.
- `pythons_hub` (hub_repo, the bzlmod extension's): `versions.bzl` with DEFAULT_PYTHON_VERSION, MINOR_MAPPING
  and PYTHON_VERSIONS.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from kiln.repos.python_register import ALIASES_KIND, HOST_KIND, HUB_KIND, MULTI_ALIASES_KIND, TOOLCHAINS_KIND
from kiln.repos.python_tool_versions import FREETHREADED, PLATFORMS

_FLAGS = "@rules_python//python/config_settings"
_HEADER = "# Written by kiln: {kind}(name = \"{name}\"), as rules_python's.\n"
_PUBLIC = 'package(default_visibility = ["//visibility:public"])\n'
_ALIASED = ("files", "includes", "libpython", "py3_runtime", "python_headers", "python_runtimes")


def repository_files(kind: str, name: str, attrs: dict[str, Any]) -> dict[str, str]:
    """Relative path -> text of every file of the repository."""
    header = _HEADER.format(kind=kind, name=name)
    if kind == MULTI_ALIASES_KIND:
        files = {"BUILD.bazel": header}
        for version, repo in sorted(attrs["python_versions"].items()):
            files[f"{version}/BUILD.bazel"] = header
            files[f"{version}/defs.bzl"] = header + "".join(
                f'load("@{repo}//:defs.bzl", _{symbol} = "{symbol}")\n' for symbol in _DEFS_SYMBOLS) + "\n" + "".join(
                f"{symbol} = _{symbol}\n" for symbol in _DEFS_SYMBOLS)
        return files
    if kind == HUB_KIND:
        return {"BUILD.bazel": header + _PUBLIC + 'exports_files(["versions.bzl"])\n',
                "versions.bzl": header + f"DEFAULT_PYTHON_VERSION = {json.dumps(attrs['default_python_version'])}\n"
                f"MINOR_MAPPING = {json.dumps(attrs['minor_mapping'], sort_keys=True)}\n"
                f"PYTHON_VERSIONS = {json.dumps(attrs['python_versions'])}\n"}
    platforms = attrs["platforms"]
    user = attrs["user_repository_name"]
    custom = attrs.get("custom_platforms") or {}
    if kind == TOOLCHAINS_KIND:
        return {"BUILD.bazel": header + _toolchains(user, attrs["python_version"], platforms, custom,
                                                    attrs["set_python_version_constraint"])}
    host = host_platform(platforms, name, custom)
    if kind == HOST_KIND:
        return {"BUILD.bazel": header + _PUBLIC + f'\nalias(name = "python", actual = "@{user}_{host}//:python")\n'}
    assert kind == ALIASES_KIND, kind
    return {"BUILD.bazel": header + _aliases(user, platforms, custom),
            "defs.bzl": header + _DEFS.format(host=host, repo=f"{user}_{host}", version=attrs["python_version"])}


_DEFS_SYMBOLS = ("host_platform", "interpreter", "py_binary", "py_test")

_DEFS = '''
load("@rules_python//python:defs.bzl", _py_binary = "py_binary", _py_test = "py_test")

host_platform = "{host}"
interpreter = "@{repo}//:bin/python3"

def py_binary(name, **kwargs):
    return _py_binary(name = name, python_version = "{version}", **kwargs)

def py_test(name, **kwargs):
    return _py_test(name = name, python_version = "{version}", **kwargs)
'''


def host_platform(platforms: list[str], name: str, custom: dict[str, dict] | None = None) -> str:
    """The platform key of this machine among `platforms`: kiln's own (glibc and not free-threaded on
    Linux) before a custom one whose os_name and arch are the machine's."""
    from kiln.repos.repository_rules import RepositoryError

    uname = os.uname()
    system = {"darwin": "macos"}.get(uname.sysname.lower(), uname.sysname.lower())
    cpu = {"amd64": "x86_64", "arm64": "aarch64"}.get(uname.machine.lower(), uname.machine.lower())
    custom = custom or {}
    for key in platforms:
        os_name, key_cpu, _, libc = PLATFORMS.get(key, ("", "", "", None)) if key not in custom else ("", "", "", "")
        if (os_name, key_cpu) == (system, cpu) and libc in (None, "glibc"):
            return key
    for key in platforms:
        if key in custom and (custom[key].get("os_name"), custom[key].get("arch")) == (system, cpu):
            return key
    raise RepositoryError(f"@{name}: none of the Python runtimes it names is for this machine ({system} on {cpu}); "
                          f"they are for: {', '.join(platforms)}")


def _constraints(key: str, custom: dict[str, dict]) -> list[str]:
    if key in custom:
        return list(custom[key]["compatible_with"])
    os_name, cpu, _, _ = PLATFORMS[key.removesuffix(FREETHREADED)]
    return [f"@platforms//os:{os_name}", f"@platforms//cpu:{cpu}"]


def _flag_values(key: str, custom: dict[str, dict]) -> dict[str, str]:
    if key in custom:
        # A custom platform is told apart by its own target_settings, not by kiln's libc and threading flags.
        return {}
    triple = key.removesuffix(FREETHREADED)
    libc = PLATFORMS[triple][3]
    flags = {f"{_FLAGS}:py_linux_libc": libc} if libc else {}
    flags[f"{_FLAGS}:py_freethreaded"] = "yes" if key.endswith(FREETHREADED) else "no"
    return flags


def _aliases(user: str, platforms: list[str], custom: dict[str, dict]) -> str:
    out = [_PUBLIC, 'exports_files(["defs.bzl"])\n']
    # The aliases choose by platform alone: a custom platform is among the choices only where none of kiln's
    # platforms would match the same machine (its target_settings are the toolchain's business).
    covered = {tuple(_constraints(k, custom)) for k in platforms if k not in custom}
    chosen = [k for k in platforms if k not in custom or tuple(_constraints(k, custom)) not in covered]
    for key in chosen:
        out.append(f'config_setting(\n    name = "{key}",\n    constraint_values = {json.dumps(_constraints(key, custom))},\n'
                   f'    flag_values = {json.dumps(_flag_values(key, custom), sort_keys=True)},\n)\n')
    for target in (*_ALIASED, "python3"):
        inside = "bin/python3" if target == "python3" else target
        choices = ",\n".join(f'        ":{key}": "@{user}_{key}//:{inside}"' for key in chosen)
        out.append(f'alias(\n    name = "{target}",\n    actual = select({{\n{choices},\n    }}),\n)\n')
    return "\n".join(out)


def _toolchains(user: str, version: str, platforms: list[str], custom: dict[str, dict], constrained: bool) -> str:
    major_minor = version.rsplit(".", 1)[0]
    versions = [major_minor, version] + ([] if constrained else [""])
    out = [_PUBLIC]
    for key in platforms:
        settings = []
        for i, value in enumerate(versions):
            settings.append(f"_{key}_{i}")
            flags = {**_flag_values(key, custom), f"{_FLAGS}:python_version": value}
            out.append(f'config_setting(\n    name = "_{key}_{i}",\n    flag_values = {json.dumps(flags, sort_keys=True)},\n'
                       '    visibility = ["//visibility:private"],\n)\n')
        out.append(f'config_setting_group(\n    name = "_{key}_version",\n    match_any = {json.dumps([":" + s for s in settings])},\n)\n')
        for suffix, target, toolchain_type in (
                ("toolchain", "python_runtimes", "@rules_python//python:toolchain_type"),
                ("py_cc_toolchain", "py_cc_toolchain", "@rules_python//python/cc:toolchain_type")):
            out.append(f'toolchain(\n    name = "{key}_{suffix}",\n    toolchain = "@{user}_{key}//:{target}",\n'
                       f'    toolchain_type = "{toolchain_type}",\n'
                       f'    target_compatible_with = {json.dumps(_constraints(key, custom))},\n'
                       f'    target_settings = {json.dumps([f":_{key}_version", *custom.get(key, {}).get("target_settings", [])])},\n)\n')
    return "\n".join(out)


def runtime_build_file(name: str, attrs: dict[str, Any], record: dict[str, Any], directory: Path) -> str:
    """The BUILD of an extracted python-build-standalone runtime, from its probe's record."""
    from kiln.repos.local_runtime import runtime_attrs

    version = attrs["python_version"]
    major, minor, _ = record["version"]
    x_y = f"{major}.{minor}"
    include = os.path.basename(record.get("include_dir") or "") or f"python{x_y}{record.get('abi_flags', '')}"
    runtime = {
        "interpreter": "bin/python3",
        "files": [":files"],
        **runtime_attrs(record),
        "include_dir": str(directory / "include" / include),
        "lib_dir": str(directory / "lib"),
    }
    body = "".join(f"    {k} = {json.dumps(v, sort_keys=True)},\n" for k, v in runtime.items())
    files_include = ["bin/**", "extensions/**", "include/**", "lib/**", "libs/**", "share/**"]
    files_exclude = ["lib/**/*.a", f"lib/libpython{x_y}*.so", f"lib/python{x_y}*/**/test/**",
                     f"lib/python{x_y}*/**/tests/**", "**/__pycache__/*.pyc", "**/__pycache__/*.pyc.*",
                     "**/__pycache__/*.pyo"]
    return (
        f"# Written by kiln: python_repository(name = \"{name}\"), Python {version} for {attrs['platform']} "
        f"from {attrs['release_filename']}.\n" + _PUBLIC + "\n"
        'exports_files(["python", "bin/python3"])\n\n'
        f"filegroup(\n    name = \"files\",\n    srcs = glob(\n        {json.dumps(files_include)},\n"
        f"        exclude = {json.dumps(files_exclude)},\n        allow_empty = True,\n    ),\n)\n\n"
        'filegroup(name = "includes", srcs = glob(["include/**/*.h"], allow_empty = True))\n\n'
        'filegroup(name = "python_headers", srcs = [":includes"])\n\n'
        f'filegroup(name = "libpython", srcs = glob(["lib/libpython{x_y}*.so", "lib/libpython{x_y}*.so.1.0"], '
        'allow_empty = True))\n\n'
        'filegroup(name = "python3", srcs = ["bin/python3"])\n\n'
        f"py_runtime(\n    name = \"py3_runtime\",\n{body})\n\n"
        'py_runtime_pair(name = "python_runtimes", py3_runtime = ":py3_runtime")\n\n'
        f'py_cc_toolchain(name = "py_cc_toolchain", headers = ":python_headers", libs = ":libpython", '
        f'python_version = "{version}")\n'
    )
