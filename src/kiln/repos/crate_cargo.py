"""Reading Cargo's files for crate_universe: manifests, lock files, version requirements, cfg().

Only what kiln needs to know which registry crates a Cargo package depends on
and at which locked version: dependency tables (normal, dev, build, per
target), `workspace = true` inheritance, features that enable optional
dependencies or features of dependencies, and Cargo.lock's `[[package]]`
entries. cargo itself does the resolution when it builds; nothing here
downloads anything.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiln.core.errors import LoadingError, Location
from kiln.repos.cargo_versions import Version, parse_version, req_matches, valid_req

DEP_SECTIONS = {
    "dependencies": "normal",
    "dev-dependencies": "dev",
    "dev_dependencies": "dev",
    "build-dependencies": "build",
    "build_dependencies": "build",
}

# Crates known to be proc-macro libraries. Cargo.lock does not say which crates
# are proc macros, and kiln does not download crates to find out; these go to
# all_crate_deps(proc_macro = True), every other crate to the normal lists.
KNOWN_PROC_MACROS = frozenset({
    "async-stream-impl", "async-trait", "clap_derive", "darling_macro", "derive_more-impl", "displaydoc",
    "enum_dispatch", "futures-macro", "indoc", "num-derive", "ouroboros_macro", "paste", "pin-project-internal",
    "proc-macro-error-attr", "prost-derive", "pyo3-macros", "rstest_macros", "serde_derive", "serde_repr",
    "serde_with_macros", "strum_macros", "thiserror-impl", "tokio-macros", "tracing-attributes",
    "wasm-bindgen-macro", "yoke-derive", "zerocopy-derive", "zerofrom-derive",
})


# ---- Cargo.toml -------------------------------------------------------------


@dataclass
class Dependency:
    """One entry of a dependency table of a Cargo manifest."""

    name: str                 # the key: what Rust code calls it (before '-' -> '_')
    package: str              # the package on the registry (differs when renamed)
    kind: str                 # "normal" | "dev" | "build"
    version_req: str = ""
    features: list[str] = field(default_factory=list)
    default_features: bool = True
    optional: bool = False
    target: str = ""          # "" or the [target.X] key: a triple or cfg(...)
    path: str = ""            # path dependencies: as written, relative to the manifest's directory
    git: str = ""
    branch: str = ""
    tag: str = ""
    rev: str = ""
    registry: str = ""
    workspace: bool = False   # `workspace = true`, resolved by Manifest.inherit()
    line: int = 0

    @property
    def is_registry(self) -> bool:
        return not self.path and not self.git


@dataclass
class Manifest:
    path: Path
    display: str                 # how errors name it (relative to the workspace root)
    package_name: str | None     # None for a virtual manifest
    package_version: str = ""
    dependencies: list[Dependency] = field(default_factory=list)
    features: dict[str, list[str]] = field(default_factory=dict)
    workspace: dict[str, Any] | None = None  # the [workspace] table, if this is a workspace root
    workspace_dependencies: dict[str, Dependency] = field(default_factory=dict)
    workspace_path: str = ""     # [package].workspace

    def location(self, line: int = 0) -> Location:
        return Location(self.display, line)

    def enabled_dependencies(self, features: list[str] | None = None) -> list[Dependency]:
        """The dependencies a build with these features (default: the `default` feature) uses.

        Optional dependencies are included when a feature enables them; a feature's
        "dep/feat" entries add features to the dependency.
        """
        enabled_features: set[str] = set()
        enabled_deps: set[str] = set()
        dep_features: dict[str, list[str]] = {}
        explicit = {v[4:] for values in self.features.values() for v in values if v.startswith("dep:")}
        stack = list(features) if features is not None else (["default"] if "default" in self.features else [])
        while stack:
            f = stack.pop()
            if f.startswith("dep:"):
                enabled_deps.add(f[4:])
                continue
            if "/" in f:
                dep, feat = f.split("/", 1)
                weak = dep.endswith("?")
                dep = dep.rstrip("?")
                dep_features.setdefault(dep, []).append(feat)
                if not weak:
                    enabled_deps.add(dep)
                    if dep not in explicit and dep in self.features:
                        stack.append(dep)
                continue
            if f in enabled_features:
                continue
            enabled_features.add(f)
            if f in self.features:
                stack.extend(self.features[f])
            elif f not in explicit:
                enabled_deps.add(f)  # an optional dependency's implicit feature
        result = []
        for dep in self.dependencies:
            if dep.optional and dep.name not in enabled_deps:
                continue
            extra = [x for x in dep_features.get(dep.name, []) if x not in dep.features]
            if extra:
                dep = Dependency(**{**dep.__dict__, "features": dep.features + extra})
            result.append(dep)
        return result

    def inherit(self, root: Manifest | None) -> None:
        """Resolves `workspace = true` dependencies against the workspace root's [workspace.dependencies]."""
        for i, dep in enumerate(self.dependencies):
            if not dep.workspace:
                continue
            base = root.workspace_dependencies.get(dep.name) if root is not None else None
            if base is None:
                where = f"{root.display}" if root is not None else "no workspace root manifest was found"
                raise LoadingError(
                    f"dependency '{dep.name}' is inherited from the workspace (workspace = true) but "
                    f"[workspace.dependencies] has no '{dep.name}' ({where})",
                    location=self.location(dep.line),
                )
            merged = Dependency(**{
                **base.__dict__,
                "name": dep.name, "kind": dep.kind, "target": dep.target, "line": dep.line, "workspace": False,
                "features": base.features + [f for f in dep.features if f not in base.features],
                "optional": dep.optional,
            })
            if merged.path and root is not None:
                # A workspace path is relative to the root; make it relative to this manifest.
                import os

                merged.path = os.path.relpath(root.path.parent / merged.path, self.path.parent)
            self.dependencies[i] = merged


