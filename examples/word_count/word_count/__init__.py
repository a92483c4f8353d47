"""Word counting with a Rust core (word_count._word_count) and a pure-Python reference."""

from word_count._word_count import search, search_sequential


def search_py(contents: str, needle: str) -> int:
    """The pure-Python counter the Rust one is measured against."""
    total = 0
    for line in contents.splitlines():
        for word in line.split():
            if word.strip("".join(c for c in word if not c.isalnum())) == needle:
                total += 1
    return total


__all__ = ["search", "search_sequential", "search_py"]
