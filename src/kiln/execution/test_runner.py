"""Runs tests in their runfiles trees, with Bazel's test environment, logs and XML.

A test runs like an action: in its own exec root holding its runfiles, under
the build's sandbox, with only its TEST_TMPDIR, TEST_UNDECLARED_OUTPUTS_DIR
and XML_OUTPUT_FILE directory writable. Its output goes straight to
test.log; the terminal gets at most --experimental_ui_max_stdouterr_bytes of
it. A result is cached under a key made of everything the test can see (its
runfiles' contents, arguments, environment, timeout, filter); a passing result
is reused as `(cached) PASSED`, a failing one is always run again.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from xml.sax.saxutils import escape, quoteattr

from kiln.core.artifacts import Artifact
from kiln.core.digests import digest_fields
from kiln.core.errors import KilnError
from kiln.core.runfiles import Runfiles
from kiln.execution.local_executor import Finished, LocalExecutor, ProcessRun
from kiln.execution.output_base import atomic_write
from kiln.execution.sandbox import Sandbox
from kiln.execution.spawn import SpawnInput

TIMEOUTS = {"short": 60, "moderate": 300, "long": 900, "eternal": 3600}
SIZE_TIMEOUTS = {"small": 60, "medium": 300, "large": 900, "enormous": 3600}
# Writable directories of a test, made in its sandbox directory: TEST_TMPDIR, undeclared outputs, XML.
_SCRATCH = ("test_tmp", "test_outputs")


@dataclass(frozen=True)
class TestSpec:
    label: str
    package: str
    name: str
    executable: Artifact
    runfiles: Runfiles
    size: str
    timeout: int
    args: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    requirements: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class TestResult:
    status: str
    cached: bool
    seconds: float
    log_path: str
    output: str


class TestRunner:
    def __init__(self, *, executor: LocalExecutor, sandbox_base: Path, testlogs: Path, cache_dir: Path, tmp: Path,
                 input_of: Callable[[Artifact], SpawnInput], test_filter: str | None, use_cache: bool,
                 base_env: dict[str, str], repo_mapping: str, max_shown: int, keep_sandboxes: bool = False,
                 stream=None, mode=None):
        self.executor = executor
        # The strategy's mode for tests (--strategy=TestRunner=...).
        self.mode = mode
        self.sandbox_base = sandbox_base
        self.testlogs = testlogs
        self.cache_dir = cache_dir
        self.tmp = tmp
        self.input_of = input_of  # Artifact -> SpawnInput (its digest and where its content is)
        self.test_filter = test_filter
        self.use_cache = use_cache
        self.base_env = base_env
        self.repo_mapping = repo_mapping
        self.max_shown = max_shown
        self.keep_sandboxes = keep_sandboxes
        # Where --test_output=streamed copies output while tests run (they then run one at a time).
        self.stream = stream

    def key(self, spec: TestSpec) -> str:
        contents = []
        for rpath, art in sorted(spec.runfiles.entries().items()):
            contents.append((rpath, self.input_of(art).digest.hash if art is not None else ""))
        return digest_fields("kiln-test-v2", spec.label, spec.args, spec.env, spec.timeout, spec.requirements,
                             self.test_filter or "", tuple(contents), tuple(sorted(self.base_env.items())))

    def run(self, spec: TestSpec) -> TestResult:
        log_dir = self.testlogs / spec.package / spec.name
        log_path = log_dir / "test.log"
        key = self.key(spec)
        cache_entry = self.cache_dir / key[:2] / key
        if self.use_cache:
            try:
                entry = json.loads(cache_entry.read_text())
                if entry["status"] == "PASSED" and log_path.exists():
                    return TestResult("PASSED", True, entry["seconds"], str(log_path), self.shown(log_path))
            except (FileNotFoundError, ValueError, KeyError):
                pass
        result = self._execute(spec, log_dir)
        if result.status == "PASSED":
            atomic_write(cache_entry, json.dumps({"status": "PASSED", "seconds": result.seconds}).encode(), self.tmp)
        else:
            try:
                os.unlink(cache_entry)
            except FileNotFoundError:
                pass
        return result

    def _execute(self, spec: TestSpec, log_dir: Path) -> TestResult:
        if log_dir.exists():
            shutil.rmtree(log_dir)
        log_dir.mkdir(parents=True)
        tree = spec.executable.exec_path + ".runfiles"
        box = Sandbox(self.sandbox_base)
        try:
            view = self.executor.view(spec.requirements, box, self.mode)
        except KilnError as e:
            (log_dir / "test.log").write_text(f"cannot run the test: {e.message}\n")
            return TestResult("FAILED", False, 0.0, str(log_dir / "test.log"), self.shown(log_dir / "test.log"))
        runfiles = view.execroot / tree
        # XML_OUTPUT_FILE ends in <package>/<name>/test.xml, as under Bazel's testlogs.
        xml_rel = "/".join(p for p in ("test_xml", spec.package, spec.name) if p)
        scratch = (_SCRATCH[0], _SCRATCH[1], xml_rel)
        tmpdir, undeclared, xml_dir = (view.scratch_dir(d) for d in scratch)
        xml_path = os.path.join(xml_dir, "test.xml")
        env = dict(self.base_env)
        env.update({
            "TEST_SRCDIR": str(runfiles),
            "RUNFILES_DIR": str(runfiles),
            "TEST_WORKSPACE": "_main",
            "TEST_TMPDIR": tmpdir,
            "TMPDIR": tmpdir,
            "HOME": tmpdir,
            "XML_OUTPUT_FILE": xml_path,
            "TEST_TARGET": spec.label,
            "TEST_BINARY": spec.executable.short_path,
            "TEST_SIZE": spec.size,
            "TEST_TIMEOUT": str(spec.timeout),
            "TEST_UNDECLARED_OUTPUTS_DIR": undeclared,
            "TEST_PREMATURE_EXIT_FILE": os.path.join(tmpdir, "premature_exit"),
            "PYTHONDONTWRITEBYTECODE": "1",
        })
        if self.test_filter:
            env["TESTBRIDGE_TEST_ONLY"] = self.test_filter
        env.update(dict(spec.env))
        entries = sorted(spec.runfiles.entries().items())
        inputs = {spec.executable.exec_path: self.input_of(spec.executable)}
        for _, art in entries:
            if art is not None and art.exec_path not in inputs:
                inputs[art.exec_path] = self.input_of(art)
        run = ProcessRun(
            argv=(str(runfiles / spec.executable.runfiles_path), *spec.args),
            env=env,
            inputs=tuple(inputs.values()),
            runfiles_trees=((tree, tuple((rpath, art.exec_path if art else None) for rpath, art in entries)),),
            output_paths=(),
            requirements=spec.requirements,
            mode=self.mode,
            cwd=f"{tree}/_main",
            scratch_dirs=scratch,
            timeout=spec.timeout,
            files=((f"{tree}/_repo_mapping", self.repo_mapping.encode()),
                   (f"{tree}/MANIFEST", _manifest(entries, runfiles))),
        )
        status = "PASSED"
        seconds = 0.0
        log_path = log_dir / "test.log"
        try:
            with open(log_path, "wb") as log:
                header = f"exec ${{PAGER:-/usr/bin/less}} \"$0\" || exit 1\nExecuting tests from {spec.label}\n"
                log.write((header + "-" * 80 + "\n").encode())
                log.flush()
                done = self._run(run, box, log)
                seconds = done.seconds
                if done.error:
                    log.write(f"cannot start test: {done.error}\n".encode())
                    status = "FAILED"
                elif done.exit_code is None:
                    status = "TIMEOUT"
                    log.write(f"\n-- Test timed out after {spec.timeout} seconds --\n".encode())
                elif done.exit_code != 0:
                    status = "FAILED"
            # What the test wrote, found on the host side of its sandbox directory.
            xml_file, outputs = box.dir / xml_rel / "test.xml", box.dir / _SCRATCH[1]
            if xml_file.is_file() and xml_file.stat().st_size > 0:
                shutil.move(xml_file, log_dir / "test.xml")
            if outputs.is_dir() and any(outputs.iterdir()):
                shutil.move(outputs, log_dir / "test.outputs")
        finally:
            if not self.keep_sandboxes:
                box.destroy()
        if not (log_dir / "test.xml").exists():
            (log_dir / "test.xml").write_text(_junit_xml(spec.label, status, seconds, _tail(log_path, 10000)))
        return TestResult(status, False, seconds, str(log_path), self.shown(log_path))

    def _run(self, run: ProcessRun, box: Sandbox, log) -> Finished:
        if not self.stream:
            return self.executor.run(run, box, log, log)
        # --test_output=streamed: the output goes to the log and to the terminal as it comes.
        read_fd, write_fd = os.pipe()

        def copy() -> None:
            with os.fdopen(read_fd, "rb") as pipe:
                for chunk in iter(lambda: pipe.read1(65536), b""):
                    log.write(chunk)
                    self.stream.write(chunk.decode("utf-8", "replace"))
                    self.stream.flush()

        copier = threading.Thread(target=copy, daemon=True)
        copier.start()
        try:
            with os.fdopen(write_fd, "wb") as pipe:
                return self.executor.run(run, box, pipe, pipe)
        finally:
            copier.join()

    def shown(self, log_path: Path) -> str:
        """What the terminal shows of a test log: at most --experimental_ui_max_stdouterr_bytes of it."""
        size = os.path.getsize(log_path)
        with open(log_path, "rb") as f:
            data = f.read(size if self.max_shown < 0 else min(size, self.max_shown))
        text = data.decode("utf-8", "replace")
        if len(data) < size:
            text = (text.rstrip("\n") + f"\n... (output truncated: {len(data)} of {size} bytes shown; "
                    f"the whole log is {log_path})")
        return text


def _manifest(entries, runfiles: Path) -> bytes:
    """MANIFEST of the staged tree: its entries at their paths inside the test's exec root."""
    lines = [f"{rpath} {runfiles / rpath}" if art is not None else f"{rpath} " for rpath, art in entries]
    lines.append(f"_repo_mapping {runfiles / '_repo_mapping'}")
    return ("\n".join(lines) + "\n").encode()


def _tail(path: Path, limit: int) -> str:
    with open(path, "rb") as f:
        f.seek(max(0, os.path.getsize(path) - limit))
        return f.read().decode("utf-8", "replace")


def _junit_xml(label: str, status: str, seconds: float, output: str) -> str:
    failures = 0 if status == "PASSED" else 1
    body = ""
    if failures:
        body = f'<failure message={quoteattr(status)} type="">{escape(output[-10000:])}</failure>'
    name = quoteattr(label)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<testsuites>\n  <testsuite name={name} tests=\"1\" failures=\"{failures}\" errors=\"0\" time=\"{seconds:.3f}\">\n"
        f"    <testcase name={name} status=\"run\" duration=\"{seconds:.3f}\" time=\"{seconds:.3f}\">{body}</testcase>\n"
        f"    <system-out>{escape(output[-10000:])}</system-out>\n"
        "  </testsuite>\n</testsuites>\n"
    )
