"""An in-build runtime of ~1,600 files is ONE entry of a runfiles tree (rules_python #1653): a symbolic
link to its installation directory, on disk and in the sandbox, listed once in the MANIFEST (a
manifest-based lookup resolves the files under it), with its whole content in the test's key."""

from __future__ import annotations

import os

import pytest

from conftest import unavailable
from runtime_install import make_installation, runtime_build, system_micro

APP = '''
load("@rules_python//python:defs.bzl", "py_binary", "py_test")
py_binary(name = "app", srcs = ["app.py"], deps = ["@rules_python//python/runfiles"])
py_test(name = "app_test", srcs = ["app_test.py"], size = "small")
'''

# Which stdlib the program runs on, a module found only in the runtime's directory, and whether the
# runtime's installation (sys.prefix, as the interpreter found it from its path) is one link.
SHOW = '''
import os, sys
import kiln_marker
runfiles = os.environ["RUNFILES_DIR"]
print("os from", os.path.relpath(os.__file__, runfiles))
print("marker", kiln_marker.WORD)
print("prefix", os.path.relpath(sys.prefix, runfiles), "is one link", os.path.islink(sys.prefix))
'''

LOOKUP = '''
import os
from python.runfiles import runfiles
r = runfiles.CreateManifestBased(os.environ["RUNFILES_MANIFEST_FILE"])
path = r.Rlocation("_main/rt/python/lib/python3.11/kiln_marker.py")
print("manifest gives", open(path).read().strip())
'''


@pytest.fixture
def rws(ws):
    micro = system_micro()
    if micro is None:
        unavailable("no /usr/bin/python3.11 with /usr/lib/python3.11 (Debian package python3.11)")
    ws.write("MODULE.bazel", 'module(name = "test_ws")\nregister_toolchains("//rt:toolchain")\n')
    ws.write("rt/BUILD.bazel", runtime_build(micro))
    ws.files = make_installation(ws.root / "rt/python")
    ws.write("rt/python/lib/python3.11/kiln_marker.py", "WORD = 'one'\n")
    ws.write("app/BUILD.bazel", APP)
    ws.write("app/app.py", SHOW + LOOKUP)
    ws.write("app/app_test.py", SHOW)
    return ws


def _tree_entries(tree) -> list[str]:
    """Every name in a runfiles tree, not following its symbolic links."""
    found = []
    for here, dirs, names in os.walk(tree):
        found += [os.path.relpath(os.path.join(here, n), tree) for n in dirs + names]
    return found


def test_the_runtime_is_one_link_in_the_runfiles_tree_and_the_manifest(rws):
    assert rws.files > 1500
    r = rws.kiln("build", "//app:app")
    assert r.code == 0, r.output
    tree = rws.root / "kiln-bin/app/app.runfiles"
    link = tree / "_main/rt/python"
    assert link.is_symlink() and link.is_dir()
    assert os.path.realpath(link) == os.path.realpath(rws.root / "rt/python")
    entries = _tree_entries(tree)
    assert not [e for e in entries if e.startswith("_main/rt/python/")]
    assert len(entries) < 40, entries
    manifest = (tree / "MANIFEST").read_text().splitlines()
    assert f"_main/rt/python {rws.root / 'rt/python'}" in manifest
    assert not [line for line in manifest if line.startswith("_main/rt/python/")]
    r = rws.kiln("run", "//app:app")
    assert r.code == 0, r.output
    assert r.stdout.splitlines() == ["os from _main/rt/python/lib/python3.11/os.py", "marker one",
                                     "prefix _main/rt/python is one link True",
                                     "manifest gives WORD = 'one'"]


@pytest.mark.parametrize("strategy", ["linux-sandbox", "processwrapper-sandbox"])
def test_a_test_runs_on_the_runtime_directory_and_reruns_when_a_file_in_it_changes(rws, strategy):
    log = rws.root / "kiln-testlogs/app/app_test/test.log"
    r = rws.kiln("test", "//app:app_test", f"--spawn_strategy={strategy}")
    assert r.code == 0, r.output + (log.read_text() if log.exists() else "")
    # Inside the sandbox too, the runtime is one symbolic link (to the directory mounted whole).
    assert ("os from _main/rt/python/lib/python3.11/os.py\nmarker one\n"
            "prefix _main/rt/python is one link True\n") in log.read_text()
    r = rws.kiln("test", "//app:app_test", f"--spawn_strategy={strategy}")
    assert r.code == 0 and "(cached)" in r.output, r.output
    rws.write("rt/python/lib/python3.11/kiln_marker.py", "WORD = 'two'\n")
    r = rws.kiln("test", "//app:app_test", f"--spawn_strategy={strategy}")
    assert r.code == 0 and "(cached)" not in r.output, r.output + log.read_text()
    assert "marker two\n" in log.read_text()


def test_a_runtime_repository_is_one_link_to_the_repository(ws, tmp_path):
    """The shape of a downloaded runtime (python-build-standalone): the installation is a repository."""
    micro = system_micro()
    if micro is None:
        unavailable("no /usr/bin/python3.11 with /usr/lib/python3.11 (Debian package python3.11)")
    repo = tmp_path / "python_3_11"
    make_installation(repo)
    (repo / "lib/python3.11/kiln_marker.py").write_text("WORD = 'from the repository'\n")
    (repo / "REPO.bazel").write_text("")
    (repo / "BUILD.bazel").write_text(runtime_build(micro, prefix=""))
    ws.write("WORKSPACE", f'''
local_repository(name = "python_3_11", path = "{repo}")
register_toolchains("@python_3_11//:toolchain")
''')
    ws.write("app/BUILD.bazel", APP)
    ws.write("app/app_test.py", SHOW)
    r = ws.kiln("test", "//app:app_test", "--spawn_strategy=linux-sandbox")
    log = ws.root / "kiln-testlogs/app/app_test/test.log"
    assert r.code == 0, r.output + (log.read_text() if log.exists() else "")
    assert ("os from python_3_11/lib/python3.11/os.py\nmarker from the repository\n"
            "prefix python_3_11 is one link True\n") in log.read_text()
    ws.write("app/app.py", "")
    r = ws.kiln("build", "//app:app_test")
    assert r.code == 0, r.output
    link = ws.root / "kiln-bin/app/app_test.runfiles/python_3_11"
    assert link.is_symlink() and os.path.samefile(link, repo)
