"""crate_universe: third-party crates as rules_rust users declare them, as kiln repositories.

A *crate universe* is one generated repository of crates: a `crate.from_cargo`
or `crate.from_specs` tag in MODULE.bazel (with the module's `crate.spec` and
`crate.annotation` tags), or a WORKSPACE `crates_repository`/`crates_vendor`.
`crate_universes()` lists them from the recorded ModuleInfo without reading
anything; `build_crate_index()` reads the Cargo manifests and lock file of
one and returns its CrateIndex: every crate the repository offers, at which
locked version and with which features, and per Cargo package (the Bazel
package holding a listed Cargo.toml) the crates it depends on, by kind.

crate_repo_files.write_crate_repo() writes the repository from an index, and
crate_vendor.vendor_crate_repo() unpacks the registry crates of its Cargo.lock
into its vendor/ directory. cargo does the actual resolution when it builds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from kiln.core.errors import LabelError, LoadingError, Location
from kiln.core.labels import PackageId, parse_label
from kiln.loading.module_info import ExtensionUsage, ModuleInfo, Tag
from kiln.repos import crate_tags
from kiln.repos.crate_workspace import CRATE_UNIVERSE_DEFS, WORKSPACE_CRATE_RULES
from kiln.repos.cargo_cfg import HostTarget, host_target, target_matches
from kiln.repos.cargo_versions import req_matches
from kiln.repos.crate_cargo import (
    KNOWN_PROC_MACROS,
    CargoLock,
    Dependency,
    LockedPackage,
    Manifest,
    read_lock,
    read_manifest,
    workspace_members,
)

# The kinds all_crate_deps()/aliases() select by, in rules_rust's order.
DEP_KINDS = ("normal", "normal_dev", "proc_macro", "proc_macro_dev", "build", "build_proc_macro")

# The lock entry cargo-bazel (and kiln.repos.crate_splicing) writes for the direct dependencies of a
# spliced workspace (from_specs).
SPLICED_MEMBER = "direct-cargo-bazel-deps"


# ---- declarations ----------------------------------------------------------


@dataclass
class CrateAnnotation:
    """crate.annotation(...) for one crate: kept whole; kiln reads crate_features (added to the crate's).

    build_script_env/build_script_data (PYO3_PYTHON and the interpreter, typically) are
    recorded only: kiln hands pyo3 a PYO3_CONFIG_FILE instead.
    """

    crate: str
    version: str = "*"
    crate_features: list[str] = field(default_factory=list)
    rustc_flags: list[str] = field(default_factory=list)
    rustc_env: dict[str, str] = field(default_factory=dict)
    build_script_env: dict[str, str] = field(default_factory=dict)
    build_script_data: list[str] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)
    location: Location | None = None

    def applies_to(self, version: str | None) -> bool:
        if self.version in ("", "*") or version is None:
            return True
        return self.version == version or version.startswith(self.version + ".") or req_matches(self.version, version)


@dataclass
class CrateSpec:
    """crate.spec(...): a crate the repository offers without a Cargo.toml naming it."""

    name: str  # the key: package_alias, the WORKSPACE `packages` key, or the package
    attrs: dict[str, Any]
    location: Location | None = None

    def dependency(self) -> Dependency:
        a = self.attrs
        return Dependency(
            name=self.name, package=a.get("package") or self.name, kind="normal",
            version_req=a.get("version") or "", features=list(a.get("features") or []),
            default_features=a.get("default_features", True) is not False,
            path=a.get("path") or "", git=a.get("git") or "", branch=a.get("branch") or "",
            tag=a.get("tag") or "", rev=a.get("rev") or "", line=self.location.line if self.location else 0,
        )


@dataclass
class CrateUniverse:
    """One crate repository as declared (nothing read yet)."""

    name: str
    kind: str  # "from_cargo", "from_specs", "crates_repository", "crates_vendor"
    manifests: list[str]
    cargo_lockfile: str | None
    lockfile: str | None
    specs: list[CrateSpec]
    annotations: list[CrateAnnotation]
    location: Location
    attrs: dict[str, Any] = field(default_factory=dict)


def crate_universes(info: ModuleInfo) -> dict[str, CrateUniverse]:
    """Every crate universe the workspace declares, by repository name."""
    universes: dict[str, CrateUniverse] = {}
    module_usages = [u for u in info.extensions if is_crate_extension(u)]
    if module_usages:
        _module_universes(module_usages, universes)
    for usage in info.extensions:
        if is_workspace_crate_rule(usage):
            _workspace_universe(usage, universes)
    return universes


def is_crate_extension(usage: ExtensionUsage) -> bool:
    ext = crate_tags.CRATE_EXTENSION
    return usage.repo == ext.repo and usage.path in ext.paths and usage.name == ext.name


def is_workspace_crate_rule(usage: ExtensionUsage) -> bool:
    return usage.bzl_label == CRATE_UNIVERSE_DEFS and usage.name in WORKSPACE_CRATE_RULES


def _module_universes(usages: list[ExtensionUsage], out: dict[str, CrateUniverse]) -> None:
    # As in Bazel, a module's uses of one extension are one usage: specs and
    # annotations without `repositories` apply to each from_cargo/from_specs.
    tags = [t for u in usages for t in u.tags]
    configs = [t for t in tags if t.name in ("from_cargo", "from_specs")]
    names = []
    for t in configs:
        name = t.attrs.get("name") or crate_tags.DEFAULT_CRATE_REPO
        if name in names:
            raise LoadingError(
                f"two crate universes are named '{name}' (crate.{t.name}); give them different names",
                location=t.location,
            )
        names.append(name)
    for t in tags:
        if t.name in ("spec", "annotation", "annotation_select"):
            for repo in t.attrs.get("repositories") or []:
                if repo not in names:
                    raise LoadingError(
                        f"crate.{t.name}() applies to repository '{repo}', but the crate universes are: "
                        + (", ".join(names) or "none"),
                        location=t.location,
                    )
    for t, name in zip(configs, names):
        def applies(tag: Tag) -> bool:
            repos = tag.attrs.get("repositories") or []
            return not repos or name in repos

        specs = [
            CrateSpec(s.attrs.get("package_alias") or s.attrs["package"], s.attrs, s.location)
            for s in tags if s.name == "spec" and applies(s)
        ]
        annotations = [_annotation(a.attrs["crate"], a.attrs, a.location)
                       for a in tags if a.name == "annotation" and applies(a)]
        out[name] = CrateUniverse(
            name=name, kind=t.name, manifests=list(t.attrs.get("manifests") or []),
            cargo_lockfile=t.attrs.get("cargo_lockfile") or None, lockfile=t.attrs.get("lockfile") or None,
            specs=specs, annotations=annotations, location=t.location, attrs=dict(t.attrs),
        )


def _workspace_universe(usage: ExtensionUsage, out: dict[str, CrateUniverse]) -> None:
    tag = usage.tags[0]
    a = tag.attrs
    name = a["name"]
    specs = [CrateSpec(key, spec, tag.key_location("packages", key))
             for key, spec in sorted((a.get("packages") or {}).items())]
    annotations = [
        _annotation(crate, ann, tag.key_location("annotations", crate))
        for crate, anns in sorted((a.get("annotations") or {}).items())
        for ann in anns
    ]
    out[name] = CrateUniverse(
        name=name, kind=usage.name, manifests=list(a.get("manifests") or []),
        cargo_lockfile=a.get("cargo_lockfile") or None, lockfile=a.get("lockfile") or None,
        specs=specs, annotations=annotations, location=tag.location, attrs=dict(a),
    )


def _annotation(crate: str, attrs: dict[str, Any], location: Location | None) -> CrateAnnotation:
    def common(value: Any, empty: Any) -> Any:
        # crate.select(common, selects): kiln builds for the host; the common part applies.
        if isinstance(value, dict) and set(value) == {"common", "selects"}:
            return value["common"] if value["common"] is not None else empty
        return value if value is not None else empty

    return CrateAnnotation(
        crate=crate,
        version=attrs.get("version") or "*",
        crate_features=list(common(attrs.get("crate_features"), [])),
        rustc_flags=list(common(attrs.get("rustc_flags"), [])),
        rustc_env=dict(common(attrs.get("rustc_env"), {})),
        build_script_env=dict(common(attrs.get("build_script_env"), {})),
        build_script_data=list(common(attrs.get("build_script_data"), [])),
        attrs={k: v for k, v in attrs.items() if k not in ("crate", "repositories")},
        location=location,
    )


# ---- the index -------------------------------------------------------------


@dataclass
class RegistryCrate:
    """A crate the repository offers as `@<repo>//:<name>`."""

    name: str                      # target name in the repository
    package: str                   # package name on the registry
    version_req: str               # the requirement(s) as written, "" if none
    features: tuple[str, ...] = ()
    default_features: bool = True
    locked_version: str | None = None
    proc_macro: bool = False       # a known proc-macro crate (see crate_cargo.KNOWN_PROC_MACROS)
    git: str = ""
    branch: str = ""
    tag: str = ""
    rev: str = ""
    path: str = ""                 # a path dependency outside the Cargo workspace: absolute
    annotations: tuple[CrateAnnotation, ...] = ()
    declared_at: tuple[Location, ...] = ()
    lock_error: str = ""           # why the lock file does not provide it ("" when fine or no lock file)

    @property
    def version(self) -> str:
        """What cargo is asked for: the locked version exactly, else the requirement."""
        if self.locked_version:
            return "=" + self.locked_version
        return self.version_req or "*"


@dataclass
class CrateIndex:
    repo_name: str
    kind: str
    location: Location
    crates: dict[str, RegistryCrate] = field(default_factory=dict)
    # Bazel package of a Cargo.toml -> kind (DEP_KINDS) -> {crate: target name}.
    dependencies: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    # Bazel package -> kind -> {target name: the name the package's Cargo.toml renames it to}.
    aliases: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    annotations: list[CrateAnnotation] = field(default_factory=list)
    manifests: list[str] = field(default_factory=list)  # workspace-relative paths, listed and members found
    lockfile: str | None = None                          # workspace-relative path of Cargo.lock
    # No lock file named: the crates are locked by the Cargo.lock kiln.repos.crate_splicing made in the repository.
    spliced_lock: bool = False
    files: list[str] = field(default_factory=list)       # absolute paths read (for invalidation)

    @property
    def missing_from_lock(self) -> dict[str, str]:
        return {name: c.lock_error for name, c in self.crates.items() if c.lock_error}

    def label(self, target: str, repo: str | None = None) -> str:
        return f"@{repo or self.repo_name}//:{target}"

    def all_crate_deps(self, package: str, *, normal: bool = False, normal_dev: bool = False,
                       proc_macro: bool = False, proc_macro_dev: bool = False, build: bool = False,
                       build_proc_macro: bool = False) -> list[str]:
        """Target names, as the generated all_crate_deps() returns them (as labels)."""
        tables = self.dependencies.get(package)
        if tables is None:
            raise LoadingError(
                f"Tried to get all_crate_deps for package {package} but that package had no Cargo.toml file")
        flags = (normal, normal_dev, proc_macro, proc_macro_dev, build, build_proc_macro)
        kinds = [k for k, on in zip(DEP_KINDS, flags) if on] or ["normal"]
        out: list[str] = []
        for kind in kinds:
            for target in tables.get(kind, {}).values():
                if target not in out:
                    out.append(target)
        return out

    def crate_deps(self, names: Iterable[str], package: str) -> list[str]:
        available = self._available(package)
        missing = [n for n in names if n not in available]
        if missing:
            raise LoadingError(
                f"Could not find crates {missing} among dependencies of '{package}'. "
                f"Available dependencies were {sorted(available)}")
        return [available[n] for n in names]

    def _available(self, package: str) -> dict[str, str]:
        available: dict[str, str] = {}
        for kind in DEP_KINDS:
            available.update(self.dependencies.get(package, {}).get(kind, {}))
        for kind in DEP_KINDS:
            for target, alias in self.aliases.get(package, {}).get(kind, {}).items():
                available.setdefault(alias, target)
        return available


@dataclass
class _Want:
    """One request for a crate: a manifest dependency or a spec."""

    dep: Dependency
    target_base: str
    locked: LockedPackage | None
    where: Location
    lock_error: str = ""
    path: str = ""                   # absolute, for path crates
    member: Manifest | None = None   # the Cargo package whose manifest asks for it (None: a spec)


def build_crate_index(info: ModuleInfo, repo_name: str, workspace_root: Path,
                      host: HostTarget | None = None, *, spliced_lock: Path | None = None) -> CrateIndex:
    """Reads the Cargo files of the crate universe `repo_name` (its generated name) into its index; a
    universe without a lock file of its own takes `spliced_lock` (kiln.repos.crate_splicing) if given."""
    universes = crate_universes(info)
    universe = universes.get(repo_name)
    if universe is None:
        known = ", ".join(sorted(universes)) or "none"
        raise LoadingError(f"no crate universe generates the repository '{repo_name}' (declared: {known})")
    return _Builder(info, universe, workspace_root, host or host_target(), spliced_lock).build()


def build_crate_indexes(info: ModuleInfo, workspace_root: Path) -> dict[str, CrateIndex]:
    host = host_target()
    return {name: _Builder(info, u, workspace_root, host).build() for name, u in crate_universes(info).items()}


class _Builder:
    def __init__(self, info: ModuleInfo, universe: CrateUniverse, root: Path, host: HostTarget,
                 spliced_lock: Path | None = None):
        self.info = info
        self.spliced_lock = spliced_lock
        self.u = universe
        self.root = root
        self.host = host
        self.index = CrateIndex(universe.name, universe.kind, universe.location,
                                annotations=list(universe.annotations))
        self._manifests: dict[Path, Manifest] = {}

    # -- files --

    def _file(self, label: str, what: str) -> tuple[Path, str]:
        mapping = {n: "" for n in self.info.main_repo_names}
        try:
            parsed = parse_label(label, base=PackageId("", ""), repo_mapping=mapping)
        except LabelError as e:
            raise LoadingError(f"crate universe '{self.u.name}': {what}: {e.message}", location=self.u.location) from None
        if parsed.repo != "":
            raise LoadingError(
                f"crate universe '{self.u.name}': {what} '{label}': kiln reads Cargo files only from the main "
                "repository", location=self.u.location)
        rel = parsed.relative_path()
        return self.root / rel, rel

    def _read(self, reader: Any, path: Path, display: str) -> Any:
        try:
            result = reader(path, display)
        except LoadingError as e:
            if e.location is None:
                e.message = f"crate universe '{self.u.name}': {e.message}"
                e.location = self.u.location
            raise
        self.index.files.append(str(path))
        return result

    def _manifest(self, path: Path, display: str) -> Manifest:
        key = path.resolve()
        if key not in self._manifests:
            self._manifests[key] = self._read(read_manifest, path, display)
        return self._manifests[key]

    def _display(self, path: Path) -> str:
        try:
            return path.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return str(path)

    # -- building --

    def build(self) -> CrateIndex:
        lock = None
        if self.u.cargo_lockfile:
            path, display = self._file(self.u.cargo_lockfile, "cargo_lockfile")
            lock = self._read(read_lock, path, display)
            self.index.lockfile = display
        elif self.spliced_lock is not None:
            lock = self._read(read_lock, self.spliced_lock, f"@{self.u.name}//:{self.spliced_lock.name}")
            self.index.spliced_lock = True
        wants: list[_Want] = []
        members = self._members()
        member_dirs = {m.path.parent.resolve() for m in members}
        for member in members:
            wants.extend(self._member_wants(member, member_dirs, lock))
        spliced = lock.member(SPLICED_MEMBER) if lock is not None else None
        for spec in self.u.specs:
            dep = spec.dependency()
            where = spec.location or self.u.location
            want = _Want(dep, spec.name, None, where)
            if dep.path:
                want.path = str((self.root / dep.path).resolve())
            else:
                self._lock(want, lock, spliced)
            wants.append(want)
        self._crates(wants)
        return self.index

    def _members(self) -> list[Manifest]:
        listed: list[Manifest] = []
        for label in self.u.manifests:
            path, display = self._file(label, "manifest")
            listed.append(self._manifest(path, display))
        # Members a listed workspace root names count too, as for cargo.
        for m in list(listed):
            for member_path in workspace_members(m):
                extra = self._manifest(member_path, self._display(member_path))
                if extra not in listed:
                    listed.append(extra)
        members = []
        for m in listed:
            self.index.manifests.append(m.display)
            if m.package_name is None:
                continue  # a virtual manifest: a workspace root without a package
            m.inherit(self._workspace_root(m))
            members.append(m)
            package = self._bazel_package(m)
            if package is not None:
                self.index.dependencies.setdefault(package, {})
        return members

    def _workspace_root(self, m: Manifest) -> Manifest | None:
        if m.workspace is not None:
            return m
        if m.workspace_path:
            candidate = (m.path.parent / m.workspace_path)
            candidate = candidate / "Cargo.toml" if candidate.is_dir() or candidate.suffix != ".toml" else candidate
            if candidate.is_file():
                return self._manifest(candidate, self._display(candidate))
        root = self.root.resolve()
        d = m.path.parent.resolve()
        while d != d.parent:
            if d != m.path.parent.resolve():
                candidate = d / "Cargo.toml"
                if candidate.is_file():
                    found = self._manifest(candidate, self._display(candidate))
                    if found.workspace is not None:
                        return found
            if d == root:
                break
            d = d.parent
        return None

    def _bazel_package(self, m: Manifest) -> str | None:
        try:
            rel = m.path.parent.resolve().relative_to(self.root.resolve())
        except ValueError:
            return None
        return "" if str(rel) == "." else rel.as_posix()

    def _member_wants(self, member: Manifest, member_dirs: set[Path], lock: CargoLock | None) -> list[_Want]:
        locked_member = lock.member(member.package_name or "", member.package_version) if lock else None
        if lock is not None and locked_member is None:
            locked_member = lock.member(member.package_name or "")
        wants = []
        for dep in member.enabled_dependencies():
            if dep.target and not target_matches(dep.target, self.host):
                continue
            where = member.location(dep.line)
            want = _Want(dep, dep.package, None, where, member=member)
            if dep.path:
                target_dir = (member.path.parent / dep.path).resolve()
                if target_dir in member_dirs:
                    continue  # another member of the workspace: a Bazel target, not a crate of this repository
                want.path = str(target_dir)
            else:
                self._lock(want, lock, locked_member)
            wants.append(want)
        return wants

    def _lock(self, want: _Want, lock: CargoLock | None, member: LockedPackage | None) -> None:
        if lock is None:
            return
        dep = want.dep
        want.locked = lock.resolve(dep, member)
        if want.locked is not None:
            return
        others = sorted({p.version for p in lock.named(dep.package)})
        fitting = [v for v in others if not dep.version_req or req_matches(dep.version_req, v)]
        msg = f"crate '{dep.package}' is missing from {lock.display}"
        if fitting and member is not None:
            msg += f" as a dependency of '{member.name}'"
        elif others and dep.version_req:
            msg = (f"crate '{dep.package}' {dep.version_req} is missing from {lock.display} "
                   f"(it locks {dep.package} {', '.join(others)})")
        want.lock_error = f"{msg}; required at {want.where}; update the lock file (e.g. `cargo update --workspace`)"

    def _crates(self, wants: list[_Want]) -> None:
        # One target per crate; a package used at two locked versions gets one target per version.
        groups: dict[tuple[str, str, str], list[_Want]] = {}
        for w in wants:
            source = w.path or w.dep.git or ""
            version = w.locked.version if w.locked else ""
            groups.setdefault((w.target_base, version, source), []).append(w)
        per_base: dict[str, int] = {}
        for base, _, _ in groups:
            per_base[base] = per_base.get(base, 0) + 1
        target_of: dict[int, str] = {}
        for (base, version, source), ws in sorted(groups.items()):
            name = base if per_base[base] == 1 else f"{base}-{version or 'unlocked'}"
            if name in self.index.crates:
                raise LoadingError(
                    f"crate universe '{self.u.name}': two different crates would be named '{name}' "
                    f"({ws[0].where})", location=ws[0].where)
            self.index.crates[name] = self._crate(name, ws)
            for w in ws:
                target_of[id(w)] = name
        for w in wants:
            if w.member is None:
                continue
            package = self._bazel_package(w.member)
            if package is None:
                continue
            target = target_of[id(w)]
            kind = _kind(w.dep.kind, self.index.crates[target].proc_macro)
            table = self.index.dependencies.setdefault(package, {}).setdefault(kind, {})
            key = w.dep.package if table.get(w.dep.package, target) == target else w.dep.name
            table[key] = target
            if w.dep.name != w.dep.package:
                self.index.aliases.setdefault(package, {}).setdefault(kind, {})[target] = w.dep.name

    def _crate(self, name: str, ws: list[_Want]) -> RegistryCrate:
        first = ws[0]
        package = first.dep.package
        locked = first.locked.version if first.locked else None
        reqs: list[str] = []
        features: set[str] = set()
        for w in ws:
            if w.dep.version_req and w.dep.version_req not in reqs:
                reqs.append(w.dep.version_req)
            features.update(w.dep.features)
        annotations = tuple(a for a in self.u.annotations
                            if a.crate in (package, name) and a.applies_to(locked))
        for a in annotations:
            features.update(a.crate_features)
        errors = [w.lock_error for w in ws if w.lock_error]
        declared = []
        for w in ws:
            if w.where not in declared:
                declared.append(w.where)
        return RegistryCrate(
            name=name,
            package=package,
            version_req=", ".join(reqs),
            features=tuple(sorted(features)),
            default_features=any(w.dep.default_features for w in ws),
            locked_version=locked,
            proc_macro=package in KNOWN_PROC_MACROS,
            git=first.dep.git, branch=first.dep.branch, tag=first.dep.tag, rev=first.dep.rev,
            path=first.path,
            annotations=annotations,
            declared_at=tuple(declared),
            lock_error=errors[0] if errors else "",
        )


def _kind(dep_kind: str, proc_macro: bool) -> str:
    if dep_kind == "dev":
        return "proc_macro_dev" if proc_macro else "normal_dev"
    if dep_kind == "build":
        return "build_proc_macro" if proc_macro else "build"
    return "proc_macro" if proc_macro else "normal"


# ---- the generated repository ----------------------------------------------
