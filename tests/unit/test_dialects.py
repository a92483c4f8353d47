"""kiln.loading.dialects' own check of BUILD files on text that looks like a star argument but is not:
strings, comments, globs, multiplication."""

from __future__ import annotations

import pytest

from kiln.loading import dialects


@pytest.mark.parametrize("text", [
    'filegroup(name = "a", srcs = glob(["*.py", "**/*.txt"]))\n',
    'filegroup(name = "a", tags = ["x, *y", "(**z"])  # f(*a)\n',
    'N = 2 * 3\nfilegroup(name = "a" * 1, srcs = [])\n',
])
def test_stars_that_are_not_star_arguments_are_accepted_in_build_files(text):
    dialects.parse_build("BUILD", text)
