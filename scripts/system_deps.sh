#!/usr/bin/env bash
# Installs the Debian packages kiln's sandbox and tests need, if they are missing. Idempotent.
#   bubblewrap: the Linux sandbox (bwrap) every action runs in.
#   xfsprogs: mkfs.xfs, for the test that output copies are reflinks where the file system can.
set -euo pipefail
missing=()
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
command -v mkfs.xfs >/dev/null 2>&1 || missing+=(xfsprogs)
((${#missing[@]})) || exit 0
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
  echo "kiln: please install ${missing[*]} (Debian/Ubuntu: apt-get install ${missing[*]}); without bubblewrap" \
       "actions run without namespaces" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
