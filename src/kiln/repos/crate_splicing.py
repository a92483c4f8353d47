"""A Cargo.lock for a crate universe that names none (crate.spec with from_specs alone), made at repository time.

As rules_rust's crate_universe "splices" a workspace and has cargo resolve it,
kiln writes a Cargo manifest in the repository's `splicing/` directory: one
package, `direct-cargo-bazel-deps` (the name cargo-bazel gives it, which the
crate index resolves specs against), depending on every registry crate of the
index with its requirement and features. The machine's cargo runs
`generate-lockfile` on it, offline first (from the user's CARGO_HOME index
cache), online when that fails; this is the one place a lockless index uses
the network. The lock then serves as the user's would: its crates are
vendored and the cargo action builds `--offline --locked` without network.

The lock is kept (`<repo>/Cargo.lock`) for as long as the spliced manifest is
unchanged, so versions do not drift between loadings; a changed spec writes a
new manifest and resolves again. Crash safety: the old lock is removed before
the new manifest is written, and the new lock is renamed into place only once
cargo wrote it whole, so a lock never sits beside a manifest it was not made from.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from kiln.core.errors import KilnError
from kiln.repos.crate_universe import SPLICED_MEMBER, CrateIndex

LOCK_FILE = "Cargo.lock"
_SPLICING_DIR = "splicing"


class SplicingError(KilnError):
    """cargo could not resolve the crates of a crate universe without a lock file."""


def spliced_manifest(index: CrateIndex) -> str | None:
    """The manifest of the index's registry crates; None when it has none (nothing to lock)."""
    lines = []
    for name, c in sorted(index.crates.items()):
        if c.path or c.git:
            continue
        spec = {"package": c.package, "version": c.version_req or "*"}
        parts = [f"{k} = {json.dumps(v)}" for k, v in spec.items()]
        if c.features:
            parts.append(f"features = {json.dumps(list(c.features))}")
        if not c.default_features:
            parts.append("default-features = false")
        lines.append(f"{json.dumps(name)} = {{ {', '.join(parts)} }}")
    if not lines:
        return None
    return "\n".join([
        f"# The registry crates of @{index.repo_name}, spliced by kiln to resolve a lock file. Do not edit.",
        "[package]", f'name = "{SPLICED_MEMBER}"', 'version = "0.0.1"', 'edition = "2021"', "publish = false", "",
        "[lib]", 'path = "lib.rs"', "", "[dependencies]", *lines, ""])


def splice_lock(index: CrateIndex, directory: Path, cargo: str, rustc: str) -> Path | None:
    """`<directory>/Cargo.lock` for the index's registry crates, resolved by cargo when its manifest is new."""
    manifest = spliced_manifest(index)
    if manifest is None:
        return None
    lock = directory / LOCK_FILE
    splicing = directory / _SPLICING_DIR
    manifest_path = splicing / "Cargo.toml"
    try:
        current = manifest_path.read_text(encoding="utf-8")
    except OSError:
        current = None
    if current == manifest and lock.is_file():
        return lock
    lock.unlink(missing_ok=True)
    shutil.rmtree(splicing, ignore_errors=True)
    splicing.mkdir(parents=True)
    (splicing / "lib.rs").write_text("")
    manifest_path.write_text(manifest, encoding="utf-8")
    # The user's CARGO_HOME (its registry cache makes the offline attempt work); the toolchain's own
    # rustc, as rustup's proxy may not find its settings from here.
    env = {**os.environ, "RUSTC": rustc, "CARGO_TERM_COLOR": "never"}
    errors = ""
    for extra in (["--offline"], []):
        try:
            done = subprocess.run([cargo, "generate-lockfile", *extra, "--manifest-path", str(manifest_path)],
                                  cwd=splicing, env=env, capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.SubprocessError) as e:
            raise SplicingError(f"cannot run {cargo}: {e}") from None
        if done.returncode == 0:
            os.replace(splicing / LOCK_FILE, lock)
            return lock
        errors = done.stderr.strip()
    raise SplicingError(f"crate universe '{index.repo_name}' has no lock file, and cargo could not resolve "
                        f"its crates ({index.location}):\n{errors}")
