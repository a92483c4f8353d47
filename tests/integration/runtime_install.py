"""A CPython installation of many files, for tests (and bench/) of in-build runtimes.

Made from the system's CPython 3.11 (Debian's python3.11, whose binary needs no
libpython beside it): `<dest>/bin/python3.11` and `bin/python3`, the standard
library under `lib/python3.11/` (without its tests and site packages) and the C
headers under `include/python3.11/`, in the layout of a python-build-standalone
`python/` directory. Every file is a copy: a test may edit it. `runtime_build`
is the BUILD file of the package holding it: a py_runtime of all its files and
the toolchain that offers it (`:toolchain`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

SYSTEM_PY = "/usr/bin/python3.11"
_SKIP = shutil.ignore_patterns("test", "dist-packages", "site-packages", "config-3.11*", "idlelib", "tkinter",
                               "turtledemo")

_BUILD = '''load("@rules_python//python:defs.bzl", "py_runtime", "py_runtime_pair")
py_runtime(
    name = "runtime",
    interpreter = "{prefix}bin/python3.11",
    files = glob(["{prefix}**"]),
    interpreter_version_info = {{"major": "3", "minor": "11", "micro": "{micro}"}},
)
py_runtime_pair(name = "pair", py3_runtime = ":runtime")
toolchain(name = "toolchain", toolchain = ":pair", toolchain_type = "@rules_python//python:toolchain_type")
'''


def runtime_build(micro: str, prefix: str = "python/") -> str:
    """The BUILD file of a runtime installed under `prefix` of its package ("" for the package's own
    directory)."""
    return _BUILD.format(micro=micro, prefix=prefix)


def system_micro() -> str | None:
    """The system CPython 3.11's micro version, or None when the machine has none."""
    if not os.path.exists(SYSTEM_PY) or not os.path.isdir("/usr/lib/python3.11"):
        return None
    return subprocess.run([SYSTEM_PY, "-c", "import sys; print(sys.version_info[2])"], capture_output=True,
                          text=True, check=True).stdout.strip()


def make_installation(dest: Path) -> int:
    """Lays the installation out under `dest`; returns how many files it holds."""
    (dest / "bin").mkdir(parents=True)
    shutil.copy2(SYSTEM_PY, dest / "bin/python3.11")
    os.symlink("python3.11", dest / "bin/python3")
    shutil.copytree("/usr/lib/python3.11", dest / "lib/python3.11", ignore=_SKIP, symlinks=False,
                    ignore_dangling_symlinks=True)
    if os.path.isdir("/usr/include/python3.11"):
        shutil.copytree("/usr/include/python3.11", dest / "include/python3.11", symlinks=False,
                        ignore_dangling_symlinks=True)
    return sum(len(names) for _, _, names in os.walk(dest))
