"""Visibility: may a target in one package depend on a given target?"""

from __future__ import annotations

from typing import Callable

from kiln.core.labels import Label, PackageId
from kiln.loading.package import PackageGroup


def package_spec_matches(spec: str, package: PackageId, base: PackageId) -> bool:
    """A package_group `packages` entry: "//foo", "//foo/...", "public", "private"."""
    if spec == "public":
        return True
    if spec == "private":
        return False
    repo = base.repo
    if spec.startswith("@"):
        at, rest = spec.split("//", 1)
        repo, spec = at.lstrip("@"), "//" + rest
    if repo != package.repo:
        return False
    if spec in ("//...", "//.../..."):
        return True
    path = spec[2:]
    if path.endswith("/..."):
        root = path[:-4]
        return package.package == root or package.package.startswith(root + "/")
    return package.package == path


def is_visible(
    visibility: tuple[Label, ...],
    target_label: Label,
    from_package: PackageId,
    resolve_group: Callable[[Label], PackageGroup | None],
) -> bool:
    if target_label.package_id == from_package:
        return True
    return any(_allows(v, from_package, resolve_group, set()) for v in visibility)


def _allows(v: Label, pkg: PackageId, resolve_group: Callable[[Label], PackageGroup | None], seen: set) -> bool:
    if v.package == "visibility":
        if v.name == "public":
            return True
        if v.name == "private":
            return False
    if v.name == "__pkg__":
        return v.package_id == pkg
    if v.name == "__subpackages__":
        return v.repo == pkg.repo and (v.package == "" or pkg.package == v.package or pkg.package.startswith(v.package + "/"))
    if v in seen:
        return False
    seen.add(v)
    group = resolve_group(v)
    if group is None:
        return False
    included = False
    excluded = False
    for spec in group.packages:
        if spec.startswith("-"):
            excluded |= package_spec_matches(spec[1:], pkg, v.package_id)
        else:
            included |= package_spec_matches(spec, pkg, v.package_id)
    if excluded:
        return False
    return included or any(_allows(i, pkg, resolve_group, seen) for i in group.includes)

