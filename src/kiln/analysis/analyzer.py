"""Analysis: turns loaded targets into configured targets and their actions.

Dependencies are analysed first (depth-first, memoised per label and
configuration); select()s are resolved against the configuration; visibility
is checked on every edge; a dependency cycle is reported with its path.
"""

from __future__ import annotations

import os
from types import SimpleNamespace
from typing import Any

from kiln.analysis.configured_target import ConfiguredTarget
from kiln.analysis.context import RuleContext
from kiln.analysis.providers import (ConfigMatchingInfo, ConstraintValueInfo, IncompatiblePlatformInfo,
                                     PlatformInfo, ToolchainInfo, ToolchainTypeInfo)
from kiln.analysis.toolchain_registry import ToolchainRegistry
from kiln.analysis.toolchain_resolution import ResolvedToolchains, missing_constraints
from kiln.analysis.toolchains import LazyToolchain, ToolchainContext, ToolchainOptions
from kiln.analysis.visibility import is_visible
from kiln.core.artifacts import Artifact, source_artifact
from kiln.core.attrs import AttrType, LABEL_TYPES
from kiln.core.config import Configuration
from kiln.core.depset import Depset
from kiln.core.errors import AnalysisError, CommandLineError, KilnError
from kiln.core.labels import Label, parse_label
from kiln.core.providers import DefaultInfo
from kiln.core.rule_class import EXEC_COMPATIBLE_WITH, TARGET_COMPATIBLE_WITH, ToolchainTypeRequirement
from kiln.core.select import DEFAULT_CONDITION, Select, SelectorList, concat
from kiln.loading.collector import collector_paused
from kiln.loading.loader import Loader
from kiln.loading.package import FileTarget, PackageGroup, RuleTarget

DEFAULT_LABEL = parse_label(DEFAULT_CONDITION)


