"""One command's build session: workspace, loading, analysis, execution.

`build`, `test` and `run` share this: resolve patterns, analyse targets,
run the needed actions, lay out runfiles trees and the kiln-* links.
"""

from __future__ import annotations

import os
import re
import sys
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from kiln.cli.lock import hold_output_base
from kiln.analysis.host import host_os_and_cpu
from kiln.analysis.providers import IncompatiblePlatformInfo
from kiln.cli.executors import collect_disk_cache, executor_stack
from kiln.cli.options import Invocation
from kiln.cli.plan import Plan, TopTarget, flatten_action, flatten_runfiles
from kiln.cli.saved_results import SavedResults
from kiln.cli.ui import Reporter
from kiln.core.actions import HOST_DIRS, Action, requirements_from_tags
from kiln.core.artifacts import KILN_TOOLS_REPO, Artifact, SourceTree
from kiln.core.config import CONFIGURATION_OPTIONS, HOST_PLATFORM, Configuration
from kiln.core.errors import AnalysisError, CommandLineError, KilnError
from kiln.core.labels import Label, parse_label
from kiln.core.providers import HostToolsInfo, RunEnvironmentInfo
from kiln.execution.action_keys import ActionKeys
from kiln.execution.cas import Cas
from kiln.execution.events import AnalysisFinished, BuildFinished, EventBus, Message
from kiln.execution.explain import Explainer
from kiln.execution.file_digests import FileDigests
from kiln.execution.materialize import Materializer
from kiln.execution.materialized_outputs import MaterializedOutputs
from kiln.execution.output_view import OutputView
from kiln.execution.runfiles_tree import materialize, tree_path
from kiln.execution.scheduler import BuildOutcome, Scheduler
from kiln.execution.spawns import SpawnMaker
from kiln.execution.saved_table import SavedTable
from kiln.loading import wellknown
from kiln.loading.package import RuleTarget
from kiln.loading.test_suites import tags_pass
from kiln.loading.workspace import Workspace, find_workspace


@dataclass
class BuildResult:
    ok: bool
    targets: list[TopTarget] = field(default_factory=list)
    outcome: BuildOutcome | None = None
    failed_targets: set[Label] = field(default_factory=set)
    # Targets a wildcard matched that are incompatible with the target platform.
    skipped: tuple[Label, ...] = ()


def make_configuration(inv: Invocation) -> Configuration:
    opts = inv.options.values
    flags = []
    for text, value in inv.options.starlark_flags.items():
        try:
            label = parse_label(text)
        except KilnError as e:
            raise CommandLineError(f"invalid flag --{text}: {e.message}") from None
        label = Label(wellknown.canonical_repo(label.repo), label.package, label.name)
        flags.append((str(label), value))
    action_env = []
    for name, value in opts.action_env:
        if value is None:
            value = os.environ.get(name)
            if value is None:
                continue
        action_env.append((name, value))
    platform = HOST_PLATFORM
    if opts.platforms:
        # Bazel takes a list but uses its first platform as the target platform.
        text = opts.platforms.split(",")[0]
        try:
            label = parse_label(text)
        except KilnError as e:
            raise CommandLineError(f"invalid --platforms={text}: {e.message}") from None
        platform = str(Label(wellknown.canonical_repo(label.repo), label.package, label.name))
    return Configuration(
        compilation_mode=opts.compilation_mode,
        cpu=host_cpu(),
        platform=platform,
        defines=tuple(sorted(dict(opts.define).items())),
        flags=tuple(sorted(flags)),
        action_env=tuple(sorted(action_env)),
        options=tuple((name, text) for name in CONFIGURATION_OPTIONS for text in _option_texts(getattr(opts, name))),
    )


def _option_texts(value: bool | str | tuple[str, ...]) -> tuple[str, ...]:
    """An option's value as Configuration.options holds it: a repeatable option's items one by one,
    comma-separated items apart (Bazel's list options split on commas), booleans as true/false."""
    if isinstance(value, bool):
        return ("true" if value else "false",)
    if isinstance(value, tuple):
        return tuple(part for item in value for part in item.split(",") if part)
    return (value,)


def host_cpu() -> str:
    """Bazel's name for this machine's CPU, the first part of output directory names (k8-fastbuild)."""
    system, cpu = host_os_and_cpu()
    if system == "osx":
        return f"darwin_{'arm64' if cpu == 'aarch64' else cpu}"
    return {"x86_64": "k8"}.get(cpu, cpu)


