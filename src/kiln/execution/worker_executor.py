"""The persistent-worker executor: runs worker-capable spawns as requests to long-lived processes.

Where a worker sees its files — kiln keeps no shared exec root of real files,
so each worker process gets a directory of its own under
`<output_base>/workers/`, whose `execroot/_main` is its working directory:

- its tools are staged there once, as symbolic links (to the source, or to
  the materialized output), when it starts;
- without sandboxing each request's inputs are added there as symbolic links
  too (they accumulate: a path names the same file for the whole build);
  with `--worker_sandboxing` the previous request's inputs are removed first,
  so a request sees only its own; a multiplex worker with
  `--experimental_worker_multiplex_sandboxing` gets a directory per request,
  named by the request's `sandboxDir` (relative to its working directory);
- outputs are written at their exec paths under the request's root and moved
  from there into the content store exactly as the local executor moves them
  (kiln.execution.output_collection), so a worker's result, and what the
  caches keep of it, is the one a one-shot run gives: the action key does not
  depend on the strategy.

The response's `output` is the action's output (its stderr). A worker that
dies is replaced and the request sent once more; a second death fails the
action with the worker's stderr log. One that writes anything but responses
is replaced and named in the failure. A request past the action's timeout
kills its worker. `cancel()` (another action failed, or the build was
interrupted) sends a cancel request for every request in flight whose action
says `supports-worker-cancellation`.
"""

from __future__ import annotations

import itertools
import os
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from kiln.execution import processes
from kiln.execution.cas import Cas
from kiln.execution.output_collection import collect_outputs
from kiln.execution.sandbox import Sandbox, Staging
from kiln.execution.spawn import InputLocator, Report, Spawn, SpawnInput, SpawnResult
from kiln.execution.worker_pool import WorkerLimits, WorkerPool
from kiln.execution.worker_process import WorkerGone, WorkerProcess
from kiln.execution.worker_protocol import WorkRequest
from kiln.execution.worker_spawn import WorkerOptions, WorkerPlan, WorkerPlanner

# How long cancelled requests get to answer before an interrupted kiln moves on.
_CANCEL_GRACE = 1.0


class _Failed(Exception):
    def __init__(self, result: SpawnResult):
        self.result = result


