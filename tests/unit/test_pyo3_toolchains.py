"""PyO3 toolchains and pyo3_extension's compilation_mode and stubs, at analysis (no cargo).

rust_pyo3_toolchain / pyo3_toolchain as rules_rust_pyo3 and rules_pyo3 declare them: the pyo3 an
extension links when its deps name none, which registration wins, the toolchain types of both rule
sets, the compilation_mode transition (the cargo profile and output directory it gives) and the stub
generation action. The real builds are in tests/integration/test_rust.py.
"""

import pytest

from kiln.core.config import Configuration
from kiln.core.errors import KilnError
from kiln.core.labels import parse_label
from test_rust_rules import cargo_action, spec_of, world

RUST_MODULE = 'register_toolchains("//fake_rust:all")\n'

TOOLCHAIN_BUILD = '''
load("@rules_rust_pyo3//:defs.bzl", "pyo3_extension", "rust_pyo3_toolchain")

rust_pyo3_toolchain(name = "abi3_impl", pyo3 = "//third_party:pyo3_abi3")
toolchain(name = "abi3", toolchain = ":abi3_impl", toolchain_type = "@rules_rust_pyo3//:rust_toolchain_type")
'''

EXT_BUILD = '''
load("@rules_rust_pyo3//:defs.bzl", "pyo3_extension")
pyo3_extension(name = "ext", srcs = ["lib.rs"])
'''


def _pyo3_deps(ct) -> list[tuple[str, list[str]]]:
    return [(r["package"], r["features"]) for r in spec_of(ct)["crates"][0]["registry_deps"]]


def test_extension_without_pyo3_links_the_registered_toolchains_pyo3(tmp_path):
    a = world(tmp_path, {"MODULE.bazel": RUST_MODULE + 'register_toolchains("//tc:all")\n',
                         "tc/BUILD": TOOLCHAIN_BUILD, "py/BUILD": EXT_BUILD, "py/lib.rs": ""})
    ct = a.analyze(parse_label("//py:ext"))
    # //third_party:pyo3_abi3 is what cargo builds: its abi3 feature names the file.
    assert _pyo3_deps(ct) == [("pyo3", ["abi3-py38", "extension-module"])]
    assert [f.basename for f in ct.files] == ["ext.abi3.so"]


def test_pyo3_in_deps_wins_over_the_toolchain(tmp_path):
    a = world(tmp_path, {"MODULE.bazel": RUST_MODULE + 'register_toolchains("//tc:all")\n', "tc/BUILD": TOOLCHAIN_BUILD,
                         "py/BUILD": 'pyo3_extension(name = "ext", srcs = ["lib.rs"], deps = ["//third_party:pyo3_26"])',
                         "py/lib.rs": ""})
    assert _pyo3_deps(a.analyze(parse_label("//py:ext"))) == [("pyo3", [])]


def test_rules_pyo3_load_path_and_toolchain_types(tmp_path):
    build = '''
load("@rules_pyo3//pyo3:defs.bzl", "pyo3_extension", "pyo3_toolchain", "rust_pyo3_toolchain")

rust_pyo3_toolchain(name = "impl", pyo3 = "//third_party:pyo3_26", pyo3_introspection = "@somewhere//:unused")
toolchain(name = "tc", toolchain = ":impl", toolchain_type = "@rules_pyo3//pyo3:rust_toolchain_type")
pyo3_toolchain(name = "settings_impl")
toolchain(name = "settings", toolchain = ":settings_impl", toolchain_type = "@rules_pyo3//pyo3:toolchain_type")
pyo3_extension(name = "ext", srcs = ["lib.rs"])
'''
    a = world(tmp_path, {"MODULE.bazel": RUST_MODULE + 'register_toolchains("//py:all")\n', "py/BUILD": build,
                         "py/lib.rs": ""})
    assert _pyo3_deps(a.analyze(parse_label("//py:ext"))) == [("pyo3", [])]


@pytest.mark.parametrize("pyo3, message", [
    ("//tc:not_a_crate", "'//tc:not_a_crate' is a filegroup, not a crate of a crate index: pyo3 must name the pyo3 "
                         "crate of a crate index (e.g. \"@crate_index//:pyo3\")"),
    ("//third_party:rayon", "'//third_party:rayon' is the crate 'rayon', not pyo3"),
])
def test_a_toolchain_whose_pyo3_is_not_the_pyo3_crate(tmp_path, pyo3, message):
    build = (f'rust_pyo3_toolchain(name = "impl", pyo3 = "{pyo3}")\n'
             'filegroup(name = "not_a_crate", srcs = ["lib.rs"])\n'
             'toolchain(name = "bad", toolchain = ":impl", toolchain_type = "@rules_rust_pyo3//:rust_toolchain_type")\n')
    a = world(tmp_path, {"MODULE.bazel": RUST_MODULE + 'register_toolchains("//tc:all")\n', "tc/BUILD": build,
                         "tc/lib.rs": "", "py/BUILD": EXT_BUILD, "py/lib.rs": ""})
    with pytest.raises(KilnError) as e:
        a.analyze(parse_label("//py:ext"))
    text = e.value.render()
    assert message in text, text
    assert text.startswith("tc/BUILD:1:1: in pyo3 attribute of rust_pyo3_toolchain rule //tc:impl: "), text


