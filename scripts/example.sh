#!/usr/bin/env bash
# Sets up kiln, then builds, tests and runs the example workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cd examples
../.venv/bin/kiln build //...
../.venv/bin/kiln test //...
../.venv/bin/kiln run //app:hello -- "kiln user"
../.venv/bin/kiln run --config=fancy //app:hello
# Two Python versions in one build ran above (//versions:all); which one a program runs on, and on seed
# 002's custom toolchain suite (toolchain_impl/, toolchains/) instead of the machine's CPythons.
../.venv/bin/kiln run //versions:python_info
../.venv/bin/kiln run --//:py=custom //versions:python_info
# The Rust/PyO3 example lives in kiln's own workspace (the repository root).
cd ..
.venv/bin/kiln test -c opt //examples/word_count/... --test_output=all
