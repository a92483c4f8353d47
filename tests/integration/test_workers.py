"""Persistent workers end to end, through the real executor stack and real worker processes.

Each build assembles what `kiln build` does (kiln.cli.executors.executor_stack
with the command's options, the scheduler, the materializer) over a throwaway
output base; the actions are made by hand as a rule would make them: a
FileWrite of the argument file, and an action running a worker program with
`@argfile` last. The worker is tests/workers/py_worker.py (JSON or proto),
or a Go program built here (JSON).
"""

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import processes_running, unavailable

from kiln.cli.executors import executor_stack
from kiln.cli.options import parse_args
from kiln.core.actions import Action, ActionKind
from kiln.core.artifacts import Artifact, SourceTree
from kiln.core.depset import Depset
from kiln.core.errors import Location
from kiln.core.labels import Label
from kiln.execution.action_keys import ActionKeys
from kiln.execution import processes
from kiln.execution.cas import Cas
from kiln.execution.events import ActionFailed, EventBus
from kiln.execution.file_digests import FileDigests
from kiln.execution.materialize import Materializer
from kiln.execution.materialized_outputs import MaterializedOutputs
from kiln.execution.output_base import OutputBase
from kiln.execution.output_view import OutputView
from kiln.execution.saved_table import SavedTable
from kiln.execution.scheduler import Scheduler
from kiln.execution.spawns import SpawnMaker

BIN = "kiln-out/k8-fastbuild/bin"
LABEL = Label("", "pkg", "work")
BUILD_FILE = Location("pkg/BUILD.bazel", 7, 1)
PY_WORKER = Path(__file__).resolve().parent.parent / "workers" / "py_worker.py"
WORKER_SOURCE = "tools/py_worker.py"


class Build:
    """One kiln command's execution layer over `base`, as kiln.cli.session builds it."""

    def __init__(self, ws: Path, base: Path, *flags: str, keep_going: bool = False):
        self.output_base = OutputBase(base)
        self.output_base.create()
        opts = parse_args(["build", *flags], None).options.values
        self.events: list = []
        bus = EventBus()
        bus.subscribe(self.events.append)
        cas = self.cas = Cas(self.output_base.cas, self.output_base.tmp)
        sources = SourceTree(str(ws))
        self.stack = executor_stack(opts, self.output_base, cas, sources, ws, lambda warning: None)
        tmp = self.output_base.tmp
        self.materialized = MaterializedOutputs(self.output_base.materialized_outputs, tmp)
        self.keys = ActionKeys(SavedTable(base / "action_keys", tmp))
        self.scheduler = Scheduler(
            spawns=SpawnMaker(sources, self.keys, FileDigests(self.output_base.file_digests, tmp)),
            executor=self.stack.top,
            materializer=Materializer(self.output_base.execroot, cas, tmp, self.materialized),
            output_view=OutputView(cas, self.output_base.execroot / "kiln-out/_tmp/actions", 1 << 20, "out"),
            events=bus, keep_going=keep_going, locations={LABEL: BUILD_FILE}, forget=self.stack.top.forget)

    def run(self, actions):
        generating = {o: a for a in actions for o in a.outputs}
        wanted = [o for a in actions for o in a.outputs]
        try:
            return self.scheduler.build(wanted, generating)
        finally:
            self.stack.top.close()
            self.materialized.save()
            self.keys.save()

    def path(self, art: Artifact) -> Path:
        return self.output_base.execroot / art.exec_path

    def failures(self) -> list[str]:
        return [e.message for e in self.events if isinstance(e, ActionFailed)]


@pytest.fixture
def ws(tmp_path):
    root = tmp_path / "ws"
    (root / "tools").mkdir(parents=True)
    shutil.copy(PY_WORKER, root / WORKER_SOURCE)
    (root / "pkg").mkdir()
    (root / "pkg/a.txt").write_text("alpha\n")
    (root / "pkg/b.txt").write_text("beta\n")
    return root


def source(path: str) -> Artifact:
    return Artifact("", path, LABEL)


