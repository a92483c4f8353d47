"""The compatibility corpus: workspaces written for Bazel, which tests/integration builds and tests with
kiln. Their own test files are the workspaces' (py_test sources), never collected by pytest here."""

collect_ignore_glob = ["*"]