def read_manifest(path: Path, display: str) -> Manifest:
    text = _read(path, display, "Cargo manifest")
    data = _parse_toml(text, display)
    lines = _KeyLines(text)
    package = data.get("package") if isinstance(data.get("package"), dict) else None
    version = package.get("version") if package else ""
    manifest = Manifest(
        path=path,
        display=display,
        package_name=package.get("name") if package else None,
        package_version=version if isinstance(version, str) else "",
        features={k: list(v) for k, v in (data.get("features") or {}).items() if isinstance(v, list)},
        workspace=data.get("workspace") if isinstance(data.get("workspace"), dict) else None,
        workspace_path=str(package.get("workspace", "")) if package else "",
    )
    for section, kind in DEP_SECTIONS.items():
        for name, spec in (data.get(section) or {}).items():
            manifest.dependencies.append(_dependency(name, spec, kind, "", (section,), lines, manifest))
    for target, tables in (data.get("target") or {}).items():
        for section, kind in DEP_SECTIONS.items():
            for name, spec in (tables.get(section) or {}).items():
                manifest.dependencies.append(
                    _dependency(name, spec, kind, target, ("target", target, section), lines, manifest))
    if manifest.workspace is not None:
        for name, spec in (manifest.workspace.get("dependencies") or {}).items():
            manifest.workspace_dependencies[name] = _dependency(
                name, spec, "normal", "", ("workspace", "dependencies"), lines, manifest)
    return manifest


