"""`kiln test`: statuses, exit codes, logs, the test environment, caching of results,
timeouts, --test_output, --test_filter, parallelism, test_suite and `manual`."""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET

import pytest

from conftest import Workspace

ENV_TEST = """
import json, os, sys

names = ["TEST_SRCDIR", "TEST_WORKSPACE", "TEST_TMPDIR", "XML_OUTPUT_FILE", "TEST_TARGET", "TEST_SIZE",
         "TEST_TIMEOUT", "RUNFILES_DIR", "HOME", "TEST_UNDECLARED_OUTPUTS_DIR", "TESTBRIDGE_TEST_ONLY",
         "PATH", "LEAKY_VARIABLE", "FROM_TEST_ENV", "TMPDIR"]
env = {n: os.environ.get(n) for n in names}
tmp = os.environ["TEST_TMPDIR"]
with open(os.path.join(tmp, "scratch.txt"), "w") as f:
    f.write("writable")
env["tmp_writable"] = open(os.path.join(tmp, "scratch.txt")).read() == "writable"
env["cwd"] = os.getcwd()
env["argv"] = sys.argv[1:]
print("ENV_JSON:" + json.dumps(env))
"""

PASS_TEST = """
import unittest

class PassTest(unittest.TestCase):
    def test_ok(self):
        print("PASS-MARKER")
        self.assertEqual(1 + 1, 2)

if __name__ == "__main__":
    unittest.main()
"""

FAIL_TEST = """
import sys
print("FAIL-MARKER: something went wrong")
sys.exit(1)
"""

SLEEPER = """
import time
print("sleeping", flush=True)
time.sleep(120)
"""

RENDEZVOUS = """
import os, sys, time

me, other = sys.argv[1], sys.argv[2]
d = os.environ["RDV"]
open(os.path.join(d, me), "w").close()
deadline = time.monotonic() + 20
while not os.path.exists(os.path.join(d, other)):
    if time.monotonic() > deadline:
        print("the other test never ran alongside me")
        sys.exit(1)
    time.sleep(0.05)
print("met", other)
"""

OWN_XML = """
import os
with open(os.environ["XML_OUTPUT_FILE"], "w") as f:
    f.write('<?xml version="1.0"?><testsuites><testsuite name="mine" tests="7"/></testsuites>')
"""


@pytest.fixture(scope="module")
def tws(tmp_path_factory) -> Workspace:
    base = tmp_path_factory.mktemp("tests")
    (base / "ws").mkdir()
    (base / "home").mkdir()
    ws = Workspace(base / "ws", base / "output_base")
    ws.write("t/BUILD.bazel", """
        load("@rules_python//python:defs.bzl", "py_library", "py_test")

        py_test(name = "pass_test", srcs = ["pass_test.py"], size = "small")
        py_test(name = "fail_test", srcs = ["fail_test.py"], size = "small")
        py_test(name = "env_test", srcs = ["env_test.py"], size = "small", data = ["data.txt"])
        py_test(name = "env_large", srcs = ["env_test.py"], main = "env_test.py", size = "large")
        py_test(name = "env_eternal", srcs = ["env_test.py"], main = "env_test.py", timeout = "eternal")
        py_test(name = "env_default", srcs = ["env_test.py"], main = "env_test.py")
        py_test(name = "env_args", srcs = ["env_test.py"], main = "env_test.py", size = "small",
                args = ["--from-attr"], env = {"FROM_TEST_ENV": "attr-value"})
        py_test(name = "sleeper_short", srcs = ["sleeper.py"], main = "sleeper.py", timeout = "short")
        py_test(name = "sleeper_large", srcs = ["sleeper.py"], main = "sleeper.py", size = "large")
        py_test(name = "own_xml", srcs = ["own_xml.py"], size = "small")
        py_test(name = "par_a", srcs = ["rendezvous.py"], main = "rendezvous.py", args = ["a", "b"], size = "small")
        py_test(name = "par_b", srcs = ["rendezvous.py"], main = "rendezvous.py", args = ["b", "a"], size = "small")
        py_library(name = "lib", srcs = ["lib.py"])
        test_suite(name = "suite", tests = [":pass_test", ":env_test"])
    """)
    ws.write("t/pass_test.py", PASS_TEST)
    ws.write("t/fail_test.py", FAIL_TEST)
    ws.write("t/env_test.py", ENV_TEST)
    ws.write("t/sleeper.py", SLEEPER)
    ws.write("t/own_xml.py", OWN_XML)
    ws.write("t/rendezvous.py", RENDEZVOUS)
    ws.write("t/lib.py", "")
    ws.write("t/data.txt", "data\n")
    ws.write("suite/BUILD.bazel", """
        load("@rules_python//python:defs.bzl", "py_test")
        py_test(name = "one", srcs = ["ok.py"], main = "ok.py", size = "small")
        py_test(name = "two", srcs = ["ok.py"], main = "ok.py", size = "small")
        py_test(name = "manual_one", srcs = ["ok.py"], main = "ok.py", size = "small", tags = ["manual"])
        test_suite(name = "everything")
        test_suite(name = "nested", tests = [":everything"])
    """)
    ws.write("suite/ok.py", "print('ok')\n")
    return ws


