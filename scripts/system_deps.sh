#!/usr/bin/env bash
# Installs the Debian packages kiln's sandbox and tests need, if they are missing. Idempotent.
#   bubblewrap: the Linux sandbox (bwrap) every action runs in.
#   xfsprogs: mkfs.xfs, for the test that output copies are reflinks where the file system can.
#   pypy3, python3.11-dbg: the PyPy and debug CPython runtimes a PyO3 extension is built for in the tests.
#   patchelf: makes the tests' python-build-standalone-shaped archives relocatable (tests/integration/pbs_archives.py).
#   libpython3.11-dev: the C headers of the examples' custom toolchain suite (examples/toolchain_impl).
set -euo pipefail
missing=()
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
command -v mkfs.xfs >/dev/null 2>&1 || missing+=(xfsprogs)
command -v pypy3 >/dev/null 2>&1 || missing+=(pypy3)
command -v python3.11-dbg >/dev/null 2>&1 || missing+=(python3.11-dbg)
command -v patchelf >/dev/null 2>&1 || missing+=(patchelf)
[[ -f /usr/include/python3.11/Python.h ]] || missing+=(libpython3.11-dev)
((${#missing[@]})) || exit 0
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
  echo "kiln: please install ${missing[*]} (Debian/Ubuntu: apt-get install ${missing[*]}); without bubblewrap" \
       "actions run without namespaces" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
