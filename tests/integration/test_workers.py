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
import time
from pathlib import Path

import pytest
from conftest import unavailable

from kiln.cli.executors import executor_stack
from kiln.cli.options import parse_args
from kiln.core.actions import Action, ActionKind
from kiln.core.artifacts import Artifact, SourceTree
from kiln.core.depset import Depset
from kiln.core.errors import Location
from kiln.core.labels import Label
from kiln.execution.action_keys import ActionKeys
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
