"""The python-build-standalone-shaped test archives: install_only layout, relocatable, served with their digest."""

from __future__ import annotations

import hashlib
import json
import subprocess
import tarfile
import urllib.request
from pathlib import Path

import pytest
from pbs_archives import RELEASE, TRIPLE, pyenv_root

VERSIONS = ["3.11", "3.12"]

_PROBE = """
import json, sys, sysconfig, ssl, sqlite3, ctypes, decimal
maps = [line.split()[-1] for line in open("/proc/self/maps") if "/" in line]
config = [str(v) for v in sysconfig.get_config_vars().values()]
print(json.dumps({"prefix": sys.prefix, "executable": sys.executable, "version": sys.version, "path": sys.path,
                  "maps": maps, "openssl": ssl.OPENSSL_VERSION, "config": config,
                  "libdir": sysconfig.get_config_var("LIBDIR")}))
"""


@pytest.mark.parametrize("version", VERSIONS)
def test_archive_has_the_install_only_layout(pbs_archives, version: str) -> None:
    archive = pbs_archives(version)
    assert archive.version.startswith(version + ".")
    assert archive.filename == f"cpython-{archive.version}+{RELEASE}-{TRIPLE}-install_only.tar.gz"
    with tarfile.open(archive.path) as tar:
        names = tar.getnames()
    assert {n.split("/")[0] for n in names} == {"python"}
    for wanted in ["bin/python3", f"bin/python{version}", f"include/python{version}/Python.h",
                   f"lib/libpython{version}.so", f"lib/python{version}/os.py",
                   f"lib/python{version}/lib-dynload"]:
        assert f"python/{wanted}" in names
    trimmed = [n for n in names if n.endswith(".a") or set(n.split("/")) & {"test", "__pycache__", "idlelib"}]
    assert trimmed == []
    assert hashlib.sha256(archive.path.read_bytes()).hexdigest() == archive.sha256


@pytest.mark.parametrize("version", VERSIONS)
def test_extracted_runtime_uses_only_its_own_files(pbs_archives, tmp_path: Path, version: str) -> None:
    archive = pbs_archives(version)
    subprocess.run(["tar", "-xzf", str(archive.path), "-C", str(tmp_path)], check=True)
    home = tmp_path / "python"
    proc = subprocess.run([str(home / "bin" / "python3"), "-c", _PROBE], env={}, capture_output=True, text=True,
                          check=True)
    seen = json.loads(proc.stdout)
    assert seen["prefix"] == str(home)
    assert seen["version"].startswith(archive.version + " ")
    assert seen["openssl"].startswith("OpenSSL")
    pyenv = str(pyenv_root())
    assert [p for p in seen["path"] if p.startswith(pyenv)] == []
    assert [m for m in seen["maps"] if m.startswith(pyenv)] == []
    # Like the published archives, the build configuration names /install, not the tree it was made from.
    assert [c for c in seen["config"] if pyenv in c] == []
    assert seen["libdir"] == "/install/lib"
    # The libpython and extension modules that are mapped are the extracted ones.
    assert str(home / "lib" / f"libpython{version}.so.1.0") in seen["maps"]
    assert any(m.startswith(str(home / "lib" / f"python{version}" / "lib-dynload" / "_ssl.")) for m in seen["maps"])


def test_server_serves_each_archive_at_its_release_path(pbs_server, pbs_archives) -> None:
    base_url, served = pbs_server(*VERSIONS)
    assert sorted(served) == sorted(pbs_archives(v).version for v in VERSIONS)
    for full, (path, sha256) in served.items():
        assert path == f"{RELEASE}/cpython-{full}+{RELEASE}-{TRIPLE}-install_only.tar.gz"
        with urllib.request.urlopen(f"{base_url}/{path}") as response:
            assert hashlib.sha256(response.read()).hexdigest() == sha256
