"""The runtime a package is installed for, as packaging sees it: its wheel tags and its marker environment.

Built from a probed runtime's record (kiln.repos.runtime_probe), never from the
interpreter kiln runs on: a hub serves several Python versions and platforms,
and each gets the wheels and the dependencies of its own runtime. The tags are
packaging.tags' own generators fed with the target's values; only the
manylinux / musllinux platform lists are built here, because packaging reads
those from the running machine's C library.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # packaging is imported lazily: it is off kiln's no-op path
    from packaging.tags import Tag

# An interpreter's short name in wheel tags (PEP 425).
_TAG_NAMES = {"cpython": "cp", "pypy": "pp", "ironpython": "ip", "jython": "jy"}
# The manylinux aliases of PEP 513, 571 and 599, by the glibc minor version they stand for.
_LEGACY_MANYLINUX = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
_LEGACY_ARCHS = {17: {"x86_64", "i686", "aarch64", "armv7l", "ppc64", "ppc64le", "s390x"},
                 12: {"x86_64", "i686"}, 5: {"x86_64", "i686"}}
_PLATFORM_SYSTEMS = {"linux": "Linux", "darwin": "Darwin", "win32": "Windows", "cygwin": "CYGWIN",
                     "freebsd": "FreeBSD"}


@dataclass(frozen=True)
class TargetRuntime:
    implementation: str  # sys.implementation.name: "cpython", "pypy"
    version: tuple[int, int, int]
    implementation_version: tuple[int, int, int]
    abi_flags: str  # sys.abiflags: "", "d", "t"
    soabi: str  # sysconfig SOABI: "cpython-311-x86_64-linux-gnu", "pypy39-pp73"
    sys_platform: str  # "linux", "darwin", "win32"
    machine: str  # platform.machine(): "x86_64", "arm64", "AMD64"
    platform: str  # sysconfig.get_platform(): "linux-x86_64", "macosx-11.0-arm64", "win-amd64"
    libc: tuple[str, ...]  # ("glibc", "2.36"), ("musl", "1.2"), or () off Linux

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> "TargetRuntime":
        return cls(
            implementation=record["implementation_name"],
            version=_triple(record["version"]),
            implementation_version=_triple(record["implementation_version"]),
            abi_flags=record["abi_flags"],
            soabi=record["soabi"],
            sys_platform=record["sys_platform"],
            machine=record["machine"],
            platform=record["platform"],
            libc=tuple(record["libc"]),
        )

    @classmethod
    def host_cpython(cls, version: str) -> "TargetRuntime":
        """CPython `version` ("3.11.7") on this machine, as rules_python's hubs assume a Python version to be
        when they choose wheels without running its interpreter."""
        import os
        import sys

        machine = os.uname().machine
        triple = _triple(version.split("."))
        libc: tuple[str, ...] = ()
        if sys.platform == "linux":
            try:
                name, _, libc_version = os.confstr("CS_GNU_LIBC_VERSION").partition(" ")
                libc = ("glibc", libc_version) if name == "glibc" else ()
            except (ValueError, OSError):
                libc = ()
        return cls("cpython", triple, triple, "", f"cpython-{triple[0]}{triple[1]}-{machine}-{sys.platform}-gnu",
                   sys.platform, machine, f"{sys.platform}-{machine}", libc)

    def describe(self) -> str:
        """As a message names it: "cpython 3.11.7 on linux-x86_64 (glibc 2.36)"."""
        libc = f" ({' '.join(self.libc)})" if self.libc else ""
        return f"{self.implementation} {'.'.join(map(str, self.version))} on {self.platform}{libc}"

    def tags(self) -> tuple["Tag", ...]:
        """The wheel tags this runtime accepts, most preferred first (as pip orders them)."""
        from packaging import tags

        major_minor = self.version[:2]
        platforms = self.platform_tags()
        if self.implementation == "cpython":
            interpreter = f"cp{major_minor[0]}{major_minor[1]}"
            abis = [interpreter + self.abi_flags]
            if "d" in self.abi_flags and major_minor >= (3, 8):
                abis.append(interpreter + self.abi_flags.replace("d", ""))  # a debug build loads release modules
            specific = tags.cpython_tags(major_minor, abis, platforms)
        else:
            interpreter = f"{_TAG_NAMES.get(self.implementation, self.implementation)}{major_minor[0]}{major_minor[1]}"
            specific = tags.generic_tags(interpreter, [self._generic_abi()], platforms)
        return tuple(dict.fromkeys([*specific, *tags.compatible_tags(major_minor, interpreter, platforms)]))

    def platform_tags(self) -> list[str]:
        """The platform tags of this runtime's machine, most specific first (a locally built linux_* wheel first,
        as packaging orders them)."""
        from packaging import tags

        system, _, rest = self.platform.partition("-")
        if system == "linux":
            return [f"linux_{rest}", *self._linux_tags(rest)]
        if system == "macosx":
            version, _, arch = rest.partition("-")
            major, _, minor = version.partition(".")
            return list(tags.mac_platforms((int(major), int(minor or 0)), arch))
        return [self.platform.replace("-", "_").replace(".", "_")]

    def _linux_tags(self, arch: str) -> list[str]:
        if len(self.libc) != 2:
            return []
        name, version = self.libc
        major, _, minor = version.partition(".")
        newest = int(minor.partition(".")[0] or 0)
        if name == "musl":
            return [f"musllinux_{major}_{m}_{arch}" for m in range(newest, -1, -1)]
        out = []
        # manylinux begins at glibc 2.5 on x86, at 2.17 elsewhere (PEP 600's reading of PEP 513/599).
        oldest = 5 if arch in ("x86_64", "i686") else 17
        for m in range(newest, oldest - 1, -1):
            out.append(f"manylinux_{major}_{m}_{arch}")
            if m in _LEGACY_MANYLINUX and arch in _LEGACY_ARCHS[m]:
                out.append(f"{_LEGACY_MANYLINUX[m]}_{arch}")
        return out

    def _generic_abi(self) -> str:
        # As packaging derives it from EXT_SUFFIX: "pypy39-pp73-…" -> "pypy39_pp73".
        parts = self.soabi.split("-")
        kept = parts[:2] if self.implementation == "pypy" else parts[:3] if self.implementation == "graalpy" else parts
        return "_".join(kept).replace(".", "_") or "none"

    def marker_environment(self) -> dict[str, str]:
        """PEP 508's environment of this runtime, for requirement and Requires-Dist markers.

        platform_release and platform_version describe the machine a program runs on, which
        a build cannot know: they are empty, so markers on them are false, never a guess."""
        version = ".".join(map(str, self.version))
        return {
            "implementation_name": self.implementation,
            "implementation_version": ".".join(map(str, self.implementation_version)),
            "os_name": "nt" if self.sys_platform == "win32" else "posix",
            "platform_machine": self.machine,
            "platform_python_implementation": {"cpython": "CPython", "pypy": "PyPy"}.get(
                self.implementation, self.implementation),
            "platform_release": "",
            "platform_system": _PLATFORM_SYSTEMS.get(self.sys_platform, self.sys_platform.capitalize()),
            "platform_version": "",
            "python_full_version": version,
            "python_version": f"{self.version[0]}.{self.version[1]}",
            "sys_platform": self.sys_platform,
        }


def _triple(parts: Any) -> tuple[int, int, int]:
    major, minor, micro = ([int(str(p)) for p in parts] + [0, 0, 0])[:3]
    return major, minor, micro
