"""The JSON spec of `kiln.tools.cargo_build`: what to build, read into dataclasses.

A malformed spec is kiln's own bug (the analysis writes it), so errors here
are `SpecError`s that the tool lets through with a traceback.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field

KINDS = ("lib", "cdylib", "bin", "proc-macro")
MODES = ("build", "test")
PROFILES = ("dev", "release")
# Cargo allows these in package names; crate (lib) names must be identifiers.
_PACKAGE_RE = re.compile(r"[A-Za-z0-9_-]+")
_CRATE_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BIN_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*")


class SpecError(ValueError):
    """The spec does not describe a buildable workspace (an internal error)."""


@dataclass(frozen=True)
class PathDep:
    package: str
    name: str


@dataclass(frozen=True)
class RegistryDep:
    name: str                       # the name Rust code uses
    package: str                    # the registry package
    version: str                    # a cargo version requirement
    features: tuple[str, ...] = ()
    default_features: bool = True


@dataclass(frozen=True)
class Crate:
    package: str
    name: str
    root: str
    edition: str
    kind: str
    features: tuple[str, ...] = ()
    deps: tuple[PathDep, ...] = ()
    registry_deps: tuple[RegistryDep, ...] = ()
    rustc_flags: tuple[str, ...] = ()
    rustc_env: tuple[tuple[str, str], ...] = ()
    # The kiln target this crate comes from, for messages ("//pkg:lib").
    label: str = ""


@dataclass(frozen=True)
class Spec:
    workspace_dir: str
    target_dir: str
    cargo: str
    profile: str
    crates: tuple[Crate, ...]
    package: str                    # build.package
    mode: str                       # build.mode
    output: str
    env: dict[str, str] = field(default_factory=dict)
    lockfile: str | None = None
    pyo3_module: str | None = None
    pyo3_config: str | None = None  # PYO3_CONFIG_FILE text, written by the tool
    report: str | None = None       # where to write a JSON report of the run
    # The action's exec root, and the source files (absolute, inside it) the tool mirrors for cargo.
    source_root: str = ""
    sources: tuple[str, ...] = ()
    vendor_dir: str | None = None   # the vendored registry crates cargo builds from, offline

    def crate(self, package: str) -> Crate:
        for c in self.crates:
            if c.package == package:
                return c
        raise SpecError(f"no crate with package '{package}'")

    @property
    def target_crate(self) -> Crate:
        return self.crate(self.package)


def _req(obj: dict, key: str, typ, where: str):
    if key not in obj:
        raise SpecError(f"{where}: missing '{key}'")
    value = obj[key]
    if not isinstance(value, typ):
        raise SpecError(f"{where}: '{key}' must be {typ.__name__ if isinstance(typ, type) else typ}")
    return value


def _strings(obj: dict, key: str, where: str) -> tuple[str, ...]:
    value = obj.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SpecError(f"{where}: '{key}' must be a list of strings")
    return tuple(value)


def _abs(path: str, base: str) -> str:
    return os.path.normpath(os.path.join(base, path))


def _real(path: str, base: str) -> str:
    """For cargo's own directories: the same path every run, even when the exec root reaches them
    through a link (outside the Linux sandbox, the persistent cache is linked into each exec root)."""
    return os.path.realpath(os.path.join(base, path))


def _crate(obj: dict, base: str) -> Crate:
    if not isinstance(obj, dict):
        raise SpecError("each crate must be an object")
    package = _req(obj, "package", str, "crate")
    where = f"crate '{package}'"
    if not _PACKAGE_RE.fullmatch(package):
        raise SpecError(f"{where}: not a valid cargo package name")
    kind = _req(obj, "kind", str, where)
    if kind not in KINDS:
        raise SpecError(f"{where}: kind must be one of {', '.join(KINDS)}")
    name = _req(obj, "name", str, where)
    if not (_BIN_RE if kind == "bin" else _CRATE_RE).fullmatch(name):
        raise SpecError(f"{where}: '{name}' is not a valid crate name")
    deps = []
    for d in obj.get("deps") or []:
        deps.append(PathDep(_req(d, "package", str, where), _req(d, "name", str, where)))
    registry = []
    for r in obj.get("registry_deps") or []:
        registry.append(RegistryDep(
            name=_req(r, "name", str, where),
            package=r.get("package") or r["name"],
            version=r.get("version") or "*",
            features=_strings(r, "features", where),
            default_features=bool(r.get("default_features", True)),
        ))
    env = obj.get("rustc_env") or {}
    if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        raise SpecError(f"{where}: 'rustc_env' must map strings to strings")
    return Crate(
        package=package,
        name=name,
        root=_abs(_req(obj, "root", str, where), base),
        edition=str(obj.get("edition") or "2021"),
        kind=kind,
        features=_strings(obj, "features", where),
        deps=tuple(deps),
        registry_deps=tuple(registry),
        rustc_flags=_strings(obj, "rustc_flags", where),
        rustc_env=tuple(sorted(env.items())),
        label=str(obj.get("label") or ""),
    )


def parse_spec(data: dict, base: str | None = None) -> Spec:
    """The spec from its JSON object; relative paths are relative to `base` (default: cwd)."""
    base = base or os.getcwd()
    if not isinstance(data, dict):
        raise SpecError("the spec must be a JSON object")
    build = _req(data, "build", dict, "spec")
    mode = build.get("mode", "build")
    if mode not in MODES:
        raise SpecError(f"build.mode must be one of {', '.join(MODES)}")
    profile = _req(data, "profile", str, "spec")
    if profile not in PROFILES:
        raise SpecError(f"profile must be one of {', '.join(PROFILES)}")
    env = data.get("env") or {}
    if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        raise SpecError("'env' must map strings to strings")
    crates = tuple(_crate(c, base) for c in _req(data, "crates", list, "spec"))
    packages = [c.package for c in crates]
    if len(set(packages)) != len(packages):
        raise SpecError("two crates have the same package name")
    known = set(packages)
    for c in crates:
        for d in c.deps:
            if d.package not in known:
                raise SpecError(f"crate '{c.package}' depends on '{d.package}', which is not in the spec")
        keys = [d.name for d in c.deps] + [r.name for r in c.registry_deps]
        if len(set(keys)) != len(keys):
            raise SpecError(f"crate '{c.package}' has two dependencies named the same")
    cargo = _req(data, "cargo", str, "spec")
    if os.sep in cargo:
        cargo = _abs(cargo, base)
    lockfile = data.get("lockfile")
    spec = Spec(
        workspace_dir=_real(_req(data, "workspace_dir", str, "spec"), base),
        target_dir=_real(_req(data, "target_dir", str, "spec"), base),
        cargo=cargo,
        profile=profile,
        crates=crates,
        package=_req(build, "package", str, "build"),
        mode=mode,
        output=_abs(_req(data, "output", str, "spec"), base),
        env=dict(env),
        lockfile=_abs(lockfile, base) if lockfile else None,
        pyo3_module=data.get("pyo3_module") or None,
        pyo3_config=data.get("pyo3_config") or None,
        report=_abs(data["report"], base) if data.get("report") else None,
        source_root=base,
        sources=tuple(_abs(p, base) for p in _strings(data, "sources", "spec")),
        vendor_dir=_abs(data["vendor_dir"], base) if data.get("vendor_dir") else None,
    )
    spec.target_crate  # noqa: B018 - raises when build.package is unknown
    return spec


def load_spec(path: str) -> Spec:
    with open(path, encoding="utf-8") as f:
        return parse_spec(json.load(f))
