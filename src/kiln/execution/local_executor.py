"""Runs spawns as local processes, each in its own exec root, confined per its strategy.

The bottom of the executor stack (kiln.execution.spawn): at most `jobs`
processes at once, each run on a thread of its own pool, so `start` returns
at once. The Linux sandbox (bubblewrap) is the default; without namespaces
kiln falls back to a private exec root of copies. Outputs are moved into the
content store — a declared output directory file by file, with its relative
symlinks and empty directories — and an output of the wrong kind (a file where
a directory was declared, or the reverse) fails the action; stdout and stderr
go to files and then into the store as blobs.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Callable

from kiln.core.actions import HOST_DIRS, PERSISTENT_CACHE, PROGRESS_FD_ENV, REPORTS_PROGRESS
from kiln.core.errors import KilnError
from kiln.execution import processes
from kiln.execution.action_cache import OutputDirectory
from kiln.execution.cas import Cas
from kiln.execution.output_collection import collect_outputs
from kiln.execution.linux_sandbox import (INSIDE_EXECROOT, INSIDE_ROOT, Confinement, SandboxPolicy, bwrap_args,
                                          pid_namespace_args)
from kiln.execution.sandbox import Reaper, Sandbox, Staging
from kiln.execution.spawn import InputChanged, InputLocator, Report, Spawn, SpawnInput, SpawnResult
from kiln.execution.strategies import Mode, mode_for, network_allowed
from kiln.execution.tree_inputs import TreeInputs

# Runs first in the PID namespace: the action gets /dev/null as stdin, and a watcher waits on
# the pipe it got instead, whose only writer is kiln. If kiln dies - even in the moment before
# bwrap's --die-with-parent takes hold - the pipe ends and the watcher kills everything the
# action started (kill -1 in a PID namespace reaches all of it).
LIFELINE = ["/bin/sh", "-c", 'exec 9<&0 </dev/null; (read -r _ <&9; kill -KILL -1 2>/dev/null) & exec 9<&- "$@"',
            "kiln"]
_STAGING = {Mode.LINUX_SANDBOX: Staging.LINK, Mode.PROCESSWRAPPER: Staging.COPY, Mode.LOCAL: Staging.SYMLINK}


@dataclass(frozen=True)
class Isolation:
    """How this build runs actions: the chosen mode, the sandbox policy, and bwrap if it works here."""

    mode: Mode
    policy: SandboxPolicy = SandboxPolicy()
    bwrap: str | None = None


@dataclass(frozen=True)
class ProcessRun:
    """One process to run in a fresh exec root: an action's spawn, or a test."""

    argv: tuple[str, ...]
    env: dict[str, str]
    inputs: tuple[SpawnInput, ...]
    runfiles_trees: tuple
    output_paths: tuple[str, ...]
    requirements: tuple[tuple[str, str], ...]
    timeout: float | None = None
    # The strategy's mode for this process (--strategy for its mnemonic); None: the build's default.
    mode: Mode | None = None
    # Directory inputs (their files are in `inputs` too) and outputs (created before the process runs).
    input_trees: tuple[OutputDirectory, ...] = ()
    output_directories: tuple[str, ...] = ()


@dataclass(frozen=True)
class Finished:
    exit_code: int | None  # None: timed out
    seconds: float
    error: str = ""


