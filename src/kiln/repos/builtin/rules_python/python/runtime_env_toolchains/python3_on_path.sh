#!/bin/sh
# The runtime-env toolchain's interpreter: whichever python3 PATH finds when the program runs.
if ! command -v python3 >/dev/null 2>&1; then
    echo "runtime_env_toolchain: no python3 on PATH ($PATH)" >&2
    exit 127
fi
exec python3 "$@"
