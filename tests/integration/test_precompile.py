"""Precompiling (seed 004): PyCompile actions named by the runtime's pyc tag, the flags and attributes that
control them, pyc files in runfiles, and the bytecode used when a program runs."""

from __future__ import annotations

import sys

PRECOMPILE = "--@rules_python//python/config_settings:precompile=enabled"
TAG = sys.implementation.cache_tag

# A precompiler given by the exec tools toolchain, as rules_python lets users replace it: rules_python's
# per-request arguments from the @paramfile, compiled with py_compile.
COMPILER = '''
import py_compile, sys
args = open(sys.argv[1][1:]).read().split()
opts = dict(zip(args[0::2], args[1::2]))
modes = {"checked_hash": py_compile.PycInvalidationMode.CHECKED_HASH,
         "unchecked_hash": py_compile.PycInvalidationMode.UNCHECKED_HASH}
py_compile.compile(opts["--src"], cfile=opts["--pyc"], dfile=opts["--src_name"], doraise=True,
                   invalidation_mode=modes[opts["--invalidation_mode"]], optimize=int(opts["--optimize"]))
'''


def _ws(ws, *, lib_attrs: str = "", bin_attrs: str = "") -> None:
    ws.write("MODULE.bazel", 'module(name = "app")\nregister_toolchains("//tools:all")\n')
    ws.write("tools/BUILD.bazel", '''
        load("@rules_python//python:defs.bzl", "py_binary")
        load("@rules_python//python:py_exec_tools_toolchain.bzl", "py_exec_tools_toolchain")

        py_binary(name = "compile", srcs = ["compile.py"], precompile = "disabled")

        py_exec_tools_toolchain(name = "tools", precompiler = ":compile")

        toolchain(
            name = "exec_tools",
            toolchain = ":tools",
            toolchain_type = "@rules_python//python:exec_tools_toolchain_type",
        )
        ''')
    ws.write("tools/compile.py", COMPILER)
    ws.write("pkg/BUILD.bazel", f'''
        load("@rules_python//python:defs.bzl", "py_binary", "py_library")

        py_library(name = "lib", srcs = ["mod.py", "other.py"]{lib_attrs})

        py_binary(name = "main", srcs = ["main.py"], deps = [":lib"]{bin_attrs})
        ''')
    ws.write("pkg/mod.py", "VALUE = 42\n")
    ws.write("pkg/other.py", "OTHER = 1\n")
    ws.write("pkg/main.py", "import mod\nprint(mod.VALUE)\n")


def _pyc_used(ws, *args: str) -> list[str]:
    """The modules of pkg whose code came from a pyc file, as `python -v` says, running //pkg:main."""
    r = ws.kiln("run", *args, "//pkg:main", env={"PYTHONVERBOSE": "1"})
    assert r.code == 0, r.output
    assert r.stdout.strip() == "42"
    return sorted(line.rsplit("/", 1)[-1].rstrip("'") for line in r.stderr.splitlines()
                  if line.startswith("# code object from '") and "/main.runfiles/_main/pkg/" in line)


def test_the_pyc_files_are_what_runs(ws):
    _ws(ws)
    r = ws.kiln("build", "//pkg:main", PRECOMPILE)
    assert r.code == 0, r.output
    for name in ("mod", "other", "main"):
        pyc = ws.root / "kiln-bin" / "pkg" / "__pycache__" / f"{name}.{TAG}.pyc"
        # checked-hash pyc files (PEP 552 flags 0b11) outside -c opt.
        assert pyc.read_bytes()[4:8] == (3).to_bytes(4, "little"), name
    assert _pyc_used(ws, PRECOMPILE) == [f"main.{TAG}.pyc", f"mod.{TAG}.pyc"]
    # Without precompiling, the program compiles its sources itself.
    assert _pyc_used(ws) == []


def test_unchecked_hash_under_opt_and_one_edit_one_action(ws):
    _ws(ws)
    r = ws.kiln("build", "-c", "opt", "//pkg:lib", PRECOMPILE)
    assert r.code == 0, r.output
    pyc = ws.output_base / "execroot/_main/kiln-out/k8-opt/bin/pkg/__pycache__" / f"mod.{TAG}.pyc"
    assert pyc.read_bytes()[4:8] == (1).to_bytes(4, "little")
    ws.write("pkg/other.py", "OTHER = 2\n")
    r = ws.kiln("build", "-c", "opt", "//pkg:lib", PRECOMPILE, "--explain=-")
    assert r.code == 0, r.output
    assert r.output.count("Executing action 'Python precompiling") == 1, r.output
    assert "Python precompiling pkg/other.py" in r.output


