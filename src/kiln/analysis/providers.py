"""Providers analysis itself reads: config matching, build settings, platforms, toolchains."""

from __future__ import annotations

from dataclasses import dataclass

from kiln.core.labels import Label


@dataclass(frozen=True)
class ConfigMatchingInfo:
    """What a config_setting concluded in the current configuration."""

    matches: bool
    # Each (setting, value) it tests: a condition that tests a superset refines another.
    settings: frozenset[tuple[str, str]]
    # Why it does not match, for messages.
    mismatch: str = ""


@dataclass(frozen=True)
class BuildSettingInfo:
    """The value of a build setting (string_flag, bool_flag, ...) in this configuration."""

    value: object
    flag_label: str


@dataclass(frozen=True)
class ConstraintSettingInfo:
    label: Label
    default_value: Label | None


@dataclass(frozen=True)
class ConstraintValueInfo:
    label: Label
    setting: Label
    # The setting's default_constraint_value: what a platform without a value for the setting has.
    setting_default: Label | None = None


@dataclass(frozen=True)
class PlatformInfo:
    label: Label
    constraints: tuple[ConstraintValueInfo, ...]
    # Sorted (key, value) pairs, parents' merged in; carried to actions for remote execution.
    exec_properties: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ToolchainTypeInfo:
    label: Label


@dataclass(frozen=True)
class DeclaredToolchainInfo:
    """A toolchain() target: which type it implements, where it applies, and its (unanalysed) implementation."""

    toolchain_type: Label
    toolchain: Label
    target_compatible_with: tuple[ConstraintValueInfo, ...]
    exec_compatible_with: tuple[ConstraintValueInfo, ...]
    target_settings: tuple[Label, ...]


class ToolchainInfo:
    """What a toolchain implementation returns and ctx.toolchains[type] gives: named fields, frozen.

    Bazel's platform_common.ToolchainInfo: each toolchain type decides its fields (a Python
    toolchain has py3_runtime, a Rust one its tools)."""

    def __init__(self, **fields: object):
        object.__setattr__(self, "_fields", tuple(sorted(fields)))
        for name, value in fields.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("ToolchainInfo is immutable")

    def __repr__(self) -> str:
        return "ToolchainInfo(" + ", ".join(f"{n}={getattr(self, n)!r}" for n in self._fields) + ")"


@dataclass(frozen=True)
class IncompatiblePlatformInfo:
    """A target that cannot be built for its configuration's target platform, and why.

    `chain` runs from the target to the one whose target_compatible_with fails (itself when
    directly incompatible), each as `label (configuration)`; `missing` names the constraint values
    the platform lacks."""

    platform: Label
    chain: tuple[str, ...]
    missing: tuple[Label, ...]

    def explain(self) -> str:
        """Why, as Bazel says it: the dependency chain down to the unmet constraint."""
        lines = list(self.chain)
        what = "constraint" if len(self.missing) == 1 else "constraints"
        lines[-1] += (f"   <-- target platform ({self.platform}) didn't satisfy {what} "
                      + ", ".join(str(m) for m in self.missing))
        return "Dependency chain:\n" + "\n".join(f"    {line}" for line in lines)
