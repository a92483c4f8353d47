"""The scheduler: runs what is needed, in dependency order, through one executor.

An action becomes ready when the actions making its inputs are done; ready
actions start longest-remaining-path first (the chain that bounds the build's
length goes first), as long as the executor says there is room. The executor
is a stack (kiln.execution.spawn): caching, dispatch by strategy, the local
sandbox — the scheduler neither looks up caches nor runs processes. It
prepares each spawn (input digests, the action key), hands it over, and when
the executor reports back puts the outputs in place and posts the events.

Executors report from their own threads; the work of finishing an action
(placing outputs) is done there too, and only the bookkeeping of the graph
happens on the scheduler's thread.
"""

from __future__ import annotations

import errno
import heapq
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from kiln.core.actions import Action, ActionKind
from kiln.core.artifacts import Artifact
from kiln.core.errors import KilnError, LocalEnvironmentError, Location
from kiln.core.labels import Label
from kiln.execution.action_cache import Output, OutputDirectory
from kiln.execution.events import ActionFailed, ActionFinished, ActionProgress, ActionStarted, EventBus, Message
from kiln.execution.explain import Explainer
from kiln.execution.failures import describe_command, describe_failure
from kiln.execution.materialize import CorruptBlob, Materializer, MissingBlob
from kiln.execution.output_view import OutputView
from kiln.execution.spawn import Executor, Report, Spawn, SpawnResult
from kiln.execution.spawns import ActionFailure, SpawnMaker


@dataclass(frozen=True)
class TestRun:
    """How one test action ended: its last attempt's exit status (the test wrapper's codes: kiln.cli.test_actions)."""

    exit_code: int
    cached: bool
    seconds: float
    # Attempts that failed before the last one (--flaky_test_attempts).
    failed_attempts: int = 0
    # Why the test could not run at all (no log was written), if so.
    error: str = ""


@dataclass
class BuildOutcome:
    ok: bool = True
    executed: int = 0
    cached: int = 0
    failed_actions: list[Action] = field(default_factory=list)
    # Artifacts whose generating action failed or was skipped.
    unbuilt: set[Artifact] = field(default_factory=set)
    # Test actions that ran or were served from a cache, by action.
    tests: dict[Action, TestRun] = field(default_factory=dict)


class _Retry(Exception):
    """A cached result whose blobs are gone: the action runs again."""


