"""The Rust counters agree with the Python one, and pytest-benchmark compares their speed."""

import sys

import pytest

import word_count

TEXT = "The quick brown fox. The lazy dog, the end!\n" * 2000


def test_counts_agree():
    expected = word_count.search_py(TEXT, "the")
    assert expected == 2000
    assert word_count.search(TEXT, "the") == expected
    assert word_count.search_sequential(TEXT, "the") == expected


def test_module_is_the_extension():
    assert word_count._word_count.__file__.endswith(".so")


def test_rust_parallel(benchmark):
    assert benchmark(word_count.search, TEXT, "the") == 2000


def test_rust_sequential(benchmark):
    assert benchmark(word_count.search_sequential, TEXT, "the") == 2000


def test_pure_python(benchmark):
    assert benchmark(word_count.search_py, TEXT, "the") == 2000


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q", "-p", "no:cacheprovider", "--benchmark-columns=min,mean,rounds"]))
