"""A fetched repository's marker: when its definition and the files it read are unchanged, it is not fetched again.

As Bazel's `@repo.marker`: a digest of the rule, its attributes and kiln's
fetch code version, and the digest of every file the fetch read. The marker
is written after the repository's directory is complete, so a fetch killed
half-way leaves no marker and is redone.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

# Bumped when a fetcher changes what it writes: every repository is fetched again.
FETCH_VERSION = "1"


def definition_key(rule: str, attrs: dict[str, Any]) -> str:
    text = json.dumps([FETCH_VERSION, rule, attrs], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _file_digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def current_inputs(marker: Path, directory: Path, key: str) -> tuple[str, ...] | None:
    """The files the fetch read, if the repository at `directory` is up to date with `key`; else None."""
    try:
        recorded = json.loads(marker.read_text())
    except (OSError, ValueError):
        return None
    if recorded.get("key") != key or not directory.exists():
        return None
    inputs = recorded.get("inputs") or {}
    if any(_file_digest(Path(p)) != digest for p, digest in inputs.items()):
        return None
    return tuple(inputs)


def write_marker(marker: Path, key: str, inputs: list[Path]) -> None:
    data = {"key": key, "inputs": {str(p): _file_digest(p) for p in inputs}}
    tmp = marker.with_name(marker.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    tmp.replace(marker)