def _raise_for(exc: BaseException, action: Action) -> None:
    """A failure of kiln's own work for an action (not the action's): it stops the build."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        raise LocalEnvironmentError(f"cannot write {exc.filename}: {exc.strerror}", target=str(action.owner)) from None
    if isinstance(exc, MissingBlob):
        # Only an outside writer makes a blob the action has just stored disappear or change.
        raise KilnError(f"{exc}: it changed after the action stored it; build again", target=str(action.owner)) from None
    raise exc


class Scheduler:
    def __init__(
        self,
        *,
        spawns: SpawnMaker,
        executor: Executor,
        materializer: Materializer,
        events: EventBus,
        keep_going: bool,
        locations: dict[Label, Location],
        output_view: OutputView,
        explainer: Explainer | None = None,
        subcommands: bool = False,
        forget: Callable[[Spawn], None] | None = None,
        test_attempts: Callable[[Action], int] = lambda action: 1,
        archive_attempt: Callable[[Action, int], None] = lambda action, attempt: None,
    ):
        self.spawns = spawns
        self.workspace_root = spawns.sources.workspace_root
        self.executor = executor
        self.materializer = materializer
        self.events = events
        self.keep_going = keep_going
        self.locations = locations
        self.explainer = explainer
        self.output_view = output_view
        self.subcommands = subcommands
        # Drops a cache entry found unusable (its blobs are gone), so the next start runs the action.
        self.forget = forget
        # How many times a failing test runs before it counts as failed (--flaky_test_attempts), and
        # what keeps a failed attempt's log before the next attempt replaces it.
        self.test_attempts = test_attempts
        self.archive_attempt = archive_attempt
        self._failed_attempts: dict[int, int] = {}
        self._lock = threading.Lock()
        self._next_id = 0

    # ---- graph -----------------------------------------------------------

    def build(self, wanted: list[Artifact], generating: dict[Artifact, Action]) -> BuildOutcome:
        outcome = BuildOutcome()
        needed = self._needed(wanted, generating)
        waiting: dict[int, int] = {}
        dependents: dict[int, list[Action]] = {}
        for action in needed:
            producers = {id(generating[i]): generating[i] for i in action.input_list() if not i.is_source}
            waiting[id(action)] = len(producers)
            for p in producers.values():
                dependents.setdefault(id(p), []).append(action)
        priority = _remaining_path(needed, dependents)

        ready: list[tuple[int, int, Action]] = []
        order = 0
        for a in needed:
            if waiting[id(a)] == 0:
                order += 1
                ready.append((-priority[id(a)], order, a))
        heapq.heapify(ready)
        done: queue.SimpleQueue = queue.SimpleQueue()
        prepared: dict[int, Spawn] = {}
        in_flight = 0
        stop = False
        while True:
            while ready and not stop:
                action = ready[0][2]
                spawn = prepared.pop(id(action), None) or self._prepare(action)
                if spawn is None:
                    heapq.heappop(ready)
                    self._failed(action, "not run", dependents, outcome)
                    stop = not self.keep_going
                    continue
                if not self.executor.can_start(spawn):
                    # Prepared once: it waits at the head of the queue for a free slot.
                    prepared[id(action)] = spawn
                    break
                heapq.heappop(ready)
                in_flight += 1
                self._start(action, spawn, done)
            if in_flight == 0:
                break
            action, spawn, status = done.get()
            in_flight -= 1
            if isinstance(status, _Retry):
                in_flight += 1
                self._start(action, spawn, done)
                continue
            if isinstance(status, BaseException):
                _raise_for(status, action)
            if isinstance(status, TestRun):
                outcome.tests[action] = status
                status = "cached" if status.cached else "executed"
            if status in ("failed", "not run"):
                self._failed(action, status, dependents, outcome)
                if not stop and not self.keep_going and in_flight:
                    # What is still running will not be used: workers may drop it (kiln.execution.worker_executor).
                    self.executor.cancel()
                stop = stop or not self.keep_going
                continue
            if status == "cached":
                outcome.cached += 1
            else:
                outcome.executed += 1
            for dep in dependents.get(id(action), ()):
                waiting[id(dep)] -= 1
                if waiting[id(dep)] == 0 and not any(o in outcome.unbuilt for o in dep.outputs):
                    order += 1
                    heapq.heappush(ready, (-priority[id(dep)], order, dep))
        return outcome

    @staticmethod
    def _needed(wanted: list[Artifact], generating: dict[Artifact, Action]) -> list[Action]:
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
        return needed

    def _failed(self, action: Action, status: str, dependents: dict[int, list[Action]], outcome: BuildOutcome) -> None:
        # A failed action ran all the same: it counts as executed.
        if status == "failed":
            outcome.executed += 1
        outcome.ok = False
        outcome.failed_actions.append(action)
        stack = [action]
        while stack:
            a = stack.pop()
            outcome.unbuilt.update(a.outputs)
            stack.extend(d for d in dependents.get(id(a), ()) if not all(o in outcome.unbuilt for o in d.outputs))

    # ---- one action ------------------------------------------------------

    def _new_id(self) -> int:
        with self._lock:
            self._next_id += 1
            return self._next_id

    def _prepare(self, action: Action) -> Spawn | None:
        try:
            return self.spawns.spawn_of(action)
        except ActionFailure as e:
            self._fail(self._new_id(), action, e.message)
        except KilnError as e:
            self._fail(self._new_id(), action, f"{action.describe()}: {e.message}")
        return None

    def _start(self, action: Action, spawn: Spawn, done: queue.SimpleQueue) -> None:
        action_id = self._new_id()
        state = _Running(action_id)

        def started() -> None:
            state.start = time.monotonic()
            self.events.post(ActionStarted(action_id, action.mnemonic, action.describe()))
            # An output from an earlier run must not look current if this run fails.
            for o in action.outputs:
                self.materializer.remove(o.exec_path)
            state.explanation = self.explainer.explain(action, spawn) if self.explainer else ""
            if self.subcommands and action.kind is ActionKind.SPAWN:
                self.events.post(Message("SUBCOMMAND", describe_command(action, spawn)))

        def finished(result: SpawnResult | BaseException) -> None:
            try:
                status = result if isinstance(result, BaseException) else self._finish(action, spawn, state, result)
            except BaseException as e:  # handed to the scheduler's thread, which stops the build
                status = e
            done.put((action, spawn, status))

        def progress(text: str) -> None:
            self.events.post(ActionProgress(action_id, text))

        self.executor.start(spawn, Report(started, finished, progress))

    def _finish(self, action: Action, spawn: Spawn, state: "_Running", result: SpawnResult) -> object:
        """Returns "cached", "executed", "failed" (it ran and failed), a TestRun, or _Retry."""
        if action.is_test:
            return self._finish_test(action, spawn, state, result)
        if result.cached:
            try:
                self._record(result.outputs)
            except MissingBlob as e:
                if isinstance(e, CorruptBlob):
                    self.events.warning(f"{e}; running the {action.mnemonic} action of {action.owner} again")
                if self.forget is not None:
                    self.forget(spawn)
                return _Retry()
            self.events.post(ActionFinished(state.action_id, action.mnemonic, action.describe(), True, True, 0.0))
            return "cached"
        seconds = result.seconds or (time.monotonic() - state.start if state.start else 0.0)
        if not result.ok:
            self.events.post(ActionFinished(state.action_id, action.mnemonic, action.describe(), False, False, seconds,
                                            state.explanation))
            output = self.output_view.text(action, spawn.key_hex, result.stdout, result.stderr)
            self._fail(state.action_id, action, describe_failure(action, spawn, result, output, self.workspace_root))
            return "failed"
        if self.explainer:
            self.explainer.record(action, spawn)
        self._record(result.outputs)
        if result.stdout or result.stderr:
            text = self.output_view.text(action, spawn.key_hex, result.stdout, result.stderr).rstrip()
            self.events.info(f"From {action.describe()}:\n{text}")
        self.events.post(ActionFinished(state.action_id, action.mnemonic, action.describe(), False, True, seconds,
                                        state.explanation))
        return "executed"

    def _finish_test(self, action: Action, spawn: Spawn, state: "_Running", result: SpawnResult) -> object:
        """A test's outputs are placed whatever its exit status; a failure may get another attempt."""
        try:
            self._record(result.outputs)
        except MissingBlob:
            if not result.cached:
                raise
            if self.forget is not None:
                self.forget(spawn)
            return _Retry()
        seconds = result.seconds or (time.monotonic() - state.start if state.start else 0.0)
        ran_ok = result.exit_code == 0 and not result.error and not result.missing_outputs
        self.events.post(ActionFinished(state.action_id, action.mnemonic, action.describe(), result.cached, True,
                                        seconds, state.explanation))
        failed_before = self._failed_attempts.get(id(action), 0)
        if not ran_ok and not result.error and not result.missing_outputs \
                and failed_before + 1 < self.test_attempts(action):
            with self._lock:
                self._failed_attempts[id(action)] = failed_before + 1
            self.archive_attempt(action, failed_before + 1)
            return _Retry()
        error = result.error or (f"the test wrote none of {', '.join(result.missing_outputs)}"
                                 if result.missing_outputs else "")
        if error:
            output = self.output_view.text(action, spawn.key_hex, result.stdout, result.stderr)
            error = describe_failure(action, spawn, result, output, self.workspace_root)
        return TestRun(result.exit_code, result.cached, seconds, failed_before, error)

    def _fail(self, action_id: int, action: Action, message: str) -> None:
        loc = self.locations.get(action.owner)
        prefix = f"{loc}: " if loc else ""
        self.events.post(ActionFailed(action_id, str(action.owner), action.mnemonic, prefix + message))

    def _record(self, outputs: tuple[Output, ...]) -> None:
        for o in outputs:
            if isinstance(o, OutputDirectory):
                self.materializer.materialize_tree(o)
            else:
                self.materializer.materialize(o.path, o.digest, o.executable)
        self.spawns.remember(outputs)


class _Running:
    __slots__ = ("action_id", "start", "explanation")

    def __init__(self, action_id: int):
        self.action_id = action_id
        self.start = 0.0
        self.explanation = ""


def _remaining_path(needed: list[Action], dependents: dict[int, list[Action]]) -> dict[int, int]:
    """Per action, the number of actions on the longest chain from it to the end of the build."""
    length: dict[int, int] = {}
    for root in needed:
        if id(root) in length:
            continue
        stack = [(root, False)]
        while stack:
            action, expanded = stack.pop()
            if id(action) in length:
                continue
            deps = dependents.get(id(action), ())
            if expanded:
                length[id(action)] = 1 + max((length[id(d)] for d in deps), default=0)
                continue
            stack.append((action, True))
            stack.extend((d, False) for d in deps if id(d) not in length)
    return length
