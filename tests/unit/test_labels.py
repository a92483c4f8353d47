"""Tests for kiln.core.labels: the label grammar, repo mapping, validation and printing.

Labels follow Bazel (FACTS §1): `//pkg` means `//pkg:pkg`, `:name` and `name`
are relative to the current package, `@repo` alone means `@repo//:repo`,
`@@name` is a canonical repo name and the main repo is the repo named "".
"""

import pytest

from kiln.core.errors import LabelError, Location
from kiln.core.labels import (
    MAIN_REPO,
    Label,
    PackageId,
    parse_label,
    validate_package_name,
    validate_target_name,
)

BASE = PackageId("", "base/dir")


def err(text, **kw):
    with pytest.raises(LabelError) as info:
        parse_label(text, **kw)
    return info.value.message


# --- absolute labels ----------------------------------------------------------

def test_absolute_label_with_name():
    assert parse_label("//pkg/sub:name") == Label("", "pkg/sub", "name")


def test_package_alone_means_last_component_as_name():
    assert parse_label("//pkg") == Label("", "pkg", "pkg")
    assert parse_label("//a/b/c") == Label("", "a/b/c", "c")


def test_root_package_with_explicit_name():
    assert parse_label("//:x") == Label("", "", "x")


def test_target_name_may_contain_slashes():
    assert parse_label("//pkg:dir/file.txt") == Label("", "pkg", "dir/file.txt")


def test_absolute_label_stays_in_the_base_repo():
    # Inside an external repo, `//pkg` refers to that same repo.
    assert parse_label("//pkg:x", base=PackageId("other", "p")) == Label("other", "pkg", "x")


def test_absolute_label_without_base_is_main_repo():
    assert parse_label("//pkg:x").repo == MAIN_REPO == ""


# --- relative labels ----------------------------------------------------------

def test_colon_name_is_relative_to_base():
    assert parse_label(":t", base=BASE) == Label("", "base/dir", "t")


def test_bare_name_is_relative_to_base():
    assert parse_label("t", base=BASE) == Label("", "base/dir", "t")
    assert parse_label("sub/file.py", base=BASE) == Label("", "base/dir", "sub/file.py")


def test_relative_label_keeps_base_repo():
    assert parse_label(":t", base=PackageId("ext", "p")) == Label("ext", "p", "t")


def test_relative_label_in_root_package():
    assert parse_label(":t", base=PackageId("", "")) == Label("", "", "t")


# --- repositories -------------------------------------------------------------

def test_repo_label():
    assert parse_label("@repo//pkg:name") == Label("repo", "pkg", "name")


def test_repo_label_ignores_base_repo():
    assert parse_label("@repo//pkg", base=PackageId("other", "x")) == Label("repo", "pkg", "pkg")


def test_repo_alone_means_root_target_named_after_repo():
    assert parse_label("@repo") == Label("repo", "", "repo")


def test_repo_alone_keeps_apparent_name_as_target_name_when_mapped():
    assert parse_label("@rules_python", repo_mapping={"rules_python": "rules_python+"}) == Label(
        "rules_python+", "", "rules_python"
    )


def test_canonical_repo_name():
    assert parse_label("@@canon+//pkg:x") == Label("canon+", "pkg", "x")


@pytest.mark.parametrize("text", ["@//pkg", "@@//pkg", "@@_main//pkg"])
def test_empty_or_main_repo_name_is_main_repo(text):
    assert parse_label(text, base=PackageId("other", "x")) == Label("", "pkg", "pkg")


def test_apparent_name_goes_through_repo_mapping():
    mapping = {"rules_python": "rules_python+", "me": ""}
    assert parse_label("@rules_python//python:defs.bzl", repo_mapping=mapping) == Label(
        "rules_python+", "python", "defs.bzl"
    )
    assert parse_label("@me//pkg:x", repo_mapping=mapping) == Label("", "pkg", "x")


def test_unmapped_apparent_name_is_kept():
    assert parse_label("@other//p:x", repo_mapping={"rules_python": "rp+"}).repo == "other"


def test_canonical_name_bypasses_repo_mapping():
    assert parse_label("@@rules_python//p:x", repo_mapping={"rules_python": "rp+"}).repo == "rules_python"


# --- malformed labels ---------------------------------------------------------