def _status_lines(output: str) -> dict[str, str]:
    """//label -> status text, from the summary lines like `//t:x  (cached) PASSED in 0.1s`."""
    out = {}
    for m in re.finditer(r"^(//\S+)\s+((?:\(cached\) )?(?:PASSED|FAILED TO BUILD|FAILED|TIMEOUT|NO STATUS))\b",
                         output, re.M):
        out[m[1]] = m[2]
    return out


def _env_of(ws: Workspace, label: str) -> dict:
    pkg, name = label[2:].split(":")
    log = (ws.root / "kiln-testlogs" / pkg / name / "test.log").read_text()
    line = next(l for l in log.splitlines() if l.startswith("ENV_JSON:"))
    return json.loads(line[len("ENV_JSON:"):])


def test_passing_test(tws):
    r = tws.kiln("test", "//t:pass_test", "--nocache_test_results")
    assert r.code == 0, r.output
    assert _status_lines(r.output) == {"//t:pass_test": "PASSED"}
    assert "Executed 1 out of 1 test: 1 test passes." in r.output
    log = tws.root / "kiln-testlogs/t/pass_test/test.log"
    assert "PASS-MARKER" in log.read_text()
    xml = ET.parse(tws.root / "kiln-testlogs/t/pass_test/test.xml").getroot()
    assert xml.tag == "testsuites"


def test_failing_test_exits_3_with_log_and_xml(tws):
    r = tws.kiln("test", "//t:fail_test", "//t:pass_test")
    assert r.code == 3, r.output
    status = _status_lines(r.output)
    assert status["//t:fail_test"] == "FAILED"
    assert status["//t:pass_test"] in ("PASSED", "(cached) PASSED")
    assert "kiln-testlogs/t/fail_test/test.log" in r.output
    assert "FAIL-MARKER" not in r.output  # --test_output=summary by default
    assert "FAIL-MARKER: something went wrong" in (tws.root / "kiln-testlogs/t/fail_test/test.log").read_text()
    root = ET.parse(tws.root / "kiln-testlogs/t/fail_test/test.xml").getroot()
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    assert sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites) >= 1
    assert "1 fails locally" in r.output


def test_summary_line_matches_bazel(tws):
    r = tws.kiln("test", "//t:pass_test")
    assert r.code == 0, r.output
    assert re.search(r"^Executed [01] out of 1 test: 1 test passes\.$", r.output, re.M), r.output
    r = tws.kiln("test", "//t:pass_test", "//t:own_xml")
    assert re.search(r"^Executed [012] out of 2 tests: 2 tests pass\.$", r.output, re.M), r.output


def test_failing_test_is_never_cached(tws):
    for _ in range(2):
        r = tws.kiln("test", "//t:fail_test")
        assert r.code == 3, r.output
        assert _status_lines(r.output) == {"//t:fail_test": "FAILED"}
        assert "Executed 1 out of 1 test" in r.output


def test_test_environment(tws):
    r = tws.kiln("test", "//t:env_test", "--nocache_test_results", env={"LEAKY_VARIABLE": "leak"})
    assert r.code == 0, r.output
    env = _env_of(tws, "//t:env_test")
    srcdir = env["TEST_SRCDIR"]
    assert srcdir.endswith("/t/env_test.runfiles"), srcdir
    assert os.path.isabs(srcdir)
    assert env["RUNFILES_DIR"] == srcdir
    assert env["TEST_WORKSPACE"] == "_main"
    assert env["TEST_TARGET"] == "//t:env_test"
    assert env["TEST_SIZE"] == "small"
    assert env["TEST_TIMEOUT"] == "60"
    assert env["tmp_writable"] is True
    assert os.path.isabs(env["TEST_TMPDIR"])
    assert env["XML_OUTPUT_FILE"].endswith("/t/env_test/test.xml")
    assert env["TEST_UNDECLARED_OUTPUTS_DIR"]
    home = env["HOME"]
    assert home == env["TEST_TMPDIR"] or home.startswith(env["TEST_TMPDIR"] + "/"), (home, env["TEST_TMPDIR"])
    assert env["TESTBRIDGE_TEST_ONLY"] is None
    assert env["LEAKY_VARIABLE"] is None
    assert env["cwd"] == os.path.join(srcdir, "_main")
    assert env["argv"] == []


