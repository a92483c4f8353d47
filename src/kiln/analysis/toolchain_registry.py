"""Registered toolchains and execution platforms, and toolchain resolution for configured targets.

Registrations are target patterns in Bazel's order: --extra_toolchains, the
root module's register_toolchains, WORKSPACE's, then those of the rule sets
(kiln's built-in modules). Execution platforms: --extra_execution_platforms,
the registered ones, then the host platform. Candidates are analysed once per
configuration and each distinct request is resolved once
(analysis.toolchain_resolution does the choosing).
"""

from __future__ import annotations

import re
from typing import Any, Callable, Sequence

from kiln.analysis.providers import (ConfigMatchingInfo, ConstraintValueInfo, DeclaredToolchainInfo,
                                     PlatformInfo)
from kiln.analysis.toolchain_resolution import ResolvedToolchains, resolve_toolchains
from kiln.analysis.toolchains import ToolchainOptions
from kiln.core.config import HOST_PLATFORM, Configuration
from kiln.core.errors import AnalysisError, CommandLineError, KilnError, Location
from kiln.core.labels import Label
from kiln.core.patterns import PatternKind
from kiln.core.rule_class import ToolchainTypeRequirement
from kiln.loading.loader import Loader
from kiln.loading.module_info import Registration
from kiln.loading.package import RuleTarget
from kiln.loading.target_patterns import PatternResolver

Analyze = Callable[[Label, Configuration], Any]


class ToolchainRegistry:
    def __init__(self, loader: Loader, options: ToolchainOptions, analyze: Analyze,
                 target_platform: Callable[[Configuration], PlatformInfo]):
        self._loader = loader
        self._options = options
        self._analyze = analyze
        self._target_platform = target_platform
        self._debug = re.compile(options.debug) if options.debug is not None else None
        self._candidates: dict[Configuration, tuple[DeclaredToolchainInfo, ...]] = {}
        self._defaults: dict[tuple[Configuration, str], tuple[DeclaredToolchainInfo, ...]] = {}
        self._exec_platforms: dict[Configuration, tuple[PlatformInfo, ...]] = {}
        self._resolved: dict[tuple, ResolvedToolchains] = {}

    def resolve(self, config: Configuration, required: Sequence[ToolchainTypeRequirement],
                exec_compatible_with: tuple[ConstraintValueInfo, ...]) -> ResolvedToolchains:
        """The execution platform and a toolchain per required type, for a target in `config`."""
        key = (config, tuple(required), exec_compatible_with)
        found = self._resolved.get(key)
        if found is None:
            found = resolve_toolchains(
                required, self._target_platform(config), self.execution_platforms(config), exec_compatible_with,
                self._declared(config, required) if required else (), lambda labels: self._settings_match(labels, config),
                self._debug)
            for line in found.debug:
                self._loader.report("INFO", f"ToolchainResolution: {line}")
            self._resolved[key] = found
        return found

    # ---- what is registered ----------------------------------------------

    def registered(self, config: Configuration, toolchain_type: Label) -> tuple[DeclaredToolchainInfo, ...]:
        """Every toolchain() of a type that resolution considers in `config`, in its order (for messages)."""
        declared = self._declared(config, (ToolchainTypeRequirement(toolchain_type),))
        return tuple(d for d in declared if d.toolchain_type == toolchain_type)

    def _declared(self, config: Configuration,
                  required: Sequence[ToolchainTypeRequirement]) -> tuple[DeclaredToolchainInfo, ...]:
        """The user's registrations (--extra_toolchains, MODULE.bazel, WORKSPACE), then the rule sets'
        own for the types required (a Python build never loads the Rust toolchain's declarations)."""
        found = self._candidates.get(config)
        if found is None:
            flag = Location("--extra_toolchains")
            registrations = ([Registration(p, flag) for p in self._options.extra_toolchains]
                             + list(self._loader.toolchain_registrations()))
            found = tuple(self._expand(registrations, config, DeclaredToolchainInfo, ("toolchain",),
                                       "register_toolchains"))
            self._candidates[config] = found
        types = {r.toolchain_type for r in required}
        defaults: list[DeclaredToolchainInfo] = []
        for type_label, pattern in self._loader.registry.default_toolchains:
            if type_label in types:
                key = (config, pattern)
                if key not in self._defaults:
                    self._defaults[key] = tuple(self._expand(
                        [Registration(pattern, Location("kiln's built-in toolchains"))], config,
                        DeclaredToolchainInfo, ("toolchain",), "register_toolchains"))
                defaults.extend(self._defaults[key])
        return found + tuple(defaults)

    def execution_platforms(self, config: Configuration) -> tuple[PlatformInfo, ...]:
        """The execution platforms in order: a target that needs no toolchain runs on the first."""
        found = self._exec_platforms.get(config)
        if found is None:
            flag = Location("--extra_execution_platforms")
            registrations = ([Registration(p, flag) for p in self._options.extra_execution_platforms]
                             + list(self._loader.execution_platform_registrations())
                             + [Registration(HOST_PLATFORM, Location("the host platform"))])
            platforms = self._expand(registrations, config, PlatformInfo, ("platform", "host_platform"),
                                     "register_execution_platforms")
            # The host platform is last, and each platform counts once, where it first appears.
            found = tuple({p.label: p for p in reversed(platforms)}.values())[::-1]
            self._exec_platforms[config] = found
        return found

    def _expand(self, registrations: list[Registration], config: Configuration, provider: type,
                kinds: tuple[str, ...], function: str) -> list[Any]:
        """Each pattern's targets analysed for `provider`; wildcards keep only rules of `kinds`.

        A target named alone must be of those kinds (or an alias): analysing anything else could need
        toolchains itself."""
        out: list[Any] = []
        resolver = PatternResolver(self._loader, skip_manual=False)
        for reg in registrations:
            try:
                pattern = resolver.parse(reg.pattern)
                targets = resolver.targets_of(pattern)
                if pattern.kind is not PatternKind.SINGLE:
                    targets = [t for t in targets if isinstance(t, RuleTarget) and t.rule_class.name in kinds]
                for t in targets:
                    if not (isinstance(t, RuleTarget) and t.rule_class.name in (*kinds, "alias")):
                        raise AnalysisError(f"'{t.label}' is a {t.rule_kind}, not a {kinds[0]}() target")
                    info = self._analyze(t.label, config).get(provider)
                    if info is None:
                        raise AnalysisError(f"'{t.label}' is a {t.rule_kind}, not a {kinds[0]}() target")
                    out.append(info)
            except KilnError as e:
                if reg.location.line:  # written in MODULE.bazel or WORKSPACE
                    raise AnalysisError(f"{function}({reg.pattern!r}): {e.message}", location=reg.location) from None
                raise CommandLineError(f"{reg.location.file}={reg.pattern}: {e.message}") from None
        return out

    def settings_tested(self, config: Configuration, labels: tuple[Label, ...]) -> frozenset[tuple[str, str]]:
        """The (setting, value) pairs the config_settings `labels` test (for a rule's messages: the
        versions registered toolchains are for)."""
        tested: set[tuple[str, str]] = set()
        for label in labels:
            info = self._analyze(label, config).get(ConfigMatchingInfo)
            if info is not None:
                tested |= info.settings
        return frozenset(tested)

    def _settings_match(self, labels: tuple[Label, ...], config: Configuration) -> bool:
        for label in labels:
            info = self._analyze(label, config).get(ConfigMatchingInfo)
            if info is None:
                raise AnalysisError(f"'{label}' is named in a toolchain's target_settings but is not a config_setting")
            if not info.matches:
                return False
        return True
