"""Local Python runtimes: describe an interpreter installed on this machine.

Introspection runs the interpreter once (or reads the running one) and yields
a PyRuntimeInfo; the toolchain issue builds local_runtime_repo on this.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from kiln.core.errors import LocalEnvironmentError
from kiln.rules.python.providers import PyRuntimeInfo

# Runs inside the interpreter being described; prints one JSON object.
_PROBE = r"""
import json, sys, sysconfig
v = sysconfig.get_config_var
print(json.dumps({
    "implementation": sys.implementation.name,
    "version": list(sys.version_info[:3]),
    "cache_tag": sys.implementation.cache_tag,
    "abiflags": getattr(sys, "abiflags", ""),
    "ext_suffix": v("EXT_SUFFIX") or "",
    "soabi": v("SOABI") or "",
    "include": sysconfig.get_paths().get("include") or v("INCLUDEPY") or "",
    "libdir": v("LIBDIR") or "",
    "ldlibrary": v("LDLIBRARY") or "",
    "gil_disabled": bool(v("Py_GIL_DISABLED")),
    "executable": sys.executable,
}))
"""


def _from_probe(data: dict) -> PyRuntimeInfo:
    return PyRuntimeInfo(
        implementation_name=data["implementation"],
        version_info=tuple(data["version"]),
        pyc_tag=data["cache_tag"] or "",
        abi_flags=data["abiflags"],
        ext_suffix=data["ext_suffix"],
        soabi=data["soabi"],
        interpreter_path=data["executable"],
        include_dir=data["include"],
        lib_dir=data["libdir"],
        ld_library=data["ldlibrary"],
        gil_disabled=data["gil_disabled"],
    )


def host_runtime() -> PyRuntimeInfo:
    """The interpreter kiln itself runs on, described without starting a process."""
    import sysconfig

    v = sysconfig.get_config_var
    return PyRuntimeInfo(
        implementation_name=sys.implementation.name,
        version_info=tuple(sys.version_info[:3]),
        pyc_tag=sys.implementation.cache_tag or "",
        abi_flags=getattr(sys, "abiflags", ""),
        ext_suffix=v("EXT_SUFFIX") or "",
        soabi=v("SOABI") or "",
        interpreter_path=_real_executable(),
        include_dir=sysconfig.get_paths().get("include") or "",
        lib_dir=v("LIBDIR") or "",
        ld_library=v("LDLIBRARY") or "",
        gil_disabled=bool(v("Py_GIL_DISABLED")),
    )


def _real_executable() -> str:
    # A venv's python is a link to the base interpreter; keep the venv path so its
    # site-packages stay visible, but never a pyenv shim (a shell script costing ~55 ms).
    return os.path.abspath(sys.executable)


def introspect(interpreter: str) -> PyRuntimeInfo:
    try:
        out = subprocess.run(
            [interpreter, "-S", "-c", _PROBE], capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"}
        )
    except OSError as e:
        raise LocalEnvironmentError(f"cannot run Python interpreter '{interpreter}': {e.strerror}") from None
    if out.returncode != 0:
        raise LocalEnvironmentError(f"Python interpreter '{interpreter}' failed to describe itself:\n{out.stderr.strip()}")
    return _from_probe(json.loads(out.stdout))
