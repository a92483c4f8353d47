"""Tests for the loading layer: attribute coercion, select markers, glob, and the Loader.

- kiln.core.attrs.Coercer / labels_in: typed attribute values from raw Starlark values.
- kiln.loading.markers.SelectTable: select() values that survive `+` and `|`.
- kiln.loading.glob.Globber: glob() over one package directory.
- kiln.loading.loader.Loader: BUILD and .bzl evaluation on small workspaces
  written into tmp_path (one dict of path -> text per test).
"""

from pathlib import Path

import pytest

from kiln.core.attrs import Attr, AttrType, AttrTypeError, Coercer, labels_in
from kiln.core.errors import KilnError, LoadingError
from kiln.core.labels import Label, PackageId
from kiln.core.select import Select, SelectorList
from kiln.loading.glob import Globber, GlobError
from kiln.loading.loader import Loader, NoSuchPackage, NoSuchTarget
from kiln.loading.markers import SelectTable, contains_marker
from kiln.loading.package import PRIVATE, PUBLIC, FileTarget, PackageGroup, RuleTarget
from kiln.loading.workspace import Workspace
from kiln.rules import default_registry

PKG = PackageId("", "pkg")


def L(text):
    """A main-repo label from `pkg:name` shorthand."""
    package, name = text.split(":")
    return Label("", package, name)


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


# =====================================================================================
# Coercer
# =====================================================================================

@pytest.fixture
def coercer():
    return Coercer(PKG, {"rp": "rp+"}, "my_rule")


def attr(t, **kw):
    return Attr("x", t, **kw)


@pytest.mark.parametrize(
    "t, raw, expected",
    [
        (AttrType.STRING, "s", "s"),
        (AttrType.STRING_LIST, ["a", "b"], ("a", "b")),
        (AttrType.BOOL, True, True),
        (AttrType.BOOL, 0, False),
        (AttrType.BOOL, 1, True),
        (AttrType.INT, 7, 7),
        (AttrType.INT_LIST, [1, 2], (1, 2)),
        (AttrType.STRING_DICT, {"k": "v"}, {"k": "v"}),
        (AttrType.STRING_LIST_DICT, {"k": ["a"]}, {"k": ("a",)}),
        (AttrType.ANY, {"any": [1]}, {"any": [1]}),
    ],
)
def test_coerce_plain_types(coercer, t, raw, expected):
    assert coercer.coerce(attr(t), raw) == expected


def test_coerce_labels_relative_to_package_and_mapped(coercer):
    assert coercer.coerce(attr(AttrType.LABEL), ":a") == L("pkg:a")
    assert coercer.coerce(attr(AttrType.OUTPUT), "out.txt") == L("pkg:out.txt")
    assert coercer.coerce(attr(AttrType.LABEL_LIST), ["a", "//o:b", "@rp//c"]) == (
        L("pkg:a"), L("o:b"), Label("rp+", "c", "c"))
    assert coercer.coerce(attr(AttrType.OUTPUT_LIST), ["o1", "o2"]) == (L("pkg:o1"), L("pkg:o2"))


def test_coerce_label_dicts(coercer):
    assert coercer.coerce(attr(AttrType.LABEL_KEYED_STRING_DICT), {":a": "v", "@rp//b:c": "w"}) == {
        L("pkg:a"): "v", Label("rp+", "b", "c"): "w"}
    assert coercer.coerce(attr(AttrType.STRING_KEYED_LABEL_DICT), {"k": ":a"}) == {"k": L("pkg:a")}


def test_none_gives_the_empty_value_or_default(coercer):
    assert coercer.coerce(attr(AttrType.LABEL_LIST), None) == ()
    assert coercer.coerce(attr(AttrType.STRING), None) == ""
    assert coercer.coerce(attr(AttrType.LABEL), None) is None
    assert coercer.coerce(Attr("x", AttrType.STRING, "dflt"), None) == "dflt"


@pytest.mark.parametrize(
    "t, raw, shown",
    [
        (AttrType.STRING, 3, "3 (int)"),
        (AttrType.STRING_LIST, ["a", 1], "['a', 1] (list)"),
        (AttrType.STRING_LIST, "a", '"a" (string)'),
        (AttrType.BOOL, 2, "2 (int)"),
        (AttrType.BOOL, "yes", '"yes" (string)'),
        (AttrType.INT, True, "True (bool)"),
        (AttrType.INT, "1", '"1" (string)'),
        (AttrType.INT_LIST, ["1"], "['1'] (list)"),
        (AttrType.LABEL, 5, "5 (int)"),
        (AttrType.LABEL_LIST, "x", '"x" (string)'),
        (AttrType.STRING_DICT, {"a": 1}, "{'a': 1} (dict)"),
        (AttrType.STRING_DICT, ["a"], "['a'] (list)"),
        (AttrType.STRING_LIST_DICT, {"a": "b"}, "{'a': 'b'} (dict)"),
        (AttrType.LABEL_KEYED_STRING_DICT, {":a": 1}, "{':a': 1} (dict)"),
        (AttrType.STRING_KEYED_LABEL_DICT, [":a"], "[':a'] (list)"),
        (AttrType.LABEL, 1.5, "1.5 (float)"),
    ],
)
def test_wrong_type_messages(coercer, t, raw, shown):
    with pytest.raises(AttrTypeError) as info:
        coercer.coerce(attr(t), raw)
    msg = info.value.message
    assert msg.startswith(f"expected value of type '{t.value}' for attribute 'x' in 'my_rule' rule, but got ")
    assert msg.endswith(shown)


