"""What every Rust rule shares: its attributes and the CrateInfo made from them."""

from __future__ import annotations

import re

from kiln.core.attrs import Attr, AttrType
from kiln.rules.rust.providers import CrateInfo, RegistryCrateInfo

RUST_ATTRS = [
    Attr("srcs", AttrType.LABEL_LIST),
    Attr("crate_root", AttrType.LABEL),
    Attr("crate_name", AttrType.STRING),
    Attr("deps", AttrType.LABEL_LIST),
    Attr("proc_macro_deps", AttrType.LABEL_LIST, cfg="exec"),
    Attr("crate_features", AttrType.STRING_LIST),
    Attr("edition", AttrType.STRING, "2021"),
    Attr("rustc_flags", AttrType.STRING_LIST),
    Attr("rustc_env", AttrType.STRING_DICT),
    Attr("data", AttrType.LABEL_LIST),
    Attr("compile_data", AttrType.LABEL_LIST),
    Attr("version", AttrType.STRING),
    Attr("aliases", AttrType.LABEL_KEYED_STRING_DICT),
]

EDITIONS = ("2015", "2018", "2021", "2024")


def crate_name(ctx) -> str:
    name = ctx.attr.crate_name or ctx.label.name.replace("-", "_")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ctx.error(f"'{name}' is not a valid crate name (set crate_name)", attribute="crate_name")
    return name


def cargo_package_name(label) -> str:
    """A cargo package name unique to the label (cargo allows letters, digits, '-' and '_')."""
    raw = f"{label.repo}_{label.package}_{label.name}" if label.repo else f"{label.package}_{label.name}"
    return "k_" + re.sub(r"[^A-Za-z0-9_-]", "_", raw.strip("_"))


def crate_root(ctx, kind: str):
    if ctx.attr.crate_root is not None:
        roots = ctx.files.crate_root
        if len(roots) != 1:
            raise ctx.error("crate_root must name exactly one .rs file", attribute="crate_root")
        return roots[0]
    srcs = [f for f in ctx.files.srcs if f.extension == "rs"]
    if not srcs:
        raise ctx.error("a Rust target needs .rs files in srcs", attribute="srcs")
    if len(srcs) == 1:
        return srcs[0]
    wanted = ("main.rs",) if kind == "bin" else ("lib.rs",)
    for f in srcs:
        if f.basename in wanted or f.basename == f"{crate_name(ctx)}.rs":
            return f
    raise ctx.error(
        f"cannot tell which of {len(srcs)} sources is the crate root: name one {wanted[0]} or set crate_root",
        attribute="crate_root",
    )


def make_crate(ctx, kind: str, *, extra_registry: tuple[RegistryCrateInfo, ...] = ()) -> CrateInfo:
    if ctx.attr.edition not in EDITIONS:
        raise ctx.error(f"unknown Rust edition '{ctx.attr.edition}' (one of {', '.join(EDITIONS)})", attribute="edition")
    deps: list[CrateInfo] = []
    registry: list[RegistryCrateInfo] = list(extra_registry)
    for attr in ("deps", "proc_macro_deps"):
        for dep in getattr(ctx.attr, attr):
            crate = dep.get(CrateInfo)
            reg = dep.get(RegistryCrateInfo)
            if crate is not None:
                if crate.kind not in ("lib", "proc-macro"):
                    raise ctx.error(f"'{dep.label}' is a {crate.kind} crate; only libraries can be dependencies",
                                    attribute=attr)
                deps.append(crate)
            elif reg is not None:
                if reg.lock_error:
                    raise ctx.error(reg.lock_error, attribute=attr)
                if all(r.package != reg.package for r in registry):
                    registry.append(reg)
            else:
                raise ctx.error(f"'{dep.label}' is not a Rust crate (no CrateInfo)", attribute=attr)
    srcs = tuple(f for f in ctx.files.srcs)
    return CrateInfo(
        label=ctx.label,
        name=crate_name(ctx),
        package=cargo_package_name(ctx.label),
        kind=kind,
        root=crate_root(ctx, kind),
        srcs=srcs,
        edition=ctx.attr.edition,
        features=tuple(ctx.attr.crate_features),
        deps=tuple(deps),
        registry_deps=tuple(registry),
        rustc_flags=tuple(ctx.attr.rustc_flags),
        rustc_env=tuple(sorted(ctx.attr.rustc_env.items())),
        compile_data=tuple(ctx.files.compile_data),
    )
