"""Tests for BUILD/.bzl builtins that must behave as Bazel's: depset() and module_name().

depset() is kiln's Starlark implementation (kiln.loading.starlark_lib.DEPSET_BZL) evaluated
into every BUILD and .bzl module; its orders are checked against the examples of Bazel's
"Depsets" documentation and against kiln.core.depset.Depset on the same graphs. Results
reach Python through a filegroup's `tags`, which keep a list of strings as written.
"""

import random
from pathlib import Path

import pytest

from kiln.core.depset import Depset
from kiln.core.errors import KilnError
from kiln.core.labels import PackageId
from kiln.loading.loader import Loader
from kiln.loading.workspace import Workspace
from kiln.rules import default_registry

ORDERS = ("default", "postorder", "preorder", "topological")

# Bazel's documentation examples, as a .bzl.
EXAMPLES_BZL = '''
def create(order):
    cd = depset(["c", "d"], order = order)
    gh = depset(["g", "h"], order = order)
    return depset(["a", "b", "e", "f"], transitive = [cd, gh], order = order)

def diamond(order):
    a = depset(["a"], order = order)
    b = depset(["b"], transitive = [a], order = order)
    c = depset(["c"], transitive = [a], order = order)
    return depset(["d"], transitive = [b, c], order = order)
'''


def loader(root: Path, files: dict[str, str]) -> Loader:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return Loader(Workspace(root), default_registry(), report=lambda level, text: None)


def tags(root: Path, files: dict[str, str], target: str = "t") -> tuple:
    """The tags of pkg:target after loading `files` (a MODULE.bazel is added unless given)."""
    pkg = loader(root, {"MODULE.bazel": "", **files}).load_package(PackageId("", "pkg"))
    return pkg.targets[target].attrs["tags"]


def error(root: Path, files: dict[str, str]) -> KilnError:
    with pytest.raises(KilnError) as info:
        loader(root, {"MODULE.bazel": "", **files}).load_package(PackageId("", "pkg"))
    return info.value


# --- orders ----------------------------------------------------------------------

@pytest.mark.parametrize("order, expected", [
    ("default", ["c", "d", "g", "h", "a", "b", "e", "f"]),
    ("postorder", ["c", "d", "g", "h", "a", "b", "e", "f"]),
    ("preorder", ["a", "b", "e", "f", "c", "d", "g", "h"]),
])
def test_orders_of_bazels_example(tmp_path, order, expected):
    build = f'load(":defs.bzl", "create")\nfilegroup(name = "t", tags = create("{order}").to_list())\n'
    assert list(tags(tmp_path, {"pkg/defs.bzl": EXAMPLES_BZL, "pkg/BUILD": build})) == expected


@pytest.mark.parametrize("order, expected", [
    ("postorder", ["a", "b", "c", "d"]),
    ("preorder", ["d", "b", "a", "c"]),
    ("topological", ["d", "b", "c", "a"]),
])
def test_orders_of_bazels_diamond(tmp_path, order, expected):
    build = f'load(":defs.bzl", "diamond")\nfilegroup(name = "t", tags = diamond("{order}").to_list())\n'
    assert list(tags(tmp_path, {"pkg/defs.bzl": EXAMPLES_BZL, "pkg/BUILD": build})) == expected


def random_graph(seed: int, nodes: int = 25) -> list[tuple[list[str], list[int]]]:
    """Nodes as (direct items, indices of earlier nodes): shared children, items repeated across nodes."""
    rng = random.Random(seed)
    graph = []
    for i in range(nodes):
        direct = rng.sample([f"x{k}" for k in range(30)], rng.randint(0, 3))
        children = sorted(rng.sample(range(max(0, i - 4), i), min(i, rng.randint(1, 3))))
        graph.append((direct, children))
    return graph


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_starlark_depset_walks_as_kilns_core_depset(tmp_path, order, seed):
    graph = random_graph(seed)
    lines, core = [], []
    for i, (direct, children) in enumerate(graph):
        trans = ", ".join(f"d{c}" for c in children)
        lines.append(f'd{i} = depset({direct!r}, order = "{order}", transitive = [{trans}])')
        core.append(Depset(direct, [core[c] for c in children], order=order))
    build = "\n".join(lines) + f'\nfilegroup(name = "t", tags = d{len(graph) - 1}.to_list())\n'
    expected = core[-1].to_list()
    assert len(expected) >= 8
    assert list(tags(tmp_path, {"pkg/BUILD": build})) == expected