def test_long_values_are_shortened(coercer):
    with pytest.raises(AttrTypeError) as info:
        coercer.coerce(attr(AttrType.INT), "y" * 200)
    assert "..." in info.value.message and "y" * 100 not in info.value.message


def test_bad_label_message(coercer):
    with pytest.raises(AttrTypeError) as info:
        coercer.coerce(attr(AttrType.LABEL_LIST), ["//a//b"])
    assert info.value.message == (
        "in attribute 'x' of 'my_rule': invalid label '//a//b': package names may not contain '//'")


def test_select_branches_are_coerced(coercer):
    sel = Select(((":c1", [":a"]), ("//conditions:default", [])), "nope")
    out = coercer.coerce(attr(AttrType.LABEL_LIST), sel)
    assert out == Select(((":c1", (L("pkg:a"),)), ("//conditions:default", ())), "nope")


def test_selector_list_parts_are_coerced(coercer):
    value = SelectorList((["a"], Select(((":c", ["b"]),))))
    out = coercer.coerce(attr(AttrType.LABEL_LIST), value)
    assert out == SelectorList(((L("pkg:a"),), Select(((":c", (L("pkg:b"),)),))))


def test_wrong_type_inside_select(coercer):
    with pytest.raises(AttrTypeError, match="expected value of type 'string'"):
        coercer.coerce(attr(AttrType.STRING), Select(((":c", 1),)))


def test_select_on_non_configurable_attribute(coercer):
    for value in (Select(((":c", "a"),)), SelectorList(("a", Select(((":c", "b"),))))):
        with pytest.raises(AttrTypeError) as info:
            coercer.coerce(attr(AttrType.STRING, configurable=False), value)
        assert info.value.message == "attribute 'x' of 'my_rule' is not configurable: select() is not allowed"


def test_labels_in_every_branch(coercer):
    a = attr(AttrType.LABEL_LIST)
    value = coercer.coerce(a, SelectorList((["a"], Select(((":c1", ["b"]), (":c2", ["c", "a"]))))))
    assert labels_in(a, value) == [L("pkg:a"), L("pkg:b"), L("pkg:c"), L("pkg:a")]


def test_labels_in_dicts(coercer):
    keyed = attr(AttrType.LABEL_KEYED_STRING_DICT)
    assert labels_in(keyed, coercer.coerce(keyed, {":k": "v"})) == [L("pkg:k")]
    valued = attr(AttrType.STRING_KEYED_LABEL_DICT)
    assert labels_in(valued, coercer.coerce(valued, {"k": ":v"})) == [L("pkg:v")]


def test_labels_in_ignores_non_label_types():
    assert labels_in(attr(AttrType.STRING_LIST), ("//a:b",)) == []
    assert labels_in(attr(AttrType.OUTPUT), L("pkg:o")) == [L("pkg:o")]


# =====================================================================================
# SelectTable: select() values through Starlark arithmetic
# =====================================================================================

def test_list_select_concatenated_after_plain_list():
    t = SelectTable()
    s = Select(((":c", ["b"]),))
    value = [":a"] + t.make(s)
    assert contains_marker(value)
    assert t.decode(value) == SelectorList(([":a"], s))


def test_list_select_between_plain_lists():
    t = SelectTable()
    s = Select(((":c", ["b"]),))
    assert t.decode(["x"] + t.make(s) + ["y", "z"]) == SelectorList((["x"], s, ["y", "z"]))


def test_select_plus_select():
    t = SelectTable()
    s1 = Select(((":c1", ["a"]),))
    s2 = Select(((":c2", ["b"]),))
    assert t.decode(t.make(s1) + t.make(s2)) == SelectorList((s1, s2))


def test_lone_select_decodes_to_the_select():
    t = SelectTable()
    s = Select(((":c", ["a"]), ("//conditions:default", [])))
    assert t.decode(t.make(s)) == s
    sd = Select(((":c", {"k": "v"}),))
    assert t.decode(t.make(sd)) == sd
    ss = Select(((":c", "str"),))
    assert t.decode(t.make(ss)) == ss


def test_string_concatenation():
    t = SelectTable()
    s = Select(((":c", "-O2"),))
    assert t.decode("cc " + t.make(s) + " -g") == SelectorList(("cc ", s, " -g"))