def test_omit_source_keeps_only_the_pyc(ws):
    _ws(ws, lib_attrs=', precompile_source_retention = "omit_source"')
    r = ws.kiln("build", "//pkg:main", PRECOMPILE)
    assert r.code == 0, r.output
    runfiles = ws.root / "kiln-bin" / "pkg" / "main.runfiles" / "_main" / "pkg"
    assert (runfiles / "mod.pyc").exists() and not (runfiles / "mod.py").exists()
    r = ws.kiln("run", "//pkg:main", PRECOMPILE)
    assert r.code == 0, r.output
    assert r.stdout.strip() == "42"


def test_binary_level_opt_in_and_opt_out(ws):
    """seed 004's recipe: pyc files stay out of libraries' runfiles, each binary's pyc_collection decides."""
    elsewhere = "--@rules_python//python/config_settings:precompile_add_to_runfiles=decided_elsewhere"
    _ws(ws, bin_attrs=', pyc_collection = "include_pyc"')
    assert _pyc_used(ws, PRECOMPILE, elsewhere) == [f"main.{TAG}.pyc", f"mod.{TAG}.pyc"]
    _ws(ws)
    opt_in = "--@rules_python//python/config_settings:pyc_collection=disabled"
    assert _pyc_used(ws, PRECOMPILE, elsewhere, opt_in) == []
    opt_out = "--@rules_python//python/config_settings:pyc_collection=include_pyc"
    assert _pyc_used(ws, PRECOMPILE, elsewhere, opt_out) == [f"main.{TAG}.pyc", f"mod.{TAG}.pyc"]
    _ws(ws, bin_attrs=', pyc_collection = "disabled"')
    assert _pyc_used(ws, PRECOMPILE, elsewhere, opt_out) == []


def test_the_attribute_over_the_flag(ws):
    _ws(ws, lib_attrs=', precompile = "disabled"')
    assert _pyc_used(ws, PRECOMPILE) == [f"main.{TAG}.pyc"]


def test_execution_requirements_flag_reaches_the_action(ws):
    _ws(ws)
    flag = "--@rules_python//tools/precompiler:execution_requirements="
    r = ws.kiln("aquery", 'mnemonic("PyCompile", //pkg:lib)', PRECOMPILE, flag + "no-remote=1", flag + "tag=x")
    assert r.code == 0, r.output
    # (kiln-host-dirs: the precompiler binary's runtime installation, shown to the action.)
    venv = ws.output_base / "external" / "kiln_local_python" / "venv"
    assert r.stdout.count(f"ExecutionInfo: {{kiln-host-dirs: {venv}, no-remote: 1, tag: x}}") == 2, r.stdout


def test_a_runtime_without_a_pyc_tag_skips_with_one_info_line(ws):
    ws.write("MODULE.bazel", 'module(name = "app")\nbazel_dep(name = "rules_python", version = "1.5.0")\n'
                             'register_toolchains("@rules_python//python/runtime_env_toolchains:all")\n')
    ws.write("pkg/BUILD.bazel", '''
        load("@rules_python//python:defs.bzl", "py_library")

        py_library(name = "a", srcs = ["a.py"])

        py_library(name = "b", srcs = ["b.py"])
        ''')
    ws.write("pkg/a.py", "")
    ws.write("pkg/b.py", "")
    r = ws.kiln("build", "//pkg:all", PRECOMPILE)
    assert r.code == 0, r.output
    assert r.stderr.count("INFO: Precompiling skipped: no pyc tag is known at build time for the Python runtime") == 1, \
        r.stderr


def test_a_precompiler_that_does_not_exist(ws):
    _ws(ws)
    ws.write("tools/BUILD.bazel", (ws.root / "tools/BUILD.bazel").read_text().replace(
        'precompiler = ":compile"', 'precompiler = ":no_such_compiler"'))
    r = ws.kiln("build", "//pkg:lib", PRECOMPILE)
    assert r.code == 1, r.output
    assert ("tools/BUILD.bazel:6:1: in precompiler attribute of py_exec_tools_toolchain rule //tools:tools: missing "
            "input file '//tools:no_such_compiler'") in r.stderr, r.stderr
    assert "Traceback" not in r.output


