"""Toolchains a rule asks for through ctx.toolchains.

Until toolchain resolution lands, the Python runtime is the one kiln runs on
and the target platform is the host; rules reach both only through here.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, Callable

from kiln.analysis.host import host_os_and_cpu
from kiln.analysis.providers import ConstraintValueInfo, PlatformInfo
from kiln.core.labels import Label
from kiln.repos.local_runtime import host_runtime
from kiln.rules.python.providers import PyRuntimeInfo

_OS = Label("platforms", "os", "")
_CPU = Label("platforms", "cpu", "")


def host_platform() -> PlatformInfo:
    system, cpu = host_os_and_cpu()
    return PlatformInfo(
        Label("", "", "host_platform"),
        (
            ConstraintValueInfo(Label("platforms", "os", system), _OS.sibling("os")),
            ConstraintValueInfo(Label("platforms", "cpu", cpu), _CPU.sibling("cpu")),
        ),
    )


class Toolchains:
    @cached_property
    def _python(self) -> PyRuntimeInfo:
        return host_runtime()

    def python_runtime(self) -> PyRuntimeInfo:
        return self._python

    @cached_property
    def _rust(self) -> Any:
        from kiln.rules.rust.toolchain import find_rust_toolchain

        return find_rust_toolchain()

    def rust(self) -> Any:
        """The Rust toolchain (looked up only when a Rust target is analysed)."""
        return self._rust

    def target_platform(self) -> PlatformInfo:
        return host_platform()

    def for_platform(self, platform: Callable[[], PlatformInfo]) -> "Toolchains":
        """The same toolchains, seen by a target whose configuration targets `platform()`.

        A callable: the platform is analysed only when a rule asks for it (config_setting), never
        while its own constraint values are being analysed."""
        return _ForPlatform(self, platform)


class _ForPlatform:
    def __init__(self, base: Toolchains, platform: Callable[[], PlatformInfo]):
        self._base = base
        self._platform = platform

    def python_runtime(self) -> PyRuntimeInfo:
        return self._base.python_runtime()

    def rust(self) -> Any:
        return self._base.rust()

    def target_platform(self) -> PlatformInfo:
        return self._platform()
