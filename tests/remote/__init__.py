"""Tests against the real REAPI engine of tools/reapi (a package, so its conftest does not shadow the `conftest` module other test directories import)."""