# ---- kiln's own precompiler (kiln.tools.precompiler), a persistent multiplexed worker ----------------------

def _plain_ws(ws, *, extra_module: str = "") -> None:
    ws.write("MODULE.bazel", 'module(name = "app")\n' + extra_module)
    ws.write("pkg/BUILD.bazel", '''
        load("@rules_python//python:defs.bzl", "py_binary", "py_library")

        py_library(name = "lib", srcs = ["mod.py", "other.py"])

        py_binary(name = "main", srcs = ["main.py"], deps = [":lib"])
        ''')
    ws.write("pkg/mod.py", "VALUE = 42\n")
    ws.write("pkg/other.py", "OTHER = 1\n")
    ws.write("pkg/main.py", "import mod\nprint(mod.VALUE)\n")


def test_kilns_precompiler_runs_as_a_worker_and_its_pyc_files_run(ws):
    _plain_ws(ws)
    r = ws.kiln("build", "//pkg:main", PRECOMPILE)
    assert r.code == 0, r.output
    # It ran in a persistent worker: the worker's own directory (kiln.execution.worker_pool).
    assert any((ws.output_base / "workers").iterdir())
    assert _pyc_used(ws, PRECOMPILE) == [f"main.{TAG}.pyc", f"mod.{TAG}.pyc"]
    worker = (ws.root / "kiln-bin" / "pkg" / "__pycache__" / f"mod.{TAG}.pyc").read_bytes()
    # One-shot (no worker), unsandboxed and sandboxed, writes the same bytes: the param file written for the
    # spawn is found in either exec root.
    for strategy in ("local", "sandboxed"):
        r = ws.kiln("clean")
        r = ws.kiln("build", "//pkg:main", PRECOMPILE, f"--strategy=PyCompile={strategy}")
        assert r.code == 0, r.output
        assert (ws.root / "kiln-bin" / "pkg" / "__pycache__" / f"mod.{TAG}.pyc").read_bytes() == worker
    # The seed's switch to the serial implementation.
    r = ws.kiln("clean")
    r = ws.kiln("build", "//pkg:main", PRECOMPILE, "--worker_extra_flag=PyCompile=--worker_impl=serial")
    assert r.code == 0, r.output
    assert (ws.root / "kiln-bin" / "pkg" / "__pycache__" / f"mod.{TAG}.pyc").read_bytes() == worker


def test_force_enabled_overrides_the_attribute(ws):
    _plain_ws(ws)
    ws.write("pkg/BUILD.bazel", (ws.root / "pkg/BUILD.bazel").read_text().replace(
        'srcs = ["mod.py", "other.py"]', 'srcs = ["mod.py", "other.py"], precompile = "disabled"'))
    assert _pyc_used(ws, PRECOMPILE) == [f"main.{TAG}.pyc"]
    force = "--@rules_python//python/config_settings:precompile=force_enabled"
    assert _pyc_used(ws, force) == [f"main.{TAG}.pyc", f"mod.{TAG}.pyc"]


def test_a_syntax_error_names_the_file_line_and_target(ws):
    _plain_ws(ws)
    ws.write("pkg/other.py", "OTHER = 1\ndef broken(:\n")
    r = ws.kiln("build", "//pkg:lib", PRECOMPILE)
    assert r.code == 1, r.output
    assert "pkg/BUILD.bazel:3:1: Python precompiling pkg/other.py" in r.stderr, r.stderr
    assert 'File "pkg/other.py", line 2' in r.stderr, r.stderr
    assert "Traceback" not in r.output


