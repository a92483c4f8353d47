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
from kiln.analysis.providers import ConfigMatchingInfo, PlatformInfo
from kiln.analysis.visibility import is_visible
from kiln.core.artifacts import Artifact, source_artifact
from kiln.core.attrs import AttrType, LABEL_TYPES
from kiln.core.config import Configuration
from kiln.core.depset import Depset
from kiln.core.errors import AnalysisError, KilnError
from kiln.core.labels import Label, parse_label
from kiln.core.providers import DefaultInfo
from kiln.core.select import DEFAULT_CONDITION, Select, SelectorList, concat
from kiln.loading.collector import collector_paused
from kiln.loading.loader import Loader
from kiln.loading.package import FileTarget, PackageGroup, RuleTarget

DEFAULT_LABEL = parse_label(DEFAULT_CONDITION)


class Analyzer:
    def __init__(self, loader: Loader, config: Configuration, *, toolchains: Any = None, check_visibility: bool = True):
        self.loader = loader
        self.config = config
        self.toolchains = toolchains
        self.check_visibility = check_visibility
        self._done: dict[tuple[Label, Configuration], ConfiguredTarget] = {}
        self._failed: dict[tuple[Label, Configuration], KilnError] = {}
        # The chain being analysed, and the same keys as a set: the cycle check must not scan a
        # list as deep as the dependency chain (quadratic on long chains).
        self._stack: list[tuple[Label, Configuration]] = []
        self._on_stack: set[tuple[Label, Configuration]] = set()
        self.workspace_root = str(loader.workspace.root)
        self._platforms: dict[Configuration, PlatformInfo] = {}

    # ---- entry points ----------------------------------------------------

    def analyze(self, label: Label, config: Configuration | None = None) -> ConfiguredTarget:
        if self._stack:
            return self._analyze_key((label, config or self.config))
        with collector_paused():
            return self._analyze_key((label, config or self.config))

    def _analyze_key(self, key: tuple[Label, Configuration]) -> ConfiguredTarget:
        label, config = key
        done = self._done.get(key)
        if done is None:
            # A rule's incoming transition decides the configuration it is analysed in.
            incoming = self._incoming(label, config)
            if incoming is not config:
                key = (label, incoming)
                label, config = key
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
            ct = self._analyze(label, config)
        except KilnError as e:
            self._failed[key] = e
            raise
        finally:
            self._stack.pop()
            self._on_stack.discard(key)
        self._done[key] = ct
        return ct

    def _incoming(self, label: Label, config: Configuration) -> Configuration:
        try:
            target = self.loader.get_target(label)
        except KilnError:
            return config  # reported by _analyze, with its context
        if not isinstance(target, RuleTarget) or target.rule_class.transition is None:
            return config
        new = target.rule_class.transition(config, target.attrs)
        return config if new == config else new

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

    def _analyze(self, label: Label, config: Configuration) -> ConfiguredTarget:
        target = self.loader.get_target(label)
        if isinstance(target, FileTarget):
            return self._file_target(target, config)
        if isinstance(target, PackageGroup):
            return ConfiguredTarget(label, config, target)
        return self._rule_target(target, config)

    def _file_target(self, target: FileTarget, config: Configuration) -> ConfiguredTarget:
        if target.generating_rule is not None:
            rule_ct = self.analyze(target.generating_rule, config)
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
        deps: dict[str, Any] = {}
        for name, attr in rule.attrs.items():
            raw = target.attrs.get(name)
            try:
                value = self.resolve(raw, target, name, config)
            except KilnError as e:
                e.location = e.location or target.location
                e.target = e.target or where
                raise
            values[name] = value
            if attr.type in LABEL_TYPES and name not in _NON_DEPENDENCY_ATTRS:
                deps[name] = self._dependencies(target, name, attr.type, value, _dependency_config(attr, config))

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
            toolchains=self.toolchains.for_platform(lambda: self.target_platform(config)) if self.toolchains else None,
            rule_version=f"{rule.name}/{rule.version}",
            workspace_root=self.workspace_root,
            make_variables=self._make_variables(config),
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
        edges = tuple((name, ct) for name, dep in deps.items() for ct in _as_list(dep) if isinstance(ct, ConfiguredTarget))
        return ConfiguredTarget(target.label, config, target, providers, tuple(ctx.actions.registered), edges)

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
            cond = parse_label(cond_text, base=target.label.package_id, repo_mapping=self.loader.repo_mapping)
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

    def _dependencies(self, target: RuleTarget, attr_name: str, attr_type: AttrType, value: Any, config: Configuration) -> Any:
        if attr_type is AttrType.LABEL:
            return None if value is None else self._dep(target, attr_name, value, config)
        if attr_type is AttrType.LABEL_LIST:
            return [self._dep(target, attr_name, l, config) for l in value]
        if attr_type is AttrType.LABEL_KEYED_STRING_DICT:
            return {self._dep(target, attr_name, l, config): v for l, v in value.items()}
        if attr_type is AttrType.STRING_KEYED_LABEL_DICT:
            return {k: self._dep(target, attr_name, l, config) for k, l in value.items()}
        return value

    def _dep(self, target: RuleTarget, attr_name: str, label: Label, config: Configuration) -> ConfiguredTarget:
        where = f"{attr_name} attribute of {target.kind} {target.label}"
        try:
            ct = self.analyze(label, config)
        except KilnError as e:
            if e.location is None and e.target is None:
                e.location = target.location
                e.target = where
            raise
        dep_target = ct.target
        if self.check_visibility and not isinstance(dep_target, PackageGroup):
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
_NON_DEPENDENCY_ATTRS = {"visibility", "applicable_licenses", "package_metadata", "compatible_with", "restricted_to"}


def _dependency_config(attr: Any, config: Configuration) -> Configuration:
    """The configuration an attribute's dependencies are analysed in (its `cfg`)."""
    if attr.cfg == "exec":
        return config.exec_configuration()
    return config


def _as_list(value: Any) -> list:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, dict):
        return list(value.keys()) if value and isinstance(next(iter(value)), ConfiguredTarget) else list(value.values())
    return [value]
