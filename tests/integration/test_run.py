"""`kiln run`: arguments, exit code, stdin/stdout, runfiles, sys.path, args/env attributes."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import KILN, Result, Workspace


def _kiln(ws: Workspace, *args: str, input: str | None = None, cwd: Path | None = None,
          env: dict | None = None) -> Result:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("KILN_")}
    full_env["HOME"] = str(ws.output_base.parent / "home")
    full_env.update(env or {})
    proc = subprocess.run([*KILN, f"--output_base={ws.output_base}", *args], cwd=cwd or ws.root, env=full_env,
                          input=input if input is not None else "", capture_output=True, text=True, timeout=120)
    return Result(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture(scope="module")
def rws(tmp_path_factory) -> Workspace:
    base = tmp_path_factory.mktemp("run")
    (base / "ws").mkdir()
    (base / "home").mkdir()
    ws = Workspace(base / "ws", base / "output_base")
    ws.write("r/BUILD.bazel", """
        load("@rules_python//python:defs.bzl", "py_binary", "py_library")

        py_binary(name = "echo", srcs = ["echo.py"])
        py_binary(name = "exit_with", srcs = ["exit_with.py"])
        py_binary(name = "cat", srcs = ["cat.py"])

        py_binary(
            name = "reader",
            srcs = ["reader.py"],
            data = ["data.txt", ":generated"],
            deps = ["@rules_python//python/runfiles"],
        )

        py_binary(
            name = "mapped",
            srcs = ["mapped.py"],
            data = ["data.txt"],
            deps = ["@rules_python//python/runfiles"],
        )

        genrule(name = "generated", outs = ["generated.txt"], cmd = "echo generated-at-build-time > $@")

        py_binary(
            name = "with_attrs",
            srcs = ["with_attrs.py"],
            args = ["--fixed", "'two words'", "$(location data.txt)"],
            env = {"GREETING": "hello from env", "DATA_PATH": "$(rootpath data.txt)"},
            data = ["data.txt"],
        )

        py_binary(name = "importer", srcs = ["importer.py"], deps = ["//imp:mylib", "//imp:nested"])

        py_binary(name = "sneaky", srcs = ["sneaky.py"])

        py_binary(name = "where", srcs = ["where.py"])

        py_binary(name = "main_attr", srcs = ["entry.py", "helper.py"], main = "entry.py")

        py_binary(name = "sibling", srcs = ["sibling.py", "helper.py"])

        py_library(name = "notbin", srcs = ["helper.py"])
    """)
    ws.write("r/echo.py", """
        import json
        import sys
        print(json.dumps(sys.argv[1:]))
    """)
    ws.write("r/exit_with.py", """
        import sys
        print("exiting with", sys.argv[1])
        sys.exit(int(sys.argv[1]))
    """)
    ws.write("r/cat.py", """
        import sys
        data = sys.stdin.read()
        sys.stdout.write("got:" + data.upper())
    """)
    ws.write("r/reader.py", """
        from runfiles import Runfiles

        r = Runfiles.Create()
        for path in ("_main/r/data.txt", "_main/r/generated.txt"):
            with open(r.Rlocation(path)) as f:
                print(f.read().strip())
    """)
    ws.write("r/data.txt", "data file content\n")
    ws.write("r/mapped.py", """
        from runfiles import Runfiles

        r = Runfiles.Create()
        # The main module's own name maps to _main through _repo_mapping.
        with open(r.Rlocation("test_ws/r/data.txt")) as f:
            print(f.read().strip())
    """)
    ws.write("r/with_attrs.py", """
        import json, os, sys
        print(json.dumps({"argv": sys.argv[1:], "greeting": os.environ.get("GREETING"),
                          "data_path": os.environ.get("DATA_PATH"),
                          "data": open(os.environ["DATA_PATH"]).read().strip()}))
    """)
    ws.write("r/importer.py", """
        import mylib
        import deep_mod
        print(mylib.NAME, deep_mod.NAME)
    """)
    ws.write("r/sneaky.py", """
        import importlib
        for name in ("secret", "r.secret"):
            try:
                importlib.import_module(name)
                print(name, "IMPORTED")
            except ImportError:
                print(name, "hidden")
    """)
    ws.write("r/secret.py", "VALUE = 'leaked'\n")
    ws.write("r/where.py", """
        import json, os, sys
        print(json.dumps({
            "cwd": os.getcwd(),
            "runfiles_dir": os.environ.get("RUNFILES_DIR"),
            "workspace_dir": os.environ.get("BUILD_WORKSPACE_DIRECTORY"),
            "working_dir": os.environ.get("BUILD_WORKING_DIRECTORY"),
            "path": sys.path,
        }))
    """)
    ws.write("r/entry.py", "from r import helper\nprint('entry', helper.X)\n")
    ws.write("r/sibling.py", "import helper\nprint('sibling', helper.X)\n")
    ws.write("r/helper.py", "X = 42\n")
    ws.write("imp/BUILD.bazel", """
        load("@rules_python//python:defs.bzl", "py_library")
        py_library(name = "mylib", srcs = ["mylib.py"], imports = ["."], visibility = ["//visibility:public"])
        py_library(name = "nested", srcs = ["deep/deep_mod.py"], imports = ["deep"], visibility = ["//visibility:public"])
    """)
    ws.write("imp/mylib.py", "NAME = 'mylib'\n")
    ws.write("imp/deep/deep_mod.py", "NAME = 'deep'\n")
    return ws


def test_run_passes_arguments(rws):
    r = _kiln(rws, "run", "//r:echo", "--", "a", "b c", "--flag=1", "-//x")
    assert r.code == 0, r.output
    assert json.loads(r.stdout) == ["a", "b c", "--flag=1", "-//x"]


def test_run_stdout_is_only_the_program_output(rws):
    r = _kiln(rws, "run", "//r:echo", "--", "x")
    assert r.code == 0, r.output
    assert r.stdout == '["x"]\n'
    assert "INFO" in r.stderr  # kiln's own messages go to stderr


def test_run_passes_exit_code_through(rws):
    r = _kiln(rws, "run", "//r:exit_with", "--", "7")
    assert r.code == 7, r.output
    assert r.stdout == "exiting with 7\n"
    r = _kiln(rws, "run", "//r:exit_with", "--", "0")
    assert r.code == 0, r.output


def test_run_attaches_stdin(rws):
    r = _kiln(rws, "run", "//r:cat", input="piped input\nsecond line\n")
    assert r.code == 0, r.output
    assert r.stdout == "got:PIPED INPUT\nSECOND LINE\n"


def test_run_reads_data_through_runfiles_library(rws):
    r = _kiln(rws, "run", "//r:reader")
    assert r.code == 0, r.output
    assert r.stdout == "data file content\ngenerated-at-build-time\n"


def test_repo_mapping_file_names_main_module(rws):
    r = _kiln(rws, "build", "//r:mapped")
    assert r.code == 0, r.output
    mapping = (rws.root / "kiln-bin/r/mapped.runfiles/_repo_mapping").read_text().splitlines()
    assert ",test_ws,_main" in mapping


def test_runfiles_repo_mapping_of_main_module_name(rws):
    r = _kiln(rws, "run", "//r:mapped")
    assert r.code == 0, r.output
    assert r.stdout == "data file content\n"
    manifest = (rws.root / "kiln-bin/r/mapped.runfiles/MANIFEST").read_text().splitlines()
    assert any(line.startswith("_repo_mapping ") for line in manifest)


def test_built_binary_runs_directly(rws):
    r = _kiln(rws, "build", "//r:reader")
    assert r.code == 0, r.output
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNFILES")}
    proc = subprocess.run([str(rws.root / "kiln-bin/r/reader")], capture_output=True, text=True, cwd="/", env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "data file content\ngenerated-at-build-time\n"


def test_imports_attribute_extends_sys_path(rws):
    r = _kiln(rws, "run", "//r:importer")
    assert r.code == 0, r.output
    assert r.stdout == "mylib deep\n"


def test_source_tree_is_not_on_sys_path(rws):
    r = _kiln(rws, "run", "//r:sneaky")
    assert r.code == 0, r.output
    assert r.stdout.splitlines() == ["secret hidden", "r.secret hidden"]


def test_run_environment_and_working_directory(rws):
    sub = rws.root / "imp"
    r = _kiln(rws, "run", "//r:where", cwd=sub)
    assert r.code == 0, r.output
    info = json.loads(r.stdout)
    assert info["workspace_dir"] == str(rws.root)
    assert info["working_dir"] == str(sub)
    assert info["runfiles_dir"].endswith("/r/where.runfiles")
    assert info["cwd"] == os.path.join(info["runfiles_dir"], "_main")
    assert not any(p == str(rws.root) or p.startswith(str(rws.root) + "/") for p in info["path"]), info["path"]


def test_args_and_env_attributes(rws):
    r = _kiln(rws, "run", "//r:with_attrs", "--", "extra")
    assert r.code == 0, r.output
    out = json.loads(r.stdout)
    assert out["argv"] == ["--fixed", "two words", "r/data.txt", "extra"]
    assert out["greeting"] == "hello from env"
    assert out["data_path"] == "r/data.txt"
    assert out["data"] == "data file content"


def test_main_attribute(rws):
    r = _kiln(rws, "run", "//r:main_attr")
    assert r.code == 0, r.output
    assert r.stdout == "entry 42\n"


def test_main_script_directory_is_on_sys_path(rws):
    r = _kiln(rws, "run", "//r:sibling")
    assert r.code == 0, r.output
    assert r.stdout == "sibling 42\n"


def test_run_relative_label_from_subdirectory(rws):
    r = _kiln(rws, "run", ":echo", "--", "sub", cwd=rws.root / "r")
    assert r.code == 0, r.output
    assert json.loads(r.stdout) == ["sub"]


def test_run_non_executable_target_is_an_error(rws):
    r = _kiln(rws, "run", "//r:notbin")
    assert r.code == 2, r.output
    assert "//r:notbin" in r.stderr
    assert r.stdout == ""


def test_run_needs_exactly_one_target(rws):
    r = _kiln(rws, "run", "//r:all")
    assert r.code == 2, r.output
    assert r.stdout == ""


def test_action_output_during_run_goes_to_stderr(ws):
    ws.write("n/BUILD.bazel", """
        load("@rules_python//python:defs.bzl", "py_binary")
        genrule(name = "noisy", outs = ["noisy.txt"], cmd = "echo NOISY-STDOUT; echo NOISY-STDERR >&2; touch $@")
        py_binary(name = "bin", srcs = ["bin.py"], data = [":noisy"])
    """)
    ws.write("n/bin.py", "print('program output')\n")
    r = _kiln(ws, "run", "//n:bin")
    assert r.code == 0, r.output
    assert r.stdout == "program output\n"
    assert "NOISY-STDOUT" in r.stderr and "NOISY-STDERR" in r.stderr


def _x_ws(ws):
    ws.write("x/BUILD.bazel", """
        load("@rules_python//python:defs.bzl", "py_test")
        genrule(
            name = "script",
            outs = ["script.sh"],
            cmd = "printf '#!/bin/sh\\necho script says $$1\\nexit 5\\n' > $@",
            executable = True,
        )
        py_test(name = "t", srcs = ["t.py"])
    """)
    ws.write("x/t.py", "import sys\nprint('test run with', sys.argv[1:])\n")


def test_run_executable_genrule(ws):
    _x_ws(ws)
    r = _kiln(ws, "run", "//x:script", "--", "hi")
    assert r.code == 5, r.output
    assert r.stdout == "script says hi\n"


def test_run_py_test(ws):
    _x_ws(ws)
    r = _kiln(ws, "run", "//x:t", "--", "arg")
    assert r.code == 0, r.output
    assert r.stdout == "test run with ['arg']\n"


def test_run_build_failure_exits_1(ws):
    ws.write("b/BUILD.bazel", """
        load("@rules_python//python:defs.bzl", "py_binary")
        genrule(name = "broken", outs = ["broken.txt"], cmd = "exit 1")
        py_binary(name = "bin", srcs = ["bin.py"], data = [":broken"])
    """)
    ws.write("b/bin.py", "print('must not run')\n")
    r = _kiln(ws, "run", "//b:bin")
    assert r.code == 1, r.output
    assert "must not run" not in r.output
