"""Labels: `@repo//pkg/path:name`, parsed and printed as Bazel does.

The main repository is the repo named "" (`_main` in runfiles). A label's repo
is the canonical name; apparent names are mapped by the caller's repo mapping.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

from kiln.core.errors import LabelError, Location

MAIN_REPO = ""
MAIN_REPO_RUNFILES_NAME = "_main"

# Characters Bazel accepts in target names (besides letters and digits).
_NAME_PUNCT = set("!%-@^_\"#$&'()*-+,;<=>?[]{|}~/. ")
_REPO_RE = re.compile(r"^[A-Za-z0-9_.~+-]*$")
_PKG_CHARS = re.compile(r"^[A-Za-z0-9/\-._ !\"#$%&'()*+,;<=>?\[\]^`{|}~@]*$")


@dataclass(frozen=True, order=True)
class PackageId:
    repo: str
    package: str

    def __str__(self) -> str:
        prefix = f"@{self.repo}" if self.repo else ""
        return f"{prefix}//{self.package}"


@dataclass(frozen=True, order=True)
class Label:
    repo: str
    package: str
    name: str

    @property
    def package_id(self) -> PackageId:
        return PackageId(self.repo, self.package)

    @property
    def workspace_root(self) -> str:
        """The repo's directory in runfiles and exec paths."""
        return self.repo or MAIN_REPO_RUNFILES_NAME

    def relative_path(self) -> str:
        """Path of a file named by this label, relative to its repository root."""
        return f"{self.package}/{self.name}" if self.package else self.name

    def sibling(self, name: str) -> "Label":
        return Label(self.repo, self.package, name)

    def __str__(self) -> str:
        prefix = f"@{self.repo}" if self.repo else ""
        return f"{prefix}//{self.package}:{self.name}"

    def short(self) -> str:
        """`//pkg` for `//pkg:pkg`, the canonical form otherwise."""
        prefix = f"@{self.repo}" if self.repo else ""
        if self.package and self.package.rsplit("/", 1)[-1] == self.name:
            return f"{prefix}//{self.package}"
        return str(self)


def validate_package_name(package: str) -> str | None:
    """Returns what is wrong with a package path, or None."""
    if package == "":
        return None
    if package.startswith("/"):
        return "package names may not start with '/'"
    if package.endswith("/"):
        return "package names may not end with '/'"
    if "//" in package:
        return "package names may not contain '//'"
    if not _PKG_CHARS.match(package):
        bad = next(c for c in package if not _PKG_CHARS.match(c))
        return f"package names may not contain '{bad}'"
    for segment in package.split("/"):
        if segment in (".", ".."):
            return f"package name component '{segment}' is not allowed"
    return None


def validate_target_name(name: str) -> str | None:
    """Returns what is wrong with a target name, or None."""
    if name == "":
        return "empty target name"
    if name.startswith("/"):
        return "target names may not start with '/'"
    if name.endswith("/"):
        return "target names may not end with '/'"
    if "//" in name:
        return "target names may not contain '//'"
    for c in name:
        if not (c.isalnum() or c in _NAME_PUNCT):
            return f"target names may not contain '{c}'"
    for segment in name.split("/"):
        if segment in ("..", "."):
            return f"target names may not contain '{segment}' as a path segment"
    return None


def parse_label(
    text: str,
    *,
    base: PackageId | None = None,
    repo_mapping: Mapping[str, str] | None = None,
    where: Location | None = None,
) -> Label:
    """Parses `text` as a label relative to the package `base`.

    `repo_mapping` maps apparent repo names to canonical ones; `@@name` is
    already canonical. Raises LabelError saying what is wrong.
    """
    if not isinstance(text, str):
        raise LabelError(f"expected a label string, got {type(text).__name__}", location=where)
    original = text
    if text == "":
        raise LabelError("invalid label '': empty label", location=where)

    def fail(why: str) -> LabelError:
        return LabelError(f"invalid label '{original}': {why}", location=where)

    repo: str | None = None
    if text.startswith("@"):
        canonical = text.startswith("@@")
        rest = text[2:] if canonical else text[1:]
        slash = rest.find("//")
        if slash < 0:
            if ":" in rest or "/" in rest:
                raise fail("a repository name must be followed by '//'")
            apparent, text = rest, None
        else:
            apparent, text = rest[:slash], rest[slash:]
        if not _REPO_RE.match(apparent):
            raise fail(f"invalid repository name '@{apparent}'")
        if canonical or apparent == "":
            repo = apparent if apparent != "_main" else MAIN_REPO
        elif repo_mapping is not None and apparent in repo_mapping:
            repo = repo_mapping[apparent]
        else:
            repo = apparent
        if text is None:
            if apparent == "":
                raise fail("'@' must be followed by a repository name or '//'")
            return Label(repo, "", apparent)

    if text.startswith("//"):
        body = text[2:]
        if ":" in body:
            package, name = body.split(":", 1)
        else:
            package = body
            if package.endswith("/"):
                raise fail("package names may not end with '/'")
            name = package.rsplit("/", 1)[-1] if package else ""
            if name == "":
                raise fail("an empty package needs an explicit target name (//:name)")
        if repo is None:
            repo = base.repo if base is not None else MAIN_REPO
    else:
        if repo is not None:
            raise fail("a repository name must be followed by '//'")
        if base is None:
            raise fail("a relative label needs a package to be relative to")
        repo = base.repo
        package = base.package
        name = text[1:] if text.startswith(":") else text
        if text.startswith(":") and name == "":
            raise fail("empty target name")

    why = validate_package_name(package)
    if why:
        raise fail(why)
    if ":" in name:
        raise fail("target names may not contain ':'")
    why = validate_target_name(name)
    if why:
        raise fail(why)
    return Label(repo, package, name)
