"""The module graph: local modules found through local_path_override, include(), WORKSPACE.bzlmod, Bzlmod off."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kiln.core.errors import LabelError, LoadingError, Location
from kiln.loading.module_files import read_module_files
from kiln.loading.module_info import ModuleInfo
from kiln.loading.repo_mapping import ModuleRepoMapping, canonical_pattern, main_repo_mapping
from kiln.repos.definitions import default_definitions


def write(root: Path, files: dict[str, str]) -> None:
    for path, text in files.items():
        p = root / path
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text).lstrip("\n"))


def read(tmp_path: Path, files: dict[str, str], *, enable_bzlmod: bool = True) -> ModuleInfo:
    write(tmp_path, files)
    return read_module_files(tmp_path / "root", default_definitions(), enable_bzlmod=enable_bzlmod)


def error(tmp_path: Path, files: dict[str, str]) -> LoadingError:
    with pytest.raises(LoadingError) as info:
        read(tmp_path, files)
    return info.value


GRAPH = {
    "root/MODULE.bazel": '''
        module(name = "app")
        bazel_dep(name = "rules_python", version = "1.5.0")
        bazel_dep(name = "mylib", version = "1.0", repo_name = "lib")
        bazel_dep(name = "tools", dev_dependency = True)
        register_toolchains("//tc:root")
        local_path_override(module_name = "mylib", path = "../mylib")
        local_path_override(module_name = "tools", path = "../tools")
        local_path_override(module_name = "words", path = "../words")
    ''',
    "root/WORKSPACE": 'register_toolchains("//tc:workspace")\n',
    "mylib/MODULE.bazel": '''
        module(name = "mylib", version = "1.0")
        bazel_dep(name = "words", repo_name = "w")
        bazel_dep(name = "rules_python", version = "1.5.0")
        bazel_dep(name = "test_only", dev_dependency = True)
        local_path_override(module_name = "test_only", path = "nowhere")
        register_toolchains("//tc:all", "@w//tc:t", "@rules_python//python:x")
        register_toolchains("//tc:dev", "@dev_repo//:x", dev_dependency = True)
        dev = use_extension("@rules_rust//crate_universe:extensions.bzl", "crate", dev_dependency = True)
        dev.spec(package = "anything", version = "1")
        dev.from_anything()
        use_repo(dev, "dev_repo")
        register_execution_platforms(":linux")
    ''',
    "tools/MODULE.bazel": '''
        module(name = "tools")
        register_toolchains("//:tools_tc")
    ''',
    "words/MODULE.bazel": '''
        module(name = "words")
        register_toolchains("@words//:words_tc")
    ''',
}


def test_local_modules_followed_breadth_first_with_their_mappings(tmp_path):
    info = read(tmp_path, GRAPH)
    # The root's dev dependency is followed; the library's dev dependency (and its override), dev
    # registrations and dev extension usages are ignored.
    assert list(info.local_modules) == ["mylib", "tools", "words"]
    assert (info.extensions, info.repos) == ([], {})
    mylib = info.local_modules["mylib"]
    assert (mylib.version, mylib.directory) == ("1.0", (tmp_path / "mylib").resolve())
    assert mylib.module_file == str(tmp_path / "root/../mylib/MODULE.bazel")
    assert dict(mylib.repo_mapping) == {"w": "words", "rules_python": "rules_python", "mylib": "mylib"}
    assert dict(info.local_modules["words"].repo_mapping) == {"words": "words"}
    assert info.bazel_deps == {"rules_python": "rules_python", "lib": "mylib", "tools": "tools"}
    assert main_repo_mapping(info) == {"rules_python": "rules_python", "lib": "mylib", "tools": "tools", "app": ""}
    assert str(tmp_path / "root/../words/MODULE.bazel") in info.files


def test_registrations_root_then_workspace_then_modules_in_bfs_order_with_canonical_repos(tmp_path):
    info = read(tmp_path, GRAPH)
    assert [r.pattern for r in info.toolchains] == [
        "//tc:root", "//tc:workspace",
        "@@mylib//tc:all", "@@words//tc:t", "@@rules_python//python:x",
        "@@tools//:tools_tc",
        "@@words//:words_tc",
    ]
    assert info.toolchains[2].location == Location("../mylib/MODULE.bazel", 6, 1)
    assert [r.pattern for r in info.execution_platforms] == ["@@mylib//:linux"]


def test_absolute_override_path(tmp_path):
    info = read(tmp_path, {
        "root/MODULE.bazel": f'bazel_dep(name = "lib")\nlocal_path_override(module_name = "lib", path = "{tmp_path}/x/lib")\n',
        "x/lib/MODULE.bazel": 'module(name = "lib")\n',
    })
    assert info.local_modules["lib"].directory == (tmp_path / "x/lib").resolve()


def test_override_path_that_does_not_exist(tmp_path):
    e = error(tmp_path, {"root/MODULE.bazel": 'bazel_dep(name = "lib")\n\nlocal_path_override(module_name = "lib", path = "../gone")\n'})
    assert e.message == (f'local_path_override(module_name = "lib", path = "../gone"): the path '
                         f"'{tmp_path}/root/../gone' does not exist")
    assert e.location == Location("MODULE.bazel", 3, 1)


def test_override_directory_without_module_file(tmp_path):
    (tmp_path / "empty").mkdir()
    e = error(tmp_path, {"root/MODULE.bazel": 'bazel_dep(name = "lib")\nlocal_path_override(module_name = "lib", path = "../empty")\n'})
    assert e.message.endswith(f"there is no MODULE.bazel in '{tmp_path}/root/../empty'")
    assert e.location == Location("MODULE.bazel", 2, 1)


def test_module_file_naming_another_module(tmp_path):
    e = error(tmp_path, {
        "root/MODULE.bazel": 'bazel_dep(name = "lib")\nlocal_path_override(module_name = "lib", path = "../lib")\n',
        "lib/MODULE.bazel": 'module(name = "other")\n',
    })
    assert e.message == ('local_path_override(module_name = "lib", path = "../lib"): in module dependency chain '
                         "<root> -> lib: ../lib/MODULE.bazel declares the name 'other', not 'lib'")
    assert e.location == Location("MODULE.bazel", 2, 1)


def test_transitive_module_nobody_provides(tmp_path):
    e = error(tmp_path, {
        "root/MODULE.bazel": 'bazel_dep(name = "lib")\nlocal_path_override(module_name = "lib", path = "../lib")\n',
        "lib/MODULE.bazel": 'module(name = "lib")\n\nbazel_dep(name = "zlib", version = "1.3")\n',
    })
    assert e.message.startswith(
        'bazel_dep(name = "zlib"): kiln cannot find the module \'zlib\' (module dependency chain <root> -> lib -> '
        'zlib): kiln has no module registry yet. Give its directory in the root MODULE.bazel with '
        'local_path_override(module_name = "zlib", path = "...")')
    assert e.location == Location("../lib/MODULE.bazel", 3, 1)


def test_override_nothing_depends_on(tmp_path):
    e = error(tmp_path, {"root/MODULE.bazel": 'module(name = "app")\nlocal_path_override(module_name = "lib", path = "x")\n'})
    assert e.message == ('local_path_override(module_name = "lib"): no bazel_dep names the module \'lib\', in the '
                         "root module or the modules it depends on")
    assert e.location == Location("MODULE.bazel", 2, 1)


def test_override_of_a_rule_set_kiln_provides(tmp_path):
    e = error(tmp_path, {"root/MODULE.bazel": 'bazel_dep(name = "rules_python")\nlocal_path_override(module_name = "rules_python", path = "x")\n'})
    assert e.message == ('local_path_override(module_name = "rules_python"): kiln provides \'rules_python\' itself '
                         "and cannot use another copy of it")


@pytest.mark.parametrize("line, message", [
    ('use_extension("@rules_rust//crate_universe:extensions.bzl", "crate")',
     "use_extension('@rules_rust//crate_universe:extensions.bzl', 'crate'): kiln runs module extensions only in "
     "the root module yet, not in a bazel_dep's MODULE.bazel"),
    ('include("//:more.MODULE.bazel")',
     "include() may only be used in the root module's MODULE.bazel, not in a bazel_dep's"),
])
def test_library_module_refusals(tmp_path, line, message):
    e = error(tmp_path, {
        "root/MODULE.bazel": 'bazel_dep(name = "lib")\nlocal_path_override(module_name = "lib", path = "../lib")\n',
        "lib/MODULE.bazel": f'module(name = "lib")\n{line}\n',
        "lib/more.MODULE.bazel": "",
    })
    assert e.message == message
    assert e.location == Location("../lib/MODULE.bazel", 2, 1)


def test_duplicate_repo_name(tmp_path):
    e = error(tmp_path, {"root/MODULE.bazel": 'bazel_dep(name = "a", repo_name = "x")\nbazel_dep(name = "b", repo_name = "x")\n'})
    assert e.message == 'bazel_dep(name = "b"): the repository name \'x\' is already used by another bazel_dep'
    assert e.location == Location("MODULE.bazel", 2, 1)


# ---- include() -------------------------------------------------------------------

def test_include_evaluates_a_fragment_as_part_of_the_root_module(tmp_path):
    info = read(tmp_path, {
        "root/MODULE.bazel": '''
            module(name = "app")
            include("//deps:libs.MODULE.bazel")
            register_toolchains("//tc:after")
        ''',
        "root/deps/BUILD.bazel": "",
        "root/deps/libs.MODULE.bazel": '''
            LIB = "mylib"
            bazel_dep(name = LIB)
            local_path_override(module_name = LIB, path = "../mylib")
            register_toolchains("//tc:included")
        ''',
        "mylib/MODULE.bazel": 'module(name = "mylib")\n',
    })
    assert list(info.local_modules) == ["mylib"]
    assert [r.pattern for r in info.toolchains] == ["//tc:included", "//tc:after"]
    assert info.toolchains[0].location == Location("deps/libs.MODULE.bazel", 4, 1)
    assert str(tmp_path / "root/deps/libs.MODULE.bazel") in info.files


def test_included_fragment_does_not_see_the_including_files_variables(tmp_path):
    e = error(tmp_path, {
        "root/MODULE.bazel": 'NAME = "x"\ninclude("//:a.MODULE.bazel")\n',
        "root/a.MODULE.bazel": 'bazel_dep(name = NAME)\n',
    })
    assert "Variable `NAME` not found" in e.message
    assert e.location.file == "a.MODULE.bazel" and e.location.line == 1


@pytest.mark.parametrize("label, message", [
    ("//deps:libs.bzl", "bad include label '//deps:libs.bzl': the file to be included must have a name ending in "
                        "'.MODULE.bazel'"),
    ("@other//:x.MODULE.bazel", "bad include label '@other//:x.MODULE.bazel': include() takes a label in the main "
                                "repository, starting with '//'"),
    ("//deps:gone.MODULE.bazel", "include(\"//deps:gone.MODULE.bazel\"): file 'deps/gone.MODULE.bazel' does not exist"),
])
def test_bad_include_labels(tmp_path, label, message):
    e = error(tmp_path, {"root/MODULE.bazel": f'module(name = "app")\ninclude("{label}")\n', "root/deps/libs.bzl": ""})
    assert e.message == message
    assert e.location == Location("MODULE.bazel", 2, 1)


def test_module_call_in_an_included_file(tmp_path):
    e = error(tmp_path, {"root/MODULE.bazel": 'include("//:a.MODULE.bazel")\n', "root/a.MODULE.bazel": 'module(name = "x")\n'})
    assert e.message.startswith("module() may only be called in MODULE.bazel, not in an included file")
    assert e.location == Location("a.MODULE.bazel", 1, 1)


def test_a_file_included_twice(tmp_path):
    e = error(tmp_path, {"root/MODULE.bazel": 'include("//:a.MODULE.bazel")\ninclude("//:a.MODULE.bazel")\n',
                         "root/a.MODULE.bazel": ""})
    assert e.message == 'include("//:a.MODULE.bazel"): a.MODULE.bazel is already included'
    assert e.location == Location("MODULE.bazel", 2, 1)


# ---- WORKSPACE.bzlmod and --noenable_bzlmod --------------------------------------------

FILES = {
    "root/MODULE.bazel": 'module(name = "app")\nregister_toolchains("//:module")\n',
    "root/WORKSPACE": 'register_toolchains("//:workspace")\n',
    "root/WORKSPACE.bzlmod": 'register_toolchains("//:workspace_bzlmod")\n',
}


def test_workspace_bzlmod_replaces_workspace_when_bzlmod_is_on(tmp_path):
    info = read(tmp_path, FILES)
    assert [r.pattern for r in info.toolchains] == ["//:module", "//:workspace_bzlmod"]
    assert str(tmp_path / "root/WORKSPACE") not in info.files


def test_without_workspace_bzlmod_workspace_is_read_and_the_absent_file_watched(tmp_path):
    info = read(tmp_path, {k: v for k, v in FILES.items() if not k.endswith(".bzlmod")})
    assert [r.pattern for r in info.toolchains] == ["//:module", "//:workspace"]
    assert info.absent_files == [str(tmp_path / "root/WORKSPACE.bzlmod"), str(tmp_path / "root/WORKSPACE.bazel")]


def test_bzlmod_off_reads_workspace_only(tmp_path):
    info = read(tmp_path, {**FILES, "root/MODULE.bazel": 'bazel_dep(name = "nowhere")\n'}, enable_bzlmod=False)
    assert [r.pattern for r in info.toolchains] == ["//:workspace"]
    assert info.files == [str(tmp_path / "root/WORKSPACE")]


# ---- repository mappings ---------------------------------------------------------

def test_module_repo_mapping_is_strict_except_for_kiln_rule_sets():
    mapping = ModuleRepoMapping("mylib", {"w": "words", "mylib": "mylib"})
    assert (mapping["w"], mapping["mylib"], mapping["io_bazel_rules_python"], mapping["platforms"]) == (
        "words", "mylib", "rules_python", "platforms")
    with pytest.raises(LabelError) as e:
        mapping["lib"]
    assert e.value.message == ("no repository visible as '@lib' from repository '@mylib' (it sees: mylib, w and "
                               "kiln's built-in rule sets)")


@pytest.mark.parametrize("pattern, canonical", [
    ("//tc:all", "@@mylib//tc:all"),
    (":t", "@@mylib//:t"),
    ("tc/...", "@@mylib//tc/..."),
    ("@w//tc:t", "@@words//tc:t"),
    ("@w", "@@words//:w"),
    ("@//tc:t", "@@//tc:t"),
    ("@@other//x", "@@other//x"),
])
def test_canonical_pattern(pattern, canonical):
    assert canonical_pattern(pattern, "mylib", {"w": "words"}) == canonical


# ---- the resolver ------------------------------------------------------------------

def test_resolver_gives_a_local_modules_directory(tmp_path):
    from kiln.repos.resolver import Repositories

    info = read(tmp_path, GRAPH)
    repos = Repositories(tmp_path / "root", tmp_path / "ob/external")
    found = repos("mylib", info)
    assert found.directory == (tmp_path / "mylib").resolve()
    assert found.files == (str(tmp_path / "root/../mylib/MODULE.bazel"),)
    assert repos("words", info).directory == (tmp_path / "words").resolve()
    assert repos("lib", info) is None  # an apparent name, not a repository
