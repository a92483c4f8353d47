"""Toolchain resolution, as Bazel does it, over values only (no loading, no analysis).

For each required toolchain type, the registered toolchain() declarations are
tried in registration order: the first whose target_compatible_with holds on
the target platform, whose target_settings all match the configuration and
whose exec_compatible_with holds on an execution platform is that platform's
toolchain of the type. The execution platform is then the first (in order)
that satisfies the target's own exec_compatible_with and has a toolchain of
every mandatory type; optional types take that platform's toolchain or None.
A platform without a value for a setting has the setting's default value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from kiln.analysis.providers import ConstraintValueInfo, DeclaredToolchainInfo, PlatformInfo
from kiln.core.errors import AnalysisError
from kiln.core.labels import Label
from kiln.core.rule_class import ToolchainTypeRequirement

SettingsMatch = Callable[[tuple[Label, ...]], bool]


@dataclass(frozen=True)
class ResolvedToolchains:
    exec_platform: PlatformInfo
    # (type, toolchain implementation or None for an optional type nothing matched), in request order.
    toolchains: tuple[tuple[Label, Label | None], ...]
    # --toolchain_resolution_debug lines for the types the regex selects.
    debug: tuple[str, ...] = ()

    def by_type(self) -> dict[Label, Label | None]:
        return dict(self.toolchains)


class ToolchainResolutionError(AnalysisError):
    """No toolchain of a mandatory type, or no execution platform for the target."""


def missing_constraints(platform: PlatformInfo, required: Iterable[ConstraintValueInfo]) -> list[ConstraintValueInfo]:
    """The required values the platform lacks, counting each setting's default as the platform's value."""
    has = {c.setting: c.label for c in platform.constraints}
    return [c for c in required if has.get(c.setting, c.setting_default) != c.label]


def _names(values: Iterable[ConstraintValueInfo]) -> str:
    return ", ".join(v.label.name for v in values)


@dataclass
class _TypeResult:
    """One type's resolution: its toolchain per execution platform, and why candidates were rejected."""

    requirement: ToolchainTypeRequirement
    by_exec: dict[Label, Label]
    rejected: list[tuple[Label, str]]


def resolve_toolchains(
    required: Sequence[ToolchainTypeRequirement],
    target_platform: PlatformInfo,
    exec_platforms: Sequence[PlatformInfo],
    exec_compatible_with: Sequence[ConstraintValueInfo],
    candidates: Sequence[DeclaredToolchainInfo],
    settings_match: SettingsMatch,
    debug: re.Pattern[str] | None = None,
) -> ResolvedToolchains:
    """Picks the execution platform and a toolchain per type; raises ToolchainResolutionError when it cannot."""
    lines: list[str] = []
    target = target_platform.label

    def log(type_label: Label, text: str) -> None:
        if debug is not None and debug.search(str(type_label)):
            lines.append(f"type {type_label}: target platform {target}: {text}")

    shown = debug is not None and any(debug.search(str(r.toolchain_type)) for r in required)

    def log_platform(text: str) -> None:
        if shown:
            lines.append(f"target platform {target}: {text}")

    eligible: list[PlatformInfo] = []
    skipped: list[tuple[Label, str]] = []
    for platform in exec_platforms:
        missing = missing_constraints(platform, exec_compatible_with)
        if missing:
            skipped.append((platform.label, f"mismatching values: {_names(missing)}"))
            log_platform(f"Skipped execution platform {platform.label}; mismatching values: {_names(missing)}")
        else:
            eligible.append(platform)
    results = [_resolve_type(r, target_platform, eligible, candidates, settings_match, log) for r in required]

    if not eligible:
        available = ", ".join(str(p.label) for p in exec_platforms) or "none"
        reasons = "".join(f"\n  {label}: {why}" for label, why in skipped)
        raise ToolchainResolutionError(
            f"Unable to find an execution platform for target platform {target} from available execution "
            f"platforms [{available}]{reasons}"
        )
    unresolved = [r for r in results if r.requirement.mandatory and not r.by_exec]
    if unresolved:
        raise ToolchainResolutionError(_no_toolchain_message(unresolved, target))

    for platform in eligible:
        lacking = [r.requirement.toolchain_type for r in results
                   if r.requirement.mandatory and platform.label not in r.by_exec]
        if lacking:
            log_platform(f"Skipped execution platform {platform.label}; no toolchain of mandatory type "
                         + ", ".join(str(t) for t in lacking))
            continue
        chosen = tuple((r.requirement.toolchain_type, r.by_exec.get(platform.label)) for r in results)
        summary = "".join(f", type {t} -> toolchain {c}" for t, c in chosen)
        log_platform(f"Selected execution platform {platform.label}{summary}")
        return ResolvedToolchains(platform, chosen, tuple(lines))

    per_platform = "".join(
        f"\n  {p.label}: no toolchain of "
        + ", ".join(str(r.requirement.toolchain_type) for r in results
                    if r.requirement.mandatory and p.label not in r.by_exec)
        for p in eligible
    )
    types = ", ".join(str(r.requirement.toolchain_type) for r in results if r.requirement.mandatory)
    raise ToolchainResolutionError(
        f"No execution platform has a toolchain of every mandatory type ({types}) for target platform "
        f"{target}:{per_platform}"
    )


