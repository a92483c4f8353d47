"""What PyO3 is told about the Python it builds against, and what Python will import.

The configuration comes from the runtime kiln resolved for the target
(PyRuntimeInfo), written as a PYO3_CONFIG_FILE, so pyo3's build script never
looks for `python3` on PATH (and never reruns because PATH changed).
"""

from __future__ import annotations

from kiln.rules.python.providers import PyRuntimeInfo

_IMPLEMENTATIONS = {"cpython": "CPython", "pypy": "PyPy", "graalpy": "GraalPy"}


def loads_abi3(runtime: PyRuntimeInfo) -> bool:
    """Whether the runtime can import a stable-ABI (`.abi3.so`) module: CPython without free threading."""
    return runtime.implementation_name == "cpython" and not runtime.gil_disabled


def config_file_text(runtime: PyRuntimeInfo, *, abi3: bool, extension_module: bool = True) -> str:
    """The `key=value` lines of a PYO3_CONFIG_FILE for `runtime`."""
    impl = _IMPLEMENTATIONS.get(runtime.implementation_name)
    if impl is None:
        raise ValueError(f"PyO3 cannot build for the Python implementation '{runtime.implementation_name}'")
    lib_name = ""
    if runtime.ld_library.startswith("lib") and ".so" in runtime.ld_library:
        lib_name = runtime.ld_library[3:runtime.ld_library.index(".so")]
    lines = [
        f"implementation={impl}",
        f"version={runtime.major_minor}",
        f"shared={'true' if runtime.ld_library.endswith('.so') or '.so.' in runtime.ld_library else 'false'}",
        f"abi3={'true' if abi3 else 'false'}",
    ]
    if lib_name:
        lines.append(f"lib_name={lib_name}")
    if runtime.lib_dir:
        lines.append(f"lib_dir={runtime.lib_dir}")
    if runtime.interpreter_path:
        lines.append(f"executable={runtime.interpreter_path}")
    lines.append("pointer_width=64")
    flags = []
    if "d" in runtime.abi_flags:
        flags.append("Py_DEBUG")
    if runtime.gil_disabled:
        flags.append("Py_GIL_DISABLED")
    lines.append(f"build_flags={','.join(flags)}")
    # An extension module gets Python's symbols from the interpreter that loads it:
    # linking libpython as well would duplicate them (FACTS §5).
    lines.append(f"suppress_build_script_link_lines={'true' if extension_module else 'false'}")
    return "\n".join(lines) + "\n"


def extension_file_name(module_name: str, runtime: PyRuntimeInfo, *, abi3: bool) -> str:
    """`pkg/sub.abi3.so` with abi3, else `pkg/sub<EXT_SUFFIX>` of the runtime."""
    if not module_name or any(not part.isidentifier() for part in module_name.split(".")):
        raise ValueError(f"'{module_name}' is not a Python module name")
    path = module_name.replace(".", "/")
    if abi3 and loads_abi3(runtime):
        return f"{path}.abi3.so"
    if not runtime.ext_suffix:
        raise ValueError(f"the runtime {runtime.describe()} does not report an EXT_SUFFIX")
    return path + runtime.ext_suffix


def abi3_minimum(features: list[str] | tuple[str, ...]) -> tuple[int, int] | None:
    """The lowest abi3 version the pyo3 features ask for (`abi3` alone: the build's version)."""
    versions = []
    plain = False
    for f in features:
        if f == "abi3":
            plain = True
        elif f.startswith("abi3-py3") and f[len("abi3-py3"):].isdigit():
            versions.append((3, int(f[len("abi3-py3"):])))
    if versions:
        return min(versions)
    return (0, 0) if plain else None
