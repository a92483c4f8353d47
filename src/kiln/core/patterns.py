"""Target patterns: `//pkg:t`, `//pkg:all`, `//pkg:*`, `//pkg/...`, `-//pkg/...`.

A pattern is parsed relative to the directory the command runs in (its
offset from the workspace root), as Bazel does for `kiln build foo/...`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from kiln.core.errors import LabelError
from kiln.core.labels import Label, PackageId, parse_label, validate_package_name


class PatternKind(enum.Enum):
    SINGLE = "single"            # one target
    RULES_IN_PACKAGE = "all"     # //pkg:all
    TARGETS_IN_PACKAGE = "*"     # //pkg:* and //pkg:all-targets
    RECURSIVE_RULES = "...:all"  # //pkg/... and //pkg/...:all
    RECURSIVE_TARGETS = "...:*"  # //pkg/...:*


@dataclass(frozen=True)
class TargetPattern:
    text: str
    kind: PatternKind
    repo: str
    package: str               # the package, or the directory under which to recurse
    label: Label | None = None  # for SINGLE
    negative: bool = False

    @property
    def package_id(self) -> PackageId:
        return PackageId(self.repo, self.package)

    def contains_package(self, package: str) -> bool:
        """True if a recursive pattern covers `package`."""
        if self.package == "":
            return True
        return package == self.package or package.startswith(self.package + "/")


def parse_pattern(text: str, *, offset: str = "") -> TargetPattern:
    """Parses a target pattern; `offset` is the working directory relative to the workspace."""
    original = text
    negative = text.startswith("-")
    if negative:
        text = text[1:]
    if text == "":
        raise LabelError(f"invalid target pattern '{original}': empty pattern")

    repo = ""
    if text.startswith("@"):
        canonical = text.startswith("@@")
        rest = text[2:] if canonical else text[1:]
        slash = rest.find("//")
        if slash < 0:
            label = parse_label(text)
            return TargetPattern(original, PatternKind.SINGLE, label.repo, label.package, label, negative)
        repo, text = rest[:slash], rest[slash:]
        if repo == "_main":
            repo = ""

    absolute = text.startswith("//")
    body = text[2:] if absolute else text
    if not absolute and offset:
        if body.startswith(":"):
            body = offset + body
        else:
            body = f"{offset}/{body}" if body not in ("", ".") else offset

    target = None
    if ":" in body:
        body, target = body.split(":", 1)
    if body == "..." or body.endswith("/..."):
        directory = body[:-4].rstrip("/") if body != "..." else ""
        why = validate_package_name(directory)
        if why:
            raise LabelError(f"invalid target pattern '{original}': {why}")
        if target in (None, "all"):
            kind = PatternKind.RECURSIVE_RULES
        elif target in ("*", "all-targets"):
            kind = PatternKind.RECURSIVE_TARGETS
        else:
            raise LabelError(f"invalid target pattern '{original}': '...' must be followed by ':all' or ':*'")
        return TargetPattern(original, kind, repo, directory, None, negative)

    if target in ("all", "*", "all-targets"):
        why = validate_package_name(body)
        if why:
            raise LabelError(f"invalid target pattern '{original}': {why}")
        kind = PatternKind.RULES_IN_PACKAGE if target == "all" else PatternKind.TARGETS_IN_PACKAGE
        return TargetPattern(original, kind, repo, body, None, negative)

    label_text = "//" + body + (f":{target}" if target is not None else "")
    if repo:
        label_text = f"@@{repo}" + label_text
    try:
        label = parse_label(label_text)
    except LabelError as e:
        raise LabelError(f"invalid target pattern '{original}': {e.message.split(': ', 1)[-1]}") from None
    return TargetPattern(original, PatternKind.SINGLE, label.repo, label.package, label, negative)