def work(name: str, arguments: list[str], *, requirements: dict, startup: tuple[str, ...] = (), inputs=(),
         mnemonic: str = "Work", argv0: tuple[str, ...] | None = None, timeout: float | None = None):
    """[the FileWrite of the argument file, the worker-capable action]; the output is pkg/<name>.out."""
    params = Artifact(BIN, f"pkg/{name}.params", LABEL)
    out = Artifact(BIN, f"pkg/{name}.out", LABEL)
    write = Action(owner=LABEL, mnemonic="FileWrite", progress_message=f"Writing {params.exec_path}",
                   outputs=(params,), kind=ActionKind.WRITE,
                   content="".join(f"{a}\n" for a in ["--out", out.exec_path, *arguments]).encode())
    tool = () if argv0 is not None else (source(WORKER_SOURCE),)
    argv = argv0 if argv0 is not None else (sys.executable, WORKER_SOURCE)
    run = Action(owner=LABEL, mnemonic=mnemonic, progress_message=f"Working on {name}", outputs=(out,),
                 inputs=Depset((params, *tool, *inputs)), argv=(*argv, *startup, f"@{params.exec_path}"),
                 env=(("PATH", "/usr/bin:/bin"),), execution_requirements=tuple(sorted(requirements.items())),
                 timeout=timeout)
    return [write, run]


JSON = {"supports-workers": "1", "requires-worker-protocol": "json"}
PROTO = {"supports-workers": "1", "requires-worker-protocol": "proto"}
MULTIPLEX = {"supports-multiplex-workers": "1", "requires-worker-protocol": "json"}


def log_lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def out_text(build: Build, actions, index: int = -1) -> str:
    return build.path(actions[index].outputs[0]).read_text()


@pytest.mark.parametrize("requirements", [JSON, PROTO, {"supports-workers": "1"}], ids=["json", "proto", "default"])
def test_worker_runs_requests_with_arguments_and_inputs(ws, tmp_path, requirements):
    """One process serves every request; each gets the argument file's lines and its inputs with
    digests (the hex hash, as Bazel sends it); the proto protocol is the default."""
    log = tmp_path / "worker.log"
    actions = []
    for name, path in (("one", "pkg/a.txt"), ("two", "pkg/b.txt"), ("three", "pkg/a.txt")):
        actions += work(name, ["--in", path], requirements=requirements, inputs=[source(path)],
                        startup=(f"--log={log}", "--list-inputs",
                                 f"--protocol={requirements.get('requires-worker-protocol', 'proto')}"))
    build = Build(ws, tmp_path / "base", "--jobs=1")
    outcome = build.run(actions)
    assert build.failures() == [] and outcome.ok
    events = log_lines(log)
    starts = [e for e in events if e.startswith("start")]
    assert len(starts) == 1
    assert starts[0].endswith("--persistent_worker")
    assert len([e for e in events if e.startswith("request 0 ")]) == 3
    one = out_text(build, actions, 1)
    spawn_a = build.scheduler.spawns.input_of(source("pkg/a.txt"))
    assert one.startswith("args: --out kiln-out/k8-fastbuild/bin/pkg/one.out --in pkg/a.txt\npkg/a.txt: alpha\n")
    assert f"input pkg/a.txt {spawn_a.digest.hash}\n" in one
    assert f"input {WORKER_SOURCE} " in one and "input kiln-out/k8-fastbuild/bin/pkg/one.params " in one
    assert "pkg/b.txt: beta\n" in out_text(build, actions, 3)


def test_worker_result_is_the_one_shot_result(ws, tmp_path):
    """The same action run one-shot (--strategy=Work=local) and on a worker: same key, same outputs,
    and the worker's build serves the next one from the cache."""
    log = tmp_path / "worker.log"
    actions = work("same", ["--in", "pkg/a.txt"], requirements=JSON, inputs=[source("pkg/a.txt")],
                   startup=(f"--log={log}",))
    one_shot = Build(ws, tmp_path / "base1", "--strategy=Work=local")
    assert one_shot.run(actions).ok
    assert [e.split()[0] for e in log_lines(log)] == ["one-shot", "request", "done"]
    on_worker = Build(ws, tmp_path / "base2")
    assert on_worker.run(actions).ok
    assert [e.split()[0] for e in log_lines(log)][3:] == ["start", "request", "done"]
    key = lambda build: build.scheduler.spawns.spawn_of(actions[1]).key
    assert key(one_shot) == key(on_worker)
    assert out_text(one_shot, actions) == out_text(on_worker, actions)
    again = Build(ws, tmp_path / "base2")
    outcome = again.run(actions)
    assert (outcome.executed, outcome.cached) == (0, 2)


