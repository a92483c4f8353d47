"""python-build-standalone-shaped `install_only` archives made from this machine's pyenv CPythons.

This machine cannot reach the archive host, so tests make archives of the same shape (FACTS §4): one top
directory `python/` with bin/, include/ and lib/. pyenv's binaries carry an absolute RUNPATH into the pyenv
directory, so a plain copy would still load pyenv's libpython: the copy is trimmed (no test suite, static
library or third-party packages, and no bytecode unless asked to keep it), its ELF files get a RUNPATH
relative to `$ORIGIN` with Debian's `patchelf`, and its build configuration names `/install` as its
prefix, as the published ones do.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

# A release tag no real python-build-standalone release has: these archives are never the published ones.
RELEASE = "20000101"
TRIPLE = "x86_64-unknown-linux-gnu"

# Names dropped anywhere under lib/python3.X: the test suites, GUI and pip bootstrap packages, and bytecode
# (for size; build_archive(keep_bytecode=True) keeps it). The machines set PYTHONDONTWRITEBYTECODE, so a
# runtime unpacked from an archive without it compiles the stdlib modules it imports on every start.
_DROPPED_STDLIB = {"test", "tests", "idlelib", "tkinter", "turtledemo", "ensurepip", "__pycache__"}


@dataclass(frozen=True)
class PbsArchive:
    version: str  # the full CPython version, e.g. "3.11.7"
    path: Path
    sha256: str

    @property
    def filename(self) -> str:
        return self.path.name

    @property
    def url_path(self) -> str:
        """Where the archive sits below a base URL, as in rules_python's table: `<release>/<filename>`."""
        return f"{RELEASE}/{self.filename}"


def pyenv_root() -> Path:
    return Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")


def pyenv_install(version: str) -> Path | None:
    """pyenv's install of `version` ("3.11" picks the highest 3.11.Z; "3.11.7" exactly), if there is one."""
    versions = pyenv_root() / "versions"
    if not versions.is_dir():
        return None
    pattern = re.compile(re.escape(version) + (r"\.(\d+)$" if version.count(".") == 1 else "$"))
    found = [(int(m.group(1)) if m.groups() else 0, p) for p in versions.iterdir()
             if (m := pattern.match(p.name)) and (p / "bin").is_dir()]
    return max(found)[1] if found else None


def build_archive(version: str, out_dir: Path, *, keep_bytecode: bool = False) -> PbsArchive:
    """Makes `cpython-X.Y.Z+RELEASE-TRIPLE-install_only.tar.gz` in `out_dir` from pyenv's CPython `version`;
    `keep_bytecode` keeps the stdlib's `__pycache__` directories, as the published archives ship them."""
    src = pyenv_install(version)
    if src is None:
        raise FileNotFoundError(f"no pyenv CPython {version} under {pyenv_root() / 'versions'}")
    full = src.name
    minor = ".".join(full.split(".")[:2])
    stage = out_dir / f"stage-{full}"
    shutil.rmtree(stage, ignore_errors=True)
    root = stage / "python"
    _copy_tree(src, root, minor, keep_bytecode)
    _relocate(root, minor)
    _forget_install_prefix(root, src, minor)
    archive = out_dir / f"cpython-{full}+{RELEASE}-{TRIPLE}-install_only.tar.gz"
    _pack(root, archive)
    shutil.rmtree(stage)
    return PbsArchive(full, archive, hashlib.sha256(archive.read_bytes()).hexdigest())


def _copy_tree(src: Path, root: Path, minor: str, keep_bytecode: bool) -> None:
    (root / "bin").mkdir(parents=True)
    # Only the interpreter: pyenv's other scripts (pip, pydoc, ...) have shebangs into the pyenv directory.
    shutil.copy2(src / "bin" / f"python{minor}", root / "bin" / f"python{minor}")
    (root / "bin" / "python3").symlink_to(f"python{minor}")
    shutil.copytree(src / "include", root / "include", symlinks=True)
    lib = root / "lib"
    lib.mkdir()
    for entry in (src / "lib").iterdir():
        if entry.name.startswith("libpython") and ".so" in entry.name:
            shutil.copy2(entry, lib / entry.name, follow_symlinks=False)
    stdlib = src / "lib" / f"python{minor}"

    def ignore(directory: str, names: list[str]) -> set[str]:
        dropped = {n for n in names if n in _DROPPED_STDLIB and (n != "__pycache__" or not keep_bytecode)}
        here = Path(directory)
        if here == stdlib / "site-packages":
            dropped |= {n for n in names if n != "README.txt"}
        if here.name.startswith("config-"):
            dropped |= {n for n in names if n.endswith(".a")}
        return dropped

    shutil.copytree(stdlib, lib / f"python{minor}", symlinks=True, ignore=ignore)


def _relocate(root: Path, minor: str) -> None:
    _set_runpath(root / "bin" / f"python{minor}", "$ORIGIN/../lib")
    for so in (root / "lib").glob("libpython*.so*"):
        if not so.is_symlink():
            _set_runpath(so, "$ORIGIN/../lib")
    for so in (root / "lib" / f"python{minor}" / "lib-dynload").glob("*.so"):
        if _runpath(so):
            _set_runpath(so, "$ORIGIN/../..")


def _forget_install_prefix(root: Path, src: Path, minor: str) -> None:
    """Points the build configuration (sysconfig's data, the config directory) at `/install`, as
    python-build-standalone's archives do, so that nothing reading it finds the pyenv directory."""
    stdlib = root / "lib" / f"python{minor}"
    for path in [*stdlib.glob("_sysconfigdata_*.py"), *stdlib.glob("config-*/*")]:
        data = path.read_bytes()
        if b"\0" not in data and str(src).encode() in data:
            path.write_bytes(data.replace(str(src).encode(), b"/install"))
            # Bytecode of the old text would be stale: dropped rather than rewritten.
            for pyc in (path.parent / "__pycache__").glob(f"{path.stem}.*.pyc"):
                pyc.unlink()


def _runpath(path: Path) -> str:
    return subprocess.run(["patchelf", "--print-rpath", str(path)], check=True, capture_output=True,
                          text=True).stdout.strip()


def _set_runpath(path: Path, runpath: str) -> None:
    subprocess.run(["patchelf", "--set-rpath", runpath, str(path)], check=True, capture_output=True)


def _pack(root: Path, archive: Path) -> None:
    tmp = archive.with_name(archive.name + ".tmp")
    # Level 1: these archives are made on every test session; their size matters little on 127.0.0.1.
    with tarfile.open(tmp, "w:gz", compresslevel=1) as tar:
        for path in sorted([root, *root.rglob("*")]):
            tar.add(path, arcname=str(path.relative_to(root.parent)), recursive=False)
    tmp.replace(archive)