@pytest.mark.parametrize(
    "text, why",
    [
        ("", "invalid label '': empty label"),
        ("//pkg:", "invalid label '//pkg:': empty target name"),
        ("//:", "invalid label '//:': empty target name"),
        ("//", "invalid label '//': an empty package needs an explicit target name"),
        ("//a//b", "invalid label '//a//b': package names may not contain '//'"),
        ("//a/../b", "invalid label '//a/../b': package name component '..' is not allowed"),
        ("//a/./b:x", "invalid label '//a/./b:x': package name component '.' is not allowed"),
        ("///a:x", "invalid label '///a:x': package names may not start with '/'"),
        ("//pkg:a:b", "invalid label '//pkg:a:b': target names may not contain ':'"),
        ("//pkg:../x", "target names may not contain '..' as a path segment"),
        ("//pkg:/x", "target names may not start with '/'"),
        ("//pkg:x/", "target names may not end with '/'"),
        ("//pkg:a//b", "target names may not contain '//'"),
        ("//pkg:a\tb", "target names may not contain '\t'"),
        ("//pkg:a\nb", "target names may not contain '\n'"),
        ("//p\\kg:x", "package names may not contain '\\'"),
        ("@repo:x", "invalid label '@repo:x': a repository name must be followed by '//'"),
        ("@repo/x", "a repository name must be followed by '//'"),
        ("@re$po//x", "invalid repository name '@re$po'"),
        ("@a b//x", "invalid repository name '@a b'"),
    ],
)
def test_malformed_labels(text, why):
    assert why in err(text, base=BASE)


def test_pkg_trailing_slash_is_rejected():
    assert "invalid label '//pkg/'" in err("//pkg/")


def test_pkg_trailing_slash_message_names_the_trailing_slash():
    assert "may not end with '/'" in err("//pkg/")


def test_relative_colon_label_a_b():
    assert "target names may not contain ':'" in err(":a:b", base=BASE)


def test_empty_relative_name():
    assert err(":", base=BASE) == "invalid label ':': empty target name"


@pytest.mark.parametrize("text", [":t", "t", "sub/t"])
def test_relative_label_without_base(text):
    assert err(text) == f"invalid label '{text}': a relative label needs a package to be relative to"


def test_non_string_label():
    assert err(3) == "expected a label string, got int"


def test_error_carries_location():
    where = Location("pkg/BUILD", 3, 5)
    with pytest.raises(LabelError) as info:
        parse_label("//a//b", where=where)
    assert info.value.location == where
    assert info.value.render().startswith("pkg/BUILD:3:5: invalid label")


# --- validators ----------------------------------------------------------------

def test_validate_package_name():
    assert validate_package_name("") is None
    assert validate_package_name("a/b-c/d.e_f") is None
    assert validate_package_name("a/") == "package names may not end with '/'"
    assert validate_package_name("/a") == "package names may not start with '/'"
    assert validate_package_name("a//b") == "package names may not contain '//'"
    assert validate_package_name("a/..") == "package name component '..' is not allowed"
    assert validate_package_name("a\\b") == "package names may not contain '\\'"


def test_validate_target_name():
    assert validate_target_name("a b+c@d=e~f,g.txt") is None
    assert validate_target_name("dir/file") is None
    assert validate_target_name("") == "empty target name"
    assert validate_target_name("./x") == "target names may not contain '.' as a path segment"
    assert validate_target_name("a\x00") == "target names may not contain '\x00'"


# --- printing and helpers --------------------------------------------------------

@pytest.mark.parametrize(
    "label, text, short",
    [
        (Label("", "pkg", "pkg"), "//pkg:pkg", "//pkg"),
        (Label("", "a/b", "b"), "//a/b:b", "//a/b"),
        (Label("", "a/b", "x"), "//a/b:x", "//a/b:x"),
        (Label("", "", "x"), "//:x", "//:x"),
        (Label("repo", "p", "p"), "@repo//p:p", "@repo//p"),
        (Label("repo", "p", "q"), "@repo//p:q", "@repo//p:q"),
    ],
)
def test_str_and_short(label, text, short):
    assert str(label) == text
    assert label.short() == short


@pytest.mark.parametrize("text", ["//pkg:x", "//a/b:c.txt", "//:root", "@r//p:q", "@r//:r"])
def test_str_round_trips(text):
    assert str(parse_label(text)) == text


def test_package_id_and_paths():
    label = Label("", "pkg/sub", "f.py")
    assert label.package_id == PackageId("", "pkg/sub")
    assert str(label.package_id) == "//pkg/sub"
    assert str(PackageId("r", "p")) == "@r//p"
    assert label.relative_path() == "pkg/sub/f.py"
    assert Label("", "", "f.py").relative_path() == "f.py"
    assert label.workspace_root == "_main"
    assert Label("ext", "p", "x").workspace_root == "ext"
    assert label.sibling("g.py") == Label("", "pkg/sub", "g.py")


def test_labels_are_hashable_and_ordered():
    labels = [parse_label("//b:x"), parse_label("//a:y"), parse_label("//a:x"), parse_label("//a:x")]
    assert sorted(set(labels)) == [Label("", "a", "x"), Label("", "a", "y"), Label("", "b", "x")]
