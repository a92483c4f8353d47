"""Runfiles trees on disk: `<program>.runfiles/` with MANIFEST and _repo_mapping.

Entries are symbolic links to workspace sources and to output paths (not to
blobs), so a tree stays valid when file contents change; it is rebuilt only
when its manifest (the list of paths) changes. The manifest digest is written
last, so a tree interrupted half-way is rebuilt by the next build.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from kiln.core.artifacts import Artifact, SourceTree
from kiln.core.runfiles import Runfiles

STAMP_FILE = ".kiln-manifest-digest"


def manifest_lines(runfiles: Runfiles, sources: SourceTree, execroot: str) -> list[str]:
    lines = []
    for rpath, art in sorted(runfiles.entries().items()):
        if art is None:
            lines.append(f"{rpath} ")
        elif art.is_source:
            lines.append(f"{rpath} {sources.path(art)}")
        else:
            lines.append(f"{rpath} {os.path.join(execroot, art.exec_path)}")
    return lines


def materialize(tree: Path, runfiles: Runfiles, sources: SourceTree, execroot: str, repo_mapping: str = "") -> bool:
    """Makes `tree` match `runfiles`; returns True if it had to change anything."""
    lines = manifest_lines(runfiles, sources, execroot)
    manifest = "\n".join(lines) + ("\n" if lines else "")
    # (v2: trees always hold the main repository's directory.)
    digest = hashlib.sha256((manifest + "\0" + repo_mapping + "\0v2").encode()).hexdigest()
    stamp = tree / STAMP_FILE
    try:
        if stamp.read_text() == digest:
            return False
    except (FileNotFoundError, NotADirectoryError):
        pass
    if tree.is_symlink() or tree.is_file():
        tree.unlink()
    elif tree.exists():
        shutil.rmtree(tree)
    tree.mkdir(parents=True)
    # The main repository's directory exists even when no file of it is a runfile, as under Bazel:
    # programs run from it (`kiln run`, tests).
    (tree / "_main").mkdir()
    made: set[str] = {"_main"}
    for line in lines:
        rpath, _, target = line.partition(" ")
        parent = os.path.dirname(rpath)
        if parent not in made:
            os.makedirs(tree / parent, exist_ok=True)
            made.add(parent)
        if target:
            os.symlink(target, tree / rpath)
        else:
            (tree / rpath).touch()
    (tree / "_repo_mapping").write_text(repo_mapping)
    # The runfiles library finds the repo mapping through the manifest when it uses one.
    manifest += f"_repo_mapping {tree / '_repo_mapping'}\n"
    (tree / "MANIFEST").write_text(manifest)
    manifest_file = Path(str(tree)[: -len(".runfiles")] + ".runfiles_manifest")
    manifest_file.write_text(manifest)
    stamp.write_text(digest)
    return True


def tree_path(execroot: Path, executable: Artifact) -> Path:
    return execroot / (executable.exec_path + ".runfiles")