def test_dict_union():
    t = SelectTable()
    s = Select(((":c", {"k": "v"}),))
    assert t.decode({"a": "1"} | t.make(s)) == SelectorList(({"a": "1"}, s))


def test_dict_union_keeps_written_order():
    t = SelectTable()
    s = Select(((":c", {"k": "from select"}),))
    assert t.decode(t.make(s) | {"k": "plain"}) == SelectorList((s, {"k": "plain"}))


@pytest.mark.parametrize("value", ["plain", ["a", "b"], {"k": "v"}, 5, None, True, ("t",)])
def test_plain_values_untouched(value):
    t = SelectTable()
    assert t.decode(value) is value
    assert not contains_marker(value)


def test_selects_are_numbered_per_table():
    t = SelectTable()
    s1 = Select(((":c1", "a"),))
    s2 = Select(((":c2", "b"),))
    m1, m2 = t.make(s1), t.make(s2)
    assert m1 != m2
    assert t.decode(m2) == s2 and t.decode(m1) == s1


# =====================================================================================
# Globber
# =====================================================================================

@pytest.fixture
def pkg_dir(tmp_path):
    return write_tree(tmp_path / "pkg", {
        "a.py": "", "b.py": "", "c.txt": "", "ab.py": "",
        "sub/d.py": "", "sub/deep/e.py": "", "sub/deep/f.txt": "",
        "nested/BUILD": "", "nested/g.py": "",
        "nested2/BUILD.bazel": "", "nested2/h.py": "",
        "sub/inner_pkg/BUILD": "", "sub/inner_pkg/i.py": "",
        "emptydir/.keep": "",
    })


def glob(pkg_dir, include, exclude=(), exclude_directories=True):
    return Globber(str(pkg_dir)).glob(list(include), list(exclude), exclude_directories=exclude_directories)


def test_star_matches_one_segment(pkg_dir):
    assert glob(pkg_dir, ["*.py"]) == ["a.py", "ab.py", "b.py"]
    assert glob(pkg_dir, ["sub/*.py"]) == ["sub/d.py"]
    assert glob(pkg_dir, ["*/*.py"]) == ["sub/d.py"]


def test_question_mark_matches_one_character(pkg_dir):
    assert glob(pkg_dir, ["?.py"]) == ["a.py", "b.py"]
    assert glob(pkg_dir, ["??.py"]) == ["ab.py"]


def test_double_star_zero_and_many_segments(pkg_dir):
    assert glob(pkg_dir, ["**/*.py"]) == ["a.py", "ab.py", "b.py", "sub/d.py", "sub/deep/e.py"]
    assert glob(pkg_dir, ["sub/**/*.txt"]) == ["sub/deep/f.txt"]
    assert glob(pkg_dir, ["sub/**/d.py"]) == ["sub/d.py"]


def test_double_star_alone(pkg_dir):
    assert glob(pkg_dir, ["**"]) == [
        "a.py", "ab.py", "b.py", "c.txt", "emptydir/.keep", "sub/d.py", "sub/deep/e.py", "sub/deep/f.txt"]


def test_exclude(pkg_dir):
    assert glob(pkg_dir, ["**/*.py"], ["a.py", "sub/**"]) == ["ab.py", "b.py"]
    assert glob(pkg_dir, ["*"], ["*.py"]) == ["c.txt"]
    assert glob(pkg_dir, ["*.py"], ["?.py"]) == ["ab.py"]


def test_exclude_directories(pkg_dir):
    assert glob(pkg_dir, ["*"]) == ["a.py", "ab.py", "b.py", "c.txt"]
    assert glob(pkg_dir, ["*"], exclude_directories=False) == [
        "a.py", "ab.py", "b.py", "c.txt", "emptydir", "sub"]
    assert glob(pkg_dir, ["sub/**"], exclude_directories=False) == [
        "sub", "sub/d.py", "sub/deep", "sub/deep/e.py", "sub/deep/f.txt"]


def test_never_crosses_subpackages(pkg_dir):
    everything = glob(pkg_dir, ["**"], exclude_directories=False)
    assert not any(p.startswith(("nested", "sub/inner_pkg")) for p in everything)
    assert glob(pkg_dir, ["nested/*.py", "nested2/*", "sub/inner_pkg/*.py"]) == []
    assert glob(pkg_dir, ["*"], exclude_directories=False) == ["a.py", "ab.py", "b.py", "c.txt", "emptydir", "sub"]


def test_subpackage_contents_not_matched_by_explicit_path(pkg_dir):
    assert Globber(str(pkg_dir)).match("nested/g.py", include_dirs=False) == set()
    assert Globber(str(pkg_dir)).match("nested2/h.py", include_dirs=False) == set()
    assert Globber(str(pkg_dir)).match("sub/inner_pkg/*", include_dirs=True) == set()


