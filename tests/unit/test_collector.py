"""Loading and analysis make no reference cycles, so pausing the cyclic collector loses nothing.

kiln.loading.collector pauses Python's cyclic garbage collector while packages
are loaded and targets analysed; that is only sound while the objects they
create are freed by reference counting. These tests load and analyse a small
workspace with typical rules (py_library, py_binary, genrule with a tool,
select, filegroup, glob) and count the unreachable cycles left behind.
"""

from __future__ import annotations

import gc
from pathlib import Path

from kiln.analysis.analyzer import Analyzer
from kiln.repos.host_repos import HostRepositories
from kiln.core.config import Configuration
from kiln.loading.collector import collector_paused
from kiln.loading.loader import Loader
from kiln.loading.target_patterns import PatternResolver
from kiln.loading.workspace import Workspace
from kiln.rules import default_registry

FILES = {
    "MODULE.bazel": "",
    "lib/BUILD.bazel": """
py_library(name = "lib", srcs = glob(["*.py"]), deps = ["//base"], visibility = ["//visibility:public"])
config_setting(name = "opt", values = {"compilation_mode": "opt"})
genrule(
    name = "gen",
    srcs = ["data.txt"],
    outs = ["gen.txt"],
    visibility = ["//visibility:public"],
    tools = ["//base:tool"],
    cmd = select({":opt": "$(location //base:tool) > $@", "//conditions:default": "cat $< > $@"}),
)
filegroup(name = "all", srcs = [":gen", "data.txt"], visibility = ["//visibility:public"])
""",
    "lib/a.py": "",
    "lib/b.py": "",
    "lib/data.txt": "x\n",
    "base/BUILD.bazel": """
py_library(name = "base", srcs = ["base.py"], visibility = ["//visibility:public"])
py_binary(name = "tool", srcs = ["tool.py"], deps = [":base"], visibility = ["//visibility:public"])
""",
    "base/base.py": "",
    "base/tool.py": "",
    "app/BUILD.bazel": """
py_binary(name = "app", srcs = ["app.py"], deps = ["//lib"], data = ["//lib:gen"])
""",
    "app/app.py": "",
}


def _load_and_analyse(root: Path) -> Analyzer:
    loader = Loader(Workspace(root), default_registry(), report=lambda level, text: None,
                  repositories=HostRepositories(root / "kiln-external"))
    targets = PatternResolver(loader).resolve(["//..."])
    analyzer = Analyzer(loader, Configuration())
    for t in targets:
        analyzer.analyze(t.label)
    return analyzer


def _write(root: Path) -> None:
    for rel, text in FILES.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


def test_loading_and_analysis_leave_no_reference_cycles(tmp_path):
    _write(tmp_path)
    _load_and_analyse(tmp_path)  # imports and first-use caches
    gc.collect()
    with collector_paused():
        analyzer = _load_and_analyse(tmp_path)
        # The loader and analyzer are still alive: anything unreachable now is a cycle made on the way.
        unreachable = gc.collect()
    assert len(analyzer.configured_targets()) >= 10
    assert unreachable == 0, f"{unreachable} objects left in reference cycles"


def test_collector_is_paused_inside_and_restored_after():
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
