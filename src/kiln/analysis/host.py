"""The machine kiln runs on, as Bazel names it: its OS and CPU (read once, cheaply, with uname)."""

from __future__ import annotations

import os
from functools import lru_cache


@lru_cache(maxsize=1)
def host_os_and_cpu() -> tuple[str, str]:
    """This machine's OS and CPU as @platforms names: ("linux", "x86_64"), ("osx", "aarch64")."""
    uname = os.uname()
    system = {"linux": "linux", "darwin": "osx", "freebsd": "freebsd"}.get(uname.sysname.lower(), "linux")
    machine = uname.machine.lower()
    return system, {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
