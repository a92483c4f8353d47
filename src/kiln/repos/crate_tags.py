"""The module extensions kiln implements for Rust, and the tags each accepts.

Registered with loading (kiln.repos.definitions), which checks MODULE.bazel's
`use_extension` and every tag against them.

The attribute names follow rules_rust's tag classes (crate_universe and the
rust toolchain extension); the same checks serve WORKSPACE's `crate.spec` and
`crate.annotation` helpers.
"""

from __future__ import annotations

from typing import Any

from kiln.loading.extension_schema import (ANY, BOOL, LABEL, LABEL_LIST, STRING, STRING_DICT, STRING_LIST,
                                           ModuleExtension, TagClass)

_FROM_COMMON = {
    "cargo_config": LABEL,
    "cargo_lockfile": LABEL,
    "generate_binaries": BOOL,
    "generate_build_scripts": BOOL,
    "host_tools": LABEL,
    "isolated": BOOL,
    "lockfile": LABEL,
    "skip_cargo_lockfile_overwrite": BOOL,
    "strip_internal_dependencies_from_cargo_lockfile": BOOL,
    "supported_platform_triples": STRING_LIST,
}

_ANNOTATION_SELECTABLE = {
    "build_script_compile_data": LABEL_LIST,
    "build_script_data": LABEL_LIST,
    "build_script_deps": LABEL_LIST,
    "build_script_env": STRING_DICT,
    "build_script_exec_properties": STRING_DICT,
    "build_script_link_deps": LABEL_LIST,
    "build_script_proc_macro_deps": LABEL_LIST,
    "build_script_rundir": STRING,
    "build_script_rustc_env": STRING_DICT,
    "build_script_tools": LABEL_LIST,
    "compile_data": LABEL_LIST,
    "crate_features": STRING_LIST,
    "data": LABEL_LIST,
    "deps": LABEL_LIST,
    "proc_macro_deps": LABEL_LIST,
    "rustc_env": STRING_DICT,
    "rustc_env_files": LABEL_LIST,
    "rustc_flags": STRING_LIST,
}

_ANNOTATION_OTHER = {
    "additive_build_file": ANY,
    "additive_build_file_content": ANY,
    "alias_rule": ANY,
    "build_script_data_glob": ANY,
    "build_script_toolchains": ANY,
    "compile_data_glob": ANY,
    "compile_data_glob_excludes": ANY,
    "data_glob": ANY,
    "disable_pipelining": ANY,
    "extra_aliased_targets": ANY,
    "gen_all_binaries": ANY,
    "gen_binaries": ANY,
    "gen_build_script": ANY,
    "override_target_bin": ANY,
    "override_target_build_script": ANY,
    "override_target_lib": ANY,
    "override_target_proc_macro": ANY,
    "override_targets": ANY,
    "patch_args": ANY,
    "patch_tool": ANY,
    "patches": ANY,
    "shallow_since": ANY,
    # Per-triple variants some rules_rust versions accept on the annotation tag itself.
    "build_script_data_select": ANY,
    "build_script_env_select": ANY,
}

SPEC_ATTRS = {
    "artifact": STRING,
    "branch": STRING,
    "default_features": BOOL,
    "features": STRING_LIST,
    "git": STRING,
    "lib": BOOL,
    "package": STRING,
    "package_alias": STRING,
    "path": STRING,
    "repositories": STRING_LIST,
    "rev": STRING,
    "tag": STRING,
    "version": STRING,
}

ANNOTATION_ATTRS = {
    "crate": STRING,
    "repositories": STRING_LIST,
    "version": STRING,
    **_ANNOTATION_OTHER,
    **_ANNOTATION_SELECTABLE,
}

# Repos the crate extension makes when from_cargo/from_specs give no name.
DEFAULT_CRATE_REPO = "crates"


def _crate_repos(usages: list[Any]) -> set[str]:
    """The repositories from_cargo/from_specs tags generate."""
    return {t.attrs.get("name") or DEFAULT_CRATE_REPO for u in usages for t in u.tags
            if t.name in ("from_cargo", "from_specs")}


CRATE_EXTENSION = ModuleExtension(
    repo="rules_rust",
    paths=("crate_universe/extensions.bzl", "crate_universe/extension.bzl"),
    name="crate",
    tags={
        "from_cargo": TagClass({"name": STRING, "manifests": LABEL_LIST, **_FROM_COMMON}),
        "from_specs": TagClass({"name": STRING, **_FROM_COMMON}),
        "spec": TagClass(SPEC_ATTRS, mandatory=("package",)),
        "annotation": TagClass(ANNOTATION_ATTRS, mandatory=("crate",)),
        "annotation_select": TagClass(
            {"crate": STRING, "repositories": STRING_LIST, "version": STRING, "triples": STRING_LIST,
             **_ANNOTATION_SELECTABLE},
            mandatory=("crate", "triples"),
        ),
        "render_config": TagClass(None),
        "splicing_config": TagClass(None),
    },
    generated_repos=_crate_repos,
)

# kiln builds with the machine's cargo and rustc: the toolchain tags are accepted, nothing is downloaded.
RUST_EXTENSION = ModuleExtension(
    repo="rules_rust",
    paths=("rust/extensions.bzl",),
    name="rust",
    tags={
        "toolchain": TagClass(None),
        "repository_set": TagClass(None),
        "host_tools": TagClass(None),
    },
)

RUST_HOST_TOOLS_EXTENSION = ModuleExtension(
    repo="rules_rust",
    paths=("rust/extensions.bzl",),
    name="rust_host_tools",
    tags={"host_tools": TagClass(None)},
)

EXTENSIONS = (CRATE_EXTENSION, RUST_EXTENSION, RUST_HOST_TOOLS_EXTENSION)
