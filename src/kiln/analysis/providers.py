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