def test_multiplex_worker_answers_out_of_order(ws, tmp_path):
    """Two requests in flight on one multiplex process: the slow first is answered after the second."""
    log = tmp_path / "worker.log"
    actions = work("slow", ["--sleep", "1.0"], requirements=MULTIPLEX, startup=(f"--log={log}",))
    actions += work("fast", [], requirements=MULTIPLEX, startup=(f"--log={log}",))
    build = Build(ws, tmp_path / "base", "--jobs=2", "--worker_max_multiplex_instances=1")
    assert build.run(actions).ok
    events = log_lines(log)
    assert len([e for e in events if e.startswith("start")]) == 1
    requests = {e.split()[1]: e for e in events if e.startswith("request")}
    assert set(requests) == {"1", "2"}
    slow_id = next(i for i, e in requests.items() if "slow.out" in e)
    fast_id = next(i for i in requests if i != slow_id)
    done = [e.split()[1] for e in events if e.startswith("done")]
    assert done == [fast_id, slow_id]
    assert out_text(build, actions, 1).startswith("args: --out kiln-out/k8-fastbuild/bin/pkg/slow.out --sleep 1.0")
    assert out_text(build, actions, 3).startswith("args: --out kiln-out/k8-fastbuild/bin/pkg/fast.out\n")


def test_multiplex_requests_spread_over_processes(ws, tmp_path):
    """--worker_max_multiplex_instances=2: two busy requests get two processes."""
    log = tmp_path / "worker.log"
    actions = []
    for name in ("a", "b"):
        actions += work(name, ["--sleep", "0.5"], requirements=MULTIPLEX, startup=(f"--log={log}",))
    build = Build(ws, tmp_path / "base", "--jobs=2", "--worker_max_multiplex_instances=2")
    assert build.run(actions).ok
    assert len([e for e in log_lines(log) if e.startswith("start")]) == 2


def test_failure_cancels_requests_of_cancellable_workers(ws, tmp_path):
    """Without --keep_going, a failed action cancels what a worker still works on: the worker gets a
    cancel request for it and answers wasCancelled."""
    log = tmp_path / "worker.log"
    requirements = {**MULTIPLEX, "supports-worker-cancellation": "1"}
    actions = work("waits", ["--wait-cancel"], requirements=requirements, startup=(f"--log={log}",))
    actions += work("fails", ["--sleep", "0.5", "--exit", "1", "--output", "it broke"],
                    requirements=requirements, startup=(f"--log={log}",))
    build = Build(ws, tmp_path / "base", "--jobs=2", "--worker_max_multiplex_instances=1")
    start = time.monotonic()
    outcome = build.run(actions)
    assert not outcome.ok and time.monotonic() - start < 30
    events = log_lines(log)
    waits_id = next(e.split()[1] for e in events if e.startswith("request") and "waits.out" in e)
    assert f"cancel {waits_id}" in events and f"cancelled {waits_id}" in events
    failures = build.failures()
    assert any("Working on fails failed" in f and "it broke" in f for f in failures)
    assert any("Working on waits failed: cancelled" in f for f in failures)


def test_worker_that_dies_is_restarted_and_the_request_retried(ws, tmp_path):
    log = tmp_path / "worker.log"
    marker = tmp_path / "died-once"
    actions = work("retried", [], requirements=JSON, startup=(f"--log={log}", f"--die-first-request={marker}"))
    build = Build(ws, tmp_path / "base")
    assert build.run(actions).ok and build.failures() == []
    assert marker.exists()
    assert len([e for e in log_lines(log) if e.startswith("start")]) == 2
    assert out_text(build, actions).startswith("args: --out")


