"""One command's build session: workspace, loading, analysis, execution.

`build`, `test` and `run` share this: resolve patterns, analyse targets,
run the needed actions, lay out runfiles trees and the kiln-* links.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiln.analysis.analyzer import Analyzer
from kiln.analysis.configured_target import ConfiguredTarget
from kiln.analysis.toolchains import Toolchains
from kiln.cli.options import Invocation
from kiln.cli.ui import Reporter
from kiln.core.actions import Action
from kiln.core.artifacts import Artifact
from kiln.core.config import Configuration
from kiln.core.errors import CommandLineError, KilnError
from kiln.core.labels import Label, parse_label
from kiln.execution.action_cache import ActionCache
from kiln.execution.cas import Cas
from kiln.execution.events import AnalysisFinished, BuildFinished, EventBus
from kiln.execution.explain import Explainer
from kiln.execution.file_digests import FileDigests
from kiln.execution.local_executor import LocalExecutor
from kiln.execution.materialize import Materializer
from kiln.execution.output_base import OutputBase, default_output_base
from kiln.execution.runfiles_tree import materialize, tree_path
from kiln.execution.scheduler import BuildOutcome, Scheduler
from kiln.loading import wellknown
from kiln.loading.loader import Loader
from kiln.loading.package import RuleTarget
from kiln.loading.target_patterns import PatternResolver
from kiln.loading.workspace import Workspace, find_workspace
from kiln.rules import default_registry


@dataclass
class BuildResult:
    ok: bool
    targets: list[ConfiguredTarget] = field(default_factory=list)
    outcome: BuildOutcome | None = None
    failed_targets: set[Label] = field(default_factory=set)


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
    for name, value in opts.get("action_env") or ():
        if value is None:
            value = os.environ.get(name)
            if value is None:
                continue
        action_env.append((name, value))
    return Configuration(
        compilation_mode=opts.get("compilation_mode") or "fastbuild",
        defines=tuple(sorted(dict(opts.get("define") or ()).items())),
        flags=tuple(sorted(flags)),
        action_env=tuple(sorted(action_env)),
    )


class Session:
    def __init__(self, inv: Invocation, cwd: Path):
        self.inv = inv
        self.opts = inv.options.values
        self.started = time.monotonic()
        self.workspace: Workspace = find_workspace(cwd)
        self.offset = self.workspace.offset_of(cwd)
        base = inv.startup.values.get("output_base")
        self.output_base = OutputBase(Path(base).resolve() if base else default_output_base(self.workspace.root))
        self.events = EventBus()
        explain = self.opts.get("explain")
        self._explain_file = None
        if explain == "-":
            explain_stream = sys.stderr
        elif explain:
            self._explain_file = open(explain, "w")
            explain_stream = self._explain_file
        else:
            explain_stream = None
        color = {"yes": True, "no": False}.get(str(self.opts.get("color") or "auto"))
        curses = {"yes": True, "no": False}.get(str(self.opts.get("curses") or "auto"))
        self.reporter = Reporter(live=curses, color=color, explain=explain_stream,
                                 test_output=self.opts.get("test_output") or "summary")
        self.events.subscribe(self.reporter)
        self.registry = default_registry()
        self.loader = Loader(
            self.workspace, self.registry,
            report=lambda level, text: self.events.post(_message(level, text)),
            disallow_empty_glob=bool(self.opts.get("incompatible_disallow_empty_glob", True)),
        )
        for src_word, reason in inv.options.ignored:
            if self.opts.get("announce_rc"):
                self.events.info(f"{src_word} has no effect in kiln: {reason}")

    # ---- phases ----------------------------------------------------------

    def resolve(self, patterns: list[str]) -> list[Any]:
        if not patterns:
            raise CommandLineError("no targets specified: name at least one target pattern, e.g. //...")
        resolver = PatternResolver(self.loader, self.offset, keep_going=bool(self.opts.get("keep_going")))
        targets = resolver.resolve(patterns)
        for err in resolver.errors:
            self.events.error(err.render())
        return targets

    def analyze(self, targets: list[Any]) -> tuple[list[ConfiguredTarget], set[Label], Analyzer]:
        config = make_configuration(self.inv)
        analyzer = Analyzer(self.loader, config, toolchains=Toolchains(),
                            check_visibility=bool(self.opts.get("check_visibility", True)))
        keep_going = bool(self.opts.get("keep_going"))
        done: list[ConfiguredTarget] = []
        failed: set[Label] = set()
        for t in targets:
            try:
                done.append(analyzer.analyze(t.label))
            except KilnError as e:
                if not keep_going:
                    raise
                self.events.error(e.render())
                failed.add(t.label)
        return done, failed, analyzer

    def execute(self, analyzer: Analyzer, top: list[ConfiguredTarget], extra: list[Artifact] = ()) -> BuildResult:
        self.output_base.create()
        cts = analyzer.configured_targets()
        generating: dict[Artifact, Action] = {}
        locations: dict[Label, Any] = {}
        for ct in cts:
            for a in ct.actions:
                for o in a.outputs:
                    generating[o] = a
            if isinstance(ct.target, RuleTarget):
                locations[ct.label] = ct.target.location
        wanted: list[Artifact] = list(extra)
        trees: list[tuple[Artifact, Any]] = []
        for ct in top:
            info = ct.default_info
            wanted.extend(info.files.to_list())
            if info.executable is not None:
                wanted.append(info.executable)
                wanted.extend(info.runfiles.artifacts())
                trees.append((info.executable, info.runfiles))
        needed = _needed_actions(wanted, generating)
        self.events.post(AnalysisFinished(len(top), len(self.loader.packages), needed))
        cas = Cas(self.output_base.cas, self.output_base.tmp)
        file_digests = FileDigests(self.output_base.file_digests, self.output_base.tmp)
        explainer = Explainer(self.output_base.root / "explain", self.output_base.tmp) if self.opts.get("explain") else None
        scheduler = Scheduler(
            workspace_root=self.workspace.root,
            cas=cas,
            action_cache=ActionCache(self.output_base.action_cache, self.output_base.tmp),
            file_digests=file_digests,
            executor=LocalExecutor(self.output_base.sandboxes, cas, keep_sandboxes=bool(self.opts.get("sandbox_debug"))),
            materializer=Materializer(self.output_base.execroot, cas, self.output_base.tmp),
            events=self.events,
            jobs=int(self.opts.get("jobs") or os.cpu_count() or 1),
            keep_going=bool(self.opts.get("keep_going")),
            locations=locations,
            explainer=explainer,
            action_env=analyzer.config.action_env,
        )
        self.scheduler = scheduler
        try:
            outcome = scheduler.build(wanted, generating)
        finally:
            file_digests.save()
            if explainer:
                explainer.save()
        failed: set[Label] = set()
        for ct in top:
            info = ct.default_info
            files = info.files.to_list() + ([info.executable] if info.executable else [])
            if any(f in outcome.unbuilt for f in files) or any(a in outcome.unbuilt for a in info.runfiles.artifacts()):
                failed.add(ct.label)
        execroot = str(self.output_base.execroot)
        for exe, runfiles in trees:
            if exe.owner in failed:
                continue
            materialize(tree_path(self.output_base.execroot, exe), runfiles, str(self.workspace.root), execroot,
                        _repo_mapping(self.workspace))
        self.link_convenience_symlinks(analyzer.config)
        return BuildResult(outcome.ok and not failed, top, outcome, failed)

    def link_convenience_symlinks(self, config: Configuration) -> None:
        prefix = self.opts.get("symlink_prefix") or "kiln-"
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
                info = ct.default_info
                files = ([info.executable] if info.executable else []) + [
                    f for f in info.files.to_list() if f != info.executable and not f.is_source]
                shown = tuple(self.display_path(f) for f in files[:10])
                if shown:
                    outputs.append((str(ct.label), shown))
        o = result.outcome
        self.events.post(BuildFinished(
            result.ok, len(result.targets), o.executed if o else 0, o.cached if o else 0,
            time.monotonic() - self.started, tuple(outputs)))
        if self._explain_file:
            self._explain_file.close()

    def display_path(self, art: Artifact) -> str:
        prefix = self.opts.get("symlink_prefix") or "kiln-"
        if art.is_source:
            return art.exec_path
        cfg_bin = art.root
        if cfg_bin.endswith("/bin"):
            return f"{prefix}bin/{art.path}"
        return art.exec_path

    def display_path_for_log(self, spec: Any) -> str:
        prefix = self.opts.get("symlink_prefix") or "kiln-"
        return f"{prefix}testlogs/{spec.package}/{spec.name}/test.log" if spec.package else f"{prefix}testlogs/{spec.name}/test.log"

    def output_path(self, art: Artifact) -> Path:
        if art.is_source:
            return self.workspace.root / art.path
        return self.output_base.execroot / art.exec_path


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


def _repo_mapping(workspace: Workspace) -> str:
    return ""


def _message(level: str, text: str):
    from kiln.execution.events import Message

    return Message(level, text)