class LocalExecutor:
    def __init__(self, sandbox_base: Path, cas: Cas, locator: InputLocator, *, execroot: Path,
                 isolation: Callable[[], Isolation], jobs: int, keep_sandboxes: bool = False,
                 stream: IO[str] | None = None):
        self.sandbox_base = sandbox_base
        self.execroot = execroot
        self.cas = cas
        self.locator = locator
        self.jobs = max(1, jobs)
        self._pool = ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="kiln-action")
        self._in_flight = 0
        # --test_output=streamed: tests' output is copied here as it comes, one test at a time.
        self.stream = stream
        self._tests_in_flight = 0
        # Chosen when the first process runs: a build served from the cache never probes bubblewrap.
        self._choose_isolation = isolation
        self._isolation: Isolation | None = None
        self._lock = threading.Lock()
        self.keep_sandboxes = keep_sandboxes
        self._reaper = Reaper()
        # Persistent caches of actions (PERSISTENT_CACHE): beside the exec root, at
        # <output_base>/caches/<name>, where cache_path() finds them from <output_base>/execroot/_main.
        self.caches = sandbox_base.parent / "caches"
        # Directory inputs of many files, laid out once for the Linux sandbox to mount (<output_base>/trees).
        self.tree_inputs = TreeInputs(sandbox_base.parent / "trees", cas)
        self.empty_file = str(sandbox_base / ".empty")
        if not os.path.exists(self.empty_file):
            sandbox_base.mkdir(parents=True, exist_ok=True)
            Path(self.empty_file).touch()

    @property
    def isolation(self) -> Isolation:
        with self._lock:
            if self._isolation is None:
                self._isolation = self._choose_isolation()
            return self._isolation

    def _streamed(self, spawn: Spawn) -> bool:
        return self.stream is not None and spawn.action.is_test

    def can_start(self, spawn: Spawn) -> bool:
        if self._streamed(spawn) and self._tests_in_flight:
            return False  # streamed output of two tests at once would interleave
        return self._in_flight < self.jobs

    def start(self, spawn: Spawn, report: Report, mode: Mode | None = None) -> None:
        with self._lock:
            self._in_flight += 1
            self._tests_in_flight += self._streamed(spawn)
        self._pool.submit(self._run_spawn, spawn, report, mode)

    def _run_spawn(self, spawn: Spawn, report: Report, mode: Mode | None) -> None:
        try:
            report.started()
            result = self.execute(spawn, mode, report.progress)
        except BaseException as e:  # reported to the scheduler, which stops the build with it
            result = e
        finally:
            with self._lock:
                self._in_flight -= 1
                self._tests_in_flight -= self._streamed(spawn)
        report.done(result)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._reaper.close()

    def execute(self, spawn: Spawn, mode: Mode | None = None,
                progress: Callable[[str], None] | None = None) -> SpawnResult:
        try:
            self.isolation
        except KilnError as e:
            return SpawnResult(1, error=e.message)
        action = spawn.action
        run = ProcessRun(tuple(action.argv), dict(spawn.env), spawn.inputs, spawn.runfiles_trees,
                         tuple(o.exec_path for o in action.outputs), action.execution_requirements,
                         timeout=action.timeout, mode=mode, input_trees=spawn.input_trees,
                         output_directories=tuple(o.exec_path for o in action.outputs if o.is_directory))
        box = Sandbox(self.sandbox_base)
        try:
            box.prepare()
            try:
                with open(box.dir / "stdout", "wb") as out, open(box.dir / "stderr", "wb") as err:
                    if self._streamed(spawn):
                        with _tee(out, self.stream) as pipe:
                            done = self.run(run, box, pipe, err, progress)
                    else:
                        done = self.run(run, box, out, err, progress)
            except InputChanged as e:
                return SpawnResult(1, error=f"input file '{e}' changed while the build was running")
            stdout = self._store_output(box.dir / "stdout")
            stderr = self._store_output(box.dir / "stderr")
            if done.error:
                return SpawnResult(127, (), stdout, stderr, done.seconds, error=done.error)
            root = self.execroot if self.mode_of(run) is Mode.UNSANDBOXED else box.execroot
            return collect_outputs(self.cas, spawn, root, done.exit_code, stdout, stderr, done.seconds)
        finally:
            if not self.keep_sandboxes:
                self._reaper.dispose(box.dir)

    def mode_of(self, run: ProcessRun) -> Mode:
        return mode_for(run.requirements, run.mode or self.isolation.mode)

    def run(self, run: ProcessRun, box: Sandbox, stdout: IO, stderr: IO,
            progress: Callable[[str], None] | None = None) -> Finished:
        """Stages `run` in `box` and runs it to completion (or its timeout), in its exec root; the lines of
        progress it reports (REPORTS_PROGRESS) go to `progress` as they come."""
        mode = self.mode_of(run)
        if mode is Mode.LINUX_SANDBOX:
            execroot = INSIDE_EXECROOT  # where the sandbox shows the exec root to the process
        else:
            execroot = str(self.execroot if mode is Mode.UNSANDBOXED else box.execroot)
        if not box.dir.exists():
            box.prepare()
        if mode is Mode.UNSANDBOXED:
            # For tools like cargo that keep their own incremental state and need stable paths:
            # the output base's exec root itself. Inputs are still part of the key.
            for out in run.output_paths:
                (self.execroot / out).parent.mkdir(parents=True, exist_ok=True)
            for out in run.output_directories:
                (self.execroot / out).mkdir(exist_ok=True)
            for inp in run.inputs:
                if inp.content is not None:  # a param file written for the spawn (kiln.core.actions.ParamFile)
                    (self.execroot / inp.exec_path).parent.mkdir(parents=True, exist_ok=True)
                    (self.execroot / inp.exec_path).write_bytes(inp.content)
        else:
            staging = _STAGING[mode]
            if self.keep_sandboxes and staging is Staging.LINK:
                # A kept exec root outlives its read-only mount: links there would expose the store.
                staging = Staging.COPY
            box.create(run.inputs, run.runfiles_trees, run.output_paths, staging=staging, cas=self.cas,
                       locator=self.locator, outputs_root=self.execroot, empty_file=self.empty_file,
                       input_trees=run.input_trees, output_directories=run.output_directories,
                       tree_inputs=self.tree_inputs)
        requirements = dict(run.requirements)
        cache = requirements.get(PERSISTENT_CACHE)
        if cache is not None:
            (self.caches / cache).mkdir(parents=True, exist_ok=True)
            if mode in (Mode.PROCESSWRAPPER, Mode.LOCAL):
                # cache_path() from this exec root: box.dir/caches/<name>.
                (box.dir / "caches").mkdir(exist_ok=True)
                os.symlink(self.caches / cache, box.dir / "caches" / cache)
        cwd = execroot
        env = dict(run.env)
        argv = list(run.argv)
        args_file = None
        bwrap = self.isolation.bwrap
        if mode is Mode.LINUX_SANDBOX:
            env.setdefault("TMPDIR", "/tmp")
            writable = _output_dirs(run.output_paths)
            confinement = Confinement(
                execroot=(str(box.root), os.path.dirname(INSIDE_EXECROOT)),
                tmp=str(box.tmp), cwd=cwd,
                writable_dirs=tuple((str(box.execroot / d), f"{INSIDE_EXECROOT}/{d}") for d in writable),
                protected_inputs=tuple((str(box.execroot / p), f"{INSIDE_EXECROOT}/{p}")
                                       for p in _protected(run, writable))
                + tuple((host, f"{INSIDE_EXECROOT}/{rel}") for host, rel in box.tree_mounts),
                extra_writable=((str(self.caches / cache), f"{INSIDE_ROOT}/caches/{cache}"),) if cache is not None else (),
                host_dirs=tuple(d for d in requirements.get(HOST_DIRS, "").split(":") if d),
                network=network_allowed(run.requirements, self.isolation.policy.default_allow_network))
            args_file = _args_file(box, bwrap_args(self.isolation.policy, confinement))
            # bwrap changes into `cwd` inside; it starts from a directory that exists outside.
            host_cwd = str(box.dir)
        else:
            env.setdefault("TMPDIR", str(box.tmp))
            host_cwd = cwd
            if bwrap is not None:
                args_file = _args_file(box, pid_namespace_args(cwd))
        pass_fds: tuple[int, ...] = ()
        watch = _ProgressPipe(progress) if progress is not None and requirements.get(REPORTS_PROGRESS) else None
        if watch is not None:
            env[PROGRESS_FD_ENV] = str(watch.write_fd)
            pass_fds = (watch.write_fd,)
        stdin = subprocess.DEVNULL
        lifeline: tuple[int, ...] = ()
        if args_file is not None:
            pass_fds += (args_file.fileno(),)
            argv = [bwrap, "--args", str(args_file.fileno()), "--", *argv]
            if mode is not Mode.LINUX_SANDBOX or not self.isolation.policy.hermetic:
                lifeline = os.pipe()
                stdin = lifeline[0]
                argv[4:4] = LIFELINE
        start = time.monotonic()
        try:
            code = processes.run_to_files(argv, cwd=host_cwd, env=env, stdout=stdout, stderr=stderr, stdin=stdin,
                                          timeout=run.timeout, pass_fds=pass_fds)
        except OSError as e:
            return Finished(127, time.monotonic() - start, f"cannot run {run.argv[0]}: {e.strerror}")
        finally:
            if args_file is not None:
                args_file.close()
            for fd in lifeline:
                os.close(fd)
            if watch is not None:
                watch.close()
        return Finished(code, time.monotonic() - start)

    def _store_output(self, path: Path):
        if os.path.getsize(path) == 0:
            return None
        return self.cas.put_file(str(path), move=True)

