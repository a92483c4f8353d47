"""Tests for kiln.core.depset.Depset: traversal orders, deduplication, sharing, depth.

Expected orders are those Bazel documents for depsets (docs "Depsets",
section "Order"): postorder puts children before a node's direct items,
preorder puts them after, topological puts every node before its children
while keeping left-to-right order among siblings and direct items.
"""

import sys

import pytest

from kiln.core.depset import EMPTY, Depset


def make_example(order):
    # From Bazel's documentation.
    cd = Depset(["c", "d"], order=order)
    gh = Depset(["g", "h"], order=order)
    return Depset(["a", "b", "e", "f"], [cd, gh], order=order)


def make_diamond(order):
    # d -> b -> a, d -> c -> a: `a` is shared.
    a = Depset(["a"], order=order)
    b = Depset(["b"], [a], order=order)
    c = Depset(["c"], [a], order=order)
    return Depset(["d"], [b, c], order=order)


# --- orders -----------------------------------------------------------------------

@pytest.mark.parametrize("order", ["default", "stable", "postorder"])
def test_postorder_children_first(order):
    assert make_example(order).to_list() == ["c", "d", "g", "h", "a", "b", "e", "f"]


def test_preorder_direct_first():
    assert make_example("preorder").to_list() == ["a", "b", "e", "f", "c", "d", "g", "h"]


@pytest.mark.parametrize("order", ["default", "postorder"])
def test_diamond_postorder(order):
    assert make_diamond(order).to_list() == ["a", "b", "c", "d"]


def test_diamond_preorder():
    assert make_diamond("preorder").to_list() == ["d", "b", "a", "c"]


def test_topological_puts_parents_before_children():
    out = make_diamond("topological").to_list()
    assert sorted(out) == ["a", "b", "c", "d"]
    assert out[0] == "d" and out[-1] == "a"


def test_topological_diamond_matches_bazel():
    assert make_diamond("topological").to_list() == ["d", "b", "c", "a"]


def test_topological_keeps_direct_item_order():
    assert Depset(["a", "b"], order="topological").to_list() == ["a", "b"]


def test_unknown_order():
    with pytest.raises(ValueError, match="unknown depset order 'random'"):
        Depset([1], order="random")


# --- dedupe and sharing -------------------------------------------------------------

def test_direct_duplicates_keep_first_occurrence():
    assert Depset([3, 1, 3, 2, 1]).to_list() == [3, 1, 2]


def test_duplicates_across_children_keep_first_occurrence():
    left = Depset(["x", "y"])
    right = Depset(["y", "z"])
    assert Depset(["z", "w"], [left, right]).to_list() == ["x", "y", "z", "w"]


def test_same_child_twice_is_walked_once():
    child = Depset(["a", "b"])
    d = Depset(["c"], [child, child])
    assert d.to_list() == ["a", "b", "c"]
    assert len(d) == 3


def test_wide_diamond_sharing_does_not_blow_up():
    # 30 levels of two parents sharing one child: 2**30 paths, 31 distinct items.
    node = Depset([0])
    for i in range(1, 31):
        node = Depset([i], [Depset([f"l{i}"], [node]), Depset([f"r{i}"], [node])])
    out = node.to_list()
    assert len(out) == len(set(out)) == 31 + 60
    assert out[0] == 0 and out[-1] == 30


def test_to_list_is_a_copy_and_cached():
    d = Depset([1, 2])
    first = d.to_list()
    first.append(99)
    assert d.to_list() == [1, 2]
    assert list(d) == [1, 2]


# --- depth -----------------------------------------------------------------------------

def test_deep_chain_with_direct_items_flattens():
    d = Depset([0])
    for i in range(1, 5000):
        d = Depset([i], [d])
    out = d.to_list()
    assert len(out) == 5000
    assert out[0] == 0 and out[-1] == 4999  # postorder: the deepest first
    assert Depset(["top"], [d], order="preorder").to_list()[:3] == ["top", 4999, 4998]


def test_deep_chain_of_transitive_only_depsets():
    assert sys.getrecursionlimit() < 5000
    d = Depset(["leaf"])
    for _ in range(5000):
        d = Depset(transitive=[d])
    assert d.to_list() == ["leaf"]
    assert bool(d)


# --- truthiness ---------------------------------------------------------------------------

def test_bool():
    assert not Depset()
    assert not EMPTY
    assert Depset([0])  # falsy item, non-empty set
    assert not Depset(transitive=[Depset(), Depset(transitive=[Depset()])])
    assert Depset(transitive=[Depset(), Depset(["x"])])


def test_empty_children_are_dropped():
    d = Depset(["a"], [Depset(), EMPTY])
    assert d.transitive == ()
    assert d.to_list() == ["a"]


def test_len_and_repr():
    d = Depset([1], [Depset([2, 1])])
    assert len(d) == 2
    assert repr(d) == "depset([2, 1])"
