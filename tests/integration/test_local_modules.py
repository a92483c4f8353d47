"""Modules on the local disk through the real command: bazel_dep + local_path_override, transitive
modules, per-repository repo mappings, toolchain registration order, include(), WORKSPACE.bzlmod and
--noenable_bzlmod, and the messages for bad input."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

from test_toolchains_in_builds import _runtime_build

ROOT_MODULE = '''
module(name = "app")
bazel_dep(name = "rules_python", version = "1.5.0")
bazel_dep(name = "mylib", version = "1.0", repo_name = "lib")
local_path_override(module_name = "mylib", path = "../mylib")
local_path_override(module_name = "words", path = "../words")
'''


def write_module(ws, name: str, files: dict[str, str]) -> Path:
    """A module beside the workspace (../name), as local_path_override names it."""
    root = ws.root.parent / name
    for path, text in files.items():
        p = root / path
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text).lstrip("\n"))
    return root


def libraries(ws, greet_deps: str = '"//util:shout", "@w//:words"') -> None:
    write_module(ws, "mylib", {
        "MODULE.bazel": '''
            module(name = "mylib", version = "1.0")
            bazel_dep(name = "rules_python", version = "1.5.0")
            bazel_dep(name = "words", repo_name = "w")
        ''',
        "pkg/BUILD.bazel": f'''
            load("//:defs.bzl", "greet_library")
            greet_library(name = "greet", srcs = ["greet.py"], deps = [{greet_deps}])
        ''',
        # A macro of the module: its loads resolve in the module's repository too.
        "BUILD.bazel": "",
        "defs.bzl": '''
            load("@rules_python//python:defs.bzl", "py_library")
            def greet_library(name, **kwargs):
                py_library(name = name, visibility = ["//visibility:public"], **kwargs)
        ''',
        "pkg/greet.py": '''
            from util.shout import shout
            from words import WORD
            def greet():
                return shout("hello " + WORD)
        ''',
        # `//util` inside mylib is mylib's own package, not the root module's.
        "util/BUILD.bazel": 'py_library(name = "shout", srcs = ["shout.py"], visibility = ["//visibility:public"])\n',
        "util/shout.py": "def shout(s):\n    return s.upper() + '!'\n",
    })
    write_module(ws, "words", {
        "MODULE.bazel": 'module(name = "words")\n',
        "BUILD.bazel": 'py_library(name = "words", srcs = ["words.py"], visibility = ["//visibility:public"])\n',
        "words.py": 'WORD = "world"\n',
    })


def app(ws) -> None:
    ws.write("app/BUILD.bazel", '''
        load("@rules_python//python:defs.bzl", "py_binary")
        py_binary(name = "app", srcs = ["app.py"], deps = ["@lib//pkg:greet"])
    ''')
    ws.write("app/app.py", "from pkg.greet import greet\nprint(greet())\n")
    # The root module's own //util must not be what mylib's //util:shout names.
    ws.write("util/BUILD.bazel", 'py_library(name = "shout", srcs = ["shout.py"])\n')
    ws.write("util/shout.py", "def shout(s):\n    return 'root shout'\n")


def test_py_binary_runs_with_a_py_library_of_a_local_module_and_its_transitive_dep(ws):
    ws.write("MODULE.bazel", ROOT_MODULE)
    libraries(ws)
    app(ws)
    r = ws.kiln("run", "//app")
    assert r.code == 0, r.output
    assert r.stdout.strip() == "HELLO WORLD!"
    # The runfiles library maps each repository's apparent names as Bazel's _repo_mapping does.
    mapping = (ws.root / "kiln-bin/app/app.runfiles/_repo_mapping").read_text().splitlines()
    assert mapping == [",app,_main", ",lib,mylib", "mylib,mylib,mylib", "mylib,w,words", "words,words,words"]
    r = ws.kiln("query", "deps(//app)")
    assert r.code == 0, r.output
    assert {"@mylib//pkg:greet", "@mylib//util:shout", "@words//:words", "@mylib//pkg:greet.py"} <= set(r.stdout.split())
    assert "//util:shout" not in r.stdout.split()
    # A change in the local module is seen by the next build.
    (ws.root.parent / "words/words.py").write_text('WORD = "modules"\n')
    r = ws.kiln("run", "//app")
    assert r.stdout.strip() == "HELLO MODULES!", r.output


def test_a_test_of_the_root_module_sees_the_local_module_in_its_runfiles(ws):
    ws.write("MODULE.bazel", ROOT_MODULE)
    libraries(ws)
    ws.write("t/BUILD.bazel", 'py_test(name = "t", srcs = ["t.py"], deps = ["@lib//pkg:greet"])\n')
    ws.write("t/t.py", "from pkg.greet import greet\nassert greet() == 'HELLO WORLD!', greet()\n")
    r = ws.kiln("test", "//t")
    assert r.code == 0, r.output


def test_a_local_module_sees_only_its_own_dependencies(ws):
    ws.write("MODULE.bazel", ROOT_MODULE)
    # `@lib` is the root module's name for mylib, not one mylib's own files may use.
    libraries(ws, greet_deps='"@lib//util:shout"')
    app(ws)
    r = ws.kiln("build", "//app")
    assert r.code == 1, r.output
    assert ("no repository visible as '@lib' from repository '@mylib' (it sees: mylib, rules_python, w and "
            "kiln's built-in rule sets)") in r.stderr
    assert r.stderr.startswith("ERROR: @mylib//defs.bzl:3:5: in py_library rule @mylib//pkg:greet: in attribute "
                               "'deps' of 'py_library': no repository visible as '@lib'")
    assert r.stderr.rstrip().endswith("(called from @mylib//pkg/BUILD.bazel:2)")
    assert "Traceback" not in r.output


def _runtime(name: str) -> str:
    """A Python toolchain named `name` running the interpreter of these tests."""
    return _runtime_build(os.path.realpath(os.sys.executable), str(os.sys.version_info[1]), name)


def _selected(ws) -> str:
    r = ws.kiln("build", "//app:main", "--toolchain_resolution_debug=@rules_python//python:toolchain_type")
    assert r.code == 0, r.output
    [line] = [l for l in r.stderr.splitlines() if "Selected toolchain" in l]
    return line.rsplit("Selected toolchain ", 1)[1]


def test_a_local_modules_toolchains_come_after_the_root_module_and_workspace(ws):
    ws.write("MODULE.bazel", ROOT_MODULE.replace('local_path_override(module_name = "words", path = "../words")\n', "")
             + 'register_toolchains("//tc:root")\n')
    ws.write("WORKSPACE", 'register_toolchains("//tc:workspace")\n')
    ws.write("tc/BUILD.bazel", _runtime("root") + _runtime("workspace"))
    write_module(ws, "mylib", {
        "MODULE.bazel": 'module(name = "mylib")\nregister_toolchains("//tc:all")\n',
        "tc/BUILD.bazel": _runtime("lib"),
    })
    ws.write("app/main.py", "print('hi')\n")
    ws.write("app/BUILD.bazel", 'py_binary(name = "main", srcs = ["main.py"])\n')
    assert _selected(ws) == "//tc:root_pair"
    ws.write("MODULE.bazel", ROOT_MODULE.replace('local_path_override(module_name = "words", path = "../words")\n', ""))
    assert _selected(ws) == "//tc:workspace_pair"
    (ws.root / "WORKSPACE").unlink()
    assert _selected(ws) == "@mylib//tc:lib_pair"


def test_include_brings_a_fragment_into_the_root_module(ws):
    ws.write("MODULE.bazel", '''
        module(name = "app")
        bazel_dep(name = "rules_python", version = "1.5.0")
        include("//third_party:libs.MODULE.bazel")
    ''')
    ws.write("third_party/BUILD.bazel", "")
    # Override paths are relative to the root module's directory, wherever they are written.
    ws.write("third_party/libs.MODULE.bazel", ROOT_MODULE.replace('module(name = "app")\n', "").replace(
        'bazel_dep(name = "rules_python", version = "1.5.0")\n', ""))
    libraries(ws)
    app(ws)
    r = ws.kiln("run", "//app")
    assert r.code == 0, r.output
    assert r.stdout.strip() == "HELLO WORLD!"


def test_workspace_bzlmod_replaces_workspace_and_noenable_bzlmod_reads_workspace_only(ws):
    ws.write("MODULE.bazel", 'module(name = "app")\nregister_toolchains("//tc:module")\n')
    ws.write("WORKSPACE", 'register_toolchains("//tc:workspace")\n')
    ws.write("tc/BUILD.bazel", _runtime("module") + _runtime("workspace") + _runtime("bzlmod"))
    ws.write("app/main.py", "print('hi')\n")
    ws.write("app/BUILD.bazel", 'py_binary(name = "main", srcs = ["main.py"])\n')
    ws.write("MODULE.bazel", 'module(name = "app")\n')
    assert _selected(ws) == "//tc:workspace_pair"
    # Creating WORKSPACE.bzlmod changes what is read (the saved plan is not reused).
    ws.write("WORKSPACE.bzlmod", 'register_toolchains("//tc:bzlmod")\n')
    assert _selected(ws) == "//tc:bzlmod_pair"
    # WORKSPACE mode: MODULE.bazel (here naming a module nobody provides) and WORKSPACE.bzlmod are not read.
    ws.write("MODULE.bazel", 'module(name = "app")\nbazel_dep(name = "nowhere")\nregister_toolchains("//tc:module")\n')
    r = ws.kiln("build", "//app:main", "--noenable_bzlmod",
                "--toolchain_resolution_debug=@rules_python//python:toolchain_type")
    assert r.code == 0, r.output
    assert "Selected toolchain //tc:workspace_pair" in r.stderr
    r = ws.kiln("build", "//app:main")
    assert r.code == 1, r.output
    assert 'ERROR: MODULE.bazel:2:1: bazel_dep(name = "nowhere"): kiln cannot find the module' in r.stderr


# ---- bad input --------------------------------------------------------------------

def test_override_path_that_does_not_exist(ws):
    ws.write("MODULE.bazel", 'module(name = "app")\nbazel_dep(name = "mylib")\n'
                             'local_path_override(module_name = "mylib", path = "../nowhere")\n')
    ws.write("BUILD.bazel", "")
    r = ws.kiln("build", "//...")
    assert r.code != 0
    assert (f'ERROR: MODULE.bazel:3:1: local_path_override(module_name = "mylib", path = "../nowhere"): '
            f"the path '{ws.root}/../nowhere' does not exist") in r.stderr
    assert "Traceback" not in r.output


def test_module_file_naming_a_different_module(ws):
    ws.write("MODULE.bazel", 'module(name = "app")\nbazel_dep(name = "mylib")\n'
                             'local_path_override(module_name = "mylib", path = "../mylib")\n')
    ws.write("BUILD.bazel", "")
    write_module(ws, "mylib", {"MODULE.bazel": 'module(name = "my_lib")\n'})
    r = ws.kiln("build", "//...")
    assert r.code != 0
    assert ('ERROR: MODULE.bazel:3:1: local_path_override(module_name = "mylib", path = "../mylib"): in module '
            "dependency chain <root> -> mylib: ../mylib/MODULE.bazel declares the name 'my_lib', not 'mylib'"
            ) in r.stderr
    assert "Traceback" not in r.output


def test_include_of_a_label_not_ending_in_module_bazel(ws):
    ws.write("MODULE.bazel", 'module(name = "app")\n\ninclude("//deps:libs.bzl")\n')
    ws.write("deps/BUILD.bazel", "")
    ws.write("deps/libs.bzl", "")
    r = ws.kiln("build", "//...")
    assert r.code != 0
    assert ("ERROR: MODULE.bazel:3:1: bad include label '//deps:libs.bzl': the file to be included must have a "
            "name ending in '.MODULE.bazel'") in r.stderr
    assert "Traceback" not in r.output


def test_bazel_dep_on_a_module_kiln_cannot_find(ws):
    ws.write("MODULE.bazel", ROOT_MODULE)
    libraries(ws)
    (ws.root.parent / "words/MODULE.bazel").write_text('module(name = "words")\nbazel_dep(name = "abseil-py", version = "2.1.0")\n')
    app(ws)
    r = ws.kiln("build", "//app")
    assert r.code != 0
    assert ('ERROR: ../words/MODULE.bazel:2:1: bazel_dep(name = "abseil-py"): kiln cannot find the module '
            "'abseil-py' (module dependency chain <root> -> mylib -> words -> abseil-py): kiln has no module "
            'registry yet. Give its directory in the root MODULE.bazel with local_path_override(module_name = '
            '"abseil-py", path = "...")') in r.stderr
    assert "Traceback" not in r.output


def test_override_module_on_the_command_line_stands_for_a_local_path_override(ws):
    # No local_path_override for `words` in MODULE.bazel: --override_module gives its directory, as in Bazel.
    ws.write("MODULE.bazel", ROOT_MODULE.replace('local_path_override(module_name = "words", path = "../words")\n', ""))
    libraries(ws)
    app(ws)
    r = ws.kiln("build", "//app")
    assert r.code != 0
    assert "bazel_dep(name = \"words\"): kiln cannot find the module 'words'" in r.stderr
    r = ws.kiln("run", "--override_module=words=../words", "//app")
    assert r.code == 0, r.output
    assert r.stdout.strip() == "HELLO WORLD!"
    # It replaces the root module's own override of that module; a path that is not there is named.
    r = ws.kiln("run", "--override_module=mylib=%workspace%/../nowhere", "--override_module=words=../words", "//app")
    assert r.code != 0
    assert (f"ERROR: --override_module=mylib=%workspace%/../nowhere: the path '{ws.root}/../nowhere' does not "
            "exist") in r.stderr
    assert "Traceback" not in r.output