def test_output_is_sorted(tmp_path):
    names = ["z.txt", "B.txt", "a.txt", "_.txt", "10.txt", "9.txt"]
    d = write_tree(tmp_path / "p", {n: "" for n in names})
    assert glob(d, ["*.txt"]) == sorted(names)


def test_no_match_is_empty(pkg_dir):
    assert glob(pkg_dir, ["*.rs"]) == []
    assert glob(pkg_dir / "does-not-exist", ["*"]) == []


@pytest.mark.parametrize(
    "pattern, message",
    [
        ("/abs", "pattern '/abs' may not start or end with '/'"),
        ("dir/", "pattern 'dir/' may not start or end with '/'"),
        ("a//b", "pattern 'a//b' may not contain '//'"),
        ("../x", "pattern '../x' may not contain '..' segments"),
        ("./x", "pattern './x' may not contain '.' segments"),
        ("a/**b", "recursive wildcard must be its own segment in 'a/**b'"),
        ("**.py", "recursive wildcard must be its own segment in '**.py'"),
    ],
)
def test_bad_patterns(pkg_dir, pattern, message):
    with pytest.raises(GlobError) as info:
        glob(pkg_dir, [pattern])
    assert str(info.value) == message
    with pytest.raises(GlobError):
        glob(pkg_dir, ["*"], [pattern])


def test_dirs_read_are_recorded(pkg_dir):
    g = Globber(str(pkg_dir))
    g.glob(["**/*.py"], [], exclude_directories=True)
    assert set(g.dirs_read) == {"", "sub", "sub/deep", "emptydir"}
    # Subdirectories were checked for BUILD files, packages included.
    assert str(pkg_dir / "nested") in g.subdirs_checked


# =====================================================================================
# Loader
# =====================================================================================

class Session:
    """A Loader over a tmp workspace, collecting print() reports."""

    def __init__(self, root: Path, **kw):
        self.root = root
        self.reports: list[tuple[str, str]] = []
        self.loader = Loader(Workspace(root), default_registry(),
                             report=lambda level, text: self.reports.append((level, text)), **kw)

    def package(self, name: str):
        return self.loader.load_package(PackageId("", name))

    def error(self, name: str) -> KilnError:
        with pytest.raises(KilnError) as info:
            self.package(name)
        return info.value


@pytest.fixture
def ws(tmp_path):
    def make(files: dict[str, str], **kw) -> Session:
        root = tmp_path / "ws"
        files = {"MODULE.bazel": "", **files}
        write_tree(root, files)
        return Session(root, **kw)

    return make


def test_package_with_rules(ws):
    s = ws({
        "pkg/BUILD": (
            'py_library(name = "lib", srcs = ["a.py"], deps = ["//other:dep", ":x"], tags = ["t"])\n'
            'filegroup(name = "x", srcs = ["data/f.txt"])\n'
        ),
    })
    pkg = s.package("pkg")
    assert pkg.id == PKG
    assert pkg.build_file == "pkg/BUILD"
    lib = pkg.targets["lib"]
    assert isinstance(lib, RuleTarget)
    assert lib.rule_kind == "py_library" and lib.kind == "py_library rule"
    assert lib.label == L("pkg:lib")
    assert lib.attrs["srcs"] == (L("pkg:a.py"),)
    assert lib.attrs["deps"] == (L("other:dep"), L("pkg:x"))
    assert lib.attrs["tags"] == ("t",)
    assert lib.attrs["imports"] == ()  # unset attributes get their empty value
    assert lib.visibility == (PRIVATE,)
    assert str(lib.location) == "pkg/BUILD:1:1"
    assert str(pkg.targets["x"].location) == "pkg/BUILD:2:1"
    assert [r.label.name for r in pkg.rules()] == ["lib", "x"]
    assert ("deps", L("other:dep")) in lib.dependency_labels()


def test_build_bazel_preferred_over_build(ws):
    s = ws({"pkg/BUILD.bazel": 'filegroup(name = "a")', "pkg/BUILD": 'filegroup(name = "b")'})
    pkg = s.package("pkg")
    assert pkg.build_file == "pkg/BUILD.bazel" and list(pkg.targets) == ["a"]


def test_glob_in_build(ws):
    s = ws({
        "pkg/BUILD": 'filegroup(name = "fg", srcs = glob(["**/*.py"], exclude = ["skip.py"]))',
        "pkg/b.py": "", "pkg/a.py": "", "pkg/skip.py": "", "pkg/d/c.py": "",
        "pkg/sub/BUILD": "", "pkg/sub/no.py": "",
    })
    pkg = s.package("pkg")
    assert pkg.targets["fg"].attrs["srcs"] == (L("pkg:a.py"), L("pkg:b.py"), L("pkg:d/c.py"))
    assert "d" in pkg.glob_dirs
    assert str(s.root / "pkg" / "d") in s.loader.dirs_read


