"""The engine's running processes: start them on free 127.0.0.1 ports, wait until they serve, stop them.

A state directory holds everything one running engine owns:
    endpoints.json   what clients connect to (written once the engine is ready)
    processes.json   pid, process group and start time of each process (written as soon as they run,
                     so that `stop` finds them even when the start failed half-way)
    logs/NAME.log    each process's stdout and stderr
    worker/, runner.sock, bazel-remote/   the processes' own state
Each process leads its own process group, so stopping the group also ends whatever an action
started. A pid is only trusted together with its start time: pids are reused.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from errors import EngineError

# The one platform the worker offers; an action runs only if its platform properties equal these.
PLATFORM = {"OSFamily": "Linux"}
READY_TIMEOUT_S = 60.0
TERM_GRACE_S = 10.0
KILL_GRACE_S = 5.0
WORKERS_METRIC = "buildbarn_builder_in_memory_build_queue_workers_created_total"
PORTS = ("storage", "scheduler_client", "scheduler_worker", "scheduler_diagnostics", "cache_http", "cache_grpc")


def start(bin_dir: Path, state: Path, config: Path) -> dict:
    """Starts the engine with its state under `state`; returns the endpoints once all are ready."""
    if state.exists() and not state.is_dir():
        raise EngineError(f"{state} is not a directory")
    if live_groups(read_records(state)):
        raise EngineError(f"an engine is already running in {state}: stop it first")
    ports = free_ports(len(PORTS))
    port = dict(zip(PORTS, ports))
    for directory in ("logs", "worker/build", "worker/cache", "bazel-remote"):
        (state / directory).mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "KILN_REAPI_STATE": str(state),
        "KILN_REAPI_PLATFORM": json.dumps(PLATFORM),
        "KILN_REAPI_STORAGE_PORT": str(port["storage"]),
        "KILN_REAPI_SCHEDULER_CLIENT_PORT": str(port["scheduler_client"]),
        "KILN_REAPI_SCHEDULER_WORKER_PORT": str(port["scheduler_worker"]),
        "KILN_REAPI_SCHEDULER_DIAGNOSTICS_PORT": str(port["scheduler_diagnostics"]),
    }
    commands = {
        name: [str(bin_dir / name), str(config / f"{name}.jsonnet")]
        for name in ("bb_storage", "bb_scheduler", "bb_runner", "bb_worker")
    }
    commands["bazel-remote"] = [
        str(bin_dir / "bazel-remote"), "--dir", str(state / "bazel-remote"), "--max_size", "1",
        "--http_address", f"127.0.0.1:{port['cache_http']}", "--grpc_address", f"127.0.0.1:{port['cache_grpc']}",
    ]
    began = time.monotonic()
    running = {}
    try:
        for name, argv in commands.items():
            with open(state / "logs" / f"{name}.log", "wb") as log:
                running[name] = subprocess.Popen(argv, cwd=state, env=env, stdin=subprocess.DEVNULL,
                                                 stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    finally:
        write_json(state / "processes.json",
                   [{"name": name, "pid": p.pid, "start_time": start_time(p.pid)} for name, p in running.items()])
    checks = {
        "bb_storage": lambda: accepts(port["storage"]),
        "bb_worker": lambda: registered_workers(port["scheduler_diagnostics"]) >= 1,
        "bazel-remote": lambda: http_ok(f"http://127.0.0.1:{port['cache_http']}/status"),
    }
    try:
        wait_ready(running, checks, state)
    except EngineError:
        stop(state)
        raise
    endpoints = {
        "buildbarn": {"grpc": f"grpc://127.0.0.1:{port['storage']}", "instance_name": "", "platform": PLATFORM},
        "bazel_remote": {"grpc": f"grpc://127.0.0.1:{port['cache_grpc']}", "http": f"http://127.0.0.1:{port['cache_http']}"},
    }
    write_json(state / "endpoints.json", endpoints)
    print(f"engine ready in {time.monotonic() - began:.2f} s", file=sys.stderr)
    return endpoints


def stop(state: Path) -> None:
    """Ends every process the engine in `state` started: SIGTERM, then SIGKILL; returns when none is left."""
    records = read_records(state)
    # bb_worker exits at once on SIGTERM while bb_scheduler is up, but once the scheduler is gone
    # it keeps retrying it and ignores SIGTERM: stop it first.
    worker = [r for r in records if r["name"] == "bb_worker"]
    for stage in (worker, [r for r in records if r not in worker]):
        end_groups(stage)
    left = live_groups(records)
    if left:
        raise EngineError(f"process groups {sorted(left)} survived SIGKILL")
    (state / "processes.json").unlink(missing_ok=True)
    (state / "endpoints.json").unlink(missing_ok=True)


def end_groups(records: list[dict]) -> None:
    for signum, grace in ((signal.SIGTERM, TERM_GRACE_S), (signal.SIGKILL, KILL_GRACE_S)):
        groups = live_groups(records)
        if not groups:
            return
        for group in groups:
            try:
                os.killpg(group, signum)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while live_groups(records) and time.monotonic() < deadline:
            time.sleep(0.05)


def wait_ready(running: dict, checks: dict, state: Path) -> None:
    pending = dict(checks)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while pending:
        for name, process in running.items():
            if process.poll() is not None:
                raise EngineError(f"{name} exited with status {process.returncode}:\n{log_tail(state, name)}")
        pending = {name: check for name, check in pending.items() if not check()}
        if pending and time.monotonic() > deadline:
            name = next(iter(pending))
            raise EngineError(f"{name} not ready after {READY_TIMEOUT_S:.0f} s:\n{log_tail(state, name)}")
        time.sleep(0.05)


def log_tail(state: Path, name: str, lines: int = 20) -> str:
    text = (state / "logs" / f"{name}.log").read_text(errors="replace")
    return "\n".join(text.splitlines()[-lines:])


def free_ports(count: int) -> list[int]:
    # All sockets stay open until every port is chosen, so the ports differ from each other.
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def registered_workers(port: int) -> float:
    """How many workers have registered with the scheduler, from its Prometheus metrics."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1) as response:
            text = response.read().decode()
    except OSError:
        return 0
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(WORKERS_METRIC))


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat); None if it is gone."""
    stat = proc_stat(pid)
    return None if stat is None else int(stat[19])


def proc_stat(pid: int) -> list[str] | None:
    """Fields 3.. of /proc/PID/stat (state first), or None if the process is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    return text[text.rindex(")") + 2:].split()


def read_records(state: Path) -> list[dict]:
    try:
        return json.loads((state / "processes.json").read_text())
    except FileNotFoundError:
        return []


def live_groups(records: list[dict]) -> set[int]:
    """The recorded process groups that still have a process that is not a zombie."""
    # Each process leads its group (pgid = pid). A group id is not reused while any member lives,
    # but once all are gone the pid may be: a live leader must still have its recorded start time.
    groups = {r["pid"]: r["start_time"] for r in records if r["start_time"] is not None}
    if not groups:
        return set()
    alive = set()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        stat = proc_stat(int(entry.name))
        if stat is not None and stat[0] != "Z" and int(stat[2]) in groups:
            alive.add(int(stat[2]))
    return {group for group in alive if start_time(group) in (None, groups[group])}


def write_json(path: Path, value) -> None:
    # Written whole then renamed: a reader never sees half a file.
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(value, indent=2) + "\n")
    os.replace(temporary, path)