def test_test_environment_size_and_timeout(tws):
    r = tws.kiln("test", "//t:env_large", "//t:env_eternal", "//t:env_default")
    assert r.code == 0, r.output
    large, eternal, default = (_env_of(tws, l) for l in ("//t:env_large", "//t:env_eternal", "//t:env_default"))
    assert (large["TEST_SIZE"], large["TEST_TIMEOUT"]) == ("large", "900")
    assert (eternal["TEST_SIZE"], eternal["TEST_TIMEOUT"]) == ("medium", "3600")
    assert (default["TEST_SIZE"], default["TEST_TIMEOUT"]) == ("medium", "300")


def test_test_args_env_attrs_and_flags(tws):
    r = tws.kiln("test", "//t:env_args", "--test_arg=--from-flag", "--test_env=LEAKY_VARIABLE",
                 env={"LEAKY_VARIABLE": "passed-on-purpose"})
    assert r.code == 0, r.output
    env = _env_of(tws, "//t:env_args")
    assert env["argv"] == ["--from-attr", "--from-flag"]
    assert env["FROM_TEST_ENV"] == "attr-value"
    assert env["LEAKY_VARIABLE"] == "passed-on-purpose"


def test_test_filter_sets_testbridge_test_only(tws):
    r = tws.kiln("test", "//t:env_test", "--test_filter=MyCase.test_one")
    assert r.code == 0, r.output
    assert _status_lines(r.output) == {"//t:env_test": "PASSED"}  # a new filter is a new run
    assert _env_of(tws, "//t:env_test")["TESTBRIDGE_TEST_ONLY"] == "MyCase.test_one"


def test_own_xml_is_kept(tws):
    r = tws.kiln("test", "//t:own_xml")
    assert r.code == 0, r.output
    root = ET.parse(tws.root / "kiln-testlogs/t/own_xml/test.xml").getroot()
    assert root.find("testsuite").get("name") == "mine"


def test_test_output_errors(tws):
    r = tws.kiln("test", "//t:fail_test", "//t:pass_test", "--nocache_test_results", "--test_output=errors")
    assert r.code == 3, r.output
    assert "FAIL-MARKER: something went wrong" in r.output
    assert "PASS-MARKER" not in r.output


def test_test_output_all(tws):
    r = tws.kiln("test", "//t:fail_test", "//t:pass_test", "--nocache_test_results", "--test_output=all")
    assert r.code == 3, r.output
    assert "FAIL-MARKER: something went wrong" in r.output
    assert "PASS-MARKER" in r.output


def test_test_output_invalid_value(tws):
    r = tws.kiln("test", "//t:pass_test", "--test_output=loud")
    assert r.code == 2, r.output
    assert "test_output" in r.stderr


def test_timeout_flag(tws):
    r = tws.kiln("test", "//t:sleeper_short", "//t:sleeper_large", "//t:pass_test", "--test_timeout=2",
                 "--jobs=3", timeout=60)
    assert r.code == 3, r.output
    status = _status_lines(r.output)
    assert status["//t:sleeper_short"] == "TIMEOUT"
    assert status["//t:sleeper_large"] == "TIMEOUT"
    assert status["//t:pass_test"] in ("PASSED", "(cached) PASSED")
    assert "kiln-testlogs/t/sleeper_short/test.log" in r.output
    assert "sleeping" in (tws.root / "kiln-testlogs/t/sleeper_short/test.log").read_text()
    assert "2 fail" in r.output


def test_timeout_per_category(tws):
    # short, moderate, long, eternal: only `long` (size = "large") is changed.
    r = tws.kiln("test", "//t:env_large", "//t:env_default", "//t:env_test", "--test_timeout=-1,-1,7,-1")
    assert r.code == 0, r.output
    assert _env_of(tws, "//t:env_large")["TEST_TIMEOUT"] == "7"
    assert _env_of(tws, "//t:env_default")["TEST_TIMEOUT"] == "300"
    assert _env_of(tws, "//t:env_test")["TEST_TIMEOUT"] == "60"


