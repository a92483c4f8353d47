"""py_binary / py_test launchers in each form a runtime calls for, and kiln's runfiles library.

A platform runtime with a short absolute path gets a `#!` launcher the kernel runs with
that interpreter; a path with a space or longer than a `#!` line allows, and an in-build
runtime (interpreter in the runfiles tree), get the sh stub. In every form main runs as
`python main.py` would run it. `@rules_python//python/runfiles` comes from the runfiles
tree, also on an interpreter that has no `runfiles` package of its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

BASE_PYTHON = os.path.realpath(sys.executable)  # the interpreter kiln's venv is made from: no site-packages of kiln's

REPORT = """
import json, os, sys
import helper
print(json.dumps({
    "name": __name__, "file": __file__, "argv": sys.argv, "path0": sys.path[0],
    "launcher_names": sorted(n for n in globals() if n.startswith("_kiln")),
    "helper": helper.VALUE, "executable": os.path.realpath(sys.executable),
}))
"""


def _runtime(ws, interpreter_path: str = "", interpreter: str = "") -> None:
    attr = f'interpreter_path = "{interpreter_path}"' if interpreter_path else f'interpreter = "{interpreter}"'
    major, minor = sys.version_info[:2]
    ws.write("MODULE.bazel", 'module(name = "test_ws")\nregister_toolchains("//tc:all")\n')
    ws.write("tc/BUILD.bazel", f'''
        py_runtime(name = "rt", {attr},
                   interpreter_version_info = {{"major": "{major}", "minor": "{minor}"}})
        py_runtime_pair(name = "pair", py3_runtime = ":rt")
        toolchain(name = "py", toolchain = ":pair", toolchain_type = "@rules_python//python:toolchain_type")
    ''')


def _app(ws) -> None:
    ws.write("app/BUILD.bazel", 'py_binary(name = "bin", srcs = ["main.py", "helper.py"], main = "main.py")\n')
    ws.write("app/main.py", REPORT)
    ws.write("app/helper.py", "VALUE = 'from the runfiles tree'\n")


def _build_and_run(ws) -> tuple[str, dict]:
    r = ws.kiln("build", "//app:bin")
    assert r.code == 0, r.output
    launcher = ws.root / "kiln-bin" / "app" / "bin"
    proc = subprocess.run([str(launcher), "one", "two words"], capture_output=True, text=True,
                          cwd="/", env={"PATH": os.environ["PATH"]})
    assert proc.returncode == 0, proc.stderr
    return launcher.read_text().splitlines()[0], json.loads(proc.stdout)


def _assert_runs_like_python_main(ws, report: dict) -> None:
    tree = str(ws.root / "kiln-bin" / "app" / "bin.runfiles")
    assert report["name"] == "__main__"
    assert report["file"] == f"{tree}/_main/app/main.py"
    assert report["argv"] == [f"{tree}/_main/app/main.py", "one", "two words"]
    assert report["path0"] == f"{tree}/_main/app"
    assert report["launcher_names"] == []
    assert report["helper"] == "from the runfiles tree"


def test_a_platform_runtime_with_a_short_path_gets_a_shebang_launcher(ws):
    _runtime(ws, interpreter_path=BASE_PYTHON)
    _app(ws)
    head, report = _build_and_run(ws)
    assert head == f"#!{BASE_PYTHON}"
    assert "/bin/sh" not in (ws.root / "kiln-bin" / "app" / "bin").read_text()
    _assert_runs_like_python_main(ws, report)
    assert report["executable"] == BASE_PYTHON
    # A platform runtime is not in the runfiles tree at all: the tree holds the program's own files.
    manifest = (ws.root / "kiln-bin" / "app" / "bin.runfiles" / "MANIFEST").read_text().splitlines()
    assert sorted(line.split(" ")[0] for line in manifest) == [
        "_main/app/__init__.py", "_main/app/bin", "_main/app/helper.py", "_main/app/main.py", "_repo_mapping"]


@pytest.mark.parametrize("where", ["dir with space", "/".join(["long-directory-name"] * 14)])
def test_a_path_a_shebang_cannot_carry_gets_the_sh_launcher(ws, tmp_path, where):
    link = tmp_path / where / "python3"
    link.parent.mkdir(parents=True)
    link.symlink_to(BASE_PYTHON)
    _runtime(ws, interpreter_path=str(link))
    _app(ws)
    head, report = _build_and_run(ws)
    assert head == "#!/bin/sh"
    _assert_runs_like_python_main(ws, report)
    assert report["executable"] == BASE_PYTHON


def test_an_in_build_runtime_is_found_in_the_runfiles_tree_by_the_sh_launcher(ws):
    # An in-build interpreter: a wrapper in the workspace, found through the runfiles tree.
    ws.write("tc/python3", f'#!/bin/sh\nexec "{BASE_PYTHON}" "$@"\n', executable=True)
    _runtime(ws, interpreter="python3")
    _app(ws)
    head, report = _build_and_run(ws)
    assert head == "#!/bin/sh"
    assert (ws.root / "kiln-bin" / "app" / "bin.runfiles" / "_main" / "tc" / "python3").is_file()
    _assert_runs_like_python_main(ws, report)
    assert report["executable"] == BASE_PYTHON


def test_the_runfiles_library_comes_from_the_runfiles_tree_on_any_runtime(ws):
    _runtime(ws, interpreter_path=BASE_PYTHON)
    ws.write("t/BUILD.bazel", '''
        py_test(name = "rf_test", srcs = ["rf_test.py"], data = ["data.txt"],
                deps = ["@rules_python//python/runfiles"])
    ''')
    ws.write("t/data.txt", "payload\n")
    ws.write("t/rf_test.py", '''
        import os
        import runfiles
        from runfiles import Runfiles
        from python.runfiles import runfiles as by_repo_path

        root = os.environ["RUNFILES_DIR"]
        assert runfiles.__file__.startswith(root + "/"), runfiles.__file__
        assert by_repo_path.__file__.startswith(root + "/"), by_repo_path.__file__
        r = Runfiles.Create()
        assert r.CurrentRepository() == "", r.CurrentRepository()
        # The main module's name maps to _main through _repo_mapping.
        for path in ("_main/t/data.txt", "test_ws/t/data.txt"):
            with open(r.Rlocation(path)) as f:
                assert f.read() == "payload\\n", path
        assert r.Rlocation("/abs/olute") == "/abs/olute"
        for bad in ("", "../x", "a/../b", "./a"):
            try:
                r.Rlocation(bad)
            except ValueError:
                pass
            else:
                raise AssertionError("accepted " + repr(bad))
        # A test's tree has no MANIFEST: the library goes by the directory.
        assert "RUNFILES_MANIFEST_FILE" not in os.environ
        assert r.EnvVars() == {"RUNFILES_DIR": root, "JAVA_RUNFILES": root}
        d = runfiles.CreateDirectoryBased(root)
        assert d.Rlocation("_main/t/data.txt") == root + "/_main/t/data.txt"
        manifest = os.path.join(os.environ["TEST_TMPDIR"], "x.runfiles_manifest")
        with open(manifest, "w") as f:
            f.write("_main/t/data.txt %s\\n_repo_mapping %s\\n" % (r.Rlocation("_main/t/data.txt"),
                                                              root + "/_repo_mapping"))
        m = runfiles.CreateManifestBased(manifest)
        with open(m.Rlocation("test_ws/t/data.txt")) as f:
            assert f.read() == "payload\\n"
        assert m.EnvVars()["RUNFILES_MANIFEST_FILE"] == manifest
        assert m.Rlocation("_main/t/missing.txt") is None
        print("runfiles library ok")
    ''')
    r = ws.kiln("test", "//t:rf_test", "--test_output=all")
    assert r.code == 0, r.output
    assert "runfiles library ok" in r.output


def test_a_launcher_without_its_runfiles_says_so(ws, tmp_path):
    _runtime(ws, interpreter_path=BASE_PYTHON)
    _app(ws)
    assert ws.kiln("build", "//app:bin").code == 0
    lone = tmp_path / "bin"
    lone.write_text((ws.root / "kiln-bin" / "app" / "bin").read_text())
    lone.chmod(0o755)
    proc = subprocess.run([str(lone)], capture_output=True, text=True, env={"PATH": os.environ["PATH"]})
    assert proc.returncode == 1
    assert proc.stderr == f"kiln launcher: cannot find the runfiles of {lone}\n"
