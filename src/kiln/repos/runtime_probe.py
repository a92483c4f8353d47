"""What a Python runtime is, read from inside it: the record a py_runtime is written from.

Run in process for the interpreter kiln runs on, and as a script by any other
interpreter (`python3.12 runtime_probe.py` prints the record as JSON): so it
imports nothing of kiln and keeps to syntax every CPython 3.6+ and PyPy reads.
"""

import json
import platform
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
        # What a wheel's platform tag and a requirement's environment markers are matched against.
        "implementation_version": [str(part) for part in sys.implementation.version[:3]],
        "sys_platform": sys.platform,
        "machine": platform.machine(),
        "platform": sysconfig.get_platform(),
        "libc": _libc(),
    }


def _libc():
    """["glibc", "2.36"], ["musl", "1.2.4"], or [] where the C library is neither (macOS, Windows)."""
    name, version = platform.libc_ver()
    if name == "glibc":
        return [name, version]
    if not sys.platform.startswith("linux"):
        return []
    # musl has no version query: its dynamic loader prints "Version X.Y.Z" when run with no program.
    import glob
    import re
    import subprocess

    for loader in sorted(glob.glob("/lib/ld-musl-*.so.1")):
        try:
            done = subprocess.run([loader], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
        except (OSError, subprocess.SubprocessError):
            continue
        found = re.search(rb"Version ([0-9]+\.[0-9]+)", done.stderr)
        if found:
            return ["musl", found.group(1).decode()]
    return []


if __name__ == "__main__":
    sys.stdout.write(json.dumps(probe()))
