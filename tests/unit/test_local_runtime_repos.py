"""local_runtime_repo's parts: finding the interpreter, probing it once, HOST_CONSTRAINTS, the rules' checks."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys

import pytest

from kiln.core.errors import Location
from kiln.loading.module_info import ExtensionUsage, RepoDecl, Tag
from kiln.repos import runtime_probe
from kiln.repos.local_runtime_repos import LOCAL_TOOLCHAINS_BZL, LocalRuntimes, _expand_host, _locate


def _python(minor: str) -> str:
    found = sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/3.{minor}*/bin/python3.{minor}")))
    if not found:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CPython 3.{minor} from pyenv is required under CI")
        pytest.skip(f"no CPython 3.{minor} under ~/.pyenv/versions")
    return found[-1]


def _decl(name: str, **attrs) -> RepoDecl:
    tag = Tag("local_runtime_repo", {"name": name, **attrs}, 3, 1, "MODULE.bazel")
    usage = ExtensionUsage(bzl_label="@rules_python//python/local_toolchains:repos.bzl", name="local_runtime_repo",
                           tags=[tag])
    return RepoDecl(name, name, "local_runtime_repo", usage, Location("MODULE.bazel", 3, 1))


def test_the_probe_script_reports_another_interpreters_abi():
    python = _python("12")
    done = subprocess.run([python, "-I", runtime_probe.__file__], capture_output=True, text=True, check=True)
    record = json.loads(done.stdout)
    assert record["executable"] == python
    assert record["version"][:2] == ["3", "12"]
    assert record["pyc_tag"] == "cpython-312"
    assert record["ext_suffix"] == ".cpython-312-x86_64-linux-gnu.so"
    assert record["soabi"] == "cpython-312-x86_64-linux-gnu"
    assert record["gil_disabled"] is False
    assert ".abi3.so" in record["extension_suffixes"]


def test_the_probe_script_runs_on_the_oldest_pyenv_python3():
    python = _python("8")
    done = subprocess.run([python, "-I", runtime_probe.__file__], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert '"pyc_tag": "cpython-38"' in done.stdout


def test_locate_takes_absolute_paths_and_programs_on_path(tmp_path, monkeypatch):
    assert _locate(sys.executable) == (sys.executable, "")
    assert _locate(str(tmp_path / "python3")) == (None, "does not exist")
    (tmp_path / "data").write_text("")
    assert _locate(str(tmp_path / "data")) == (None, "is not an executable file")
    assert _locate("bin/python3") == (None, "must be an absolute path or the name of a program on PATH")
    program = tmp_path / "mypython"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert _locate("mypython") == (str(program), "")
    assert _locate("python9.99") == (None, "is not a program on PATH")


def test_host_constraints_expand_in_place():
    host = ["@platforms//os:linux", "@platforms//cpu:x86_64"]
    assert _expand_host(["//c:a", "HOST_CONSTRAINTS", "//c:b"], host) == ["//c:a", *host, "//c:b"]


def test_an_interpreter_is_probed_once_until_it_changes(tmp_path):
    real = _python("12")
    count = tmp_path / "runs"
    wrapper = tmp_path / "python3"
    wrapper.write_text(f'#!/bin/sh\necho run >> {count}\nexec {real} "$@"\n')
    wrapper.chmod(0o755)
    decl = _decl("py", interpreter_path=str(wrapper))
    external = tmp_path / "external"
    reports = []
    first = LocalRuntimes(external, lambda level, text: reports.append(text))("py", decl, None)
    # A later command (a new LocalRuntimes) finds the record it remembered: the interpreter is not run again.
    second = LocalRuntimes(external, lambda level, text: reports.append(text))("py", decl, None)
    assert count.read_text() == "run\n"
    assert first == second
    assert f'interpreter_path = "{real}"' in (external / "py" / "BUILD.bazel").read_text()
    assert str(wrapper) in first.files and os.path.realpath(real) in first.files
    wrapper.write_text(f'#!/bin/sh\necho run >> {count}\nexec {real} "$@"\n# changed\n')
    LocalRuntimes(external, lambda level, text: None)("py", decl, None)
    assert count.read_text() == "run\nrun\n"
    assert reports == []


@pytest.mark.parametrize("attrs, message", [
    ({"on_failure": "ignore", "interpreter_path": "python3"},
     "local_runtime_repo(name = \"x\"): on_failure must be one of skip, warn, fail, got 'ignore'"),
    ({}, "local_runtime_repo(name = \"x\"): missing mandatory attribute 'interpreter_path'"),
    ({"interpreter_path": "python3", "on_falure": "skip"},
     "local_runtime_repo(name = \"x\"): unknown attribute 'on_falure' (did you mean 'on_failure'?)"),
])
def test_local_runtime_repo_attributes_are_checked(attrs, message):
    rule = next(r for r in LOCAL_TOOLCHAINS_BZL.rules if r.name == "local_runtime_repo")
    assert rule.problem({"name": "x", **attrs}) == message


@pytest.mark.parametrize("attrs, message", [
    ({"runtimes": ["a"], "target_compatible_with": {"b": ["HOST_CONSTRAINTS"]}},
     "target_compatible_with names 'b', which is in neither runtimes nor default_runtimes"),
    ({"runtimes": ["a"], "exec_compatible_with": {"a": "HOST_CONSTRAINTS"}},
     "exec_compatible_with must be a dict of runtime names to lists of labels"),
    ({"runtimes": "a"}, "attribute 'runtimes' must be a list of strings, got string"),
])
def test_local_runtime_toolchains_repo_attributes_are_checked(attrs, message):
    rule = next(r for r in LOCAL_TOOLCHAINS_BZL.rules if r.name == "local_runtime_toolchains_repo")
    assert rule.problem({"name": "t", **attrs}) == f'local_runtime_toolchains_repo(name = "t"): {message}'
