"""The scheduler and rebuilder: runs what is needed, in parallel, in dependency order.

An action starts as soon as the actions making its inputs are done. Whether
it runs at all is decided by its key (a digest of argv, environment, input
digests and the rule's version) looked up in the action cache: constructive
traces, so cached outputs are reused wherever they came from.
"""

from __future__ import annotations

import errno
import os
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from kiln.core.actions import Action, ActionKind
from kiln.core.artifacts import Artifact
from kiln.core.digests import Digest, digest_fields
from kiln.core.errors import KilnError, LocalEnvironmentError, Location
from kiln.core.labels import Label
from kiln.execution.action_cache import ActionCache, ActionResult, OutputFile
from kiln.execution.cas import Cas
from kiln.execution.events import ActionFailed, ActionFinished, ActionStarted, EventBus, Message
from kiln.execution.explain import Explainer
from kiln.execution.failures import describe_command, describe_failure
from kiln.execution.file_digests import FileDigests
from kiln.execution.materialize import CorruptBlob, Materializer, MissingBlob
from kiln.execution.output_view import OutputView
from kiln.execution.spawn import Executor, Spawn, SpawnInput, SpawnResult


@dataclass
class BuildOutcome:
    ok: bool = True
    executed: int = 0
    cached: int = 0
    failed_actions: list[Action] = field(default_factory=list)
    # Artifacts whose generating action failed or was skipped.
    unbuilt: set[Artifact] = field(default_factory=set)