def test_empty_glob_is_an_error_unless_allowed(ws):
    s = ws({
        "pkg/BUILD": 'filegroup(name = "fg", srcs = glob(["*.nothing"]))',
        "ok/BUILD": 'filegroup(name = "fg", srcs = glob(["*.nothing"], allow_empty = True))',
    })
    e = s.error("pkg")
    assert "glob pattern(s) ['*.nothing'] didn't match anything" in e.message
    assert str(e.location) == "pkg/BUILD:1:31"
    assert s.package("ok").targets["fg"].attrs["srcs"] == ()


def test_bad_glob_pattern_reported(ws):
    e = ws({"pkg/BUILD": 'filegroup(name = "fg", srcs = glob(["../x"]))'}).error("pkg")
    assert e.message == "glob(): pattern '../x' may not contain '..' segments"


def test_select_concatenation_produces_selector_list(ws):
    s = ws({
        "pkg/BUILD": (
            'filegroup(\n'
            '    name = "fg",\n'
            '    srcs = [":a"] + select({":c": [":b"], "//conditions:default": []}) + [":z"],\n'
            '    tags = ["x"],\n'
            ')\n'
            'genrule(name = "g", outs = ["o"], cmd = "echo " + select({":c": "yes", "//conditions:default": "no"}))\n'
            'py_library(name = "p", srcs = select({":c": ["p.py"]}))\n'
        ),
    })
    pkg = s.package("pkg")
    srcs = pkg.targets["fg"].attrs["srcs"]
    assert isinstance(srcs, SelectorList)
    assert srcs.parts == (
        (L("pkg:a"),),
        Select(((":c", (L("pkg:b"),)), ("//conditions:default", ()))),
        (L("pkg:z"),),
    )
    cmd = pkg.targets["g"].attrs["cmd"]
    assert cmd == SelectorList(("echo ", Select(((":c", "yes"), ("//conditions:default", "no")))))
    assert pkg.targets["p"].attrs["srcs"] == Select(((":c", (L("pkg:p.py"),)),))
    # Every branch's files become source file targets.
    assert {"a", "b", "z", "p.py"} <= set(pkg.targets)


def test_select_in_non_configurable_attribute(ws):
    e = ws({"pkg/BUILD": 'filegroup(name = "fg", tags = select({":c": ["a"]}))'}).error("pkg")
    assert "attribute 'tags' of 'filegroup' is not configurable" in e.message
    assert e.target == "filegroup rule //pkg:fg"


def test_macro_in_bzl_calls_native(ws):
    s = ws({
        "pkg/BUILD": 'load(":defs.bzl", "my_macro")\nmy_macro(name = "m")\n',
        "pkg/defs.bzl": (
            'def my_macro(name):\n'
            '    native.filegroup(name = name, srcs = native.glob(["*.txt"]))\n'
            '    native.genrule(name = name + "_gen", outs = [native.package_name() + ".out"], cmd = "touch $@")\n'
        ),
        "pkg/x.txt": "",
    })
    pkg = s.package("pkg")
    assert pkg.targets["m"].rule_kind == "filegroup"
    assert pkg.targets["m"].attrs["srcs"] == (L("pkg:x.txt"),)
    assert pkg.targets["m_gen"].attrs["outs"] == (L("pkg:pkg.out"),)
    assert pkg.loads == (L("pkg:defs.bzl"),)


def test_load_rules_python_defs(ws):
    s = ws({
        "pkg/BUILD": (
            'load("@rules_python//python:defs.bzl", "py_binary", my_lib = "py_library")\n'
            'my_lib(name = "lib", srcs = ["l.py"])\n'
            'py_binary(name = "bin", srcs = ["bin.py"], deps = [":lib"])\n'
        ),
    })
    pkg = s.package("pkg")
    assert pkg.targets["lib"].rule_kind == "py_library"
    assert pkg.targets["bin"].rule_kind == "py_binary"
    assert pkg.loads == (Label("rules_python", "python", "defs.bzl"),)


def test_load_of_symbol_kiln_lacks_is_named(ws):
    e = ws({"pkg/BUILD": 'load("@rules_python//python:defs.bzl", "py_nothing")\n'}).error("pkg")
    assert "kiln does not provide 'py_nothing' from '@rules_python//python:defs.bzl' yet" in e.message
    assert str(e.location) == "pkg/BUILD:1:1"


def test_load_from_undefined_repo(ws):
    e = ws({"pkg/BUILD": 'load("@nowhere//x:y.bzl", "z")\n'}).error("pkg")
    assert "repository '@nowhere' is not defined" in e.message


