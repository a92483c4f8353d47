"""The well-known rule repositories whose .bzl files kiln provides itself.

`load("@rules_python//python:defs.bzl", "py_library")` never downloads
anything: it resolves to kiln's built-in rule. Each entry names the symbols
kiln implements; asking for another one is reported by name.
"""

from __future__ import annotations

from pathlib import Path

# BUILD files kiln ships for the well-known repositories (@platforms//os:linux, ...).
BUILTIN_REPOS = Path(__file__).resolve().parent.parent / "repos" / "builtin"

WELL_KNOWN_REPOS = frozenset({
    "rules_python",
    "bazel_skylib",
    "aspect_bazel_lib",
    "platforms",
    # Bazel 7's name for the host platform: @local_config_platform//:host.
    "local_config_platform",
    "bazel_tools",
    "rules_rust",
    "rules_rust_pyo3",
    "rules_pyo3",
    # The declarations of the toolchains kiln registers itself (the machine's Python and Rust).
    "kiln_toolchains",
})

# Repo names Bazel users also write for the same rule sets.
REPO_ALIASES = {
    "io_bazel_rules_python": "rules_python",
    "rules_python_internal": "rules_python",
    "io_bazel_rules_rust": "rules_rust",
}

_PY = ("py_library", "py_binary", "py_test")
_PY_PROVIDERS = ("PyInfo", "PyRuntimeInfo")
_PYO3 = ("pyo3_extension", "pyo3_toolchain", "rust_pyo3_toolchain")

# (repo, path of the .bzl inside it) -> symbols kiln provides.
MODULES: dict[tuple[str, str], tuple[str, ...]] = {
    ("rules_python", "python/defs.bzl"): _PY + _PY_PROVIDERS + ("py_runtime", "py_runtime_pair"),
    ("rules_python", "python/py_library.bzl"): ("py_library",),
    ("rules_python", "python/py_binary.bzl"): ("py_binary",),
    ("rules_python", "python/py_test.bzl"): ("py_test",),
    ("rules_python", "python/entry_points/py_console_script_binary.bzl"): ("py_console_script_binary",),
    ("rules_python", "python/pip.bzl"): ("compile_pip_requirements",),
    ("rules_python", "python/packaging.bzl"): ("py_wheel", "py_package", "PyWheelInfo"),
    ("rules_python", "python/py_info.bzl"): ("PyInfo",),
    ("rules_python", "python/py_runtime_info.bzl"): ("PyRuntimeInfo",),
    ("rules_python", "python/py_runtime.bzl"): ("py_runtime",),
    ("rules_python", "python/py_runtime_pair.bzl"): ("py_runtime_pair",),
    ("rules_python", "python/py_exec_tools_toolchain.bzl"): ("py_exec_tools_toolchain",),
    ("rules_python", "python/py_exec_tools_info.bzl"): ("PyExecToolsInfo",),
    # rules_python's own precompiler is one; a user's custom precompiler may be too.
    ("rules_python", "python/private/py_interpreter_program.bzl"): (
        "py_interpreter_program", "PyInterpreterProgramInfo"),
    ("rules_python", "python/cc/py_cc_toolchain.bzl"): ("py_cc_toolchain",),
    # Where seed 002's custom toolchain example loads it from.
    ("rules_python", "python/py_cc_toolchain.bzl"): ("py_cc_toolchain",),
    ("rules_python", "python/cc/py_cc_toolchain_info.bzl"): ("PyCcToolchainInfo",),
    ("bazel_skylib", "rules/copy_file.bzl"): ("copy_file",),
    ("bazel_skylib", "rules/common_settings.bzl"): (
        "string_flag", "bool_flag", "int_flag", "string_list_flag",
        "string_setting", "bool_setting", "int_setting", "BuildSettingInfo",
    ),
    ("bazel_skylib", "rules/write_file.bzl"): ("write_file",),
    ("bazel_skylib", "lib/selects.bzl"): ("selects",),
    ("aspect_bazel_lib", "lib/copy_file.bzl"): ("copy_file", "COPY_FILE_TOOLCHAINS"),
    ("bazel_tools", "tools/python/toolchain.bzl"): ("py_runtime_pair",),
    ("rules_rust", "rust/defs.bzl"): (
        "rust_library", "rust_shared_library", "rust_binary", "rust_test", "rust_proc_macro",
    ),
    ("rules_rust_pyo3", "defs.bzl"): _PYO3,
    ("rules_pyo3", "pyo3/defs.bzl"): _PYO3,
}

# Symbols that are providers or constants: loadable, but only meaningful to rule() code.
PLACEHOLDER_SYMBOLS = frozenset({
    "PyWheelInfo", "PyInfo", "PyRuntimeInfo", "PyCcToolchainInfo", "PyExecToolsInfo", "BuildSettingInfo", "COPY_FILE_TOOLCHAINS",
    "PyInterpreterProgramInfo",
})


def canonical_repo(apparent: str) -> str:
    return REPO_ALIASES.get(apparent, apparent)


def module_symbols(repo: str, path: str) -> tuple[str, ...] | None:
    """The symbols kiln provides for a well-known .bzl, or None if it knows no such file."""
    return MODULES.get((canonical_repo(repo), path))