def test_the_pyc_is_what_runs_on_python_3_9_too(ws):
    """Before 3.11, Python puts the main file's real directory first on sys.path (seed 004's caveat); kiln's
    launcher puts the runfiles tree's first, so the pyc files are found there as well."""
    import glob

    found = sorted(glob.glob(str(__import__("pathlib").Path.home() / ".pyenv/versions/3.9.*/bin/python3.9")))
    if not found:
        from conftest import unavailable

        unavailable("no CPython 3.9 under ~/.pyenv/versions")
    _plain_ws(ws, extra_module='register_toolchains("//rt:all")\n')
    ws.write("rt/BUILD.bazel", f'''
        load("@rules_python//python:defs.bzl", "py_runtime", "py_runtime_pair")

        py_runtime(name = "py39", interpreter_path = "{found[-1]}", interpreter_version_info = {{"major": "3", "minor": "9"}})

        py_runtime_pair(name = "pair39", py3_runtime = ":py39")

        toolchain(
            name = "toolchain_39",
            toolchain = ":pair39",
            toolchain_type = "@rules_python//python:toolchain_type",
            target_settings = ["@rules_python//python/config_settings:is_python_3.9"],
        )
        ''')
    ws.write("pkg/BUILD.bazel", (ws.root / "pkg/BUILD.bazel").read_text().replace(
        'deps = [":lib"])', 'deps = [":lib"], python_version = "3.9")'))
    r = ws.kiln("run", PRECOMPILE, "//pkg:main", env={"PYTHONVERBOSE": "1"})
    assert r.code == 0, r.output
    used = sorted(line.rsplit("/", 1)[-1].rstrip("'") for line in r.stderr.splitlines()
                  if line.startswith("# code object from '") and "/main.runfiles/_main/pkg/" in line)
    assert used == ["main.cpython-39.pyc", "mod.cpython-39.pyc"], r.stderr[-2000:]


# ---- a custom precompiler that is a py_interpreter_program (as rules_python's own is) ----------------------

# A JSON persistent worker: each request's arguments are rules_python's per-file ones. It records the
# interpreter arguments and environment it was started with, so the test sees them applied.
JSON_WORKER = '''
import json, os, py_compile, sys
assert sys.flags.optimize == 0 and sys.flags.dont_write_bytecode == 1, "interpreter_args not applied"
assert os.environ["MY_PRECOMPILER_MODE"] == "strict", "env not applied"
assert "--persistent_worker" in sys.argv, sys.argv
modes = {"checked_hash": py_compile.PycInvalidationMode.CHECKED_HASH,
         "unchecked_hash": py_compile.PycInvalidationMode.UNCHECKED_HASH}
for line in sys.stdin:
    request = json.loads(line)
    args = request["arguments"]
    opts = dict(zip(args[0::2], args[1::2]))
    sandbox = request.get("sandboxDir", "")
    at = lambda p: os.path.join(sandbox, p) if sandbox else p
    py_compile.compile(at(opts["--src"]), cfile=at(opts["--pyc"]), dfile=opts["--src_name"], doraise=True,
                       invalidation_mode=modes[opts["--invalidation_mode"]], optimize=int(opts["--optimize"]))
    print(json.dumps({"exitCode": 0, "output": "", "requestId": request.get("requestId", 0)}), flush=True)
'''


def test_a_py_interpreter_program_precompiler_brings_its_execution_requirements(ws):
    _ws(ws)
    ws.write("tools/BUILD.bazel", '''
        load("@bazel_skylib//rules:common_settings.bzl", "string_list_flag")
        load("@rules_python//python:py_exec_tools_toolchain.bzl", "py_exec_tools_toolchain")
        load("@rules_python//python/private:py_interpreter_program.bzl", "py_interpreter_program")

        string_list_flag(
            name = "requirements",
            build_setting_default = ["supports-workers=1", "requires-worker-protocol=json"],
        )

        py_interpreter_program(
            name = "compile",
            main = "worker.py",
            interpreter_args = ["-B"],
            env = {"MY_PRECOMPILER_MODE": "strict"},
            execution_requirements = ":requirements",
        )

        py_exec_tools_toolchain(name = "tools", precompiler = ":compile")

        toolchain(
            name = "exec_tools",
            toolchain = ":tools",
            toolchain_type = "@rules_python//python:exec_tools_toolchain_type",
        )
        ''')
    ws.write("tools/worker.py", JSON_WORKER)
    r = ws.kiln("aquery", 'mnemonic("PyCompile", //pkg:lib)', PRECOMPILE)
    assert r.code == 0, r.output
    assert r.stdout.count("requires-worker-protocol: json, supports-workers: 1}") == 2, r.stdout
    assert r.stdout.count("MY_PRECOMPILER_MODE=strict") == 2, r.stdout
    r = ws.kiln("build", "//pkg:main", PRECOMPILE)
    assert r.code == 0, r.output
    # It ran as the persistent worker its ExecutionInfo asked for (kiln.execution.worker_pool's directory).
    assert [p.name for p in (ws.output_base / "workers").iterdir()], "no worker ran"
    assert _pyc_used(ws, PRECOMPILE) == [f"main.{TAG}.pyc", f"mod.{TAG}.pyc"]
