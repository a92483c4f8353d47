"""WORKSPACE evaluation without the command: what the .bzl files it loads declare, and the rule sets'
versions as their http_archive writes them (messages name them)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kiln.core.errors import LoadingError
from kiln.loading.module_files import read_module_files
from kiln.loading.module_info import ModuleInfo
from kiln.repos.definitions import default_definitions


def evaluate(root: Path, workspace: str, files: dict[str, str] | None = None) -> ModuleInfo:
    (root / "WORKSPACE").write_text(textwrap.dedent(workspace).lstrip("\n"))
    for path, text in (files or {}).items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(textwrap.dedent(text).lstrip("\n"))
    return read_module_files(root, default_definitions(), enable_bzlmod=False)


def error(root: Path, workspace: str, files: dict[str, str] | None = None) -> LoadingError:
    with pytest.raises(LoadingError) as e:
        evaluate(root, workspace, files)
    return e.value


@pytest.mark.parametrize("attrs, version", [
    ('strip_prefix = "rules_rust-0.49.3", url = "https://example.com/x.tar.gz"', "0.49.3"),
    ('urls = ["https://github.com/bazelbuild/rules_rust/releases/download/0.49.3/rules_rust-v0.49.3.tar.gz"]',
     "0.49.3"),
    ('url = "https://github.com/bazelbuild/rules_rust/archive/refs/tags/v0.57.0.tar.gz"', "0.57.0"),
    ('url = "https://github.com/bazelbuild/rules_rust/archive/refs/tags/0.48.0-rc1.zip"', "0.48.0-rc1"),
])
def test_the_rule_sets_version_is_read_from_its_http_archive(tmp_path, attrs, version):
    e = error(tmp_path, f'''
        load("@bazel_tools//tools/build_defs/repo:http.bzl", "http_archive")
        http_archive(name = "rules_rust", {attrs})
        load("@rules_rust//crate_universe:repositories.bzl", "crate_universe_deps")
        ''')
    assert e.message.startswith(f"kiln does not know 'crate_universe_deps' of "
                                f"'@rules_rust//crate_universe:repositories.bzl' (rules_rust {version}, declared "
                                "at WORKSPACE:2:1); that file defines: crate_universe_dependencies")


def test_without_an_http_archive_the_message_says_the_rule_set_is_not_declared(tmp_path):
    e = error(tmp_path, 'load("@bazel_skylib//:workspace.bzl", "skylib_workspace")\n')
    assert e.message == ("kiln does not know 'skylib_workspace' of '@bazel_skylib//:workspace.bzl' (bazel_skylib, "
                         "not declared in WORKSPACE); that file defines: bazel_skylib_workspace")


def test_a_rule_sets_version_declared_through_maybe_in_a_macro_is_named(tmp_path):
    workspace = 'load("//:deps.bzl", "deps")\ndeps()\nload("@rules_python//python:repositories.bzl", "py_repos")\n'
    e = error(tmp_path, workspace, {"deps.bzl": '''
        load("@bazel_tools//tools/build_defs/repo:http.bzl", "http_archive")
        load("@bazel_tools//tools/build_defs/repo:utils.bzl", "maybe")

        def deps():
            maybe(
                http_archive,
                name = "rules_python",
                strip_prefix = "rules_python-0.31.0",
                url = "https://github.com/bazelbuild/rules_python/releases/download/0.31.0/rules_python-0.31.0.tar.gz",
            )
            maybe(http_archive, name = "rules_python", strip_prefix = "rules_python-0.1.0", url = "x")
        '''})
    assert e.message.startswith("kiln does not know 'py_repos' of '@rules_python//python:repositories.bzl' "
                                "(rules_python 0.31.0, declared at deps.bzl:5:5); that file defines: ")


def test_a_macro_sees_what_is_declared_and_declares_what_is_missing(tmp_path):
    info = evaluate(tmp_path, '''
        load("@bazel_tools//tools/build_defs/repo:http.bzl", "http_archive")
        load("//:deps.bzl", "deps")

        http_archive(name = "a", url = "https://example.com/a.tar.gz")
        deps()
        ''', {"deps.bzl": '''
        load("@bazel_tools//tools/build_defs/repo:http.bzl", "http_archive")

        def deps():
            if native.existing_rule("a")["kind"] != "http_archive" or native.existing_rule("b") != None:
                fail("existing_rule")
            http_archive(name = "b", url = native.existing_rule("a")["url"].replace("a.tar", "b.tar"))
            if sorted(native.existing_rules()) != ["a", "b"]:
                fail("existing_rules")
        '''})
    assert info.repos["b"].usage.tags[0].attrs["url"] == "https://example.com/b.tar.gz"
    assert str(info.repos["b"].location) == "deps.bzl:6:5"
    assert info.files[-1] == str(tmp_path / "deps.bzl")  # a change to the macro file reads WORKSPACE again


def test_a_python_toolchains_interpreter_is_loadable_before_anything_is_fetched(tmp_path):
    info = evaluate(tmp_path, '''
        load("@rules_python//python:repositories.bzl", "py_repositories", "python_register_toolchains")
        load("@rules_python//python:pip.bzl", "package_annotation")

        py_repositories()
        python_register_toolchains(name = "python3_11", python_version = "3.11")

        load("@python3_11//:defs.bzl", "host_platform", "interpreter")

        register_toolchains(interpreter.replace("//:bin/python3", "//:all"))
        ''')
    [registration] = [r for r in info.toolchains if r.location.line == 9]
    host = registration.pattern.removeprefix("@python3_11_").removesuffix("//:all")
    assert f"python3_11_{host}" in info.repos and info.repos[f"python3_11_{host}"].kind == "python_repository"


def test_versions_check_and_rust_repositories_version(tmp_path):
    info = evaluate(tmp_path, '''
        load("@bazel_skylib//lib:versions.bzl", "versions")
        load("@rules_rust//rust:repositories.bzl", "rust_repositories")

        versions.check(minimum_bazel_version = "6.0.0")
        rust_repositories(version = "0.0.1", edition = "2018")
        ''')
    # Whatever the machine has, it is not Rust 0.0.1: said with the call's location (or that it has no rustc).
    assert len(info.warnings) == 1
    assert info.warnings[0].startswith('WORKSPACE:5:1: rust_repositories(versions = ["0.0.1"]): ')


def test_a_macro_file_cannot_load_itself(tmp_path):
    e = error(tmp_path, 'load("//:a.bzl", "a")\n', {"a.bzl": 'load("//:b.bzl", "b")\na = 1\n',
                                                     "b.bzl": 'load("//:a.bzl", "a")\nb = 1\n'})
    assert e.message == "cycle in the load() graph: //:a.bzl -> //:b.bzl -> //:a.bzl"
    assert str(e.location) == "b.bzl:1:1"


def test_a_macro_file_may_load_build_rules_it_calls_only_from_build_files(tmp_path):
    files = {"tools/BUILD.bazel": "", "tools/defs.bzl": '''
        load("@bazel_tools//tools/build_defs/repo:http.bzl", "http_archive")
        load("@rules_python//python:defs.bzl", "py_test")

        def tool_deps():
            http_archive(name = "tool", url = "https://example.com/tool.tar.gz")

        def my_test(name, **kwargs):
            py_test(name = name, **kwargs)

        def my_data():
            return select({"//conditions:default": depset([]).to_list()})
        '''}
    info = evaluate(tmp_path, 'load("//tools:defs.bzl", "my_test", "tool_deps")\n\ntool_deps()\n', files)
    assert info.repos["tool"].kind == "http_archive"
    e = error(tmp_path, 'load("//tools:defs.bzl", "my_test")\n\nmy_test(name = "t")\n', files)
    assert e.message == ("'py_test' from @rules_python//python:defs.bzl is for BUILD files: it cannot be called "
                         "while WORKSPACE is read (called from WORKSPACE:3)")
    assert str(e.location) == "tools/defs.bzl:8:5"