def _resolve_type(
    requirement: ToolchainTypeRequirement,
    target_platform: PlatformInfo,
    exec_platforms: Sequence[PlatformInfo],
    candidates: Sequence[DeclaredToolchainInfo],
    settings_match: SettingsMatch,
    log: Callable[[Label, str], None],
) -> _TypeResult:
    type_label = requirement.toolchain_type
    result = _TypeResult(requirement, {}, [])
    for candidate in candidates:
        if candidate.toolchain_type != type_label:
            continue
        name = candidate.toolchain
        missing = missing_constraints(target_platform, candidate.target_compatible_with)
        if missing:
            why = f"mismatching values: {_names(missing)}"
        else:
            # Each setting alone, so the message names the ones that do not match.
            failing = [s for s in candidate.target_settings if not settings_match((s,))]
            why = f"mismatching config settings: {', '.join(str(s) for s in failing)}" if failing else ""
        if why:
            result.rejected.append((name, why))
            log(type_label, f"Rejected toolchain {name}; {why}")
            continue
        incompatible = []
        for platform in exec_platforms:
            exec_missing = missing_constraints(platform, candidate.exec_compatible_with)
            if exec_missing:
                incompatible.append(f"{platform.label}: mismatching values: {_names(exec_missing)}")
                log(type_label, f"execution platform {platform.label}: Rejected toolchain {name}; "
                                f"mismatching values: {_names(exec_missing)}")
            elif platform.label in result.by_exec:
                log(type_label, f"execution platform {platform.label}: Skipped toolchain {name}; "
                                f"{result.by_exec[platform.label]} comes first")
            else:
                result.by_exec[platform.label] = name
                log(type_label, f"execution platform {platform.label}: Selected toolchain {name}")
        if incompatible and len(incompatible) == len(exec_platforms):
            result.rejected.append((name, "no execution platform matches its exec_compatible_with ("
                                    + "; ".join(incompatible) + ")"))
    if not result.by_exec:
        log(type_label, "No matching toolchain" + ("" if requirement.mandatory else " (optional type: None)"))
    return result


def _no_toolchain_message(unresolved: list[_TypeResult], target: Label) -> str:
    types = ", ".join(str(r.requirement.toolchain_type) for r in unresolved)
    text = f"No matching toolchains found for types {types}. Target platform: {target}."
    for r in unresolved:
        text += f"\nCandidates of {r.requirement.toolchain_type}:"
        if not r.rejected:
            text += " none registered"
        for name, why in r.rejected:
            text += f"\n  Rejected toolchain {name}; {why}"
    regex = "|".join(re.escape(str(r.requirement.toolchain_type)) for r in unresolved)
    return text + f"\nTo debug, rerun with --toolchain_resolution_debug='{regex}'"
