"""What a Python runtime is, read from inside it: the record a py_runtime is written from.

Run in process for the interpreter kiln runs on, and as a script by any other
interpreter (`python3.12 runtime_probe.py` prints the record as JSON): so it
imports nothing of kiln and keeps to syntax every CPython 3.6+ and PyPy reads.
"""

import json
import sys


def probe():
    """The running interpreter's implementation, version, ABI and build paths (FACTS §4)."""
    import sysconfig
    from importlib import machinery

    var = sysconfig.get_config_var
    return {
        "executable": sys.executable,
        "implementation_name": sys.implementation.name,
        "version": [str(part) for part in sys.version_info[:3]],
        "pyc_tag": sys.implementation.cache_tag or "",
        "abi_flags": getattr(sys, "abiflags", ""),
        "ext_suffix": var("EXT_SUFFIX") or "",
        "soabi": var("SOABI") or "",
        "include_dir": sysconfig.get_paths().get("include") or var("INCLUDEPY") or "",
        "lib_dir": var("LIBDIR") or "",
        "ld_library": var("LDLIBRARY") or "",
        "gil_disabled": bool(var("Py_GIL_DISABLED")),
        "extension_suffixes": list(machinery.EXTENSION_SUFFIXES),
    }


if __name__ == "__main__":
    sys.stdout.write(json.dumps(probe()))