def test_default_order_takes_any_order_and_empty_members_are_ignored(tmp_path):
    build = (
        'pre = depset(["p"], order = "preorder")\n'
        'empty_topo = depset(order = "topological")\n'
        'd = depset(["top"], order = "default", transitive = [pre, empty_topo])\n'
        'e = depset(["x"], order = "postorder", transitive = [depset(["y"])])\n'
        'filegroup(name = "t", tags = d.to_list() + e.to_list())\n'
    )
    assert tags(tmp_path, {"pkg/BUILD": build}) == ("p", "top", "y", "x")


def test_duplicates_keep_their_first_place(tmp_path):
    build = (
        'd = depset(["b", "a", "b"], transitive = [depset(["a", "c"]), depset(["c", "z"])])\n'
        'filegroup(name = "t", tags = d.to_list())\n'
    )
    assert tags(tmp_path, {"pkg/BUILD": build}) == ("a", "c", "z", "b")


def test_deep_chain_and_wide_sharing(tmp_path):
    bzl = (
        'def chain(n):\n'
        '    d = depset(["leaf"])\n'
        '    for i in range(n):\n'
        '        d = depset(transitive = [d])\n'
        '    return depset(["top"], transitive = [d], order = "preorder")\n'
        'def shared(levels):\n'
        '    node = depset(["0"])\n'
        '    for i in range(1, levels + 1):\n'
        '        node = depset([str(i)], transitive = [depset(["l%d" % i], transitive = [node]),\n'
        '                                              depset(["r%d" % i], transitive = [node])])\n'
        '    return node\n'
    )
    build = (
        'load(":defs.bzl", "chain", "shared")\n'
        'filegroup(name = "t", tags = chain(5000).to_list())\n'
        'filegroup(name = "s", tags = shared(30).to_list())\n'
    )
    files = {"pkg/defs.bzl": bzl, "pkg/BUILD": build}
    assert tags(tmp_path, files) == ("top", "leaf")
    # 2**30 paths through the shared nodes, 91 distinct items: each node is walked once.
    wide = tags(tmp_path, files, "s")
    assert len(wide) == len(set(wide)) == 91
    assert wide[0] == "0" and wide[-1] == "30"


# --- values and type ----------------------------------------------------------------

def test_type_is_depset_and_other_types_are_unchanged(tmp_path):
    bzl = (
        'def kinds():\n'
        '    return [type(depset()), type(depset([1])), type(struct(a = 1)), type([]), type("s"), type(None)]\n'
    )
    build = 'load(":defs.bzl", "kinds")\nfilegroup(name = "t", tags = kinds() + [type(depset(["x"]))])\n'
    assert tags(tmp_path, {"pkg/defs.bzl": bzl, "pkg/BUILD": build}) == (
        "depset", "depset", "struct", "list", "string", "NoneType", "depset")


def test_elements_stay_starlark_values(tmp_path):
    bzl = (
        'def names():\n'
        '    d = depset([struct(name = "s1"), struct(name = "s2")], transitive = [depset([struct(name = "s0")])])\n'
        '    pairs = depset([("k", "v")]).to_list()\n'
        '    return [s.name for s in d.to_list()] + [type(pairs[0])]\n'
    )
    build = 'load(":defs.bzl", "names")\nfilegroup(name = "t", tags = names())\n'
    assert tags(tmp_path, {"pkg/defs.bzl": bzl, "pkg/BUILD": build}) == ("s0", "s1", "s2", "tuple")


def test_depset_at_top_level_of_a_loaded_bzl(tmp_path):
    files = {
        "pkg/defs.bzl": 'BASE = depset(["a"], order = "preorder")\n',
        "pkg/BUILD": (
            'load(":defs.bzl", "BASE")\n'
            'filegroup(name = "t", tags = depset(["b"], order = "preorder", transitive = [BASE]).to_list())\n'
        ),
    }
    assert tags(tmp_path, files) == ("b", "a")


# --- errors -------------------------------------------------------------------------

def test_bad_order_names_the_value_and_the_call(tmp_path):
    e = error(tmp_path, {"pkg/BUILD": 'filegroup(name = "t")\n\nd = depset(["a"], order = "random")\n'})
    assert e.message == "Error in depset: Invalid order: random"
    assert str(e.location) == "pkg/BUILD:3"