@pytest.mark.parametrize("requirements", [JSON, PROTO], ids=["json", "proto"])
def test_worker_that_dies_twice_fails_the_action_with_its_stderr(ws, tmp_path, requirements):
    actions = work("dies", ["--die"], requirements=requirements,
                   startup=(f"--protocol={requirements['requires-worker-protocol']}",))
    build = Build(ws, tmp_path / "base")
    assert not build.run(actions).ok
    [message] = build.failures()
    assert message.startswith("pkg/BUILD.bazel:7:1: Working on dies failed: worker Work-")
    assert "exited (exit code 7) with requests in flight, and again after a restart" in message
    assert "its stderr log" in message and "dies on purpose" in message


def test_worker_that_exits_at_start_shows_its_stderr(ws, tmp_path):
    actions = work("never", [], requirements=JSON, startup=("--exit-at-start",))
    build = Build(ws, tmp_path / "base")
    assert not build.run(actions).ok
    [message] = build.failures()
    assert "Working on never failed: worker Work-" in message and "exited (exit code 3)" in message
    assert "test worker: cannot start, configuration missing" in message


@pytest.mark.parametrize("protocol", ["json", "proto"])
def test_worker_writing_garbage_to_stdout_is_replaced_and_named(ws, tmp_path, protocol):
    log = tmp_path / "worker.log"
    requirements = {"supports-workers": "1", "requires-worker-protocol": protocol}
    actions = work("noisy", [], requirements=requirements,
                   startup=("--banner", f"--protocol={protocol}", f"--log={log}"))
    actions += work("next", [], requirements=requirements, startup=(f"--protocol={protocol}", f"--log={log}"))
    build = Build(ws, tmp_path / "base", "--keep_going", keep_going=True)
    assert not build.run(actions).ok
    [message] = build.failures()
    assert "Working on noisy failed: worker Work-" in message
    assert "wrote to its stdout something that is not a WorkResponse: 'Test worker ready!" in message
    assert "the worker was replaced" in message
    # The other action's worker (another key: no --banner) is unaffected.
    assert out_text(build, actions).startswith("args: --out kiln-out/k8-fastbuild/bin/pkg/next.out")


def test_unknown_worker_protocol_is_an_error_naming_action_and_value(ws, tmp_path):
    actions = work("xml", [], requirements={"supports-workers": "1", "requires-worker-protocol": "xml"})
    build = Build(ws, tmp_path / "base")
    assert not build.run(actions).ok
    assert build.failures() == [
        "pkg/BUILD.bazel:7:1: Working on xml failed: its execution requirement requires-worker-protocol='xml' "
        "names no worker protocol kiln knows (valid values: json, proto)\n"
        f"  command: {sys.executable} {WORKER_SOURCE} @kiln-out/k8-fastbuild/bin/pkg/xml.params"]


def test_wedged_worker_is_killed_at_the_action_timeout(ws, tmp_path):
    log = tmp_path / "worker.log"
    actions = work("wedged", ["--hang"], requirements=JSON, startup=(f"--log={log}",), timeout=1.0)
    build = Build(ws, tmp_path / "base")
    start = time.monotonic()
    assert not build.run(actions).ok
    assert time.monotonic() - start < 20
    [message] = build.failures()
    assert "Working on wedged failed: timed out after 1 s (worker Work-" in message and "was killed)" in message
    assert [e.split()[0] for e in log_lines(log)] == ["start", "request"]
    assert processes_running(f"--log={log}") == []


def test_strategy_local_runs_worker_actions_one_shot(ws, tmp_path):
    log = tmp_path / "worker.log"
    actions = work("plain", [], requirements=JSON, startup=(f"--log={log}",))
    build = Build(ws, tmp_path / "base", "--strategy=Work=local")
    assert build.run(actions).ok
    assert [e.split()[0] for e in log_lines(log)] == ["one-shot", "request", "done"]


def test_spawn_strategy_worker_alone_cannot_run_other_actions(ws, tmp_path):
    actions = work("plain", [], requirements={})
    build = Build(ws, tmp_path / "base", "--spawn_strategy=worker")
    assert not build.run(actions).ok
    [message] = build.failures()
    assert ("Working on plain failed: no strategy of --spawn_strategy=worker can run this action: 'worker' runs "
            "only actions that support persistent workers") in message


