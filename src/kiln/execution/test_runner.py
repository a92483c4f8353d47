"""Runs tests in their runfiles trees, with Bazel's test environment, logs and XML.

A test's result is cached under a key made of everything it can see (its
runfiles' contents, arguments, environment, timeout, filter); a passing
result is reused as `(cached) PASSED`, a failing one is always run again.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from kiln.core.artifacts import Artifact
from kiln.core.digests import digest_fields
from kiln.core.runfiles import Runfiles
from kiln.execution import processes
from kiln.execution.output_base import atomic_write

TIMEOUTS = {"short": 60, "moderate": 300, "long": 900, "eternal": 3600}
SIZE_TIMEOUTS = {"small": 60, "medium": 300, "large": 900, "enormous": 3600}


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


@dataclass(frozen=True)
class TestResult:
    status: str
    cached: bool
    seconds: float
    log_path: str
    output: str


class TestRunner:
    def __init__(self, *, execroot: Path, testlogs: Path, cache_dir: Path, tmp: Path, digest_of, test_filter: str | None,
                 use_cache: bool, base_env: dict[str, str], stream=None):
        self.execroot = execroot
        self.testlogs = testlogs
        self.cache_dir = cache_dir
        self.tmp = tmp
        self.digest_of = digest_of  # Artifact -> Digest of its current content
        self.test_filter = test_filter
        self.use_cache = use_cache
        self.base_env = base_env
        # Where --test_output=streamed copies output while tests run (they then run one at a time).
        self.stream = stream

    def _tee(self, proc: subprocess.Popen, log) -> threading.Thread:
        """--test_output=streamed: the test's output goes to the log and to the terminal as it comes."""

        def copy() -> None:
            for line in iter(proc.stdout.readline, b""):
                log.write(line)
                self.stream.write(line.decode("utf-8", "replace"))
                self.stream.flush()

        thread = threading.Thread(target=copy, daemon=True)
        thread.start()
        return thread

    def key(self, spec: TestSpec) -> str:
        contents = []
        for rpath, art in sorted(spec.runfiles.entries().items()):
            contents.append((rpath, self.digest_of(art).hash if art is not None else ""))
        return digest_fields("kiln-test-v1", spec.label, spec.args, spec.env, spec.timeout,
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
                    return TestResult("PASSED", True, entry["seconds"], str(log_path), log_path.read_text(errors="replace"))
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
        work = log_dir / "_tmp"
        tmpdir = work / "tmp"
        undeclared = log_dir / "test.outputs"
        for d in (tmpdir, undeclared):
            d.mkdir(parents=True)
        runfiles = self.execroot / (spec.executable.exec_path + ".runfiles")
        xml_path = log_dir / "test.xml"
        env = dict(self.base_env)
        env.update({
            "TEST_SRCDIR": str(runfiles),
            "RUNFILES_DIR": str(runfiles),
            "TEST_WORKSPACE": "_main",
            "TEST_TMPDIR": str(tmpdir),
            "TMPDIR": str(tmpdir),
            "HOME": str(tmpdir),
            "XML_OUTPUT_FILE": str(xml_path),
            "TEST_TARGET": spec.label,
            "TEST_BINARY": spec.executable.short_path,
            "TEST_SIZE": spec.size,
            "TEST_TIMEOUT": str(spec.timeout),
            "TEST_UNDECLARED_OUTPUTS_DIR": str(undeclared),
            "TEST_PREMATURE_EXIT_FILE": str(work / "premature_exit"),
            "PYTHONDONTWRITEBYTECODE": "1",
        })
        if self.test_filter:
            env["TESTBRIDGE_TEST_ONLY"] = self.test_filter
        env.update(dict(spec.env))
        argv = [str(runfiles / spec.executable.runfiles_path), *spec.args]
        start = time.monotonic()
        status = "PASSED"
        with open(log_dir / "test.log", "wb") as log:
            header = f"exec ${{PAGER:-/usr/bin/less}} \"$0\" || exit 1\nExecuting tests from {spec.label}\n" + "-" * 80 + "\n"
            log.write(header.encode())
            log.flush()
            try:
                proc = subprocess.Popen(argv, cwd=runfiles / "_main", env=env, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE if self.stream else log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
            except OSError as e:
                log.write(f"cannot start test: {e.strerror}\n".encode())
                status = "FAILED"
                proc = None
            if proc is not None:
                processes.register(proc)
                copier = self._tee(proc, log) if self.stream else None
                try:
                    code = proc.wait(timeout=spec.timeout)
                    if copier is not None:
                        copier.join()
                    status = "PASSED" if code == 0 else "FAILED"
                except subprocess.TimeoutExpired:
                    _kill_group(proc)
                    status = "TIMEOUT"
                    log.write(f"\n-- Test timed out after {spec.timeout} seconds --\n".encode())
                finally:
                    processes.unregister(proc)
                    if copier is not None:
                        copier.join(timeout=5)
        seconds = time.monotonic() - start
        shutil.rmtree(work, ignore_errors=True)
        output = (log_dir / "test.log").read_text(errors="replace")
        if not xml_path.exists() or xml_path.stat().st_size == 0:
            xml_path.write_text(_junit_xml(spec.label, status, seconds, output))
        return TestResult(status, False, seconds, str(log_dir / "test.log"), output)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=5)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


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
