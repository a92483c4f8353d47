"""From the options to this command's executor stack: caching over dispatch over in-process, local, workers.

Nothing heavy is made here: the local executor (processes, the sandbox, the
bubblewrap probe) is made when the first action must run, the worker
executor when the first action runs on a worker, and the disk cache is opened
only when `--disk_cache` is given.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from kiln.cli.isolation import IsolationChoice, local_executor
from kiln.cli.options import Options
from kiln.core.artifacts import SourceTree
from kiln.execution.action_cache import ActionCache
from kiln.execution.caching import CachingExecutor
from kiln.execution.cas import Cas
from kiln.execution.dispatch import Dispatcher
from kiln.execution.in_process import InProcessExecutor
from kiln.execution.spawn import InputLocator, LazyExecutor


@dataclass(frozen=True)
class ExecutorStack:
    top: CachingExecutor
    # The LocalExecutor, made when first needed (tests run on it directly, for now).
    local: LazyExecutor
    isolation: IsolationChoice
    disk_cache: Any  # DiskCache | None


def executor_stack(opts: Options, output_base: Any, cas: Cas, sources: SourceTree, workspace_root: Path,
                   warn: Callable[[str], None]) -> ExecutorStack:
    isolation = IsolationChoice(opts, warn)
    locator = InputLocator(sources, cas.path, cas.put_bytes)
    # --test_output=streamed: tests' output reaches the terminal as they run (one at a time).
    stream = sys.stderr if opts.test_output == "streamed" else None
    local = LazyExecutor(lambda: local_executor(output_base, cas, locator, isolation, jobs=opts.jobs,
                                                keep_sandboxes=opts.sandbox_debug, stream=stream))
    workers = LazyExecutor(lambda: worker_executor(opts, output_base, cas, locator))
    dispatcher = Dispatcher(InProcessExecutor(cas, locator), local, isolation.mode_for, workers, isolation.uses_worker)
    disk = open_disk_cache(opts, workspace_root, warn)
    caching = CachingExecutor(dispatcher, action_cache=ActionCache(output_base.action_cache, output_base.tmp),
                              cas=cas, disk_cache=disk, warn=warn)
    return ExecutorStack(caching, local, isolation, disk)


# Singleplex worker processes per key when --worker_max_instances does not say: Bazel's default.
DEFAULT_WORKER_INSTANCES = 4


def worker_executor(opts: Options, output_base: Any, cas: Cas, locator: InputLocator) -> Any:
    from kiln.cli.option_table import host_cpus
    from kiln.execution.worker_executor import WorkerExecutor
    from kiln.execution.worker_pool import WorkerLimits
    from kiln.execution.worker_spawn import WorkerOptions

    def split(given: tuple[tuple[str, int], ...], default: int) -> tuple[int, tuple[tuple[str, int], ...]]:
        everyone = [n for mnemonic, n in given if not mnemonic]
        return (everyone[-1] if everyone else default), tuple((m, n) for m, n in given if m)

    instances, instances_by = split(opts.worker_max_instances, DEFAULT_WORKER_INSTANCES)
    # A worker written in Python is bound by its GIL to one core: one multiplex process per core.
    multiplex, multiplex_by = split(opts.worker_max_multiplex_instances, host_cpus())
    limits = WorkerLimits(instances, multiplex, instances_by, multiplex_by)
    options = WorkerOptions(opts.worker_extra_flag, opts.worker_sandboxing,
                            opts.experimental_worker_multiplex_sandboxing)
    return WorkerExecutor(Path(output_base.root) / "workers", cas, locator, outputs_root=output_base.execroot,
                          jobs=opts.jobs, limits=limits, options=options)


def open_disk_cache(opts: Options, workspace_root: Path, warn: Callable[[str], None]) -> Any:
    if not opts.disk_cache:
        return None
    from kiln.execution.disk_cache import DiskCache, parse_gc_max_age, parse_gc_max_size

    # Checked first: a bad value is a command-line error even when the cache cannot be opened.
    if opts.experimental_disk_cache_gc_max_size:
        parse_gc_max_size(opts.experimental_disk_cache_gc_max_size)
    if opts.experimental_disk_cache_gc_max_age:
        parse_gc_max_age(opts.experimental_disk_cache_gc_max_age)
    path = Path(os.path.expanduser(opts.disk_cache))
    if not path.is_absolute():
        path = workspace_root / path
    return DiskCache.open(path, warn)


def collect_disk_cache(opts: Options, disk: Any) -> None:
    """--experimental_disk_cache_gc_max_size/_max_age: applied once the build is done."""
    if disk is None or not (opts.experimental_disk_cache_gc_max_size or opts.experimental_disk_cache_gc_max_age):
        return
    from kiln.execution.disk_cache import parse_gc_max_age, parse_gc_max_size

    size = parse_gc_max_size(opts.experimental_disk_cache_gc_max_size) if opts.experimental_disk_cache_gc_max_size \
        else None
    age = parse_gc_max_age(opts.experimental_disk_cache_gc_max_age) if opts.experimental_disk_cache_gc_max_age \
        else None
    disk.collect(size, age)