def test_relative_load_and_transitive_loads(ws):
    s = ws({
        "pkg/BUILD": 'load(":defs.bzl", "NAME")\nfilegroup(name = NAME)\n',
        "pkg/defs.bzl": 'load("//lib:base.bzl", "BASE")\nNAME = BASE + "_x"\n',
        "lib/BUILD": "",
        "lib/base.bzl": 'BASE = "from_lib"\n',
    })
    pkg = s.package("pkg")
    assert "from_lib_x" in pkg.targets
    assert pkg.loads == (L("pkg:defs.bzl"), L("lib:base.bzl"))
    assert {str(s.root / "pkg/defs.bzl"), str(s.root / "lib/base.bzl")} <= s.loader.files_read


def test_bzl_cached_loads_still_recorded_for_second_package(ws):
    s = ws({
        "a/BUILD": 'load("//lib:defs.bzl", "X")\n',
        "b/BUILD": 'load("//lib:defs.bzl", "X")\n',
        "lib/BUILD": "",
        "lib/defs.bzl": 'load(":inner.bzl", "Y")\nX = Y\n',
        "lib/inner.bzl": "Y = 1\n",
    })
    assert s.package("a").loads == (L("lib:defs.bzl"), L("lib:inner.bzl"))
    assert s.package("b").loads == (L("lib:defs.bzl"), L("lib:inner.bzl"))


def test_load_of_missing_file(ws):
    e = ws({"pkg/BUILD": 'load(":nope.bzl", "x")\n'}).error("pkg")
    assert "cannot load '//pkg:nope.bzl': file 'pkg/nope.bzl' does not exist" in e.message


def test_load_must_name_bzl(ws):
    e = ws({"pkg/BUILD": 'load(":defs.txt", "x")\n', "pkg/defs.txt": ""}).error("pkg")
    assert "must name a .bzl file" in e.message


def test_load_cycle(ws):
    s = ws({
        "c/BUILD": 'load(":one.bzl", "x")\n',
        "c/one.bzl": 'load(":two.bzl", "y")\nx = 1\n',
        "c/two.bzl": 'load(":one.bzl", "x")\ny = 2\n',
    })
    e = s.error("c")
    assert isinstance(e, LoadingError)
    assert e.message == "cycle in the load() graph: //c:one.bzl -> //c:two.bzl -> //c:one.bzl"
    # The same error again: a failed package is remembered.
    assert s.error("c") is e


def test_package_default_visibility(ws):
    s = ws({
        "pkg/BUILD": (
            'package(default_visibility = ["//visibility:public"])\n'
            'filegroup(name = "a")\n'
            'filegroup(name = "b", visibility = ["//other:__pkg__"])\n'
        ),
        "plain/BUILD": 'filegroup(name = "c")\n',
    })
    pkg = s.package("pkg")
    assert pkg.default_visibility == (PUBLIC,)
    assert pkg.targets["a"].visibility == (PUBLIC,)
    assert pkg.targets["b"].visibility == (Label("", "other", "__pkg__"),)
    assert s.package("plain").targets["c"].visibility == (PRIVATE,)


def test_package_after_rule_is_an_error(ws):
    e = ws({"pkg/BUILD": 'filegroup(name = "a")\npackage(default_visibility = [])\n'}).error("pkg")
    assert e.message == "package() must be called before any rule in the BUILD file"
    assert str(e.location) == "pkg/BUILD:2:1"


def test_exports_files(ws):
    s = ws({
        "pkg/BUILD": (
            'exports_files(["e.txt"])\n'
            'exports_files(["f.txt"], visibility = ["//a:__pkg__"])\n'
            'filegroup(name = "fg", srcs = ["e.txt"])\n'
        ),
    })
    pkg = s.package("pkg")
    e, f = pkg.targets["e.txt"], pkg.targets["f.txt"]
    assert isinstance(e, FileTarget) and e.kind == "source file"
    assert e.visibility == (PUBLIC,)
    assert f.visibility == (Label("", "a", "__pkg__"),)


def test_exports_files_of_a_rule_name_is_an_error(ws):
    e = ws({"pkg/BUILD": 'filegroup(name = "x")\nexports_files(["x"])\n'}).error("pkg")
    assert e.message == "exports_files(): 'x' is already a filegroup rule of this package"


def test_implicit_source_file_targets(ws):
    s = ws({"pkg/BUILD": 'filegroup(name = "fg", srcs = ["a.txt", "d/b.txt", "//other:c.txt"])\n'})
    pkg = s.package("pkg")
    for name in ("a.txt", "d/b.txt"):
        t = pkg.targets[name]
        assert isinstance(t, FileTarget)
        assert t.kind == "source file" and t.generating_rule is None
        assert t.label == L(f"pkg:{name}")
    assert "c.txt" not in pkg.targets  # another package's file belongs to that package