def test_compilation_mode_defaults_to_opt_whatever_the_command_line_says(tmp_path):
    a = world(tmp_path, {"py/BUILD": 'pyo3_extension(name = "ext", srcs = ["lib.rs"], deps = ["//third_party:pyo3"])\n'
                                     'pyo3_extension(name = "dbg", srcs = ["lib.rs"], deps = ["//third_party:pyo3"],'
                                     ' compilation_mode = "dbg")\n'
                                     'pyo3_extension(name = "cur", srcs = ["lib.rs"], deps = ["//third_party:pyo3"],'
                                     ' compilation_mode = "current")\n',
                         "py/lib.rs": ""})
    ext = a.analyze(parse_label("//py:ext"))
    assert ext.config.compilation_mode == "opt" and spec_of(ext)["profile"] == "release"
    assert "(cargo, release)" in cargo_action(ext).progress_message
    assert ext.files[0].exec_path.startswith("kiln-out/k8-opt/bin/")
    dbg = a.analyze(parse_label("//py:dbg"))
    assert dbg.config.compilation_mode == "dbg" and spec_of(dbg)["profile"] == "dev"
    # "current": the configuration it is analysed in (the command line's fastbuild here).
    cur = a.analyze(parse_label("//py:cur"))
    assert cur.config.compilation_mode == "fastbuild" and spec_of(cur)["profile"] == "dev"


def test_compilation_mode_dbg_under_c_opt(tmp_path):
    a = world(tmp_path, {"py/BUILD": 'pyo3_extension(name = "dbg", srcs = ["lib.rs"], deps = ["//third_party:pyo3"],'
                                     ' compilation_mode = "dbg")', "py/lib.rs": ""},
              Configuration(compilation_mode="opt"))
    dbg = a.analyze(parse_label("//py:dbg"))
    assert spec_of(dbg)["profile"] == "dev" and dbg.files[0].exec_path.startswith("kiln-out/k8-dbg/bin/")


@pytest.mark.parametrize("attr, message", [
    ('compilation_mode = "fast"', "compilation_mode must be one of dbg, fastbuild, opt, current, got 'fast'"),
    ('stubs = "yes"', "stubs must be True, False or None, got 'yes'"),
])
def test_bad_compilation_mode_and_stubs(tmp_path, attr, message):
    a = world(tmp_path, {"py/BUILD": f'pyo3_extension(name = "ext", srcs = ["lib.rs"], deps = ["//third_party:pyo3"], '
                                     f'{attr})', "py/lib.rs": ""})
    with pytest.raises(KilnError) as e:
        a.analyze(parse_label("//py:ext"))
    assert message in e.value.render() and "py/BUILD:1" in e.value.render(), e.value.render()


def _stub_actions(ct):
    return [a for a in ct.actions if a.mnemonic == "PyO3StubGen"]


def test_stubs_run_the_target_runtime_on_the_built_module(tmp_path):
    a = world(tmp_path, {"py/BUILD": 'pyo3_extension(name = "ext", srcs = ["lib.rs"], module_name = "pkg.fast", '
                                     'deps = ["//third_party:pyo3"], stubs = True)\n'
                                     'pyo3_extension(name = "plain", srcs = ["lib.rs"], deps = ["//third_party:pyo3"])',
                         "py/lib.rs": ""})
    ct = a.analyze(parse_label("//py:ext"))
    so, pyi = ct.files
    assert pyi.path == "py/pkg/fast.pyi"
    (action,) = _stub_actions(ct)
    argv = list(action.argv)
    assert argv[1:] == ["-s", "-E", "external/kiln_tools/pyo3_stubs.py", "pkg.fast", so.exec_path, pyi.exec_path]
    assert so in action.input_list()
    # Without stubs (and the flag unset): no stub action.
    assert _stub_actions(a.analyze(parse_label("//py:plain"))) == []


def test_stubs_unset_follow_the_experimental_stubgen_flag(tmp_path):
    files = {"py/BUILD": 'pyo3_extension(name = "ext", srcs = ["lib.rs"], deps = ["//third_party:pyo3"])\n'
                         'pyo3_extension(name = "off", srcs = ["lib.rs"], deps = ["//third_party:pyo3"], stubs = False)',
             "py/lib.rs": ""}
    a = world(tmp_path, files, Configuration(flags=(("@rules_rust_pyo3//settings:experimental_stubgen", "true"),)))
    assert len(_stub_actions(a.analyze(parse_label("//py:ext")))) == 1
    assert _stub_actions(a.analyze(parse_label("//py:off"))) == []
