"""The module extensions kiln implements for Rust, and the tags each accepts.

MODULE.bazel's `use_extension` is checked against this table: a known
extension gets a proxy whose fields are its tag classes, a tag's attributes
are checked by name (a misspelt `featurs` is an error, not a silent no-op) and,
for the attributes kiln reads, by type. Any other extension is reported by
name at the `use_extension` call.

The attribute names follow rules_rust's tag classes (crate_universe and the
rust toolchain extension); the same checks serve WORKSPACE's `crate.spec` and
`crate.annotation` helpers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Attribute kinds. "any" is accepted as written (kiln does not read it).
STRING, BOOL, INT, STRING_LIST, STRING_DICT, LABEL, LABEL_LIST, ANY = (
    "string", "bool", "int", "string_list", "string_dict", "label", "label_list", "any",
)


@dataclass(frozen=True)
class TagClass:
    attrs: dict[str, str] | None  # None: any attribute is accepted
    mandatory: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExtensionSpec:
    name: str
    tags: dict[str, TagClass]
    # Repositories the extension makes that are not named by a tag (None: whatever use_repo asks for).
    fixed_repos: frozenset[str] | None = frozenset()


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

CRATE_EXTENSION = ExtensionSpec(
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
)

# kiln builds with the machine's cargo and rustc: the toolchain tags are recorded
# (the edition is used as the default edition), never downloaded.
RUST_EXTENSION = ExtensionSpec(
    name="rust",
    tags={
        "toolchain": TagClass(None),
        "repository_set": TagClass(None),
        "host_tools": TagClass(None),
    },
    fixed_repos=None,
)

RUST_HOST_TOOLS_EXTENSION = ExtensionSpec(
    name="rust_host_tools",
    tags={"host_tools": TagClass(None)},
    fixed_repos=None,
)

# (canonical repo, path inside it) -> extensions that .bzl defines.
KNOWN_EXTENSIONS: dict[tuple[str, str], dict[str, ExtensionSpec]] = {
    ("rules_rust", "crate_universe/extensions.bzl"): {"crate": CRATE_EXTENSION},
    ("rules_rust", "crate_universe/extension.bzl"): {"crate": CRATE_EXTENSION},
    ("rules_rust", "rust/extensions.bzl"): {"rust": RUST_EXTENSION, "rust_host_tools": RUST_HOST_TOOLS_EXTENSION},
}

# Repos the crate extension makes when from_cargo/from_specs give no name.
DEFAULT_CRATE_REPO = "crates"


def find_extension(repo: str, path: str, name: str) -> ExtensionSpec | None:
    return KNOWN_EXTENSIONS.get((repo, path), {}).get(name)


def is_crate_extension(repo: str, path: str, name: str) -> bool:
    return find_extension(repo, path, name) is CRATE_EXTENSION


def check_attrs(what: str, tag: TagClass, attrs: dict[str, Any]) -> str | None:
    """Why these attributes do not fit the tag class, or None."""
    for name in tag.mandatory:
        if attrs.get(name) in (None, ""):
            return f"{what}: missing mandatory attribute '{name}'"
    if tag.attrs is None:
        return None
    for name, value in attrs.items():
        kind = tag.attrs.get(name)
        if kind is None:
            close = _closest(name, tag.attrs)
            hint = f" (did you mean '{close}'?)" if close else ""
            return f"{what}: unknown attribute '{name}'{hint}"
        why = _check_type(kind, value)
        if why:
            return f"{what}: attribute '{name}' {why}"
    return None


def _check_type(kind: str, value: Any) -> str | None:
    if value is None or kind == ANY:
        return None
    if kind in (STRING, LABEL):
        ok = isinstance(value, str)
    elif kind == BOOL:
        ok = isinstance(value, bool)
    elif kind == INT:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind in (STRING_LIST, LABEL_LIST):
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    elif kind == STRING_DICT:
        ok = isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
    else:
        ok = True
    if ok:
        return None
    expected = {
        STRING: "a string", LABEL: "a label string", BOOL: "a bool", INT: "an int",
        STRING_LIST: "a list of strings", LABEL_LIST: "a list of label strings",
        STRING_DICT: "a dict of strings to strings",
    }[kind]
    return f"must be {expected}, got {_type_name(value)}"


def _type_name(value: Any) -> str:
    return {bool: "bool", int: "int", str: "string", list: "list", dict: "dict", tuple: "tuple"}.get(
        type(value), type(value).__name__
    )


def _closest(name: str, known: dict[str, str]) -> str | None:
    import difflib

    matches = difflib.get_close_matches(name, list(known), n=1, cutoff=0.75)
    return matches[0] if matches else None
