"""`python -m kiln.tools.test_wrapper ...`: runs one test inside its action, as Bazel's test-setup does.

A test is an action like any other (kiln.cli.test_actions): its inputs are
the test executable and its runfiles tree, its outputs the test log, the
JUnit XML and the zip of undeclared outputs. Everything machine-specific
— where the exec root is, the test's private temporary directory — is found
here at run time, so the action's key holds relative paths only and means
the same on any machine.

The wrapper sets the test environment (TEST_SRCDIR, RUNFILES_DIR, TEST_TMPDIR,
HOME, XML_OUTPUT_FILE, TEST_UNDECLARED_OUTPUTS_DIR, TEST_PREMATURE_EXIT_FILE;
the rest comes from the action's environment), runs the test from
`<runfiles>/_main` with its output going to the log, kills it at the timeout,
writes an XML report if the test wrote none, and zips the undeclared outputs.
Its exit status says how the test ended: 0 passed, EXIT_FAILED failed,
EXIT_TIMEOUT timed out; the test's own status is in the log.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

EXIT_FAILED = 1
EXIT_TIMEOUT = 124
_CHUNK = 65536
# How much of the log's end goes into a generated XML report.
_XML_TAIL = 10000


_OPTIONS = ("runfiles", "executable", "log", "xml", "outputs_zip", "label", "timeout")


class _Options:
    """The wrapper's command line, as kiln.cli.test_actions writes it: `--name=value` for each of
    _OPTIONS, optionally `--tee`, then `--` and the test's own arguments. (Parsed by hand: argparse
    costs every test ~8 ms of imports.)"""

    def __init__(self, argv: list[str]):
        given: dict[str, str] = {}
        self.tee = False
        rest = list(argv)
        while rest and rest[0] != "--":
            word = rest.pop(0)
            if word == "--tee":
                self.tee = True
                continue
            name, sep, value = word[2:].partition("=")
            if not word.startswith("--") or not sep or name not in _OPTIONS:
                raise SystemExit(f"kiln.tools.test_wrapper: unexpected argument {word!r}")
            given[name] = value
        missing = [n for n in _OPTIONS if n not in given]
        if missing:
            raise SystemExit(f"kiln.tools.test_wrapper: missing --{', --'.join(missing)}")
        self.runfiles, self.executable, self.log = given["runfiles"], given["executable"], given["log"]
        self.xml, self.outputs_zip, self.label = given["xml"], given["outputs_zip"], given["label"]
        self.timeout = int(given["timeout"])
        self.args = rest[1:]


def main(argv: list[str]) -> int:
    opts = _Options(argv)
    runfiles = os.path.abspath(opts.runfiles)
    # The sandbox's own TMPDIR: private to this action.
    scratch = os.path.join(os.environ.get("TMPDIR") or "/tmp", f"test.{os.getpid()}")
    os.makedirs(scratch)
    test_tmp, undeclared = os.path.join(scratch, "tmp"), os.path.join(scratch, "outputs")
    os.mkdir(test_tmp)
    os.mkdir(undeclared)
    xml = os.path.abspath(opts.xml)
    env = dict(os.environ)
    env.update({
        "TEST_SRCDIR": runfiles,
        "RUNFILES_DIR": runfiles,
        "TEST_TMPDIR": test_tmp,
        "TMPDIR": test_tmp,
        "HOME": test_tmp,
        "XML_OUTPUT_FILE": xml,
        "TEST_UNDECLARED_OUTPUTS_DIR": undeclared,
        "TEST_PREMATURE_EXIT_FILE": os.path.join(test_tmp, "premature_exit"),
    })
    for path in (opts.log, xml, opts.outputs_zip):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)

    with open(opts.log, "wb") as log:
        header = f"exec ${{PAGER:-/usr/bin/less}} \"$0\" || exit 1\nExecuting tests from {opts.label}\n"
        log.write((header + "-" * 80 + "\n").encode())
        log.flush()
        start = time.monotonic()
        status, note = _run([os.path.join(runfiles, opts.executable), *opts.args], os.path.join(runfiles, "_main"),
                            env, log, opts.timeout, opts.tee)
        seconds = time.monotonic() - start
        if note:
            log.write(note.encode())
    if not (os.path.isfile(xml) and os.path.getsize(xml) > 0):
        with open(xml, "w") as f:
            f.write(_junit_xml(opts.label, status, seconds, _tail(opts.log)))
    _zip(undeclared, opts.outputs_zip)
    return {"PASSED": 0, "FAILED": EXIT_FAILED, "TIMEOUT": EXIT_TIMEOUT}[status]


def _run(argv: list[str], cwd: str, env: dict[str, str], log, timeout: int, tee: bool) -> tuple[str, str]:
    """Runs the test to its end or its timeout; its status and a line to add to the log."""
    try:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE if tee else log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    except OSError as e:
        return "FAILED", f"cannot start test: {e.strerror}: {argv[0]}\n"
    copier = None
    if tee:
        import threading

        copier = threading.Thread(target=_copy, args=(proc.stdout, log), daemon=True)
        copier.start()
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        code = None
    finally:
        # Whatever the test left running goes with it.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait()
        if copier is not None:
            copier.join()
    if code is None:
        return "TIMEOUT", f"\n-- Test timed out after {timeout} seconds --\n"
    return ("PASSED" if code == 0 else "FAILED"), ""


def _copy(pipe, log) -> None:
    out = sys.stdout.buffer
    for chunk in iter(lambda: pipe.read1(_CHUNK), b""):
        log.write(chunk)
        log.flush()
        out.write(chunk)
        out.flush()


# A zip archive with no entries: just its end-of-central-directory record.
_EMPTY_ZIP = b"PK\x05\x06" + bytes(18)


def _zip(directory: str, dest: str) -> None:
    """The undeclared outputs as one zip (Bazel's test.outputs/outputs.zip), paths relative to the directory."""
    with os.scandir(directory) as entries:
        empty = not any(entries)
    if empty:
        with open(dest, "wb") as f:
            f.write(_EMPTY_ZIP)
        return
    import zipfile  # only when there is something to zip: ~3 ms of imports

    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as z:
        for root, dirs, files in os.walk(directory):
            dirs.sort()
            for name in sorted(files):
                path = os.path.join(root, name)
                z.write(path, os.path.relpath(path, directory))


def _tail(path: str) -> str:
    with open(path, "rb") as f:
        f.seek(max(0, os.path.getsize(path) - _XML_TAIL))
        return f.read().decode("utf-8", "replace")


def _escape(text: str) -> str:
    """XML character data. (xml.sax.saxutils does this too, but importing it loads urllib and http:
    25 ms of every test's start.)"""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attribute(text: str) -> str:
    return '"' + _escape(text).replace('"', "&quot;").replace("\n", "&#10;").replace("\t", "&#9;") + '"'


def _junit_xml(label: str, status: str, seconds: float, output: str) -> str:
    failures = 0 if status == "PASSED" else 1
    body = f'<failure message={_attribute(status)} type="">{_escape(output)}</failure>' if failures else ""
    name = _attribute(label)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<testsuites>\n  <testsuite name={name} tests=\"1\" failures=\"{failures}\" errors=\"0\" "
        f"time=\"{seconds:.3f}\">\n"
        f"    <testcase name={name} status=\"run\" duration=\"{seconds:.3f}\" time=\"{seconds:.3f}\">{body}"
        "</testcase>\n"
        f"    <system-out>{_escape(output)}</system-out>\n"
        "  </testsuite>\n</testsuites>\n"
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
