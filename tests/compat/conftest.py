"""The corpus workspaces hold tests kiln runs (py_test sources), not pytest's: pytest collects none of them."""

collect_ignore_glob = ["*"]
