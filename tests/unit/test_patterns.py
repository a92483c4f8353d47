"""Tests for kiln.core.patterns: target pattern kinds, relative patterns and errors.

Patterns (FACTS §1): `//...`, `//pkg/...` (rules below pkg), `//pkg:all`
(rules), `//pkg:*` / `:all-targets` (rules and files), single targets, and a
leading `-` that subtracts. Relative patterns are resolved against the
directory the command runs in (`offset`).
"""

import pytest

from kiln.core.errors import LabelError
from kiln.core.labels import Label, PackageId
from kiln.core.patterns import PatternKind, parse_pattern

K = PatternKind


@pytest.mark.parametrize(
    "text, kind, package",
    [
        ("//...", K.RECURSIVE_RULES, ""),
        ("//...:all", K.RECURSIVE_RULES, ""),
        ("//...:*", K.RECURSIVE_TARGETS, ""),
        ("//pkg/...", K.RECURSIVE_RULES, "pkg"),
        ("//pkg/sub/...", K.RECURSIVE_RULES, "pkg/sub"),
        ("//pkg/...:all", K.RECURSIVE_RULES, "pkg"),
        ("//pkg/...:*", K.RECURSIVE_TARGETS, "pkg"),
        ("//pkg/...:all-targets", K.RECURSIVE_TARGETS, "pkg"),
        ("//pkg:all", K.RULES_IN_PACKAGE, "pkg"),
        ("//pkg:*", K.TARGETS_IN_PACKAGE, "pkg"),
        ("//pkg:all-targets", K.TARGETS_IN_PACKAGE, "pkg"),
        ("//:all", K.RULES_IN_PACKAGE, ""),
    ],
)
def test_pattern_kinds(text, kind, package):
    p = parse_pattern(text)
    assert (p.kind, p.repo, p.package, p.label, p.negative) == (kind, "", package, None, False)
    assert p.text == text


@pytest.mark.parametrize(
    "text, label",
    [
        ("//pkg:t", Label("", "pkg", "t")),
        ("//pkg", Label("", "pkg", "pkg")),
        ("//a/b", Label("", "a/b", "b")),
        ("//:root", Label("", "", "root")),
        ("//pkg:dir/f.txt", Label("", "pkg", "dir/f.txt")),
    ],
)
def test_single_targets(text, label):
    p = parse_pattern(text)
    assert p.kind is K.SINGLE
    assert p.label == label
    assert (p.repo, p.package) == (label.repo, label.package)
    assert p.package_id == PackageId("", label.package)


def test_negative_patterns():
    p = parse_pattern("-//pkg/...")
    assert (p.kind, p.package, p.negative) == (K.RECURSIVE_RULES, "pkg", True)
    assert p.text == "-//pkg/..."
    single = parse_pattern("-//pkg:t")
    assert single.negative and single.label == Label("", "pkg", "t")
    assert parse_pattern("-//pkg:all").kind is K.RULES_IN_PACKAGE


# --- relative patterns -----------------------------------------------------------

@pytest.mark.parametrize(
    "text, offset, kind, package, label",
    [
        ("foo/...", "bar", K.RECURSIVE_RULES, "bar/foo", None),
        ("foo/...:*", "bar", K.RECURSIVE_TARGETS, "bar/foo", None),
        ("...", "bar", K.RECURSIVE_RULES, "bar", None),
        ("...", "", K.RECURSIVE_RULES, "", None),
        ("...:all", "", K.RECURSIVE_RULES, "", None),
        (":t", "bar", K.SINGLE, "bar", Label("", "bar", "t")),
        (":t", "", K.SINGLE, "", Label("", "", "t")),
        (":all", "a/b", K.RULES_IN_PACKAGE, "a/b", None),
        (":*", "a/b", K.TARGETS_IN_PACKAGE, "a/b", None),
        ("foo:all", "bar", K.RULES_IN_PACKAGE, "bar/foo", None),
        ("foo:t", "bar", K.SINGLE, "bar/foo", Label("", "bar/foo", "t")),
        ("foo/...", "", K.RECURSIVE_RULES, "foo", None),
    ],
)
def test_relative_patterns(text, offset, kind, package, label):
    p = parse_pattern(text, offset=offset)
    assert (p.kind, p.package, p.label) == (kind, package, label)


@pytest.mark.parametrize("text", ["//pkg:t", "//pkg/...", "//:all"])
def test_absolute_patterns_ignore_offset(text):
    assert parse_pattern(text, offset="elsewhere/dir") == parse_pattern(text)


def test_negative_relative_pattern():
    p = parse_pattern("-foo/...", offset="bar")
    assert (p.kind, p.package, p.negative) == (K.RECURSIVE_RULES, "bar/foo", True)


# --- repositories ------------------------------------------------------------------

def test_repo_recursive_pattern():
    p = parse_pattern("@repo//...")
    assert (p.kind, p.repo, p.package) == (K.RECURSIVE_RULES, "repo", "")
    assert p.package_id == PackageId("repo", "")


def test_repo_single_and_package_patterns():
    assert parse_pattern("@repo//pkg:t").label == Label("repo", "pkg", "t")
    assert parse_pattern("@@canon+//pkg").label == Label("canon+", "pkg", "pkg")
    p = parse_pattern("@repo//pkg:all")
    assert (p.kind, p.repo, p.package) == (K.RULES_IN_PACKAGE, "repo", "pkg")


def test_repo_alone_is_a_single_target():
    p = parse_pattern("@repo")
    assert p.kind is K.SINGLE and p.label == Label("repo", "", "repo")


@pytest.mark.parametrize("text", ["@@_main//x/...", "@//x/..."])
def test_main_repo_spellings(text):
    p = parse_pattern(text)
    assert (p.kind, p.repo, p.package) == (K.RECURSIVE_RULES, "", "x")


# --- contains_package ----------------------------------------------------------------

def test_contains_package():
    p = parse_pattern("//foo/...")
    assert p.contains_package("foo")
    assert p.contains_package("foo/bar/baz")
    assert not p.contains_package("foobar")
    assert not p.contains_package("")
    everything = parse_pattern("//...")
    assert everything.contains_package("") and everything.contains_package("any/thing")


# --- errors --------------------------------------------------------------------------

@pytest.mark.parametrize(
    "text, message",
    [
        ("", "invalid target pattern '': empty pattern"),
        ("-", "invalid target pattern '-': empty pattern"),
        ("//pkg/...:foo", "invalid target pattern '//pkg/...:foo': '...' must be followed by ':all' or ':*'"),
        ("//a/../...", "invalid target pattern '//a/../...': package name component '..' is not allowed"),
        ("//a//b:all", "invalid target pattern '//a//b:all': package names may not contain '//'"),
        ("//pkg:", "invalid target pattern '//pkg:': empty target name"),
        ("//pkg/..", "invalid target pattern '//pkg/..': package name component '..' is not allowed"),
        ("//pkg:a:b", "invalid target pattern '//pkg:a:b': target names may not contain ':'"),
    ],
)
def test_errors(text, message):
    with pytest.raises(LabelError) as info:
        parse_pattern(text)
    assert info.value.message == message


def test_bad_repo_alone():
    with pytest.raises(LabelError, match="a repository name must be followed by '//'"):
        parse_pattern("@repo:x")