def test_tests_run_in_parallel(tws, tmp_path):
    rdv = tmp_path / "rendezvous"
    rdv.mkdir()
    # The tests meet in a directory outside their sandboxes, which must be made writable for them.
    r = tws.kiln("test", "//t:par_a", "//t:par_b", "--jobs=2", f"--test_env=RDV={rdv}", f"--sandbox_writable_path={rdv}",
                 timeout=120)
    assert r.code == 0, r.output + "".join(
        (tws.root / f"kiln-testlogs/t/{n}/test.log").read_text() for n in ("par_a", "par_b"))
    assert _status_lines(r.output) == {"//t:par_a": "PASSED", "//t:par_b": "PASSED"}


def test_test_suite_expansion(tws):
    r = tws.kiln("test", "//t:suite")
    assert r.code == 0, r.output
    assert set(_status_lines(r.output)) == {"//t:pass_test", "//t:env_test"}


def test_test_suite_without_tests_takes_package_tests_but_not_manual(tws):
    r = tws.kiln("test", "//suite:everything")
    assert r.code == 0, r.output
    assert set(_status_lines(r.output)) == {"//suite:one", "//suite:two"}
    r = tws.kiln("test", "//suite:nested")
    assert r.code == 0, r.output
    assert set(_status_lines(r.output)) == {"//suite:one", "//suite:two"}


def test_manual_tests_are_excluded_from_wildcards(tws):
    r = tws.kiln("test", "//suite/...")
    assert r.code == 0, r.output
    assert set(_status_lines(r.output)) == {"//suite:one", "//suite:two"}
    r = tws.kiln("test", "//suite:all")
    assert set(_status_lines(r.output)) == {"//suite:one", "//suite:two"}
    r = tws.kiln("test", "//suite:manual_one")
    assert r.code == 0, r.output
    assert set(_status_lines(r.output)) == {"//suite:manual_one"}


def test_no_test_targets_exits_4(tws):
    r = tws.kiln("test", "//t:lib")
    assert r.code == 4, r.output
    assert "No test targets were found" in r.stderr


# --------------------------------------------------------------------------
# caching of test results (fresh workspaces)
# --------------------------------------------------------------------------


def _cache_ws(ws: Workspace) -> None:
    ws.write("c/BUILD.bazel", """
        load("@rules_python//python:defs.bzl", "py_test")
        py_test(name = "t", srcs = ["t.py"], data = ["input.txt"], size = "small")
    """)
    ws.write("c/t.py", "print(open('c/input.txt').read())\n")
    ws.write("c/input.txt", "one\n")


def test_second_run_is_cached(ws):
    _cache_ws(ws)
    r = ws.kiln("test", "//c:t")
    assert r.code == 0, r.output
    assert _status_lines(r.output) == {"//c:t": "PASSED"}
    r = ws.kiln("test", "//c:t")
    assert r.code == 0, r.output
    assert _status_lines(r.output) == {"//c:t": "(cached) PASSED"}
    assert "Executed 0 out of 1 test: 1 test passes." in r.output
    assert "one" in (ws.root / "kiln-testlogs/c/t/test.log").read_text()


def test_nocache_test_results_reruns(ws):
    _cache_ws(ws)
    assert ws.kiln("test", "//c:t").code == 0
    r = ws.kiln("test", "//c:t", "--nocache_test_results")
    assert r.code == 0, r.output
    assert _status_lines(r.output) == {"//c:t": "PASSED"}
    assert "Executed 1 out of 1 test" in r.output
    r = ws.kiln("test", "//c:t", "--cache_test_results=no")
    assert _status_lines(r.output) == {"//c:t": "PASSED"}


def test_changed_data_reruns_test(ws):
    _cache_ws(ws)
    assert ws.kiln("test", "//c:t").code == 0
    (ws.root / "c/input.txt").write_text("two!\n")
    r = ws.kiln("test", "//c:t")
    assert r.code == 0, r.output
    assert _status_lines(r.output) == {"//c:t": "PASSED"}
    assert "two!" in (ws.root / "kiln-testlogs/c/t/test.log").read_text()


def test_test_that_fails_to_build(ws):
    ws.write("b/BUILD.bazel", """
        load("@rules_python//python:defs.bzl", "py_test")
        genrule(name = "broken", outs = ["broken.txt"], cmd = "exit 1")
        py_test(name = "t", srcs = ["t.py"], data = [":broken"], size = "small")
        py_test(name = "ok", srcs = ["ok.py"], size = "small")
    """)
    ws.write("b/t.py", "")
    ws.write("b/ok.py", "")
    r = ws.kiln("test", "--keep_going", "//b:all")
    assert r.code == 1, r.output
    status = _status_lines(r.output)
    assert status["//b:ok"] == "PASSED"
    assert status["//b:t"] in ("FAILED TO BUILD", "NO STATUS")