def test_genrule_output_file_targets(ws):
    s = ws({
        "pkg/BUILD": (
            'genrule(name = "g", srcs = ["in.txt"], outs = ["out.txt", "sub/o2.txt"], cmd = "x",\n'
            '        visibility = ["//visibility:public"])\n'
        ),
    })
    pkg = s.package("pkg")
    for name in ("out.txt", "sub/o2.txt"):
        out = pkg.targets[name]
        assert isinstance(out, FileTarget)
        assert out.kind == "generated file"
        assert out.generating_rule == L("pkg:g")
        assert out.visibility == (PUBLIC,)
        assert out.dependency_labels() == [("generating_rule", L("pkg:g"))]
    assert pkg.targets["in.txt"].kind == "source file"


def test_output_conflicting_with_rule_name(ws):
    e = ws({
        "pkg/BUILD": 'filegroup(name = "out.txt")\ngenrule(name = "g", outs = ["out.txt"], cmd = "x")\n',
    }).error("pkg")
    assert e.message.startswith(
        "generated file 'out.txt' in package 'pkg' conflicts with existing filegroup rule 'out.txt' declared at pkg/BUILD:1:1")


def test_duplicate_rule_name(ws):
    e = ws({"pkg/BUILD": 'filegroup(name = "a")\nfilegroup(name = "a")\n'}).error("pkg")
    assert "filegroup rule 'a' in package 'pkg' conflicts with existing filegroup rule 'a'" in e.message


def test_unknown_attribute_and_wrong_type(ws):
    s = ws({
        "u/BUILD": 'filegroup(name = "a", nope = 1)\n',
        "t/BUILD": 'filegroup(name = "a", srcs = "x.txt")\n',
        "m/BUILD": 'genrule(name = "g", cmd = "x")\n',
    })
    e = s.error("u")
    assert e.message == "no such attribute 'nope' in 'filegroup' rule"
    assert e.render() == "u/BUILD:1:1: in filegroup rule //u:a: no such attribute 'nope' in 'filegroup' rule"
    e = s.error("t")
    assert e.message == ("expected value of type 'list(label)' for attribute 'srcs' in 'filegroup' rule, "
                         'but got "x.txt" (string)')
    assert e.target == "filegroup rule //t:a"
    assert "missing value for mandatory attribute 'outs' in 'genrule' rule" in s.error("m").message


def test_existing_rules_and_package_name(ws):
    s = ws({
        "pkg/sub/BUILD": (
            'filegroup(name = "a", tags = ["ta"])\n'
            'genrule(name = "g", outs = ["o"], cmd = "x")\n'
            'filegroup(name = "kinds", tags = sorted([r["kind"] + ":" + r["name"] for r in existing_rules().values()]))\n'
            'filegroup(name = "pkg_" + package_name().replace("/", "_"), tags = existing_rule("a")["tags"])\n'
            'filegroup(name = "none", tags = [str(existing_rule("nothing"))])\n'
        ),
    })
    pkg = s.package("pkg/sub")
    assert pkg.targets["kinds"].attrs["tags"] == ("filegroup:a", "genrule:g")
    assert pkg.targets["pkg_pkg_sub"].attrs["tags"] == ("ta",)
    assert pkg.targets["none"].attrs["tags"] == ("None",)


def test_print_reports_debug(ws):
    s = ws({
        "pkg/BUILD": 'load(":defs.bzl", "m")\nprint("hello", 3, [1])\nm()\n',
        "pkg/defs.bzl": 'print("at load")\ndef m():\n    print("in macro")\n',
    })
    s.package("pkg")
    assert s.reports[:2] == [
        ("DEBUG", "pkg/defs.bzl: at load"),
        ("DEBUG", "pkg/BUILD: hello 3 [1]"),
    ]
    assert len(s.reports) == 3
    level, text = s.reports[2]
    assert level == "DEBUG" and text.endswith(": in macro")


def test_print_in_macro_names_the_bzl(ws):
    s = ws({
        "pkg/BUILD": 'load(":defs.bzl", "m")\nm()\n',
        "pkg/defs.bzl": 'def m():\n    print("in macro")\n',
    })
    s.package("pkg")
    (level, text), = s.reports
    assert text.startswith("pkg/defs.bzl")


def test_struct_in_bzl(ws):
    s = ws({
        "pkg/BUILD": 'load(":defs.bzl", "info")\nfilegroup(name = info.name, tags = info.tags)\n',
        "pkg/defs.bzl": 'info = struct(name = "from_struct", tags = ["a", "b"])\n',
    })
    assert s.package("pkg").targets["from_struct"].attrs["tags"] == ("a", "b")


def test_fail_with_location(ws):
    e = ws({"pkg/BUILD": 'filegroup(name = "ok")\n\nfail("boom here")\n'}).error("pkg")
    assert isinstance(e, LoadingError)
    assert e.message == "Error in fail: boom here"
    assert str(e.location) == "pkg/BUILD:3:1"
    assert e.render() == "pkg/BUILD:3:1: Error in fail: boom here"


