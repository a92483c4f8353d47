"""Tests as actions: results cached by the disk cache across `kiln clean`, --runs_per_test,
--flaky_test_attempts, --test_env in the key, streamed output, and bad flag values."""

from __future__ import annotations

import re
import zipfile

from conftest import Workspace


def _status(output: str) -> dict[str, str]:
    return {m[1]: m[2] for m in re.finditer(r"^(//\S+)\s+(\S.*?)(?: in [\d.]+s)?$", output, re.M)}


def _setup(ws: Workspace) -> None:
    ws.write("c/BUILD.bazel", """
        load("@rules_python//python:defs.bzl", "py_test")
        py_test(name = "t", srcs = ["t.py"], data = ["input.txt"], size = "small")
        py_test(name = "env", srcs = ["env.py"], size = "small")
    """)
    ws.write("c/t.py", "print(open('c/input.txt').read())\n")
    ws.write("c/input.txt", "one\n")
    ws.write("c/env.py", "import os\nprint('GREETING=' + os.environ.get('GREETING', '-'))\n")


def test_result_comes_from_the_disk_cache_after_clean(ws, tmp_path):
    _setup(ws)
    disk = f"--disk_cache={tmp_path / 'disk'}"
    r = ws.kiln("test", "//c:t", disk)
    assert r.code == 0, r.output
    assert _status(r.output)["//c:t"] == "PASSED"
    assert ws.kiln("clean").code == 0
    r = ws.kiln("test", "//c:t", disk)
    assert r.code == 0, r.output
    assert _status(r.output)["//c:t"] == "(cached) PASSED"
    assert "Executed 0 out of 1 test: 1 test passes." in r.output
    # The log and report are the cached outputs, placed again.
    assert "one" in (ws.root / "kiln-testlogs/c/t/test.log").read_text()
    assert (ws.root / "kiln-testlogs/c/t/test.xml").read_text().startswith("<?xml")
    with zipfile.ZipFile(ws.root / "kiln-testlogs/c/t/test.outputs/outputs.zip") as z:
        assert z.namelist() == []


def test_test_env_value_is_part_of_the_key(ws):
    _setup(ws)
    r = ws.kiln("test", "//c:env", "--test_env=GREETING=hello")
    assert _status(r.output)["//c:env"] == "PASSED"
    assert "GREETING=hello" in (ws.root / "kiln-testlogs/c/env/test.log").read_text()
    r = ws.kiln("test", "//c:env", "--test_env=GREETING=hello")
    assert _status(r.output)["//c:env"] == "(cached) PASSED"
    r = ws.kiln("test", "//c:env", "--test_env=GREETING=bye")
    assert _status(r.output)["//c:env"] == "PASSED"
    assert "GREETING=bye" in (ws.root / "kiln-testlogs/c/env/test.log").read_text()


def test_runs_per_test_runs_each_test_n_times_with_a_log_each(ws):
    _setup(ws)
    r = ws.kiln("test", "//c:t", "--runs_per_test=3")
    assert r.code == 0, r.output
    assert _status(r.output)["//c:t"] == "PASSED"
    for k in (1, 2, 3):
        assert "one" in (ws.root / f"kiln-testlogs/c/t/run_{k}_of_3/test.log").read_text()
    # More than one run is never served from the cache (Bazel's --cache_test_results=auto).
    r = ws.kiln("test", "//c:t", "--runs_per_test=3")
    assert _status(r.output)["//c:t"] == "PASSED"
    assert "Executed 1 out of 1 test" in r.output