class ActionFailure(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _result(fut: Future, action: Action) -> str:
    """The status of a finished action; a failure of kiln's own writes for it stops the build."""
    try:
        return fut.result()
    except OSError as e:
        if e.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        raise LocalEnvironmentError(f"cannot write {e.filename}: {e.strerror}", target=str(action.owner)) from None
    except MissingBlob as e:
        # Only an outside writer makes a blob the action has just stored disappear or change.
        raise KilnError(f"{e}: it changed after the action stored it; build again", target=str(action.owner)) from None


class Scheduler:
    def __init__(
        self,
        *,
        workspace_root: Path,
        cas: Cas,
        action_cache: ActionCache,
        file_digests: FileDigests,
        executor: Executor,
        materializer: Materializer,
        events: EventBus,
        jobs: int,
        keep_going: bool,
        locations: dict[Label, Location],
        output_view: OutputView,
        explainer: Explainer | None = None,
        subcommands: bool = False,
        external_root: Path | None = None,
    ):
        self.workspace_root = str(workspace_root)
        # Where external repositories' source files are (`external/<repo>/...` in exec paths).
        self.external_root = str(external_root or workspace_root / "external")
        self.cas = cas
        self.action_cache = action_cache
        self.file_digests = file_digests
        self.executor = executor
        self.materializer = materializer
        self.events = events
        self.jobs = max(1, jobs)
        self.keep_going = keep_going
        self.locations = locations
        self.explainer = explainer
        self.output_view = output_view
        self.subcommands = subcommands
        # exec path -> (digest, executable) of every derived file known so far.
        self.digests: dict[str, tuple[Digest, bool]] = {}
        self._lock = threading.Lock()
        self._next_id = 0

    # ---- graph -----------------------------------------------------------

    def build(self, wanted: list[Artifact], generating: dict[Artifact, Action]) -> BuildOutcome:
        outcome = BuildOutcome()
        needed: list[Action] = []
        seen: set[int] = set()
        stack = [generating[a] for a in wanted if not a.is_source and a in generating]
        while stack:
            action = stack.pop()
            if id(action) in seen:
                continue
            seen.add(id(action))
            needed.append(action)
            for inp in action.input_list():
                if not inp.is_source:
                    producer = generating.get(inp)
                    if producer is None:
                        raise ActionFailure(f"internal error: no action generates {inp.exec_path}")
                    stack.append(producer)

        waiting: dict[int, int] = {}
        dependents: dict[int, list[Action]] = {}
        for action in needed:
            producers = {id(generating[i]): generating[i] for i in action.input_list() if not i.is_source}
            waiting[id(action)] = len(producers)
            for p in producers.values():
                dependents.setdefault(id(p), []).append(action)

        ready = [a for a in needed if waiting[id(a)] == 0]
        running: dict[Future, Action] = {}
        stop = False
        with ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="kiln-action") as pool:
            while ready or running:
                while ready and not stop and len(running) < self.jobs * 2:
                    action = ready.pop()
                    running[pool.submit(self._run_one, action)] = action
                if not running:
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in done:
                    action = running.pop(fut)
                    status = _result(fut, action)
                    if status in ("failed", "not run"):
                        # A failed action ran all the same: it counts as executed.
                        if status == "failed":
                            outcome.executed += 1
                        outcome.ok = False
                        outcome.failed_actions.append(action)
                        self._mark_unbuilt(action, dependents, outcome)
                        if not self.keep_going:
                            stop = True
                        continue
                    if status == "cached":
                        outcome.cached += 1
                    else:
                        outcome.executed += 1
                    for dep in dependents.get(id(action), ()):
                        waiting[id(dep)] -= 1
                        if waiting[id(dep)] == 0 and not any(o in outcome.unbuilt for o in dep.outputs):
                            ready.append(dep)
                if stop:
                    ready.clear()
        return outcome

    def _mark_unbuilt(self, action: Action, dependents: dict[int, list[Action]], outcome: BuildOutcome) -> None:
        stack = [action]
        while stack:
            a = stack.pop()
            for o in a.outputs:
                if o in outcome.unbuilt:
                    continue
                outcome.unbuilt.add(o)
            stack.extend(d for d in dependents.get(id(a), ()) if not all(o in outcome.unbuilt for o in d.outputs))

    # ---- one action ------------------------------------------------------

    def _run_one(self, action: Action) -> str:
        """Returns "cached", "executed", "failed" (it ran and failed) or "not run"."""
        with self._lock:
            self._next_id += 1
            action_id = self._next_id
        try:
            spawn = self._spawn(action)
        except ActionFailure as e:
            self._fail(action_id, action, e.message)
            return "not run"
        no_cache = action.requirement("no-cache") is not None
        cached = None if no_cache else self.action_cache.get(spawn.key)
        if cached is not None:
            try:
                self._record(cached.outputs)
            except MissingBlob as e:
                # The entry is a miss: run the action again.
                if isinstance(e, CorruptBlob):
                    self.events.warning(f"{e}; running the {action.mnemonic} action of {action.owner} again")
            else:
                self.events.post(ActionFinished(action_id, action.mnemonic, action.describe(), True, True, 0.0))
                return "cached"

        self.events.post(ActionStarted(action_id, action.mnemonic, action.describe()))
        # An output from an earlier run must not look current if this run fails.
        for o in action.outputs:
            self.materializer.remove(o.exec_path)
        explanation = self.explainer.explain(action, spawn) if self.explainer else ""
        if self.subcommands and action.kind is ActionKind.SPAWN:
            self.events.post(Message("SUBCOMMAND", describe_command(action, spawn)))
        start = time.monotonic()
        result = self._execute(action, spawn)
        seconds = time.monotonic() - start
        if result.exit_code != 0 or result.missing_outputs or result.error:
            self.events.post(ActionFinished(action_id, action.mnemonic, action.describe(), False, False, seconds,
                                            explanation))
            output = self.output_view.text(action, spawn.key, result.stdout, result.stderr)
            self._fail(action_id, action, describe_failure(action, spawn, result, output, self.workspace_root))
            return "failed"
        if not no_cache:
            self.action_cache.put(spawn.key, ActionResult(result.outputs, 0, result.stdout, result.stderr, seconds))
        if self.explainer:
            self.explainer.record(action, spawn)
        self._record(result.outputs)
        if result.stdout or result.stderr:
            text = self.output_view.text(action, spawn.key, result.stdout, result.stderr).rstrip()
            self.events.info(f"From {action.describe()}:\n{text}")
        self.events.post(ActionFinished(action_id, action.mnemonic, action.describe(), False, True, seconds, explanation))
        return "executed"

    def _fail(self, action_id: int, action: Action, message: str) -> None:
        loc = self.locations.get(action.owner)
        prefix = f"{loc}: " if loc else ""
        self.events.post(ActionFailed(action_id, str(action.owner), action.mnemonic, prefix + message))

    def _record(self, outputs: tuple[OutputFile, ...]) -> None:
        for o in outputs:
            self.materializer.materialize(o.path, o.digest, o.executable)
        with self._lock:
            for o in outputs:
                self.digests[o.path] = (o.digest, o.executable)

    def _execute(self, action: Action, spawn: Spawn) -> SpawnResult:
        if action.kind is ActionKind.WRITE:
            out = action.outputs[0]
            digest = self.cas.put_bytes(action.content, action.is_executable)
            return SpawnResult(0, (OutputFile(out.exec_path, digest, action.is_executable),))
        if action.kind is ActionKind.COPY:
            src = spawn.inputs[0]
            out = action.outputs[0]
            digest = self.cas.put_file(src.local_path, action.is_executable, digest=src.digest)
            return SpawnResult(0, (OutputFile(out.exec_path, digest, action.is_executable),))
        return self.executor.execute(spawn)

    def input_of(self, art: Artifact, needed_by: str = "") -> SpawnInput:
        """An input's digest and where its content is: the workspace file, or the blob in the store."""
        if art.is_source:
            local = art.source_path(self.workspace_root, self.external_root)
            try:
                digest = self.file_digests.digest(local)
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                raise ActionFailure(f"{needed_by}: missing input file '{art.exec_path}'") from None
            return SpawnInput(art.exec_path, digest, local, True)
        known = self.digests.get(art.exec_path)
        if known is None:
            raise ActionFailure(f"internal error: {art.exec_path} was not built before {needed_by}")
        return SpawnInput(art.exec_path, known[0], str(self.cas.path(known[0], known[1])), False)

    def _spawn(self, action: Action) -> Spawn:
        inputs = [self.input_of(art, str(action.owner)) for art in action.input_list()]
        trees = tuple(
            (f"{exe.exec_path}.runfiles", tuple(sorted(
                (rpath, art.exec_path if art is not None else None) for rpath, art in rf.entries().items()
            )))
            for exe, rf in action.tool_runfiles
        )
        # Analysis gave the action its whole environment (kiln.core.action_env): nothing is added here.
        env_items = action.env
        key = digest_fields(
            "kiln-action-v1",
            action.salt,
            action.kind.value,
            action.argv,
            env_items,
            tuple(sorted((i.exec_path, i.digest.hash, i.digest.size) for i in inputs)),
            tuple(o.exec_path for o in action.outputs),
            trees,
            action.content,
            str(action.is_executable),
            action.execution_requirements,
            # Only when set, so actions on a platform without properties keep their keys.
            *((action.exec_properties,) if action.exec_properties else ()),
        )
        return Spawn(action, tuple(inputs), trees, env_items, key)