def test_fail_in_macro_names_the_calling_line(ws):
    e = ws({
        "pkg/BUILD": 'load(":defs.bzl", "bad")\n\nbad()\n',
        "pkg/defs.bzl": 'def bad():\n    fail("macro failed")\n',
    }).error("pkg")
    assert e.location.file == "pkg/defs.bzl" and e.location.line == 2
    assert e.message == "Error in fail: macro failed (called from pkg/BUILD:3)"


def test_syntax_error_location(ws):
    e = ws({"pkg/BUILD": 'filegroup(name = "a"\n'}).error("pkg")
    assert e.message == "syntax error: '(' is never closed"
    assert str(e.location) == "pkg/BUILD:1:10"


def test_module_name_is_the_main_repo(ws):
    s = ws({
        "MODULE.bazel": 'module(name = "myws", version = "1.0")\n',
        "pkg/BUILD": 'filegroup(name = "fg", srcs = ["@myws//pkg:f.txt", "@//pkg:g.txt", "@@//pkg:h.txt"])\n',
    })
    pkg = s.package("pkg")
    assert pkg.targets["fg"].attrs["srcs"] == (L("pkg:f.txt"), L("pkg:g.txt"), L("pkg:h.txt"))
    assert s.loader.repo_mapping == {"myws": ""}
    assert "f.txt" in pkg.targets


def test_load_through_module_name(ws):
    s = ws({
        "MODULE.bazel": 'module(name = "myws")\n',
        "pkg/BUILD": 'load("@myws//lib:defs.bzl", "X")\nfilegroup(name = X)\n',
        "lib/BUILD": "",
        "lib/defs.bzl": 'X = "from_lib"\n',
    })
    assert "from_lib" in s.package("pkg").targets


def test_files_and_dirs_read(ws):
    s = ws({
        "pkg/BUILD": 'load(":defs.bzl", "X")\nfilegroup(name = "fg", srcs = glob(["d/*.txt"]))\n',
        "pkg/defs.bzl": "X = 1\n",
        "pkg/d/a.txt": "",
    })
    s.package("pkg")
    root = s.root
    # The WORKSPACE files looked for and absent too: creating one changes what is read.
    absent = {str(root / n) for n in ("WORKSPACE.bzlmod", "WORKSPACE.bazel", "WORKSPACE")}
    assert s.loader.files_read == {str(root / "MODULE.bazel"), str(root / "pkg/BUILD"), str(root / "pkg/defs.bzl"),
                                   *absent}
    assert {str(root / "pkg"), str(root / "pkg/d")} <= s.loader.dirs_read


def test_package_cache_and_get_target(ws):
    s = ws({"pkg/BUILD": 'filegroup(name = "fg")\n', "pkg/exists.txt": ""})
    pkg = s.package("pkg")
    assert s.package("pkg") is pkg
    assert s.loader.get_target(L("pkg:fg")) is pkg.targets["fg"]
    with pytest.raises(NoSuchTarget) as info:
        s.loader.get_target(L("pkg:exists.txt"), needed_by="//x:y")
    msg = info.value.message
    assert msg.startswith("no such target '//pkg:exists.txt': target 'exists.txt' not declared in package 'pkg'")
    assert "exports_files([\"exists.txt\"])" in msg and msg.endswith("(needed by //x:y)")


def test_no_such_package(ws):
    s = ws({"pkg/BUILD": "", "nobuild/f.txt": ""})
    with pytest.raises(NoSuchPackage, match="no such package '//missing': .*directory does not exist"):
        s.loader.get_target(L("missing:x"))
    with pytest.raises(NoSuchPackage, match="no such package '//nobuild': BUILD file not found"):
        s.loader.get_target(L("nobuild:x"))


def test_package_group(ws):
    s = ws({"pkg/BUILD": 'package_group(name = "friends", packages = ["//a/...", "-//a/b"], includes = [":more"])\n'})
    g = s.package("pkg").targets["friends"]
    assert isinstance(g, PackageGroup)
    assert g.packages == ("//a/...", "-//a/b")
    assert g.includes == (L("pkg:more"),)


def test_unsupported_native_rule_is_named(ws):
    e = ws({"pkg/BUILD": 'cc_library(name = "c")\n'}).error("pkg")
    assert e.message == "kiln does not support the rule 'cc_library' yet"


def test_rule_requires_keyword_arguments(ws):
    e = ws({"pkg/BUILD": 'filegroup("a")\n'}).error("pkg")
    assert e.message == "filegroup() takes only keyword arguments"


def test_load_skylib_selects(ws):
    s = ws({
        "pkg/BUILD": (
            'load("@bazel_skylib//lib:selects.bzl", "selects")\n'
            'filegroup(name = "fg", srcs = selects.with_or({("//c:a", "//c:b"): ["x"]}))\n'
        ),
    })
    srcs = s.package("pkg").targets["fg"].attrs["srcs"]
    assert srcs == Select((("//c:a", (L("pkg:x"),)), ("//c:b", (L("pkg:x"),))))
