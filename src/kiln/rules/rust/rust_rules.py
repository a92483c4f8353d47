"""rust_library, rust_shared_library, rust_binary, rust_test, rust_proc_macro and registry crates."""

from __future__ import annotations

from dataclasses import replace

from kiln.core.artifacts import Artifact, source_artifact
from kiln.core.attrs import Attr, AttrType
from kiln.core.depset import Depset
from kiln.core.providers import DefaultInfo, RunEnvironmentInfo
from kiln.core.rule_class import RuleClass
from kiln.core.runfiles import Runfiles, merge_all
from kiln.rules.rust.cargo_action import register_cargo_build
from kiln.rules.rust.crate import RUST_ATTRS, cargo_package_name, make_crate
from kiln.rules.rust.providers import RUST_TOOLCHAINS, CrateInfo, RegistryCrateInfo


def data_runfiles(ctx) -> Runfiles:
    return merge_all([Runfiles(d.default_info.files).merge(d.default_info.runfiles) for d in ctx.attr.data])


def _rust_library(ctx):
    crate = make_crate(ctx, "lib")
    out = ctx.actions.declare_file(f"lib{crate.name}.rlib")
    register_cargo_build(ctx, crate, out)
    return [DefaultInfo(files=Depset((out,)), runfiles=data_runfiles(ctx)), crate]


def _rust_proc_macro(ctx):
    crate = make_crate(ctx, "proc-macro")
    out = ctx.actions.declare_file(f"lib{crate.name}.so")
    register_cargo_build(ctx, crate, out)
    return [DefaultInfo(files=Depset((out,)), runfiles=data_runfiles(ctx)), crate]


def _rust_shared_library(ctx):
    crate = make_crate(ctx, "cdylib")
    out = ctx.actions.declare_file(f"lib{crate.name}.so")
    # A cdylib with pyo3 is a Python extension: it must not link libpython.
    register_cargo_build(ctx, crate, out, extension_module=True)
    files = Depset((out,))
    return [DefaultInfo(files=files, runfiles=Runfiles(files).merge(data_runfiles(ctx))), crate]


def _executable(ctx, mode: str, crate: CrateInfo | None = None):
    crate = crate or make_crate(ctx, "bin" if mode == "build" else "lib")
    out = ctx.actions.declare_file(ctx.label.name)
    register_cargo_build(ctx, crate, out, mode=mode)
    files = Depset((out,))
    env = tuple(sorted(ctx.attr.env.items()))
    return [
        DefaultInfo(files=files, runfiles=Runfiles(files).merge(data_runfiles(ctx)), executable=out),
        RunEnvironmentInfo(tuple(ctx.attr.args), env, tuple(getattr(ctx.attr, "env_inherit", ()) or ())),
        crate,
    ]


def _rust_binary(ctx):
    return _executable(ctx, "build")


def _rust_test(ctx):
    if ctx.attr.crate is None:
        return _executable(ctx, "test")
    # rules_rust's `crate = ":lib"`: the library's own sources, compiled as a test harness.
    base = ctx.attr.crate.get(CrateInfo)
    if base is None:
        raise ctx.error(f"'{ctx.attr.crate.label}' is not a Rust crate", attribute="crate")
    extra = make_crate(ctx, "lib") if ctx.files.srcs else None
    crate = replace(
        base,
        label=ctx.label,
        package=cargo_package_name(ctx.label),
        kind="lib",
        deps=base.deps + (extra.deps if extra else ()),
        registry_deps=base.registry_deps + tuple(
            r for r in (extra.registry_deps if extra else ()) if r.package not in {b.package for b in base.registry_deps}
        ),
        features=tuple(dict.fromkeys(base.features + tuple(ctx.attr.crate_features))),
    )
    return _executable(ctx, "test", crate)


RUST_LIBRARY = RuleClass.make("rust_library", _rust_library, RUST_ATTRS, toolchains=RUST_TOOLCHAINS)
RUST_PROC_MACRO = RuleClass.make("rust_proc_macro", _rust_proc_macro, RUST_ATTRS, toolchains=RUST_TOOLCHAINS)
RUST_SHARED_LIBRARY = RuleClass.make("rust_shared_library", _rust_shared_library, RUST_ATTRS,
                                     toolchains=RUST_TOOLCHAINS)
RUST_BINARY = RuleClass.make("rust_binary", _rust_binary, RUST_ATTRS, executable=True, toolchains=RUST_TOOLCHAINS)
RUST_TEST = RuleClass.make("rust_test", _rust_test, RUST_ATTRS + [Attr("crate", AttrType.LABEL)], test=True,
                           toolchains=RUST_TOOLCHAINS)


def _rust_registry_crate(ctx):
    for unsupported in ("git", "path"):
        if getattr(ctx.attr, unsupported):
            raise ctx.error(f"kiln does not build {unsupported} crates yet", attribute=unsupported)
    # The user's lock file is read like a repository rule reads it: by path, not as a visible target;
    # a lock kiln made for an index without one (kiln.repos.crate_splicing) is a file of the index.
    if ctx.attr.lockfile:
        lock = Artifact("", ctx.attr.lockfile)
    elif ctx.attr.spliced_lockfile is not None:
        lock = source_artifact(ctx.attr.spliced_lockfile.label)
    else:
        lock = None
    vendor = ctx.attr.vendor
    return [RegistryCrateInfo(
        name=ctx.attr.crate_name or ctx.label.name.replace("-", "_"),
        package=ctx.attr.package or ctx.label.name,
        version=ctx.attr.version,
        features=tuple(ctx.attr.features),
        default_features=ctx.attr.default_features,
        index=ctx.label.repo,
        lockfile=lock,
        lock_error=ctx.attr.lock_error,
        # The filegroup is named after the directory it globs (kiln.repos.crate_repo_files).
        vendor_dir=source_artifact(vendor.label).exec_path if vendor is not None else None,
    )]


RUST_REGISTRY_CRATE = RuleClass.make(
    "rust_registry_crate",
    _rust_registry_crate,
    [
        Attr("package", AttrType.STRING),
        Attr("crate_name", AttrType.STRING),
        Attr("version", AttrType.STRING, mandatory=True),
        Attr("features", AttrType.STRING_LIST),
        Attr("default_features", AttrType.BOOL, True),
        Attr("lockfile", AttrType.STRING),
        Attr("spliced_lockfile", AttrType.LABEL),
        Attr("lock_error", AttrType.STRING),
        Attr("vendor", AttrType.LABEL),
        Attr("git", AttrType.STRING),
        Attr("branch", AttrType.STRING),
        Attr("tag", AttrType.STRING),
        Attr("rev", AttrType.STRING),
        Attr("path", AttrType.STRING),
    ],
    doc="A crate from crates.io, as generated for @crate_index//:<name>.",
)
