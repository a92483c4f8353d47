"""What WORKSPACE files get from @rules_rust//crate_universe:defs.bzl: crates_repository and its helpers.

crates_repository and crates_vendor calls are recorded like MODULE.bazel's
crate extension (one usage of CRATE_UNIVERSE_DEFS named after the rule);
crate.spec() and crate.annotation() are checked like the bzlmod tags.
"""

from __future__ import annotations

from typing import Any, Callable

from kiln.core.errors import LoadingError
from kiln.loading.extension_schema import TagClass, WorkspaceBzl, WorkspaceRule, check_attrs
from kiln.repos import crate_tags

CRATE_UNIVERSE_DEFS = "@rules_rust//crate_universe:defs.bzl"
WORKSPACE_CRATE_RULES = ("crates_repository", "crates_vendor")

_WORKSPACE_SPEC = TagClass(
    {k: v for k, v in crate_tags.SPEC_ATTRS.items() if k not in ("repositories", "package_alias")}
)
_WORKSPACE_ANNOTATION = TagClass(
    {k: v for k, v in crate_tags.ANNOTATION_ATTRS.items() if k not in ("repositories", "crate")}
)

_CRATE_STRUCT = """
crate = struct(
    spec = _kiln_crate_spec,
    annotation = _kiln_crate_annotation,
    select = _kiln_crate_select,
    workspace_member = _kiln_crate_workspace_member,
)
"""


def _crate_helper(kind: str, tag: TagClass) -> Callable[..., Any]:
    """crate.spec()/crate.annotation(): the attributes as a dict, checked like the bzlmod tags."""

    def helper(**attrs: Any) -> dict[str, Any]:
        why = check_attrs(f"crate.{kind}()", tag, attrs)
        if why:
            raise LoadingError(why)
        return {k: v for k, v in attrs.items() if v is not None}

    return helper


def _select(common: Any = None, selects: Any = None) -> dict[str, Any]:
    return {"common": common, "selects": selects or {}}


def _workspace_member(version: str = "", sha256: str = "") -> dict[str, Any]:
    return {"version": version, "sha256": sha256}


def _config(**attrs: Any) -> dict[str, Any]:
    return {k: v for k, v in attrs.items() if v is not None}


def _check(rule: str) -> Callable[[dict[str, Any]], str | None]:
    return lambda attrs: _why_bad_crate_attrs(rule, attrs)


def _why_bad_crate_attrs(rule: str, attrs: dict[str, Any]) -> str | None:
    why = _attr_problem(attrs)
    return f"{rule}(name = \"{attrs['name']}\"): {why}" if why else None


def _attr_problem(attrs: dict[str, Any]) -> str | None:
    packages = attrs.get("packages")
    if packages is not None:
        if not isinstance(packages, dict) or not all(isinstance(v, dict) for v in packages.values()):
            return "'packages' must be a dict of crate names to crate.spec(...)"
    annotations = attrs.get("annotations")
    if annotations is not None:
        ok = isinstance(annotations, dict) and all(
            isinstance(v, list) and all(isinstance(a, dict) for a in v) for v in annotations.values()
        )
        if not ok:
            return "'annotations' must be a dict of crate names to lists of crate.annotation(...)"
    manifests = attrs.get("manifests")
    if manifests is not None and not (isinstance(manifests, list) and all(isinstance(x, str) for x in manifests)):
        return "'manifests' must be a list of labels"
    for key in ("cargo_lockfile", "lockfile"):
        if attrs.get(key) is not None and not isinstance(attrs[key], str):
            return f"'{key}' must be a label"
    return None


CRATE_UNIVERSE_WORKSPACE = WorkspaceBzl(
    repo="rules_rust",
    path="crate_universe/defs.bzl",
    rules=tuple(WorkspaceRule(rule, check=_check(rule), keyed_attrs=("packages", "annotations"))
                for rule in WORKSPACE_CRATE_RULES),
    functions={
        "_kiln_crate_spec": _crate_helper("spec", _WORKSPACE_SPEC),
        "_kiln_crate_annotation": _crate_helper("annotation", _WORKSPACE_ANNOTATION),
        "_kiln_crate_select": _select,
        "_kiln_crate_workspace_member": _workspace_member,
        "render_config": _config,
        "splicing_config": _config,
    },
    starlark=_CRATE_STRUCT,
)