def test_worker_extra_flag_is_appended_to_startup_arguments(ws, tmp_path):
    log = tmp_path / "worker.log"
    actions = work("flagged", [], requirements=JSON, startup=(f"--log={log}",))
    build = Build(ws, tmp_path / "base", "--worker_extra_flag=Work=--impl=serial",
                  "--worker_extra_flag=Other=--not-mine")
    assert build.run(actions).ok
    [start] = [e for e in log_lines(log) if e.startswith("start")]
    assert start.endswith(f"--log={log} --persistent_worker --impl=serial")


def test_worker_sandboxing_shows_a_request_only_its_inputs(ws, tmp_path):
    """Without sandboxing a later request of the same worker still finds an earlier one's input; with
    --worker_sandboxing it does not."""
    first = work("first", ["--in", "pkg/a.txt"], requirements=JSON, inputs=[source("pkg/a.txt")])
    # pkg/a.txt not declared; first's output is, so that it runs after first.
    second = work("second", ["--in", "pkg/a.txt"], requirements=JSON, inputs=[first[1].outputs[0]])
    open_build = Build(ws, tmp_path / "base1", "--jobs=1")
    assert open_build.run(first + second).ok
    assert "pkg/a.txt: alpha" in out_text(open_build, second)
    sandboxed = Build(ws, tmp_path / "base2", "--jobs=1", "--worker_sandboxing", "--keep_going", keep_going=True)
    assert not sandboxed.run(first + second).ok
    [message] = sandboxed.failures()
    assert "Working on second failed" in message and "No such file or directory: './pkg/a.txt'" in message


def test_multiplex_sandboxing_gives_each_request_a_sandbox_dir(ws, tmp_path):
    requirements = {**MULTIPLEX, "supports-multiplex-sandboxing": "1"}
    actions = work("boxed", ["--in", "pkg/b.txt"], requirements=requirements, inputs=[source("pkg/b.txt")],
                   startup=("--list-inputs",))
    build = Build(ws, tmp_path / "base", "--experimental_worker_multiplex_sandboxing")
    assert build.run(actions).ok
    text = out_text(build, actions)
    assert "pkg/b.txt: beta\n" in text
    assert "sandbox: __sandbox/" in text
    unboxed = Build(ws, tmp_path / "base2")
    assert unboxed.run(actions).ok
    assert "sandbox: \n" in out_text(unboxed, actions)


GO_WORKER = r'''
package main

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
)

type input struct {
	Path   string `json:"path"`
	Digest []byte `json:"digest"`
}

type request struct {
	Arguments []string `json:"arguments"`
	Inputs    []input  `json:"inputs"`
	RequestID int      `json:"requestId"`
}

type response struct {
	ExitCode  int    `json:"exitCode"`
	Output    string `json:"output"`
	RequestID int    `json:"requestId"`
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<26)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		var req request
		if err := json.Unmarshal(in.Bytes(), &req); err != nil {
			os.Stderr.WriteString(err.Error())
			os.Exit(2)
		}
		text := "go worker: " + strings.Join(req.Arguments, " ") + "\n"
		for _, i := range req.Inputs {
			text += i.Path + " " + string(i.Digest) + "\n"
		}
		code := 0
		if err := os.WriteFile(req.Arguments[1], []byte(text), 0o644); err != nil {
			code = 1
		}
		out.Encode(response{ExitCode: code, Output: "", RequestID: req.RequestID})
	}
}
'''


def test_a_worker_written_in_go_speaks_json(ws, tmp_path):
    go = shutil.which("go") or ("/usr/local/go/bin/go" if os.path.exists("/usr/local/go/bin/go") else None)
    if go is None:
        unavailable("Go is not installed here")
    src = tmp_path / "goworker"
    src.mkdir()
    (src / "main.go").write_text(GO_WORKER)
    (src / "go.mod").write_text("module example.com/goworker\n\ngo 1.21\n")
    env = {**os.environ, "GOCACHE": str(tmp_path / "gocache"), "GOPATH": str(tmp_path / "gopath"),
           "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local"}
    subprocess.run([go, "build", "-o", str(src / "worker"), "."], cwd=src, env=env, check=True, timeout=300)
    actions = []
    for name in ("g1", "g2"):
        actions += work(name, [], requirements=JSON, argv0=(str(src / "worker"),), inputs=[source("pkg/a.txt")])
    build = Build(ws, tmp_path / "base", "--jobs=1")
    assert build.run(actions).ok and build.failures() == []
    text = out_text(build, actions, 1)
    spawn_a = build.scheduler.spawns.input_of(source("pkg/a.txt"))
    assert text.startswith("go worker: --out kiln-out/k8-fastbuild/bin/pkg/g1.out\n")
    assert f"pkg/a.txt {spawn_a.digest.hash}\n" in text
    assert out_text(build, actions, 3).startswith("go worker: --out kiln-out/k8-fastbuild/bin/pkg/g2.out\n")


