"""What the cargo tool hands cargo: the action's inputs, made into a stable view, and a private CARGO_HOME.

The action runs in an exec root that is new for every run (a sandbox) and
reads its sources there; cargo's incremental state lives in the action's
persistent cache (`kiln-persistent-cache`), which outlives the exec root.
cargo decides a path package is fresh by comparing source mtimes with its
dep-info files, so it must see sources at the same paths every run, with mtimes
that change exactly when their bytes do. The tool therefore mirrors the
declared sources into `<workspace_dir>/_src/<exec path>`, writing a file only
when its bytes differ and removing files no longer declared (a deleted module
must fail to compile, not be found in the mirror). A hard link into kiln's
content store would not do: its mtime is that of the blob, so reverting an
edit would hand cargo an old mtime and an outdated artifact.

Registry crates come from the vendored directory the crate index holds
(kiln.repos.crate_vendor), declared as inputs; a CARGO_HOME of the tool's own,
in the action's private temporary directory, holds the only configuration
cargo reads: crates.io replaced by that directory, and offline. cargo records
where a crate's sources were (its dep-info), and a path it no longer finds
makes it rebuild the crate and everything above it; an exec root that is new
for every run (a sandbox without a fixed mount point) would so rebuild every
registry crate on every edit. cargo therefore reads them through a symbolic
link at a fixed place in the persistent cache, `vendor/<exec path>`, pointed
at this run's directory while the tool holds the target directory's lock.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import replace

from kiln.tools.cargo_manifest import toml_str
from kiln.tools.cargo_spec import Spec

MIRROR = "_src"


def _same_bytes(src: str, dst: str) -> bool:
    try:
        if os.path.getsize(src) != os.path.getsize(dst):
            return False
        with open(src, "rb") as a, open(dst, "rb") as b:
            return a.read() == b.read()
    except FileNotFoundError:
        return False


def mirror_sources(spec: Spec) -> tuple[Spec, list[str]]:
    """Mirrors the spec's sources into its workspace; the spec with crate roots in the mirror, and the
    mirrored paths written (relative to the exec root)."""
    mirror = os.path.join(spec.workspace_dir, MIRROR)
    wanted = {os.path.relpath(src, spec.source_root): src for src in spec.sources}
    written = []
    for rel, src in sorted(wanted.items()):
        dst = os.path.join(mirror, rel)
        if _same_bytes(src, dst):
            continue
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        tmp = f"{dst}.tmp{os.getpid()}"
        with open(src, "rb") as f, open(tmp, "wb") as out:
            out.write(f.read())
        os.replace(tmp, dst)
        written.append(rel)
    for dirpath, dirnames, filenames in os.walk(mirror, topdown=False):
        for name in filenames:
            path = os.path.join(dirpath, name)
            if os.path.relpath(path, mirror) not in wanted:
                os.remove(path)
        if dirpath != mirror and not os.listdir(dirpath):
            os.rmdir(dirpath)
    crates = tuple(replace(c, root=os.path.join(mirror, os.path.relpath(c.root, spec.source_root)))
                   for c in spec.crates)
    return replace(spec, crates=crates), written


def link_vendor_dir(spec: Spec) -> Spec:
    """The spec with its vendored directory seen through the cache's fixed link, pointed here."""
    if not spec.vendor_dir:
        return spec
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", os.path.relpath(spec.vendor_dir, spec.source_root))
    links = os.path.join(os.path.dirname(spec.target_dir), "vendor")
    link = os.path.join(links, name)
    os.makedirs(links, exist_ok=True)
    tmp = f"{link}.tmp{os.getpid()}"
    if os.path.lexists(tmp):
        os.remove(tmp)
    os.symlink(os.path.abspath(spec.vendor_dir), tmp)
    os.replace(tmp, link)
    return replace(spec, vendor_dir=link)


def private_cargo_home(spec: Spec) -> str:
    """CARGO_HOME for this run: a new directory in the temporary directory (the caller removes it),
    whose config.toml makes cargo offline and, when the spec names vendored crates, takes crates.io's
    packages from them; never the user's."""
    home = tempfile.mkdtemp(prefix="cargo-home-")
    lines = ["[net]", "offline = true", ""]
    if spec.vendor_dir:
        lines += ["[source.crates-io]", 'replace-with = "kiln-vendored"', "",
                  "[source.kiln-vendored]", f"directory = {toml_str(spec.vendor_dir)}", ""]
    with open(os.path.join(home, "config.toml"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    return home
