"""Runs tools/reapi/engine.py (build, start, stop) for the tests against the real REAPI engine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[2] / "tools" / "reapi" / "engine.py"


def engine_command(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ENGINE), *args], capture_output=True, text=True,
                          env=env, timeout=timeout)