def _dependency(name: str, spec: Any, kind: str, target: str, table: tuple[str, ...], lines: _KeyLines,
                manifest: Manifest) -> Dependency:
    line = lines.find(*table, name)
    if isinstance(spec, str):
        spec = {"version": spec}
    if not isinstance(spec, dict):
        raise LoadingError(f"dependency '{name}' must be a version string or a table", location=manifest.location(line))

    def text(key: str) -> str:
        value = spec.get(key, "")
        if not isinstance(value, str):
            raise LoadingError(f"dependency '{name}': '{key}' must be a string", location=manifest.location(line))
        return value

    features = spec.get("features", [])
    if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
        raise LoadingError(f"dependency '{name}': 'features' must be a list of strings", location=manifest.location(line))
    default = spec.get("default-features", spec.get("default_features", True))
    req = text("version")
    if req and not valid_req(req):
        raise LoadingError(f"dependency '{name}': invalid version requirement '{req}'", location=manifest.location(line))
    return Dependency(
        name=name, package=text("package") or name, kind=kind, version_req=req, features=list(features),
        default_features=bool(default), optional=bool(spec.get("optional", False)), target=target,
        path=text("path"), git=text("git"), branch=text("branch"), tag=text("tag"), rev=text("rev"),
        registry=text("registry"), workspace=spec.get("workspace") is True, line=line,
    )


def workspace_members(root: Manifest) -> list[Path]:
    """Manifests of the members a [workspace] lists (globs expanded; exclude honoured)."""
    if root.workspace is None:
        return []
    base = root.path.parent
    excluded = {(base / e).resolve() for e in root.workspace.get("exclude", []) if isinstance(e, str)}
    found: list[Path] = []
    for pattern in root.workspace.get("members", []):
        if not isinstance(pattern, str):
            continue
        if any(ch in pattern for ch in "*?["):
            dirs = sorted(p for p in base.glob(pattern) if p.is_dir())
        else:
            dirs = [base / pattern]
        for d in dirs:
            if d.resolve() in excluded or any(fnmatch.fnmatch(str(d.resolve()), str(e)) for e in excluded):
                continue
            m = d / "Cargo.toml"
            if m.is_file() and m.resolve() not in {f.resolve() for f in found}:
                found.append(m)
    return found


# ---- Cargo.lock ---------------------------------------------------------------


@dataclass(frozen=True)
class LockedPackage:
    name: str
    version: str
    source: str | None = None
    dependencies: tuple[str, ...] = ()
    checksum: str | None = None  # sha256 of the .crate file, for registry packages
    line: int = field(default=0, compare=False)  # of its [[package]] header, for messages

    @property
    def is_registry(self) -> bool:
        return bool(self.source) and self.source.split("+", 1)[0] in ("registry", "sparse")

    @property
    def is_git(self) -> bool:
        return bool(self.source) and self.source.startswith("git+")


@dataclass
class CargoLock:
    path: Path
    display: str
    packages: list[LockedPackage]

    def named(self, name: str) -> list[LockedPackage]:
        return [p for p in self.packages if p.name == name]

    def member(self, name: str, version: str = "") -> LockedPackage | None:
        """A workspace member's entry (members have no source)."""
        for p in self.packages:
            if p.name == name and p.source is None and (not version or p.version == version):
                return p
        return None

    def resolve(self, dep: Dependency, member: LockedPackage | None) -> LockedPackage | None:
        """The locked package a dependency uses, or None if the lock file does not have it.

        With the member's entry, its `dependencies` list decides (a dependency it does
        not list is missing: `cargo build --locked` would refuse the lock file);
        otherwise the highest locked version matching the requirement.
        """
        candidates = [p for p in self.named(dep.package) if _same_source(dep, p)]
        if member is not None:
            listed = [_parse_lock_dep(d) for d in member.dependencies]
            listed = [d for d in listed if d[0] == dep.package]
            if not listed:
                return None
            versions = {d[1] for d in listed if d[1]}
            if versions:
                candidates = [p for p in candidates if p.version in versions]
        matching = [p for p in candidates if not dep.version_req or req_matches(dep.version_req, p.version)]
        if not matching:
            return None
        return max(matching, key=lambda p: (parse_version(p.version) or Version(0, 0, 0)).key())


