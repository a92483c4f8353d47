#!/usr/bin/env bash
# Creates .venv with kiln (editable) and its test dependencies. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system_deps.sh
PYTHON="${PYTHON:-python3}"
# Resolve a pyenv shim to the real interpreter: shims cost ~55 ms a call.
if command -v pyenv >/dev/null 2>&1 && [[ "$(command -v "$PYTHON")" == *shims* ]]; then
  PYTHON="$(pyenv which "$PYTHON")"
fi
if [[ ! -x .venv/bin/python ]]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
# This machine sets PYTHONDONTWRITEBYTECODE=1: compile kiln's modules once so that
# every kiln start does not recompile them (an editable install writes no .pyc).
.venv/bin/python -m compileall -q src >/dev/null
