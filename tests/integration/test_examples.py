"""The examples workspace (examples/), copied, through the real command.

Its MODULE.bazel asks the python extension for hermetic 3.11 (the default) and 3.12 runtimes, and its
.bazelrc sets --//:py=local, which puts the machine's python3.11 and python3.12 (seed 002's local
toolchains) first: the examples build offline and never fetch a runtime. Without the flag they run on the
python-build-standalone runtimes, served here on 127.0.0.1 as a mirror would. --//:py=custom picks seed
002's custom toolchain suite (toolchain_impl/, toolchains/) on Debian's CPython 3.11.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from archive_server import ArchiveServer
from conftest import unavailable
from pbs_archives import TRIPLE
from test_python_extension import _overrides

EXAMPLES = Path(__file__).parents[2] / "examples"
DEBIAN_PYTHON = "/usr/bin/python3.11"
VERSION_TESTS = ("//versions:version_test_3_11", "//versions:version_test_3_12")


def _local_python(root: Path, program: str) -> str:
    """The interpreter `program` on PATH runs in the workspace (pyenv reads its .python-version)."""
    if shutil.which(program) is None:
        unavailable(f"no {program} on PATH on this machine")
    done = subprocess.run([program, "-c", "import sys; print(sys.executable)"], cwd=root, capture_output=True,
                          text=True)
    if done.returncode != 0:
        unavailable(f"{program} on PATH does not run here: {done.stderr.strip()}")
    return done.stdout.strip()


@pytest.fixture
def examples(ws):
    shutil.copytree(EXAMPLES, ws.root, dirs_exist_ok=True,
                    ignore=lambda d, names: [n for n in names if n == "word_count" or n.startswith("kiln-")])
    return ws


def _log(ws, target: str) -> str:
    package, name = target[2:].split(":")
    return (ws.root / "kiln-testlogs" / package / name / "test.log").read_text()


def _fetched_runtimes(ws) -> list[str]:
    external = ws.output_base / "external"
    return sorted(p.name for p in external.iterdir() if p.name.startswith("python_") and TRIPLE in p.name)


def test_the_examples_run_offline_on_the_machines_pythons(examples):
    py311, py312 = _local_python(examples.root, "python3.11"), _local_python(examples.root, "python3.12")
    r = examples.kiln("test", "//...")
    assert r.code == 0, r.output
    assert "Executed 4 out of 4 tests: 4 tests pass." in r.output
    assert "running on Python 3.11." in _log(examples, VERSION_TESTS[0])
    assert f"({py311})" in _log(examples, VERSION_TESTS[0])
    assert "running on Python 3.12." in _log(examples, VERSION_TESTS[1])
    assert f"({py312})" in _log(examples, VERSION_TESTS[1])
    # No hermetic runtime was needed: none fetched, nothing downloaded into the repository cache.
    assert "Fetching @python_3" not in r.output
    assert _fetched_runtimes(examples) == []
    cache = examples.output_base.parent / "home" / ".cache" / "kiln" / "repository_cache"
    assert list(cache.rglob("*")) == []
    r = examples.kiln("run", "//app:hello", "--", "kiln user")
    assert r.code == 0, r.output
    assert "Hello, kiln user!" in r.stdout


def test_without_the_flag_the_hermetic_runtime_is_downloaded(examples):
    with ArchiveServer() as server:  # serves nothing: every download is a 404 naming its URL
        base = server.url("")
        with open(examples.root / "MODULE.bazel", "a") as f:
            f.write(f'\npython.override(base_url = "{base}")\n')
        r = examples.kiln("test", VERSION_TESTS[0], "--//:py=")
    assert r.code == 1, r.output
    assert f"INFO: Fetching @python_3_11_{TRIPLE} (Python 3.11." in r.output
    assert re.search(rf"could not download cpython-3\.11\.\d+\+\d{{8}}-{TRIPLE}-install_only\.tar\.gz:\n"
                     rf"  {re.escape(base)}/\d{{8}}/cpython-3\.11\.\d+\+\d{{8}}-{TRIPLE}-install_only\.tar\.gz",
                     r.output), r.output
    assert "Traceback" not in r.output


def test_without_the_flag_the_tests_run_on_the_hermetic_runtimes(examples, pbs_server, pbs_archives):
    base_url, served = pbs_server("3.11", "3.12")
    with open(examples.root / "MODULE.bazel", "a") as f:
        f.write("\n" + _overrides(base_url, served) + "\n")
    r = examples.kiln("test", *VERSION_TESTS, "--//:py=")
    assert r.code == 0, r.output
    for target, version in zip(VERSION_TESTS, ("3.11", "3.12")):
        log = _log(examples, target)
        assert f"running on Python {pbs_archives(version).version} " in log
        assert f".runfiles/python_{version.replace('.', '_')}_{TRIPLE}/bin/python3)" in log
    assert _fetched_runtimes(examples) == [f"python_3_11_{TRIPLE}", f"python_3_12_{TRIPLE}"]


def test_a_machine_without_python3_12_builds_all_but_the_3_12_test(examples):
    # Debian's own directories only: python3.11 is there, python3.12 is not.
    if not os.path.exists(DEBIAN_PYTHON) or shutil.which("python3.12", path="/usr/bin:/bin"):
        unavailable(f"this machine's /usr/bin has no {DEBIAN_PYTHON} or has a python3.12")
    debian = {"PATH": "/usr/bin:/bin"}
    r = examples.kiln("test", "//app:all", "//greet:all", VERSION_TESTS[0], env=debian)
    assert r.code == 0, r.output
    assert f"({DEBIAN_PYTHON})" in _log(examples, VERSION_TESTS[0])
    r = examples.kiln("test", VERSION_TESTS[1], env=debian)
    assert r.code == 1, r.output
    line = next(i for i, text in enumerate((examples.root / "MODULE.bazel").read_text().splitlines(), 1)
                if text.strip() == 'name = "local_python3_12",') - 1
    assert (f'local_runtime_repo(name = "local_python3_12") at MODULE.bazel:{line}:1: interpreter_path '
            "'python3.12' is not a program on PATH") in r.output
    assert "Traceback" not in r.output


def test_the_custom_suite_runs_programs_on_its_in_build_interpreter(examples):
    if not os.path.exists(DEBIAN_PYTHON):
        unavailable(f"no {DEBIAN_PYTHON} (Debian package python3.11)")
    r = examples.kiln("run", "--//:py=custom", "//versions:python_info")
    assert r.code == 0, r.output
    assert r.stdout.startswith("running on Python 3.11.") and f"({DEBIAN_PYTHON})" in r.stdout, r.stdout
    r = examples.kiln("test", "--//:py=custom", VERSION_TESTS[0])
    assert r.code == 0, r.output
    assert f"({DEBIAN_PYTHON})" in _log(examples, VERSION_TESTS[0])
    # The suite is 3.11 only: a target asking for 3.12 is refused by name.
    r = examples.kiln("test", "--//:py=custom", VERSION_TESTS[1])
    assert r.code == 1, r.output
    assert "python_version '3.12': no registered Python toolchain provides it" in r.output
    assert "Traceback" not in r.output


def test_the_custom_suite_gives_its_headers_and_precompiler(examples, tmp_path):
    headers = Path("/usr/include/python3.11/patchlevel.h")
    if not headers.exists() or not os.path.exists(DEBIAN_PYTHON):
        unavailable("no Debian CPython 3.11 with its headers (packages python3.11, libpython3.11-dev)")
    examples.write("h/BUILD.bazel", '''
        genrule(
            name = "version_h",
            srcs = ["@rules_python//python/cc:current_py_cc_headers"],
            outs = ["version.txt"],
            cmd = "grep -h '#define PY_VERSION ' $(SRCS) > $@",
        )
        ''')
    r = examples.kiln("build", "--//:py=custom", "//h:version_h")
    assert r.code == 0, r.output
    wanted = next(line for line in headers.read_text().splitlines() if line.startswith("#define PY_VERSION "))
    assert (examples.root / "kiln-bin/h/version.txt").read_text().strip() == wanted
    src, pyc = tmp_path / "mod.py", tmp_path / "mod.pyc"
    src.write_text("ANSWER = 42\n")
    r = examples.kiln("run", "--//:py=custom", "//toolchain_impl:precompiler", "--", f"--src={src}",
                      "--src_name=mod.py", f"--pyc={pyc}")
    assert r.code == 0, r.output
    magic = subprocess.run([DEBIAN_PYTHON, "-c", "import importlib.util, sys; "
                            "sys.stdout.buffer.write(importlib.util.MAGIC_NUMBER)"], capture_output=True).stdout
    assert pyc.read_bytes()[:4] == magic