class Session:
    def __init__(self, inv: Invocation, cwd: Path):
        self.inv = inv
        self.opts = inv.options.values
        self.started = time.monotonic()
        # Repository rules run in kiln's process and read its environment: --repo_env NAME=VALUE sets a variable
        # for them (NAME alone passes this shell's on, which they see already). Actions keep their fixed
        # environment (kiln.core.action_env), so nothing else sees it.
        for entry in getattr(self.opts, "repo_env", ()):
            name, eq, value = entry.partition("=")
            if eq and name:
                os.environ[name] = value
        self.pattern_errors = 0
        self.workspace: Workspace = find_workspace(cwd)
        self.offset = self.workspace.offset_of(cwd)
        # Held until the command ends (kiln run lets go before it starts the program).
        self.output_base, self.lock = hold_output_base(inv, self.workspace.root)
        self.events = EventBus()
        explain = self.opts.explain
        self._explain_file = None
        if explain == "-":
            explain_stream = sys.stderr
        elif explain:
            self._explain_file = open(explain, "w")
            explain_stream = self._explain_file
        else:
            explain_stream = None
        if self.opts.host_platform:
            raise CommandLineError("--host_platform is not supported by kiln: the host platform is the detected "
                                   "@platforms//host; register other execution platforms with "
                                   "--extra_execution_platforms or register_execution_platforms()")
        color = {"yes": True, "no": False}.get(self.opts.color)
        curses = {"yes": True, "no": False}.get(self.opts.curses)
        if not self.opts.show_progress:
            curses = False
        self.reporter = Reporter(live=curses, color=color, explain=explain_stream,
                                 test_output=self.opts.test_output)
        self.events.subscribe(self.reporter)
        if self.opts.announce_rc:
            self._announce_rc()

    def _announce_rc(self) -> None:
        """--announce_rc: which options came from which rc file, and which kiln ignores."""
        by_source: dict[str, list[str]] = {}
        for name, source in self.inv.options.sources.items():
            if source != "command line":
                by_source.setdefault(str(source).rsplit(":", 1)[0], []).append(f"--{name}")
        for file, names in by_source.items():
            self.events.info(f"Reading rc options for '{self.inv.command}' from {file}: {' '.join(sorted(names))}")
        for word, reason in [*self.inv.startup.ignored, *self.inv.options.ignored]:
            self.events.info(f"{word} has no effect in kiln: {reason}")

    @cached_property
    def top_config(self) -> Configuration:
        """The configuration of the targets named on the command line."""
        return make_configuration(self.inv)

    @cached_property
    def loader(self) -> Any:
        from kiln.cli.loading_setup import new_loader

        return new_loader(self.workspace, self.output_base.root, self.opts,
                          report=lambda level, text: self.events.post(Message(level, text)))

    def analyzer(self) -> Any:
        """An analyzer for this command's configuration, with its toolchain options."""
        from kiln.analysis.analyzer import Analyzer
        from kiln.analysis.toolchains import ToolchainOptions

        def patterns(values: tuple[str, ...]) -> tuple[str, ...]:
            # Each occurrence may itself be a comma-separated list, as in Bazel.
            return tuple(p for value in values for p in value.split(",") if p)

        debug = self.opts.toolchain_resolution_debug
        options = ToolchainOptions(patterns(self.opts.extra_toolchains), patterns(self.opts.extra_execution_platforms),
                                   debug if debug not in (None, "-.*") else None)
        if options.debug is not None:
            try:
                re.compile(options.debug)
            except re.error as e:
                raise CommandLineError(f"--toolchain_resolution_debug={options.debug}: not a regular "
                                       f"expression: {e}") from None
        return Analyzer(self.loader, self.top_config, toolchain_options=options,
                        check_visibility=self.opts.check_visibility)

    # ---- phases ----------------------------------------------------------

    def plan(self, command: str, patterns: list[str], *, expand_tests: Any = None) -> tuple[Plan, set[Label]]:
        """Loads and analyses, or reuses the saved plan when nothing it read has changed."""
        config = self.top_config
        opts = self.opts
        cache = SavedResults(self.output_base.root / "plans", self.output_base.tmp, self.output_base.root)
        key = cache.key(command, tuple(patterns), self.offset, config, tuple(sorted(
            (k, repr(getattr(opts, k))) for k in _ANALYSIS_OPTIONS)), str(self.workspace.root))
        # Where this plan is saved (kiln.cli.run_memo reads what it was made from).
        self.saved_plan = (cache, key)
        plan = cache.load(key)
        if plan is not None:
            return plan, set()
        if not patterns:
            raise CommandLineError("no targets specified: name at least one target pattern, e.g. //...")
        from kiln.analysis.conflicts import check_action_conflicts
        from kiln.cli.config_store import remember
        from kiln.loading.target_patterns import PatternResolver

        resolver = PatternResolver(self.loader, self.offset, keep_going=opts.keep_going)
        targets = resolver.resolve(patterns)
        for err in resolver.errors:
            self.events.error(err.render())
        self.pattern_errors = len(resolver.errors)
        build_tags = opts.build_tag_filters
        if build_tags:
            targets = [t for t in targets if tags_pass(t.tags, build_tags)]
        tests = expand_tests(self.loader, targets) if expand_tests else []
        test_tags = opts.test_tag_filters
        sizes = opts.test_size_filters
        if test_tags:
            tests = [t for t in tests if tags_pass(t.tags, test_tags)]
        if sizes:
            tests = [t for t in tests if tags_pass((t.attrs.get("size") or "medium",), sizes)]
        if tests and opts.build_tests_only:
            targets = tests
        elif tests:
            targets = list({t.label: t for t in [*targets, *tests]}.values())
        analyzer = self.analyzer()
        self._check_flags(analyzer, config)
        try:
            analyzer.target_platform(config)
        except KilnError as e:
            raise CommandLineError(f"--platforms={self.opts.platforms}: {e.message}") from None
        keep_going = opts.keep_going
        top: list[TopTarget] = []
        failed: set[Label] = set()
        reported: set[str] = set()
        explicit = _explicit_labels(resolver, patterns)
        skipped: list[Label] = []
        for t in targets:
            try:
                ct = analyzer.analyze(t.label)
                incompatible = ct.get(IncompatiblePlatformInfo)
                if incompatible is not None and t.label not in explicit:
                    skipped.append(t.label)  # a wildcard skips what cannot be built for this platform
                    continue
                if incompatible is not None:
                    raise AnalysisError(f"Target {t.label} is incompatible and cannot be built, but was explicitly "
                                        f"requested.\n{incompatible.explain()}")
                top.append(_top_target(ct))
            except KilnError as e:
                if not keep_going:
                    raise
                # One broken dependency fails many targets: say it once.
                if e.render() not in reported:
                    reported.add(e.render())
                    self.events.error(e.render())
                failed.add(t.label)
        check_action_conflicts(analyzer.configured_targets())
        remember(self.output_base.root / "configurations", self.output_base.tmp,
                 {ct.config for ct in analyzer.configured_targets()})
        actions = [flatten_action(a) for ct in analyzer.configured_targets() for a in ct.actions]
        locations = {ct.label: ct.target.location for ct in analyzer.configured_targets()
                     if isinstance(ct.target, RuleTarget)}
        by_label = {t.label: t for t in top}
        from kiln.loading.repo_mapping import runfiles_repo_mapping

        plan = Plan(config, top, actions, locations, len(self.loader.packages),
                    [by_label[t.label] for t in tests if t.label in by_label],
                    runfiles_repo_mapping(self.loader.module), skipped,
                    [t.label for t in tests if t.label in set(skipped)],
                    tuple(sorted((repo, str(d)) for repo, d in self.loader.repo_dirs.items())))
        if not failed and not resolver.errors:
            cache.save(key, plan, self.loader.files_read | self.loader.dirs_read)
        return plan, failed | {t.label for t in tests if t.label not in by_label and t.label not in skipped}

    def _check_flags(self, analyzer: Any, config: Configuration) -> None:
        """Every --//pkg:flag=value must name a build setting, as Bazel requires."""
        from kiln.analysis.providers import BuildSettingInfo
        from kiln.loading.loader import NoSuchPackage, NoSuchTarget
        from kiln.rules.common.settings import FlagTypeError

        for text, value in config.flags:
            label = parse_label(text)
            try:
                ct = analyzer.analyze(label)
            except (FlagTypeError, NoSuchTarget, NoSuchPackage) as e:
                # A label flag's value is analysed with it: a missing package or target may be the value's.
                raise CommandLineError(f"invalid option --{text}={value}: {e.message}") from None
            if ct.target.rule_kind == "label_setting":
                raise CommandLineError(f"invalid option --{text}={value}: '{label}' is a label_setting, which "
                                       "only its build_setting_default sets (a label_flag can be set)")
            if ct.get(BuildSettingInfo) is None and ct.target.rule_kind != "label_flag":
                raise CommandLineError(
                    f"Unrecognized option: --{text}: '{label}' is a {ct.target.rule_kind}, not a build setting "
                    "(string_flag, bool_flag, ...)"
                )

    @property
    def max_shown(self) -> int:
        """--experimental_ui_max_stdouterr_bytes: how much of an action's or test's output to print."""
        return self.opts.experimental_ui_max_stdouterr_bytes

    def execute(self, plan: Plan, *, extra_actions: list[Action] = (), extra_wanted: list[Artifact] = (),
                scheduler_options: dict[str, Any] | None = None) -> BuildResult:
        """Builds what the plan's top targets need, plus `extra_wanted` (made by `extra_actions`:
        the test runs of `kiln test`)."""
        generating = plan.generating()
        self.generating = generating  # kept for kiln.cli.run_memo's checks
        for action in extra_actions:
            for o in action.outputs:
                generating[o] = action
        wanted: list[Artifact] = list(extra_wanted)
        trees: list[tuple[Artifact, Any]] = []
        for t in plan.top:
            wanted.extend(t.files)
            if t.executable is not None:
                wanted.append(t.executable)
                wanted.extend(t.runfiles.artifacts())
                trees.append((t.executable, t.runfiles))
        needed = _needed_actions(wanted, generating)
        self.events.post(AnalysisFinished(len(plan.top), plan.packages, needed))
        cas = Cas(self.output_base.cas, self.output_base.tmp)
        file_digests = FileDigests(self.output_base.file_digests, self.output_base.tmp)
        materialized = MaterializedOutputs(self.output_base.materialized_outputs, self.output_base.tmp)
        keys = ActionKeys(SavedTable(self.output_base.root / "action_keys", self.output_base.tmp))
        # Every build records action keys so that a later --explain can say what changed.
        explainer = Explainer(self.output_base.root / "explain", self.output_base.tmp,
                              enabled=bool(self.opts.explain))
        self.executors = executor_stack(self.opts, self.output_base, cas, self.sources(plan), self.workspace.root,
                                        self.events.warning)
        executor = self.executors.top
        scheduler = Scheduler(
            spawns=SpawnMaker(self.sources(plan), keys, file_digests),
            executor=executor,
            materializer=Materializer(self.output_base.execroot, cas, self.output_base.tmp, materialized),
            output_view=OutputView(cas, self.output_base.execroot / "kiln-out/_tmp/actions", self.max_shown,
                                   f"{self.opts.symlink_prefix}out/_tmp/actions"),
            events=self.events,
            keep_going=self.opts.keep_going,
            locations=plan.locations,
            explainer=explainer,
            subcommands=self.opts.subcommands,
            forget=executor.forget,
            **(scheduler_options or {}),
        )
        self.scheduler = scheduler
        # What this build's up-to-date decisions rested on (kiln.cli.run_memo).
        self.cas, self.file_digests, self.materialized = cas, file_digests, materialized
        try:
            outcome = scheduler.build(wanted, generating)
        finally:
            executor.close()
            file_digests.save()
            materialized.save()
            keys.save()
            explainer.save()
        collect_disk_cache(self.opts, self.executors.disk_cache)
        failed: set[Label] = set()
        for t in plan.top:
            files = list(t.files) + ([t.executable] if t.executable else [])
            if t.runfiles is not None:
                files.extend(t.runfiles.artifacts())
            if any(f in outcome.unbuilt for f in files):
                failed.add(t.label)
        execroot = str(self.output_base.execroot)
        for exe, runfiles in trees:
            if exe.owner in failed:
                continue
            materialize(tree_path(self.output_base.execroot, exe), runfiles, self.sources(plan), execroot,
                        plan.repo_mapping)
        self.link_convenience_symlinks(plan.config)
        return BuildResult(outcome.ok and not failed, plan.top, outcome, failed, tuple(plan.skipped))

    def link_convenience_symlinks(self, config: Configuration) -> None:
        prefix = self.opts.symlink_prefix
        if prefix == "/":
            return
        links = {
            f"{prefix}bin": self.output_base.execroot / config.bin_dir,
            f"{prefix}out": self.output_base.execroot / "kiln-out",
            f"{prefix}testlogs": self.output_base.execroot / config.output_dir / "testlogs",
        }
        for name, target in links.items():
            target.mkdir(parents=True, exist_ok=True)
            link = self.workspace.root / name
            try:
                if os.readlink(link) == str(target):
                    continue
            except OSError:
                pass
            tmp = self.workspace.root / f".{name}.tmp{os.getpid()}"
            try:
                os.symlink(target, tmp)
                os.replace(tmp, link)
            except OSError as e:
                self.events.warning(f"cannot create the convenience link {link}: {e.strerror}")

    def finish(self, result: BuildResult, *, show_outputs: bool = True) -> None:
        outputs = []
        if show_outputs and len(result.targets) <= 20:
            for ct in result.targets:
                if ct.label in result.failed_targets:
                    continue
                files = ([ct.executable] if ct.executable else []) + [
                    f for f in ct.files if f != ct.executable and not f.is_source]
                shown = tuple(self.display_path(f) for f in files[:10])
                if shown:
                    outputs.append((str(ct.label), shown))
        o = result.outcome
        self.events.post(BuildFinished(
            result.ok, len(result.targets), o.executed if o else 0, o.cached if o else 0,
            time.monotonic() - self.started, tuple(outputs), tuple(str(l) for l in result.skipped)))
        if self._explain_file:
            self._explain_file.close()

    def display_path(self, art: Artifact) -> str:
        prefix = self.opts.symlink_prefix
        if art.is_source:
            return art.exec_path
        # kiln-bin is the top-level configuration's bin directory; other configurations' files
        # (exec tools, transitioned targets) are shown by their kiln-out path.
        if art.root == self.top_config.bin_dir:
            return f"{prefix}bin/{art.path}"
        return art.exec_path

    def sources(self, plan: Plan) -> SourceTree:
        return SourceTree(str(self.workspace.root), plan.repo_dirs + ((KILN_TOOLS_REPO, KILN_TOOLS_DIR),))

    def output_path(self, art: Artifact, plan: Plan) -> Path:
        if art.is_source:
            return Path(self.sources(plan).path(art))
        return self.output_base.execroot / art.exec_path