def test_bad_order_in_a_macro_points_at_the_macro_and_its_caller(tmp_path):
    e = error(tmp_path, {
        "pkg/defs.bzl": 'def m():\n    return depset(order = "sorted")\n',
        "pkg/BUILD": 'load(":defs.bzl", "m")\nm()\n',
    })
    assert e.message == "Error in depset: Invalid order: sorted (called from pkg/BUILD:2)"
    assert str(e.location) == "pkg/defs.bzl:2"


@pytest.mark.parametrize("expr, message", [
    ('depset(["a"], order = "postorder", transitive = [depset(["b"], order = "topological")])',
     "Error in depset: Order 'postorder' is incompatible with order 'topological'"),
    ('depset(["a", 1])', "Error in depset: cannot add an item of type 'int' to a depset of 'string'"),
    ('depset([1], transitive = [depset(["a"])])',
     "Error in depset: cannot add an item of type 'string' to a depset of 'int'"),
    ('depset([["a"]])', "Error in depset: depset elements must not be mutable values"),
    ('depset(["a"], transitive = [["b"]])',
     "Error in depset: at index 0 of transitive, got element of type list, want depset"),
    ('depset("abc")', "Error in depset: for parameter 'direct': got value of type 'string', "
                      "want 'sequence or NoneType'"),
])
def test_bad_depset_arguments(tmp_path, expr, message):
    e = error(tmp_path, {"pkg/BUILD": f"x = 1\nd = {expr}\n"})
    assert e.message == message
    assert str(e.location) == "pkg/BUILD:2"


def test_transitive_is_keyword_only(tmp_path):
    e = error(tmp_path, {"pkg/BUILD": 'd = depset(["a"], "default", [])\n'})
    assert "extra positional argument" in e.message
    assert str(e.location) == "pkg/BUILD:1:5"


@pytest.mark.parametrize("expr", ['[x for x in depset(["a"])]', '"a" in depset(["a"])', 'len(depset(["a"]))'])
def test_a_depset_is_not_a_collection(tmp_path, expr):
    e = error(tmp_path, {"pkg/BUILD": f'filegroup(name = "t")\nx = {expr}\n'})
    assert e.message.endswith("(if it is a depset: a depset is not iterable, use .to_list())")
    assert e.location.file == "pkg/BUILD" and e.location.line == 2


def test_a_depset_given_to_a_rule_says_to_list(tmp_path):
    e = error(tmp_path, {"pkg/BUILD": 'x = 1\nfilegroup(name = "t", srcs = depset(["a"]))\n'})
    assert e.message == "a function or a depset cannot be passed to a rule or builtin (use depset.to_list())"
    assert str(e.location) == "pkg/BUILD:2:1"


# --- module_name() --------------------------------------------------------------------

@pytest.mark.parametrize("module_bazel, expected", [
    ('module(name = "my_mod", version = "1.0")\n', ("my_mod", "my_mod")),
    # Bazel's root module without a name is "".
    ('bazel_dep(name = "rules_python", version = "1.0.0")\n', ("", "")),
])
def test_module_name_is_the_root_modules(tmp_path, module_bazel, expected):
    files = {
        "MODULE.bazel": module_bazel,
        "pkg/defs.bzl": 'def m():\n    return native.module_name()\n',
        "pkg/BUILD": 'load(":defs.bzl", "m")\nfilegroup(name = "t", tags = [module_name(), m()])\n',
    }
    assert tags(tmp_path, files) == expected


def test_module_name_is_none_without_module_bazel(tmp_path):
    files = {"WORKSPACE": 'workspace(name = "old_style")\n',
             "pkg/BUILD": 'filegroup(name = "t", tags = [str(module_name())])\n'}
    pkg = loader(tmp_path, files).load_package(PackageId("", "pkg"))
    assert pkg.targets["t"].attrs["tags"] == ("None",)


# --- package() ------------------------------------------------------------------------

def test_package_accepts_bazels_metadata_arguments(tmp_path):
    build = (
        'package(default_visibility = ["//visibility:public"], default_deprecation = "old",\n'
        '        default_applicable_licenses = [], default_package_metadata = [], features = ["-layering_check"])\n'
        'filegroup(name = "t", tags = ["kept"])\n'
    )
    assert tags(tmp_path, {"pkg/BUILD": build}) == ("kept",)


def test_package_rejects_an_unknown_argument(tmp_path):
    e = error(tmp_path, {"pkg/BUILD": '\npackage(defualt_visibility = ["//visibility:public"])\n'})
    assert e.message.startswith("package() got an unexpected keyword argument 'defualt_visibility' "
                                "(it takes default_visibility, default_testonly, default_deprecation,")
    assert str(e.location) == "pkg/BUILD:2:1"