def _same_source(dep: Dependency, p: LockedPackage) -> bool:
    if dep.git:
        return p.is_git and _git_url(p.source or "") == _git_url(dep.git)
    if dep.path:
        return p.source is None
    return p.is_registry


def _git_url(url: str) -> str:
    url = url.removeprefix("git+").split("#", 1)[0].split("?", 1)[0].rstrip("/")
    return url.removesuffix(".git").lower()


def _parse_lock_dep(entry: str) -> tuple[str, str]:
    parts = entry.split(" ")
    return parts[0], parts[1] if len(parts) > 1 and not parts[1].startswith("(") else ""


def read_lock(path: Path, display: str) -> CargoLock:
    text = _read(path, display, "Cargo lock file")
    data = _parse_toml(text, display)
    entries = data.get("package", []) or []
    headers = [n for n, line in enumerate(text.splitlines(), start=1) if _PACKAGE_HEADER.match(line)]
    lines = headers if len(headers) == len(entries) else [0] * len(entries)
    # Lock files of format 1 keep checksums apart, in [metadata]: "checksum <name> <version> (<source>)".
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    packages = []
    for entry, line in zip(entries, lines):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            continue
        name, version, source = entry["name"], str(entry.get("version", "")), entry.get("source")
        checksum = entry.get("checksum") or metadata.get(f"checksum {name} {version} ({source})")
        packages.append(LockedPackage(
            name=name, version=version, source=source,
            dependencies=tuple(d for d in entry.get("dependencies", []) if isinstance(d, str)),
            checksum=checksum if isinstance(checksum, str) and checksum != "<none>" else None, line=line,
        ))
    return CargoLock(path, display, packages)


_PACKAGE_HEADER = re.compile(r"^\s*\[\[\s*package\s*\]\]\s*(#.*)?$")


# ---- helpers ----------------------------------------------------------------


def _read(path: Path, display: str, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LoadingError(f"{what} '{display}' does not exist") from None
    except OSError as e:
        raise LoadingError(f"cannot read {what} '{display}': {e.strerror}") from None


_TOML_AT = re.compile(r"^(.*?)\s*\(at line (\d+), column (\d+)\)$")


def _parse_toml(text: str, display: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = _TOML_AT.match(str(e))
        if m:
            raise LoadingError(f"invalid TOML: {m.group(1)}", location=Location(display, int(m.group(2)), int(m.group(3)))) from None
        raise LoadingError(f"invalid TOML: {e}", location=Location(display)) from None


_HEADER = re.compile(r"^\s*\[\[?(.*?)\]\]?\s*(#.*)?$")


class _KeyLines:
    """The line where each key path of a TOML document is first written (1-based), for error messages."""

    def __init__(self, text: str):
        self._lines: dict[tuple[str, ...], int] = {}
        header: tuple[str, ...] = ()
        for number, line in enumerate(text.splitlines(), start=1):
            m = _HEADER.match(line)
            if m:
                header = tuple(_split_key(m.group(1)))
                self._record(header, number)
                continue
            key = _key_part(line)
            if key:
                self._record(header + tuple(_split_key(key)), number)

    def _record(self, path: tuple[str, ...], number: int) -> None:
        for i in range(1, len(path) + 1):
            self._lines.setdefault(path[:i], number)

    def find(self, *path: str) -> int:
        return self._lines.get(tuple(path), 0)


def _key_part(line: str) -> str:
    quote = ""
    for i, c in enumerate(line):
        if quote:
            if c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c == "=":
            return line[:i].strip()
        elif c == "#":
            return ""
    return ""


def _split_key(key: str) -> list[str]:
    parts, current, quote = [], "", ""
    for c in key:
        if quote:
            if c == quote:
                quote = ""
            else:
                current += c
        elif c in "'\"":
            quote = c
        elif c == ".":
            parts.append(current.strip())
            current = ""
        else:
            current += c
    parts.append(current.strip())
    return parts
