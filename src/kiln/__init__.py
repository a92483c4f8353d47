"""kiln: builds Python and Rust/PyO3 projects from Bazel workspaces, hermetically."""

__version__ = "0.1.0"