def test_singleplex_processes_are_bounded_by_worker_max_instances(ws, tmp_path):
    log = tmp_path / "worker.log"
    actions = []
    for name in ("a", "b", "c"):
        actions += work(name, ["--sleep", "0.3"], requirements=JSON, startup=(f"--log={log}",))
    build = Build(ws, tmp_path / "base", "--jobs=3", "--worker_max_instances=1")
    assert build.run(actions).ok
    assert len([e for e in log_lines(log) if e.startswith("start")]) == 1
    log.unlink()
    build = Build(ws, tmp_path / "base2", "--jobs=3", "--worker_max_instances=5", "--worker_max_instances=Work=2")
    assert build.run(actions).ok
    assert len([e for e in log_lines(log) if e.startswith("start")]) == 2


def test_interrupt_cancels_requests_before_workers_are_killed(ws, tmp_path):
    """What the main thread does on Ctrl-C (processes.kill_all): cancellable requests get a cancel
    request, and their answer, before the worker is killed."""
    log = tmp_path / "worker.log"
    requirements = {**MULTIPLEX, "supports-worker-cancellation": "1"}
    actions = work("waits", ["--wait-cancel"], requirements=requirements, startup=(f"--log={log}",))
    build = Build(ws, tmp_path / "base")
    outcome = []
    thread = threading.Thread(target=lambda: outcome.append(build.run(actions)))
    thread.start()
    deadline = time.monotonic() + 30
    while not any(e.startswith("request") for e in log_lines(log)) and time.monotonic() < deadline:
        time.sleep(0.05)
    processes.kill_all()
    thread.join(30)
    assert not thread.is_alive() and not outcome[0].ok
    events = log_lines(log)
    assert events[-3:] == ["request 1 --out kiln-out/k8-fastbuild/bin/pkg/waits.out --wait-cancel", "cancel 1",
                           "cancelled 1"]


@pytest.mark.parametrize("flag, message", [
    ("--worker_max_instances=0", "While parsing option --worker_max_instances=0: '0' must be at least 1"),
    ("--worker_max_multiplex_instances=PyCompile=x",
     "While parsing option --worker_max_multiplex_instances=PyCompile=x: 'x' is not an int"),
    ("--worker_extra_flag=--worker_impl=serial",
     "While parsing option --worker_extra_flag=--worker_impl=serial: expected MNEMONIC=FLAG"),
])
def test_bad_worker_options_are_command_line_errors(flag, message):
    from kiln.core.errors import KilnError

    with pytest.raises(KilnError) as e:
        parse_args(["build", flag], None)
    assert message in e.value.render()
    assert int(e.value.exit_code) == 2


def test_worker_runs_a_tool_from_a_directory_input(ws, tmp_path):
    """A worker whose program is inside a directory input (as an interpreter is inside a runtime): the
    directory is staged with its tools, and is not listed file by file in the requests."""
    log = tmp_path / "worker.log"
    tools = Artifact("", "tools", LABEL, is_directory=True)
    actions = work("from_tree", ["--in", "pkg/a.txt"], requirements=JSON, inputs=[tools, source("pkg/a.txt")],
                   argv0=(sys.executable, WORKER_SOURCE), startup=(f"--log={log}", "--list-inputs"))
    build = Build(ws, tmp_path / "base")
    assert build.run(actions).ok and build.failures() == []
    text = out_text(build, actions)
    assert "pkg/a.txt: alpha\n" in text
    assert f"input {WORKER_SOURCE} " not in text and "input pkg/a.txt " in text
    assert len([e for e in log_lines(log) if e.startswith("start")]) == 1
