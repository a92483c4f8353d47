"""What a rule implementation sees as ctx.toolchains, and the options that steer resolution.

A configured target's toolchains are resolved before its implementation runs
(analysis.toolchain_registry); the implementation reads them by type, as
`ctx.toolchains[type]`, and config_setting reads the target platform here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from kiln.analysis.providers import PlatformInfo
from kiln.core.errors import AnalysisError
from kiln.core.labels import Label, parse_label
from kiln.loading.wellknown import canonical_repo


@dataclass(frozen=True)
class ToolchainOptions:
    """--extra_toolchains, --extra_execution_platforms and --toolchain_resolution_debug."""

    extra_toolchains: tuple[str, ...] = ()
    extra_execution_platforms: tuple[str, ...] = ()
    debug: str | None = None


class LazyToolchain:
    """An optional toolchain type's ToolchainInfo, analysed on first use (kiln.analysis.analyzer)."""

    def __init__(self, analyse: Callable[[], Any]):
        self._analyse = analyse

    def get(self) -> Any:
        return self._analyse()


class ToolchainContext:
    """ctx.toolchains: the toolchain chosen for each type the rule declared (None: optional, none matched)."""

    def __init__(self, by_type: dict[Label, Any], platform: Callable[[], PlatformInfo],
                 exec_platform: PlatformInfo | None = None, where: str = "",
                 registered: Callable[[Label], tuple] = lambda toolchain_type: (),
                 tested: Callable[[tuple], frozenset] = lambda labels: frozenset()):
        self._by_type = by_type
        self._platform = platform
        self.exec_platform = exec_platform
        self._where = where
        self._registered = registered
        self._tested = tested

    def registered(self, key: Label | str) -> tuple:
        """The toolchain() declarations of a type resolution considered (DeclaredToolchainInfo), for a
        rule's error messages: which versions exist when none fits."""
        return self._registered(_type_label(key))

    def settings_tested(self, labels: tuple) -> frozenset:
        """The (setting label, value) pairs a declaration's target_settings test, e.g. the versions of the
        python_version flag a Python toolchain is for."""
        return self._tested(tuple(labels))

    def __getitem__(self, key: Label | str) -> Any:
        label = _type_label(key)
        if label not in self._by_type:
            known = ", ".join(str(t) for t in self._by_type) or "none"
            raise AnalysisError(f"In {self._where}, toolchain type {label} was requested but only types "
                                f"[{known}] are configured (declare it in the rule's toolchains)")
        found = self._by_type[label]
        if isinstance(found, LazyToolchain):
            found = self._by_type[label] = found.get()
        return found

    def __contains__(self, key: Label | str) -> bool:
        return _type_label(key) in self._by_type

    def target_platform(self) -> PlatformInfo:
        """The platform this configured target is built for (config_setting's constraint_values)."""
        return self._platform()


def _type_label(key: Label | str) -> Label:
    label = key if isinstance(key, Label) else parse_label(key)
    repo = canonical_repo(label.repo)
    return label if repo == label.repo else Label(repo, label.package, label.name)