def test_runs_per_test_counts_failing_runs(ws, tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    # Fails on every second run: the runs share a directory outside their sandboxes.
    ws.write("f/BUILD.bazel", 'py_test(name = "alt", srcs = ["alt.py"], size = "small")\n')
    ws.write("f/alt.py", """
        import os, sys
        d = os.environ["STATE"]
        n = len(os.listdir(d))
        open(os.path.join(d, str(n)), "w").close()
        sys.exit(n % 2)
    """)
    r = ws.kiln("test", "//f:alt", "--runs_per_test=2", "--jobs=1", f"--test_env=STATE={state}",
                f"--sandbox_writable_path={state}")
    assert r.code == 3, r.output
    assert _status(r.output)["//f:alt"] == "FAILED in 1 out of 2"


def test_flaky_test_passes_on_a_later_attempt_and_keeps_the_failed_log(ws, tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    ws.write("f/BUILD.bazel", 'py_test(name = "flaky", srcs = ["flaky.py"], size = "small")\n')
    ws.write("f/flaky.py", """
        import os, sys
        marker = os.path.join(os.environ["STATE"], "tried")
        if not os.path.exists(marker):
            open(marker, "w").close()
            print("first attempt fails")
            sys.exit(1)
        print("second attempt passes")
    """)
    args = ("test", "//f:flaky", f"--test_env=STATE={state}", f"--sandbox_writable_path={state}")
    r = ws.kiln(*args)
    assert r.code == 3, r.output  # one attempt by default
    assert _status(r.output)["//f:flaky"] == "FAILED"
    (state / "tried").unlink()
    r = ws.kiln(*args, "--flaky_test_attempts=2")
    assert r.code == 0, r.output
    assert _status(r.output)["//f:flaky"] == "FLAKY, failed in 1 out of 2"
    logs = ws.root / "kiln-testlogs/f/flaky"
    assert "first attempt fails" in (logs / "test_attempts/attempt_1.log").read_text()
    assert "second attempt passes" in (logs / "test.log").read_text()


def test_flaky_attribute_gives_three_attempts_by_default(ws, tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    ws.write("f/BUILD.bazel", 'py_test(name = "third", srcs = ["third.py"], size = "small", flaky = True)\n')
    ws.write("f/third.py", """
        import os, sys
        d = os.environ["STATE"]
        n = len(os.listdir(d))
        open(os.path.join(d, str(n)), "w").close()
        sys.exit(0 if n == 2 else 1)
    """)
    r = ws.kiln("test", "//f:third", f"--test_env=STATE={state}", f"--sandbox_writable_path={state}")
    assert r.code == 0, r.output
    assert _status(r.output)["//f:third"] == "FLAKY, failed in 2 out of 3"


def test_bad_runs_per_test_value(ws):
    _setup(ws)
    r = ws.kiln("test", "//c:t", "--runs_per_test=often")
    assert r.code == 2, r.output
    assert "--runs_per_test=often: expected N, default or REGEX@N" in r.stderr
    assert "Traceback" not in r.output
    r = ws.kiln("test", "//c:t", "--flaky_test_attempts=0")
    assert r.code == 2, r.output
    assert "--flaky_test_attempts=0: the count must be at least 1" in r.stderr


def test_generated_report_escapes_the_log_and_names_the_failure(ws):
    """The wrapper's JUnit report holds the log's end as XML text: markup characters escaped, control
    characters and broken UTF-8 dropped, so that any JUnit reader parses it."""
    import xml.etree.ElementTree as ET

    ws.write("x/BUILD.bazel", """
        load("@rules_python//python:defs.bzl", "py_test")
        py_test(name = "noisy", srcs = ["noisy.py"], size = "small")
    """)
    ws.write("x/noisy.py", """
        import sys
        sys.stdout.buffer.write(b'a < b && c > "d"\\x01 caf\\xc3\\xa9 \\xff end\\n')
        sys.exit(3)
    """)
    r = ws.kiln("test", "//x:noisy")
    assert r.code == 3, r.output
    assert _status(r.output)["//x:noisy"] == "FAILED"
    root = ET.parse(ws.root / "kiln-testlogs/x/noisy/test.xml").getroot()
    case = root.find("testsuite/testcase")
    assert case.get("name") == "//x:noisy"
    assert case.find("failure").get("message") == "FAILED"
    assert 'a < b && c > "d" café  end' in root.find("testsuite/system-out").text
    assert root.find("testsuite").get("failures") == "1"
