"""An in-build runtime's installation directory as one runfiles entry: which runtimes get a root
(py_runtime), what a runfiles tree then lists (Runfiles.entries), and a repository's own directory
as a runfiles path."""

from __future__ import annotations

from pathlib import Path

from kiln.analysis.analyzer import Analyzer
from kiln.core.artifacts import Artifact, SourceTree
from kiln.core.config import Configuration
from kiln.core.depset import Depset
from kiln.core.labels import parse_label
from kiln.core.runfiles import Runfiles
from kiln.loading.loader import Loader
from kiln.loading.workspace import Workspace
from kiln.repos.host_repos import HostRepositories
from kiln.rules import default_registry
from kiln.rules.python.providers import PyRuntimeInfo

VERSION = '{"major": "3", "minor": "11"}'
BUILD = f'''
py_runtime(name = "whole", interpreter = "inst/bin/python3", files = glob(["inst/**"]) + ["extra/site.py"],
           interpreter_version_info = {VERSION})
py_runtime(name = "alone", interpreter = "inst/bin/python3", interpreter_version_info = {VERSION})
py_runtime(name = "not_in_bin", interpreter = "flat/python3", files = ["flat/os.py"],
           interpreter_version_info = {VERSION})
'''
TOP_BUILD = f'''
py_runtime(name = "top", interpreter = "bin/python3", files = ["bin/os.py"], interpreter_version_info = {VERSION})
'''


def _runtime(tmp_path: Path, label: str) -> PyRuntimeInfo:
    (tmp_path / "MODULE.bazel").write_text("")
    (tmp_path / "BUILD").write_text(TOP_BUILD)
    for path in ("rt/inst/bin/python3", "rt/inst/lib/python3.11/os.py", "rt/inst/lib/python3.11/json/__init__.py",
                 "rt/extra/site.py", "rt/flat/python3", "rt/flat/os.py", "bin/python3", "bin/os.py"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("")
    (tmp_path / "rt/BUILD").write_text(BUILD)
    loader = Loader(Workspace(tmp_path), default_registry(), report=lambda level, text: None,
                    repositories=HostRepositories(tmp_path / "kiln-external"))
    return Analyzer(loader, Configuration()).analyze(parse_label(label))[PyRuntimeInfo]


def test_a_runtime_installed_under_bin_is_its_prefix_and_files_outside_stay_files(tmp_path):
    runtime = _runtime(tmp_path, "//rt:whole")
    assert runtime.root == Artifact("", "rt/inst", parse_label("//rt:whole"), is_directory=True)
    assert len(runtime.files) == 4  # what py_runtime offers is still every file
    assert sorted(a.exec_path for a in runtime.runfiles_files()) == ["rt/extra/site.py", "rt/inst"]
    entries = Runfiles(runtime.runfiles_files()).entries()
    assert sorted(entries) == ["_main/rt/extra/site.py", "_main/rt/inst"]


def test_runtimes_without_an_installation_directory_stay_file_by_file(tmp_path):
    # Only an interpreter: nothing says the directory around it belongs to the runtime.
    alone = _runtime(tmp_path, "//rt:alone")
    assert alone.root is None
    assert [a.exec_path for a in alone.runfiles_files()] == ["rt/inst/bin/python3"]
    # An interpreter outside a bin/ directory: no installation prefix to name.
    flat = _runtime(tmp_path, "//rt:not_in_bin")
    assert flat.root is None
    assert sorted(a.exec_path for a in flat.runfiles_files()) == ["rt/flat/os.py", "rt/flat/python3"]
    # bin/ at the workspace's top: the workspace itself is no runtime.
    top = _runtime(tmp_path, "//:top")
    assert top.root is None
    assert sorted(a.exec_path for a in top.runfiles_files()) == ["bin/os.py", "bin/python3"]


def test_a_directory_entry_stands_for_everything_under_it():
    runtime = Artifact("", "external/py/python", is_directory=True)
    inside = Artifact("", "external/py/python/lib/os.py")
    beside = Artifact("", "external/py/pythonic.py")
    rf = Runfiles(Depset((inside, runtime, beside)), root_symlinks=(("py/python/bin/x", inside),),
                  empty_files=("py/python/lib/__init__.py", "py/__init__.py"))
    assert rf.entries() == {"py/python": runtime, "py/pythonic.py": beside, "py/__init__.py": None}


def test_a_repositorys_own_directory_is_its_runfiles_directory():
    repo = Artifact("", "external/python_3_11", is_directory=True)
    assert repo.runfiles_path == "python_3_11"
    assert repo.repo_relative_path == ""
    assert SourceTree("/ws", (("python_3_11", "/ob/external/python_3_11"),)).path(repo) == "/ob/external/python_3_11"
