"""Rust providers: CrateInfo (a crate kiln builds) and RegistryCrateInfo (a crates.io crate), and the
toolchain types of the Rust and PyO3 rules."""

from __future__ import annotations

from dataclasses import dataclass, field

from kiln.core.artifacts import Artifact
from kiln.core.labels import Label
from kiln.core.rule_class import ToolchainTypeRequirement
from kiln.rules.python.providers import PY_TOOLCHAIN_TYPE


@dataclass(frozen=True)
class RegistryCrateInfo:
    """A crate from a registry, as @crate_index//:pyo3 names it."""

    name: str                 # the name Rust code uses (`use pyo3::...`)
    package: str              # the registry package
    version: str              # a cargo version requirement ("0.23", "=0.23.5")
    features: tuple[str, ...] = ()
    default_features: bool = True
    # The index it came from and the lock file that pins it, if any.
    index: str = ""
    lockfile: Artifact | None = None
    # Set when the lock file lacks this crate: reported where a target uses it.
    lock_error: str = ""
    # The crate index's vendored crates (exec path of the directory, and its files): what cargo builds
    # this crate and its registry dependencies from, offline.
    vendor_dir: str | None = None

    def version_tuple(self) -> tuple[int, ...]:
        digits = self.version.lstrip("=^~<>").split(",")[0].strip()
        parts = []
        for p in digits.split("."):
            if not p.isdigit():
                break
            parts.append(int(p))
        return tuple(parts)


@dataclass(frozen=True)
class CrateInfo:
    label: Label
    name: str            # crate name
    package: str         # cargo package name, unique per label
    kind: str            # "lib" | "cdylib" | "bin" | "proc-macro"
    root: Artifact
    srcs: tuple[Artifact, ...]
    edition: str
    features: tuple[str, ...] = ()
    deps: tuple["CrateInfo", ...] = ()
    registry_deps: tuple[RegistryCrateInfo, ...] = ()
    rustc_flags: tuple[str, ...] = ()
    rustc_env: tuple[tuple[str, str], ...] = ()
    compile_data: tuple[Artifact, ...] = field(default=())

    def transitive(self) -> list["CrateInfo"]:
        """This crate and every kiln crate it depends on, each once, dependencies first."""
        out: list[CrateInfo] = []
        seen: set[Label] = set()
        stack: list[tuple[CrateInfo, bool]] = [(self, False)]
        while stack:
            crate, expanded = stack.pop()
            if expanded:
                out.append(crate)
                continue
            if crate.label in seen:
                continue
            seen.add(crate.label)
            stack.append((crate, True))
            stack.extend((d, False) for d in reversed(crate.deps))
        return out

    def all_registry_deps(self) -> list[RegistryCrateInfo]:
        return [r for c in self.transitive() for r in c.registry_deps]


# The toolchain type Rust rules ask for (rules_rust's name); local_rust_toolchain implements it.
RUST_TOOLCHAIN_TYPE = Label("rules_rust", "rust", "toolchain_type")
# What a Rust rule asks for: the Rust toolchain, and a Python runtime when a crate uses pyo3 (optional:
# a pure Rust target builds without one).
RUST_TOOLCHAINS = (ToolchainTypeRequirement(RUST_TOOLCHAIN_TYPE),
                   ToolchainTypeRequirement(PY_TOOLCHAIN_TYPE, mandatory=False))
# rules_rust_pyo3's toolchain types (rules_pyo3's `@rules_pyo3//pyo3:...` are aliases of these): the pyo3
# crate extensions link (rust_pyo3_toolchain), and PyO3's build settings (pyo3_toolchain).
RUST_PYO3_TOOLCHAIN_TYPE = Label("rules_rust_pyo3", "", "rust_toolchain_type")
PYO3_TOOLCHAIN_TYPE = Label("rules_rust_pyo3", "", "toolchain_type")