@contextlib.contextmanager
def _tee(out: IO[bytes], stream: IO[str]):
    """A pipe to hand a process as its stdout: what comes through goes to `out` and to `stream`, in
    chunks (never a whole line held in memory)."""
    read_fd, write_fd = os.pipe()

    def copy() -> None:
        with os.fdopen(read_fd, "rb") as pipe:
            for chunk in iter(lambda: pipe.read1(65536), b""):
                out.write(chunk)
                stream.write(chunk.decode("utf-8", "replace"))
                stream.flush()

    copier = threading.Thread(target=copy, daemon=True)
    copier.start()
    try:
        with os.fdopen(write_fd, "wb") as pipe:
            yield pipe
    finally:
        copier.join()


class _ProgressPipe:
    """The pipe a process reports its progress on (REPORTS_PROGRESS): each line it writes is handed to
    `progress` by a thread of its own, while the process runs."""

    def __init__(self, progress: Callable[[str], None]):
        read_fd, self.write_fd = os.pipe()

        def read() -> None:
            with os.fdopen(read_fd, "rb") as pipe:
                for line in pipe:
                    text = line.decode("utf-8", "replace").strip()
                    if text:
                        progress(text)

        self._reader = threading.Thread(target=read, daemon=True, name="kiln-progress")
        self._reader.start()

    def close(self) -> None:
        """After the process ended: the pipe's last writer closes, so the reader reaches its end."""
        os.close(self.write_fd)
        self._reader.join(timeout=5)


def _output_dirs(output_paths: tuple[str, ...]) -> list[str]:
    return sorted({os.path.dirname(p) for p in output_paths})


def _protected(run: ProcessRun, writable_dirs: list[str]) -> list[str]:
    """Staged inputs inside a writable output directory: they get a read-only mount of their own
    (a directory input one for all it holds)."""
    writable = set(writable_dirs)
    if not writable:
        return []
    in_tree = tuple(f"{t.path}/" for t in run.input_trees)
    staged = [i.exec_path for i in run.inputs if not i.exec_path.startswith(in_tree)]
    staged += [t.path for t in run.input_trees]
    staged += [f"{tree}/{rpath}" for tree, entries in run.runfiles_trees for rpath, _ in entries]
    found = []
    for path in staged:
        parent = os.path.dirname(path)
        while True:
            if parent in writable:
                found.append(path)
                break
            if not parent:
                break
            parent = os.path.dirname(parent)
    return found


def _args_file(box: Sandbox, args: list[str]):
    """bwrap reads long option lists from a file descriptor (`--args FD`), NUL-separated."""
    path = box.dir / "bwrap.args"
    with open(path, "wb") as f:
        f.write(b"".join(a.encode() + b"\0" for a in args))
    return open(path, "rb")