class Analyzer:
    def __init__(self, loader: Loader, config: Configuration, *, toolchain_options: ToolchainOptions = ToolchainOptions(),
                 check_visibility: bool = True):
        self.loader = loader
        self.config = config
        self.toolchains = ToolchainRegistry(loader, toolchain_options, self.analyze, self.target_platform)
        self.check_visibility = check_visibility
        self._done: dict[tuple[Label, Configuration], ConfiguredTarget] = {}
        self._failed: dict[tuple[Label, Configuration], KilnError] = {}
        # The chain being analysed, and the same keys as a set: the cycle check must not scan a
        # list as deep as the dependency chain (quadratic on long chains).
        self._stack: list[tuple[Label, Configuration]] = []
        self._on_stack: set[tuple[Label, Configuration]] = set()
        self.workspace_root = str(loader.workspace.root)
        self._platforms: dict[Configuration, PlatformInfo] = {}
        self._exec_configs: dict[tuple[Configuration, Label], Configuration] = {}
        self._said: set[str] = set()

    def _info_once(self, text: str) -> None:
        if text not in self._said:
            self._said.add(text)
            self.loader.report("INFO", text)

    # ---- entry points ----------------------------------------------------

    def analyze(self, label: Label, config: Configuration | None = None) -> ConfiguredTarget:
        if self._stack:
            return self._analyze_key((label, config or self.config))
        with collector_paused():
            return self._analyze_key((label, config or self.config))

    def _analyze_key(self, key: tuple[Label, Configuration]) -> ConfiguredTarget:
        label, config = key
        done = self._done.get(key)
        if done is not None:
            return done
        try:
            target = self.loader.get_target(label)
        except KilnError:
            target = None  # reported by _analyze, with its context
        if isinstance(target, RuleTarget) and target.rule_class.transition is not None:
            # A rule's incoming transition decides the configuration it is analysed in.
            incoming = target.rule_class.transition(config, target.attrs)
            if incoming != config:
                key = (label, incoming)
                config = incoming
                done = self._done.get(key)
                if done is not None:
                    return done
        failed = self._failed.get(key)
        if failed is not None:
            raise failed
        if key in self._on_stack:
            raise AnalysisError(self._cycle_message(key))
        self._stack.append(key)
        self._on_stack.add(key)
        try:
            ct = self._analyze(label, config, target)
        except KilnError as e:
            self._failed[key] = e
            raise
        finally:
            self._stack.pop()
            self._on_stack.discard(key)
        self._done[key] = ct
        return ct

    def target_platform(self, config: Configuration) -> PlatformInfo:
        """The platform `config` builds for (--platforms; by default @platforms//host)."""
        info = self._platforms.get(config)
        if info is None:
            label = parse_label(config.platform, repo_mapping=self.loader.repo_mapping)
            ct = self.analyze(label, config)
            info = ct.get(PlatformInfo)
            if info is None:
                raise AnalysisError(f"'{label}' was given as the target platform (--platforms), but it is a "
                                    f"{ct.kind} and does not provide PlatformInfo: name a platform() target")
            self._platforms[config] = info
        return info

    def configured_targets(self) -> list[ConfiguredTarget]:
        return list(self._done.values())

    def _cycle_message(self, key: tuple[Label, Configuration]) -> str:
        cycle = self._stack[self._stack.index(key):]
        lines = ["cycle in dependency graph:"]
        for i, (l, config) in enumerate(cycle):
            marker = ".-> " if i == 0 else "|   "
            lines.append(f"    {marker}{l} ({config.short_id})")
        lines.append(f"    `-- {key[0]} ({key[1].short_id})")
        return "\n".join(lines)

    # ---- one target ------------------------------------------------------

    def _analyze(self, label: Label, config: Configuration, target: Any) -> ConfiguredTarget:
        if target is None:
            target = self.loader.get_target(label)  # raises the loading error
        if isinstance(target, FileTarget):
            return self._file_target(target, config)
        if isinstance(target, PackageGroup):
            return ConfiguredTarget(label, config, target)
        return self._rule_target(target, config)

    def _file_target(self, target: FileTarget, config: Configuration) -> ConfiguredTarget:
        if target.generating_rule is not None:
            rule_ct = self.analyze(target.generating_rule, config)
            info = rule_ct.get(IncompatiblePlatformInfo)
            if info is not None:
                return ConfiguredTarget(target.label, config, target, {
                    IncompatiblePlatformInfo: IncompatiblePlatformInfo(
                        info.platform, (_chain_entry(target.label, config), *info.chain), info.missing),
                    DefaultInfo: DefaultInfo()}, dependencies=(("", rule_ct),))
            outputs = rule_ct.providers.get(_OutputFiles)
            art = outputs.by_name[target.label.name] if outputs else None
            if art is None:
                raise AnalysisError(f"internal error: {target.generating_rule} did not declare {target.label.name}")
            return ConfiguredTarget(target.label, config, target, {DefaultInfo: DefaultInfo(Depset((art,)))},
                                    dependencies=(("", rule_ct),))
        art = source_artifact(target.label)
        return ConfiguredTarget(target.label, config, target, {DefaultInfo: DefaultInfo(Depset((art,)))})

    def _rule_target(self, target: RuleTarget, config: Configuration) -> ConfiguredTarget:
        rule = target.rule_class
        where = f"{target.kind} {target.label}"
        values: dict[str, Any] = {}
        try:
            for name in rule.attrs:
                values[name] = self.resolve(target.attrs.get(name), target, name, config)
            for name, decide in rule.late_bound:
                values[name] = decide(config, target, self._command_line_label)
            incompatible = self._directly_incompatible(target, values, config) \
                if values.get("target_compatible_with") else None
            if incompatible is not None:
                return incompatible
            resolved = self._resolve_toolchains(target, values, config) \
                if rule.toolchains or values.get("toolchains") or values.get("exec_compatible_with") else None
        except CommandLineError:
            raise  # a flag's fault (--extra_toolchains), not this target's
        except KilnError as e:
            e.location = e.location or target.location
            e.target = e.target or where
            raise
        deps: dict[str, Any] = {}
        for name, attr in rule.attrs.items():
            if attr.type in LABEL_TYPES and name not in _NON_DEPENDENCY_ATTRS:
                dep_config = config
                if attr.cfg == "exec" and values[name]:
                    dep_config = self._exec_configuration(config, self._exec_platform(resolved, config))
                checked = not rule.late_bound or all(name != late for late, _ in rule.late_bound)
                deps[name] = self._dependencies(target, name, attr.type, values[name], dep_config, checked)
        edges = tuple((name, ct) for name, dep in deps.items() for ct in _as_list(dep) if isinstance(ct, ConfiguredTarget))
        by_type, toolchain_edges = self._toolchain_implementations(target, resolved, config)
        edges += toolchain_edges
        for _, dep in edges:
            info = dep.providers.get(IncompatiblePlatformInfo)
            if info is not None:  # a target depending on an incompatible one is incompatible too
                return _incompatible(target, config, IncompatiblePlatformInfo(
                    info.platform, (_chain_entry(target.label, config), *info.chain), info.missing), edges)

        attr_ns = SimpleNamespace(**{n: deps.get(n, v) for n, v in values.items()})
        files_ns = SimpleNamespace()
        file_ns = SimpleNamespace()
        exec_ns = SimpleNamespace()
        for name, dep in deps.items():
            cts = _as_list(dep)
            flat: list[Artifact] = []
            for ct in cts:
                flat.extend(ct.default_info.files.to_list())
            setattr(files_ns, name, flat)
            setattr(file_ns, name, flat[0] if len(flat) == 1 else None)
            execs = [ct.default_info.executable for ct in cts if ct.default_info.executable]
            setattr(exec_ns, name, execs[0] if len(execs) == 1 else None)

        ctx = RuleContext(
            label=target.label,
            config=config,
            target=target,
            attr=attr_ns,
            files=files_ns,
            file=file_ns,
            executable=exec_ns,
            outputs=SimpleNamespace(),
            toolchains=ToolchainContext(by_type, lambda: self.target_platform(config),
                                        resolved.exec_platform if resolved else None, where,
                                        lambda toolchain_type: self.toolchains.registered(config, toolchain_type),
                                        lambda labels: self.toolchains.settings_tested(config, labels)),
            exec_properties=lambda: self._exec_properties(resolved, values, config),
            rule_version=f"{rule.name}/{rule.version}",
            workspace_root=self.workspace_root,
            make_variables=self._make_variables(config),
            report_warning=lambda text: self.loader.report("WARNING", text),
            report_info=self._info_once,
        )
        by_name: dict[str, Artifact] = {}
        for out_attr in rule.output_attrs:
            labels = [l for l in _as_list(values[out_attr]) if l is not None]
            outs = [ctx.actions.declare_file(l.name) for l in labels]
            by_name.update({l.name: a for l, a in zip(labels, outs)})
            if rule.attrs[out_attr].type is AttrType.OUTPUT:
                setattr(ctx.outputs, out_attr, outs[0] if outs else None)
            else:
                setattr(ctx.outputs, out_attr, outs)
        try:
            result = rule.impl(ctx)
        except KilnError as e:
            e.location = e.location or target.location
            e.target = e.target or where
            raise
        providers = {type(p): p for p in (result or [])}
        providers.setdefault(DefaultInfo, DefaultInfo())
        providers[_OutputFiles] = _OutputFiles(by_name)
        self._check_outputs(ctx, target)
        return ConfiguredTarget(target.label, config, target, providers, tuple(ctx.actions.registered), edges,
                                resolved)

    # ---- platforms and toolchains ------------------------------------------

    def _constraint_values(self, target: RuleTarget, attr_name: str, labels: Any,
                           config: Configuration) -> tuple[ConstraintValueInfo, ...]:
        infos = []
        for label in labels or ():
            ct = self._dep(target, attr_name, label, config)
            info = ct.get(ConstraintValueInfo)
            if info is None:
                raise AnalysisError(f"'{label}' is a {ct.kind}, not a constraint_value: {attr_name} takes "
                                    "constraint_value targets", location=target.location,
                                    target=f"{attr_name} attribute of {target.kind} {target.label}")
            infos.append(info)
        return tuple(infos)

    def _directly_incompatible(self, target: RuleTarget, values: dict[str, Any],
                               config: Configuration) -> ConfiguredTarget | None:
        """A target whose target_compatible_with the target platform does not satisfy: not analysed further."""
        if not target.rule_class.constrained(TARGET_COMPATIBLE_WITH):
            return None
        required = self._constraint_values(target, "target_compatible_with", values.get("target_compatible_with"),
                                           config)
        if not required:
            return None
        platform = self.target_platform(config)
        missing = missing_constraints(platform, required)
        if not missing:
            return None
        return _incompatible(target, config, IncompatiblePlatformInfo(
            platform.label, (_chain_entry(target.label, config),), tuple(m.label for m in missing)))

    def _resolve_toolchains(self, target: RuleTarget, values: dict[str, Any],
                            config: Configuration) -> ResolvedToolchains | None:
        """Resolution for a target that needs toolchains or constrains its execution platform."""
        required = list(target.rule_class.toolchains)
        for label in values.get("toolchains") or ():
            info = self._dep(target, "toolchains", label, config).get(ToolchainTypeInfo)
            if info is not None:
                required.append(ToolchainTypeRequirement(info.label))
        exec_constraints = self._constraint_values(target, "exec_compatible_with",
                                                   values.get("exec_compatible_with"), config) \
            if target.rule_class.constrained(EXEC_COMPATIBLE_WITH) else ()
        if not required and not exec_constraints:
            return None
        return self.toolchains.resolve(config, required, exec_constraints)

    def _toolchain_implementations(self, target: RuleTarget, resolved: ResolvedToolchains | None,
                                   config: Configuration) -> tuple[dict[Label, Any], tuple]:
        """Each resolved toolchain's ToolchainInfo by type, and the edges to the implementations. An optional
        type's implementation is analysed when the rule first asks for it (LazyToolchain): a rule that does not
        use it (a py_binary that does not precompile, such as the precompiler itself) does not depend on it."""
        by_type: dict[Label, Any] = {}
        edges = []
        optional = {r.toolchain_type for r in target.rule_class.toolchains if not r.mandatory}
        for type_label, impl in resolved.toolchains if resolved else ():
            if impl is None:
                by_type[type_label] = None
                continue
            if type_label in optional:
                by_type[type_label] = LazyToolchain(
                    lambda impl=impl, type_label=type_label: self._toolchain_info(target, impl, type_label, config))
                continue
            ct = self.analyze(impl, config)
            edges.append(("$toolchains", ct))
            info = ct.get(ToolchainInfo)
            if info is None and ct.get(IncompatiblePlatformInfo) is None:
                raise AnalysisError(f"toolchain {impl} (of type {type_label}) is a {ct.kind} and does not provide "
                                    "ToolchainInfo", location=target.location,
                                    target=f"{target.kind} {target.label}")
            by_type[type_label] = info
        return by_type, tuple(edges)

    def _toolchain_info(self, target: RuleTarget, impl: Label, type_label: Label, config: Configuration) -> Any:
        ct = self.analyze(impl, config)
        info = ct.get(ToolchainInfo)
        if info is None and ct.get(IncompatiblePlatformInfo) is None:
            raise AnalysisError(f"toolchain {impl} (of type {type_label}) is a {ct.kind} and does not provide "
                                "ToolchainInfo", location=target.location, target=f"{target.kind} {target.label}")
        return info

    def _exec_configuration(self, config: Configuration, platform: PlatformInfo) -> Configuration:
        """The configuration of `config`'s tools for `platform`, made once (its id is a digest)."""
        key = (config, platform.label)
        found = self._exec_configs.get(key)
        if found is None:
            found = self._exec_configs[key] = config.exec_configuration(str(platform.label))
        return found

    def _exec_platform(self, resolved: ResolvedToolchains | None, config: Configuration) -> PlatformInfo:
        """Where the target's actions run: resolution's choice, or the first execution platform."""
        return resolved.exec_platform if resolved else self.toolchains.execution_platforms(config)[0]

    def _exec_properties(self, resolved: ResolvedToolchains | None, values: dict[str, Any],
                         config: Configuration) -> tuple[tuple[str, str], ...]:
        """The execution platform's exec_properties, overridden by the target's own, for its actions."""
        merged = dict(self._exec_platform(resolved, config).exec_properties)
        merged.update(values.get("exec_properties") or {})
        return tuple(sorted(merged.items()))

    def _check_outputs(self, ctx: RuleContext, target: RuleTarget) -> None:
        made = {o for a in ctx.actions.registered for o in a.outputs}
        for art in ctx.actions.declared():
            if art not in made:
                raise AnalysisError(
                    f"output '{art.path}' is declared but no action creates it",
                    location=target.location,
                    target=f"{target.kind} {target.label}",
                )

    # ---- attribute values ------------------------------------------------

    def resolve(self, value: Any, target: RuleTarget, attr_name: str, config: Configuration) -> Any:
        if isinstance(value, Select):
            return self._resolve_select(value, target, attr_name, config)
        if isinstance(value, SelectorList):
            return concat([self.resolve(p, target, attr_name, config) for p in value.parts])
        return value

    def _resolve_select(self, sel: Select, target: RuleTarget, attr_name: str, config: Configuration) -> Any:
        matches: list[tuple[Label, ConfigMatchingInfo, Any]] = []
        default: Any = _NO_DEFAULT
        for cond_text, value in sel.conditions:
            # "//conditions:default" is the default in every repository, as in Bazel.
            if cond_text == DEFAULT_CONDITION:
                default = value
                continue
            cond = parse_label(cond_text, base=target.label.package_id,
                               repo_mapping=self.loader.repo_mapping_for(target.label.repo))
            if cond == DEFAULT_LABEL:
                default = value
                continue
            ct = self.analyze(cond, config)
            info = ct.get(ConfigMatchingInfo)
            if info is None:
                raise AnalysisError(
                    f"'{cond}' does not have mandatory providers: 'ConfigMatchingInfo' "
                    "(select() keys must be config_setting targets or //conditions:default)",
                    location=target.location,
                    target=f"{attr_name} attribute of {target.kind} {target.label}",
                )
            if info.matches:
                matches.append((cond, info, value))
        if not matches:
            if default is not _NO_DEFAULT:
                return default
            conds = "\n".join(
                f"  {parse_label(c, base=target.label.package_id) if c != DEFAULT_CONDITION else c}"
                for c, _ in sel.conditions
            )
            msg = sel.no_match_error or (
                f"configurable attribute \"{attr_name}\" in {target.label} doesn't match this configuration. "
                f"Would a default condition help?\n\nConditions checked:\n{conds}"
            )
            raise AnalysisError(msg, location=target.location, target=f"{target.kind} {target.label}")
        if len(matches) == 1:
            return matches[0][2]
        # Several match: one must refine (test a superset of the settings of) all the others.
        for cond, info, value in matches:
            if all(info.settings >= other.settings for _, other, _ in matches):
                return value
        names = ", ".join(str(c) for c, _, _ in matches)
        raise AnalysisError(
            f"illegal ambiguous match on configurable attribute \"{attr_name}\" in {target.label}: {names}. "
            "Multiple matches are not allowed unless one is unambiguously more specialized.",
            location=target.location,
            target=f"{target.kind} {target.label}",
        )

    def _dependencies(self, target: RuleTarget, attr_name: str, attr_type: AttrType, value: Any, config: Configuration,
                      checked: bool = True) -> Any:
        if attr_type is AttrType.LABEL:
            return None if value is None else self._dep(target, attr_name, value, config, checked)
        if attr_type is AttrType.LABEL_LIST:
            return [self._dep(target, attr_name, l, config, checked) for l in value]
        if attr_type is AttrType.LABEL_KEYED_STRING_DICT:
            return {self._dep(target, attr_name, l, config, checked): v for l, v in value.items()}
        if attr_type is AttrType.STRING_KEYED_LABEL_DICT:
            return {k: self._dep(target, attr_name, l, config, checked) for k, l in value.items()}
        return value

    def _dep(self, target: RuleTarget, attr_name: str, label: Label, config: Configuration,
             checked: bool = True) -> ConfiguredTarget:
        """`label` analysed as a dependency of `target`; `checked`: whether `target` must see it."""
        where = f"{attr_name} attribute of {target.kind} {target.label}"
        try:
            ct = self.analyze(label, config)
        except KilnError as e:
            if e.location is None and e.target is None and not isinstance(e, CommandLineError):
                e.location = target.location
                e.target = where
            raise
        dep_target = ct.target
        if checked and self.check_visibility and not isinstance(dep_target, PackageGroup):
            vis = dep_target.visibility
            if not is_visible(vis, label, target.label.package_id, self._package_group):
                raise AnalysisError(
                    f"target '{label}' is not visible from target '{target.label}'. Check the visibility "
                    "declaration of the former target if you think the dependency is legitimate",
                    location=target.location,
                    target=where,
                )
        if isinstance(dep_target, FileTarget) and dep_target.generating_rule is None:
            path = os.path.join(self.workspace_root, label.relative_path())
            if label.repo == "" and not os.path.exists(path):
                raise AnalysisError(f"missing input file '{label}'", location=target.location, target=where)
        return ct

    def _command_line_label(self, text: str) -> Label:
        """A label written on the command line (a label flag's value): read in the main repository."""
        return parse_label(text, repo_mapping=self.loader.repo_mapping)

    def _package_group(self, label: Label) -> PackageGroup | None:
        try:
            t = self.loader.get_target(label)
        except KilnError:
            return None
        return t if isinstance(t, PackageGroup) else None

    def _make_variables(self, config: Configuration) -> dict[str, str]:
        table = {
            "COMPILATION_MODE": config.compilation_mode,
            "TARGET_CPU": config.cpu,
            "BINDIR": config.bin_dir,
            "GENDIR": config.genfiles_dir,
        }
        table.update(dict(config.defines))
        return table


class _OutputFiles:
    """Artifacts a rule declared through output attributes, by target name."""

    def __init__(self, by_name: dict[str, Artifact]):
        self.by_name = by_name


_NO_DEFAULT = object()
# A label build setting's default is a value: the setting depends on the target the configuration chose.
_NON_DEPENDENCY_ATTRS = {"visibility", "applicable_licenses", "package_metadata", "compatible_with", "restricted_to",
                         "build_setting_default"}


def _chain_entry(label: Label, config: Configuration) -> str:
    return f"{label} ({config.short_id})"


def _incompatible(target: RuleTarget, config: Configuration, info: IncompatiblePlatformInfo,
                  edges: tuple = ()) -> ConfiguredTarget:
    """A target skipped for its platform: no actions, no files; asking to build it is an error."""
    return ConfiguredTarget(target.label, config, target, {IncompatiblePlatformInfo: info, DefaultInfo: DefaultInfo(),
                                                          _OutputFiles: _OutputFiles({})}, (), edges)


def _as_list(value: Any) -> list:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, dict):
        return list(value.keys()) if value and isinstance(next(iter(value)), ConfiguredTarget) else list(value.values())
    return [value]
