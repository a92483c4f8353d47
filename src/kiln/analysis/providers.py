"""Providers analysis itself reads: config matching, build settings, platforms."""

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


@dataclass(frozen=True)
class PlatformInfo:
    label: Label
    constraints: tuple[ConstraintValueInfo, ...]
