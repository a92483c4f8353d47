"""Builds one Package while its BUILD file is evaluated.

Holds what BUILD builtins change (targets, package() defaults, globs) and
validates rule calls: unknown attributes, wrong types, duplicate names.
"""

from __future__ import annotations

import os
import re
from typing import Any

from kiln.core.attrs import Coercer, labels_in
from kiln.core.errors import KilnError, LoadingError, Location
from kiln.core.labels import Label, PackageId, parse_label, validate_target_name
from kiln.core.rule_class import RuleClass
from kiln.loading.glob import Globber, GlobError, segment_re
from kiln.loading.markers import SelectTable
from kiln.loading.package import PRIVATE, PUBLIC, FileTarget, Package, PackageGroup, RuleTarget


# package() arguments Bazel accepts that change no output kiln builds (README: "What kiln accepts
# and ignores"); `features` is among them although Bazel's C/C++ toolchains read it.
IGNORED_PACKAGE_ARGS = (
    "default_deprecation", "default_applicable_licenses", "default_package_metadata",
    "default_compatible_with", "default_restricted_to", "features",
)


class PackageBuilder:
    def __init__(
        self,
        pkg_id: PackageId,
        build_file: str,
        text: str,
        package_dir: str,
        selects: SelectTable,
        *,
        disallow_empty_glob: bool = True,
    ):
        self.id = pkg_id
        self.build_file = build_file
        self.text = text
        self.package_dir = package_dir
        self.selects = selects
        self.disallow_empty_glob = disallow_empty_glob
        self.targets: dict[str, Any] = {}
        self.default_visibility: tuple[Label, ...] = (PRIVATE,)
        self.default_testonly = False
        self.package_called = False
        self.globber = Globber(package_dir)
        self.coercer = Coercer(pkg_id)
        self.raw_attrs: dict[str, dict[str, Any]] = {}

    # ---- locations -------------------------------------------------------

    def location_of(self, name: str) -> Location:
        """Where `name = "..."` is written; macros that derive names fall back to a prefix."""
        candidates = [name]
        parts = re.split(r"[_\-.]", name)
        for i in range(len(parts) - 1, 0, -1):
            candidates.append(name[: len("_".join(parts[:i]))])
        for cand in candidates:
            for quote in ('"', "'"):
                idx = self.text.find(f"{quote}{cand}{quote}")
                if idx >= 0:
                    line = self.text.count("\n", 0, idx) + 1
                    # Point at the start of the call: the line's first non-blank character.
                    line_start = self.text.rfind("\n", 0, idx) + 1
                    col = len(self.text[line_start:idx]) - len(self.text[line_start:idx].lstrip()) + 1
                    return Location(self.build_file, line, col)
        return Location(self.build_file)

    # ---- rules -----------------------------------------------------------

    def add_rule(self, rule: RuleClass, kwargs: dict[str, Any]) -> None:
        name = kwargs.get("name")
        if not isinstance(name, str):
            raise LoadingError(f"{rule.name}() requires a string 'name' attribute")
        why = validate_target_name(name)
        if why:
            raise LoadingError(f"invalid target name '{name}': {why}")
        target_text = f"{rule.name} rule {Label(self.id.repo, self.id.package, name)}"
        self.coercer.rule_kind = rule.name
        attrs: dict[str, Any] = {}
        for key, raw in kwargs.items():
            attr = rule.attrs.get(key)
            if attr is None:
                raise LoadingError(f"no such attribute '{key}' in '{rule.name}' rule", target=target_text)
            try:
                attrs[key] = self.coercer.coerce(attr, self.selects.decode(raw))
            except KilnError as e:
                e.target = target_text
                raise
        for attr in rule.attrs.values():
            if attr.name not in attrs:
                if attr.mandatory:
                    raise LoadingError(
                        f"missing value for mandatory attribute '{attr.name}' in '{rule.name}' rule",
                        target=target_text,
                    )
                attrs[attr.name] = attr.empty()
        if "visibility" not in kwargs or kwargs["visibility"] is None:
            # As Bazel (--incompatible_config_setting_private_default_visibility off): a config_setting without
            # its own visibility is public, so toolchains of other repositories may name it in target_settings.
            attrs["visibility"] = (PUBLIC,) if rule.name == "config_setting" else self.default_visibility
        if "testonly" not in kwargs:
            attrs["testonly"] = self.default_testonly or rule.test
        label = Label(self.id.repo, self.id.package, name)
        self._check_new_name(name, f"{rule.name} rule")
        target = RuleTarget(label, rule, attrs, self.location_of(name))
        self.targets[name] = target
        self.raw_attrs[name] = {k: v for k, v in kwargs.items()}
        outputs: set[str] = set()
        for out_attr in rule.output_attrs:
            for out in labels_in(rule.attrs[out_attr], attrs[out_attr]):
                if out.package_id != self.id:
                    raise LoadingError(
                        f"output '{out}' of '{rule.name}' must be in package '{self.id.package}'",
                        target=target_text,
                    )
                self._check_output_name(out.name, name, target.location)
                self.targets[out.name] = FileTarget(out, target.location, attrs["visibility"], label)
                outputs.add(out.name)
        for _attr, dep in target.dependency_labels() if outputs else ():
            if dep.package_id == self.id and dep.name in outputs:
                raise LoadingError(f"rule '{name}' has file '{dep.name}' as both an input and an output",
                                   location=target.location)

    def _check_output_name(self, out: str, rule_name: str, location: Location) -> None:
        """An output may not take the name of a source file of the package, as in Bazel."""
        existing = self.targets.get(out)
        build_file = self.build_file.rsplit("/", 1)[-1]
        if out == build_file or (isinstance(existing, FileTarget) and existing.generating_rule is None):
            where = "the package's BUILD file" if out == build_file else f"declared at {existing.location}"
            raise LoadingError(
                f"generated file '{out}' in rule '{rule_name}' conflicts with existing source file ({where})",
                location=location,
            )
        self._check_new_name(out, "generated file")

    def _check_new_name(self, name: str, what: str) -> None:
        existing = self.targets.get(name)
        if existing is not None:
            raise LoadingError(
                f"{what} '{name}' in package '{self.id.package}' conflicts with existing {existing.kind} "
                f"'{name}' declared at {existing.location}"
            )

    # ---- other builtins ----------------------------------------------------

    def package(self, default_visibility: Any = None, default_testonly: Any = None, **ignored: Any) -> None:
        unknown = sorted(set(ignored) - set(IGNORED_PACKAGE_ARGS))
        if unknown:
            raise LoadingError(
                f"package() got an unexpected keyword argument '{unknown[0]}' (it takes default_visibility, "
                f"default_testonly, {', '.join(IGNORED_PACKAGE_ARGS)})"
            )
        if self.package_called:
            raise LoadingError("package() may be called only once per BUILD file")
        if self.targets:
            raise LoadingError("package() must be called before any rule in the BUILD file")
        self.package_called = True
        if default_visibility is not None:
            self.default_visibility = tuple(self._labels(default_visibility, "default_visibility"))
        if default_testonly is not None:
            self.default_testonly = bool(default_testonly)

    def exports_files(self, srcs: Any, visibility: Any = None) -> None:
        if not isinstance(srcs, (list, tuple)):
            raise LoadingError("exports_files() expects a list of file names")
        vis = tuple(self._labels(visibility, "visibility")) if visibility is not None else (PUBLIC,)
        for src in srcs:
            label = self._label(src, "srcs")
            if label.package_id != self.id:
                raise LoadingError(f"exports_files(): '{src}' is not in package '{self.id.package}'")
            existing = self.targets.get(label.name)
            if isinstance(existing, FileTarget) and existing.generating_rule is None:
                existing.visibility = vis
                continue
            if existing is not None:
                raise LoadingError(f"exports_files(): '{label.name}' is already a {existing.kind} of this package")
            self.targets[label.name] = FileTarget(label, self.location_of(label.name), vis)

    def package_group(self, name: Any, packages: Any = (), includes: Any = ()) -> None:
        if not isinstance(name, str):
            raise LoadingError("package_group() requires a string 'name'")
        self._check_new_name(name, "package_group")
        for p in packages:
            if not isinstance(p, str):
                raise LoadingError(f"package_group '{name}': packages must be strings")
        label = Label(self.id.repo, self.id.package, name)
        self.targets[name] = PackageGroup(
            label, self.location_of(name), tuple(packages), tuple(self._labels(includes, "includes"))
        )

    def glob(self, include: Any, exclude: Any, exclude_directories: int, allow_empty: Any) -> list[str]:
        for what, val in (("include", include), ("exclude", exclude)):
            if not isinstance(val, (list, tuple)) or not all(isinstance(p, str) for p in val):
                raise LoadingError(f"glob(): '{what}' must be a list of strings")
        try:
            result = self.globber.glob(list(include), list(exclude), exclude_directories=bool(exclude_directories))
        except GlobError as e:
            raise LoadingError(f"glob(): {e}") from None
        strict = self.disallow_empty_glob if allow_empty is None else not allow_empty
        if strict and not result:
            raise LoadingError(
                f"glob pattern(s) {list(include)} didn't match anything, but allow_empty is set to False "
                "(the default; pass allow_empty = True or --noincompatible_disallow_empty_glob)"
            )
        return result

    def subpackages(self, include: Any, exclude: Any, allow_empty: bool) -> list[str]:
        found: list[str] = []
        for root, dirs, _files in os.walk(self.package_dir):
            rel_root = os.path.relpath(root, self.package_dir)
            keep = []
            for d in sorted(dirs):
                rel = d if rel_root == "." else f"{rel_root}/{d}"
                full = os.path.join(root, d)
                if any(os.path.isfile(os.path.join(full, n)) for n in ("BUILD.bazel", "BUILD")):
                    found.append(rel)
                else:
                    keep.append(d)
            dirs[:] = keep
        def matches(path: str, pattern: str) -> bool:
            segs, psegs = path.split("/"), pattern.split("/")
            return _match_segments(segs, psegs, segment_re)

        out = [f for f in found if any(matches(f, p) for p in include) and not any(matches(f, p) for p in exclude)]
        if not out and not allow_empty:
            raise LoadingError(f"subpackages pattern(s) {list(include)} didn't match anything")
        return sorted(out)

    # ---- helpers -----------------------------------------------------------

    def _label(self, text: Any, what: str) -> Label:
        if not isinstance(text, str):
            raise LoadingError(f"expected a label string in '{what}', got {type(text).__name__}")
        return parse_label(text, base=self.id, repo_mapping=self.coercer.repo_mapping)

    def _labels(self, values: Any, what: str) -> list[Label]:
        if not isinstance(values, (list, tuple)):
            raise LoadingError(f"'{what}' must be a list of labels")
        return [self._label(v, what) for v in values]

    def finish(self, loads: tuple[Label, ...]) -> Package:
        """Adds a source-file target for every same-package file a rule names."""
        for target in list(self.targets.values()):
            if not isinstance(target, RuleTarget):
                continue
            for _attr, label in target.dependency_labels():
                if label.package_id == self.id and label.name not in self.targets:
                    self.targets[label.name] = FileTarget(label, target.location, (PUBLIC,))
        return Package(
            self.id,
            self.build_file,
            self.text,
            self.targets,
            self.default_visibility,
            self.default_testonly,
            loads,
            tuple(self.globber.dirs_read) + tuple(self.globber.subdirs_checked),
        )


def _match_segments(segs: list[str], pats: list[str], seg_re: Any) -> bool:
    if not pats:
        return not segs
    if pats[0] == "**":
        return any(_match_segments(segs[i:], pats[1:], seg_re) for i in range(len(segs) + 1))
    if not segs:
        return False
    return bool(seg_re(pats[0]).match(segs[0])) and _match_segments(segs[1:], pats[1:], seg_re)