class WorkerExecutor:
    def __init__(self, base: Path, cas: Cas, locator: InputLocator, *, outputs_root: Path, jobs: int,
                 limits: WorkerLimits, options: WorkerOptions):
        self.planner = WorkerPlanner(options, locator)
        self.cas = cas
        self.locator = locator
        self.outputs_root = outputs_root
        self.base = base
        self.jobs = max(1, jobs)
        self.pool = WorkerPool(base, limits)
        self._threads = ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="kiln-worker-request")
        self._lock = threading.Lock()
        self._in_flight = 0
        self._ids = itertools.count(1)
        # (process, request id) of requests in flight whose action allows cancelling them.
        self._cancellable: dict[int, tuple[WorkerProcess, int]] = {}
        self._cancelled = False
        self.empty_file = str(base.parent / "workers.empty")
        Path(self.empty_file).touch()
        processes.before_kill(self.interrupt)

    def can_start(self, spawn: Spawn) -> bool:
        return self._in_flight < self.jobs

    def start(self, spawn: Spawn, report: Report, plan: WorkerPlan) -> None:
        with self._lock:
            self._in_flight += 1
        self._threads.submit(self._run, spawn, report, plan)

    def _run(self, spawn: Spawn, report: Report, plan: WorkerPlan) -> None:
        try:
            report.started()
            result = self.execute(spawn, plan)
        except BaseException as e:  # reported to the scheduler, which stops the build with it
            result = e
        finally:
            with self._lock:
                self._in_flight -= 1
        report.done(result)

    def cancel(self) -> None:
        """Asks workers to drop the requests in flight that may be cancelled; later ones fail at once."""
        with self._lock:
            self._cancelled = True
            pending = list(self._cancellable.values())
        for proc, request_id in pending:
            proc.cancel(request_id)

    def interrupt(self) -> None:
        """The build was interrupted: cancelled requests get a moment to answer before workers are killed."""
        self.cancel()
        deadline = time.monotonic() + _CANCEL_GRACE
        while time.monotonic() < deadline:
            with self._lock:
                if not self._cancellable:
                    return
            time.sleep(0.02)

    def close(self) -> None:
        processes.before_kill(self.interrupt, add=False)
        self._threads.shutdown(wait=True)
        self.pool.close()

    # ---- one action --------------------------------------------------------------------------------

    def execute(self, spawn: Spawn, plan: WorkerPlan) -> SpawnResult:
        died: WorkerGone | None = None
        for _ in range(2):
            if self._cancelled and plan.cancellable:
                return SpawnResult(1, error="cancelled before it started")
            try:
                proc = self.pool.acquire(plan.key, lambda: self._start_worker(spawn, plan))
            except OSError as e:
                return SpawnResult(127, error=f"cannot start a {plan.key.mnemonic} worker "
                                              f"({plan.key.argv[0]}): {e.strerror}")
            try:
                return self._request(proc, spawn, plan)
            except WorkerGone as gone:
                self.pool.drop(proc, gone.message)
                if gone.garbage:
                    return SpawnResult(1, error=f"{gone.message}; the worker was replaced{_log_of(proc)}")
                died = gone
                last = proc
            except _Failed as failed:
                return failed.result
            finally:
                self.pool.release(proc)
        return SpawnResult(1, error=f"{died.message}, and again after a restart{_log_of(last)}")

    def _start_worker(self, spawn: Spawn, plan: WorkerPlan) -> WorkerProcess:
        box = Sandbox(self.base)
        box.prepare()
        # The files of directory inputs (a runtime) are tools too: staged with them, once.
        tools = plan.tools + spawn.inputs[len(spawn.direct_inputs):]
        box.create(tools, spawn.runfiles_trees, (), staging=Staging.SYMLINK, cas=self.cas, locator=self.locator,
                   outputs_root=self.outputs_root, empty_file=self.empty_file, input_trees=spawn.input_trees)
        env = dict(plan.key.env)
        env.setdefault("TMPDIR", str(box.tmp))
        name = f"{plan.key.mnemonic}-{box.dir.name}"
        return WorkerProcess(name, list(plan.key.argv), cwd=str(box.execroot), env=env, protocol=plan.key.protocol,
                             log=box.dir / "stderr.log")

    def _request(self, proc: WorkerProcess, spawn: Spawn, plan: WorkerPlan) -> SpawnResult:
        key = plan.key
        request_id = next(self._ids) if key.multiplex else 0
        sandbox_dir = f"__sandbox/{request_id}" if key.multiplex and key.sandboxed else ""
        cwd = proc.cwd
        root = f"{cwd}/{sandbox_dir}" if sandbox_dir else cwd
        if key.sandboxed and not key.multiplex:
            for path in proc.staged:
                _remove(path)
        proc.staged = self._stage(root, plan.request_inputs, spawn)
        request = WorkRequest(plan.arguments, plan.listed_inputs, request_id, sandbox_dir=sandbox_dir)
        started = time.monotonic()
        token = id(request)
        try:
            with self._lock:
                if plan.cancellable:
                    self._cancellable[token] = (proc, request_id)
            waiting = proc.send(request)
            timeout = spawn.action.timeout
            if not waiting.event.wait(timeout):
                self.pool.drop(proc, f"worker {proc.name} was killed: its request timed out")
                raise _Failed(SpawnResult(-1, error=f"timed out after {timeout:g} s (worker {proc.name} was killed)"))
            if waiting.gone is not None:
                raise waiting.gone
            response = waiting.response
            seconds = time.monotonic() - started
            stderr = self.cas.put_bytes(response.output.encode()) if response.output else None
            if response.was_cancelled:
                raise _Failed(SpawnResult(1, (), None, stderr, seconds, error="cancelled"))
            return collect_outputs(self.cas, spawn, Path(root), response.exit_code, None, stderr, seconds)
        finally:
            with self._lock:
                self._cancellable.pop(token, None)
            if sandbox_dir:
                shutil.rmtree(root, ignore_errors=True)

    def _stage(self, root: str, inputs: tuple[SpawnInput, ...], spawn: Spawn) -> list[str]:
        """Links the request's inputs under `root` and makes room for its outputs."""
        made: set[str] = set()
        staged = []
        for inp in inputs:
            dest = f"{root}/{inp.exec_path}"
            target = self.locator.path(inp) if inp.is_source else f"{self.outputs_root}/{inp.exec_path}"
            _mkdirs(os.path.dirname(dest), made)
            try:
                os.symlink(target, dest)
            except FileExistsError:
                # Linked by an earlier request: a path names one file for the whole build.
                if os.readlink(dest) != target:
                    os.unlink(dest)
                    os.symlink(target, dest)
            staged.append(dest)
        for out in spawn.action.outputs:
            dest = f"{root}/{out.exec_path}"
            _remove(dest)  # what a failed earlier attempt left
            _mkdirs(dest if out.is_directory else os.path.dirname(dest), made)
        return staged


def _mkdirs(path: str, made: set[str]) -> None:
    if path not in made:
        os.makedirs(path, exist_ok=True)
        made.add(path)


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except IsADirectoryError:
        shutil.rmtree(path, ignore_errors=True)
    except FileNotFoundError:
        pass


def _log_of(proc: WorkerProcess) -> str:
    tail = proc.log_tail().rstrip()
    if not tail:
        return f" (its stderr log {proc.log} is empty)"
    return f"; its stderr log ({proc.log}):\n{tail}"
