"""Fixtures for tests against the real REAPI engine of tools/reapi (Buildbarn and bazel-remote).

The engine's tests (test_engine_*.py) build Go programs (minutes, cold) and start servers, so a run
of the suite collects them only when KILN_REAPI_TESTS=1 (naming a test file runs it regardless);
without Go they skip, and under CI=true they fail instead. The client's tests against in-process
fake servers always run.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from .reapi_engine import engine_command

if os.environ.get("KILN_REAPI_TESTS") != "1":
    collect_ignore_glob = ["test_engine_*.py"]

COLD_BUILD_TIMEOUT_S = 1800


def unavailable(why: str) -> None:
    """Skips a test this machine truly cannot run; under CI=true, fails it."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{why} (CI=true: this test must run)")
    pytest.skip(why)


@dataclass(frozen=True)
class Engine:
    state: Path
    bin_dir: Path
    endpoints: dict

    @property
    def buildbarn_target(self) -> str:
        return self.endpoints["buildbarn"]["grpc"].removeprefix("grpc://")


@pytest.fixture(scope="session")
def engine_bin() -> Path:
    """The engine's binaries, built once (a cache hit after the first build on this machine)."""
    if shutil.which("go") is None:
        unavailable("Go is not installed: the REAPI engine is built from Go modules")
    result = engine_command("build", timeout=COLD_BUILD_TIMEOUT_S)
    assert result.returncode == 0, result.stderr
    return Path(result.stdout.strip())


@pytest.fixture
def engine(engine_bin: Path, tmp_path: Path):
    """A started engine, its state under tmp_path; stopped at the end whatever happens."""
    state = tmp_path / "engine"
    result = engine_command("start", str(state))
    try:
        assert result.returncode == 0, result.stderr
        yield Engine(state, engine_bin, json.loads((state / "endpoints.json").read_text()))
    finally:
        engine_command("stop", str(state))
