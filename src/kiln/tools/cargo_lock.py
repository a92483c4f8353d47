"""The user's Cargo.lock in kiln's generated workspace.

The generated workspace has its own members (one package per kiln crate), so
the user's lock file cannot be used as is: it is copied into the workspace and
`cargo update --workspace` rewrites only the member entries, keeping every
registry version pinned; the build then runs with `--locked`. The copy and the
update happen again only when the user's lock or the manifests change (a stamp
file remembers both digests).

What the user's lock does not pin is an error, not a silent resolution: a
registry crate missing from it is named before cargo runs, and after the update
every non-member package of the workspace lock must be one the user's lock
lists, with the same version and source.
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib

from kiln.tools.cargo_spec import Spec

STAMP = ".kiln-lock-stamp.json"


class LockError(Exception):
    """The user's lock file does not cover the build (a user error)."""


def parse_lock(text: str, path: str) -> list[dict]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise LockError(f"cannot read the lock file {path}: {e}") from None
    packages = data.get("package", [])
    if not isinstance(packages, list):
        raise LockError(f"the lock file {path} has no [[package]] list")
    return [p for p in packages if isinstance(p, dict) and isinstance(p.get("name"), str)]


def missing_registry_crates(spec: Spec, packages: list[dict]) -> list[str]:
    """Registry packages the crates ask for that the lock file does not list at all."""
    locked = {p["name"] for p in packages if "source" in p}
    missing = []
    for crate in spec.crates:
        for dep in crate.registry_deps:
            if dep.package not in locked and dep.package not in missing:
                missing.append(dep.package)
    return missing


def missing_message(names: list[str], lockfile: str) -> str:
    return "\n".join(
        f"crate '{n}' is not in Cargo.lock ({lockfile}); run `cargo update` (or `cargo add {n}`) "
        "in the Cargo workspace that owns the lock file" for n in names
    )


def unpinned(user: list[dict], resolved: list[dict], lockfile: str) -> list[str]:
    """Messages for registry packages the update added or changed, compared with the user's lock."""
    pinned = {(p["name"], p.get("version"), p.get("source")) for p in user if "source" in p}
    versions: dict[str, list[str]] = {}
    for p in user:
        if "source" in p:
            versions.setdefault(p["name"], []).append(str(p.get("version")))
    problems = []
    for p in resolved:
        if "source" not in p or (p["name"], p.get("version"), p.get("source")) in pinned:
            continue
        name = p["name"]
        if name not in versions:
            problems.append(missing_message([name], lockfile))
        else:
            problems.append(
                f"Cargo.lock ({lockfile}) pins {name} {', '.join(versions[name])}, but the build needs "
                f"{name} {p.get('version')}; run `cargo update -p {name}` in the Cargo workspace that owns the lock file"
            )
    return problems


def digest(text: str | bytes) -> str:
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


def wanted_state(spec: Spec, lock_text: str, files: dict[str, str]) -> dict:
    manifests = digest(json.dumps(sorted(files.items())))
    return {"lockfile": spec.lockfile, "lock": digest(lock_text), "manifests": manifests}


def read_stamp(workspace_dir: str) -> dict | None:
    try:
        with open(os.path.join(workspace_dir, STAMP), encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def write_stamp(workspace_dir: str, state: dict | None) -> None:
    path = os.path.join(workspace_dir, STAMP)
    if state is None:
        if os.path.exists(path):
            os.remove(path)
        return
    with open(path, "w", encoding="utf-8") as f:
        json.dump(state, f, sort_keys=True)


def needs_update(workspace_dir: str, state: dict) -> bool:
    """Whether the workspace lock must be made again from the user's (copy + `cargo update --workspace`)."""
    return read_stamp(workspace_dir) != state or not os.path.exists(os.path.join(workspace_dir, "Cargo.lock"))
