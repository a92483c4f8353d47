"""The compatibility corpus: workspaces kiln builds and tests (tests/integration runs them), not pytest's tests."""

collect_ignore_glob = ["*"]