# kiln's own action tools (kiln.tools), the sources of the kiln_tools pseudo-repository.
KILN_TOOLS_DIR = str(Path(__file__).resolve().parent.parent / "tools")

# Options that change what loading and analysis produce: part of the plan's key.
_ANALYSIS_OPTIONS = ("check_visibility", "keep_going", "build_tests_only", "incompatible_disallow_empty_glob",
                     "enable_bzlmod",
                     "build_tag_filters", "test_tag_filters", "test_size_filters", "extra_toolchains",
                     "extra_execution_platforms", "toolchain_resolution_debug", "override_repository",
                     "override_module", "repo_env")



def _explicit_labels(resolver: Any, patterns: list[str]) -> set[Label]:
    """Targets named one by one on the command line: asking for an incompatible one is an error."""
    from kiln.core.patterns import PatternKind

    named = (resolver.parse(p) for p in patterns)
    return {p.label for p in named if p.kind is PatternKind.SINGLE and not p.negative and p.label is not None}


def _top_target(ct: Any) -> TopTarget:
    info = ct.default_info
    target = ct.target
    is_test = isinstance(target, RuleTarget) and target.is_test
    return TopTarget(
        ct.label,
        target.rule_kind,
        tuple(info.files.to_list()),
        info.executable,
        flatten_runfiles(info.runfiles) if info.executable is not None else None,
        ct.get(RunEnvironmentInfo),
        is_test,
        (target.attrs.get("size") or "medium") if is_test else "",
        (target.attrs.get("timeout") or "") if is_test else "",
        _test_requirements(ct, target) if is_test else (),
        bool(target.attrs.get("flaky")) if is_test else False,
    )


def _test_requirements(ct: Any, target: Any) -> tuple[tuple[str, str], ...]:
    """A test's execution requirements: from its tags, and the host directories its program runs from."""
    requirements = requirements_from_tags(target.tags)
    host = ct.get(HostToolsInfo)
    if host is not None and host.dirs:
        requirements[HOST_DIRS] = ":".join(host.dirs)
    return tuple(sorted(requirements.items()))


def _needed_actions(wanted: list[Artifact], generating: dict[Artifact, Action]) -> int:
    seen: set[int] = set()
    stack = [generating[a] for a in wanted if a in generating]
    while stack:
        a = stack.pop()
        if id(a) in seen:
            continue
        seen.add(id(a))
        stack.extend(generating[i] for i in a.input_list() if i in generating)
    return len(seen)


