"""Repository mappings: the apparent repository names a repository's BUILD and .bzl files may use.

The main repository sees its own module names, its bazel_deps and whatever
MODULE.bazel or WORKSPACE declares; any other name passes through unchanged
(kiln's built-in rule sets need no bazel_dep). A local module sees only its
own names, its bazel_deps and kiln's built-in rule sets, as Bazel's strict
repository visibility has it: `@foo` it does not depend on is an error.
"""

from __future__ import annotations

from typing import Iterator, Mapping

from kiln.core.errors import LabelError
from kiln.loading import wellknown
from kiln.loading.module_info import ModuleInfo


def main_repo_mapping(module: ModuleInfo) -> dict[str, str]:
    mapping = dict(module.bazel_deps)
    mapping.update({name: "" for name in module.main_repo_names})
    return mapping


def runfiles_repo_mapping(module: ModuleInfo) -> str:
    """The `_repo_mapping` file of runfiles trees: `source,apparent,target` lines (the main repository is
    "" as a source, `_main` as a target) for the main module's names and the local modules' names."""
    lines = {f",{name},_main" for name in module.main_repo_names}
    lines.update(f",{apparent},{target}" for apparent, target in module.bazel_deps.items()
                 if target in module.local_modules)
    for repo, local in module.local_modules.items():
        lines.update(f"{repo},{apparent},{target}" for apparent, target in local.repo_mapping.items()
                     if target in module.local_modules)
    return "".join(f"{line}\n" for line in sorted(lines))


class ModuleRepoMapping(Mapping[str, str]):
    """A local module's mapping: names it cannot see raise LabelError when a label uses them."""

    def __init__(self, repo: str, mapping: Mapping[str, str]):
        self._repo = repo
        self._mapping = dict(mapping)

    def __contains__(self, apparent: object) -> bool:
        return True

    def __getitem__(self, apparent: str) -> str:
        found = self._mapping.get(apparent)
        if found is not None:
            return found
        canonical = wellknown.canonical_repo(apparent)
        if canonical in wellknown.WELL_KNOWN_REPOS:
            return canonical
        raise LabelError(f"no repository visible as '@{apparent}' from repository '@{self._repo}' "
                         f"(it sees: {', '.join(sorted(self._mapping))} and kiln's built-in rule sets)")

    def __iter__(self) -> Iterator[str]:
        return iter(self._mapping)

    def __len__(self) -> int:
        return len(self._mapping)


def canonical_pattern(pattern: str, repo: str, mapping: Mapping[str, str]) -> str:
    """A target pattern written in `repo`'s MODULE.bazel, as a pattern with a canonical repo (`@@repo//...`)."""
    if pattern.startswith("@@"):
        return pattern
    if not pattern.startswith("@"):
        return f"@@{repo}" + (pattern if pattern.startswith("//") else "//" + pattern)
    rest = pattern[1:]
    slash = rest.find("//")
    if slash < 0:  # `@foo` means `@foo//:foo`
        return f"@@{mapping.get(rest, rest)}//:{rest}"
    apparent = rest[:slash]
    return f"@@{mapping.get(apparent, apparent) if apparent else ''}{rest[slash:]}"
