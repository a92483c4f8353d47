"""Resolving target patterns (`//pkg/...`, `:all`, `-//x`) to targets."""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

from kiln.core.errors import KilnError, LoadingError
from kiln.core.labels import PackageId
from kiln.core.patterns import PatternKind, TargetPattern, parse_pattern
from kiln.loading.collector import collector_paused
from kiln.loading.loader import Loader, NoSuchPackage
from kiln.loading.package import RuleTarget
from kiln.loading.workspace import BUILD_FILE_NAMES

# Directories never searched by `...`: kiln's own links, VCS metadata.
_SKIP_DIRS = {".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv"}


def packages_under(root: str, directory: str, ignored: set[str], walked: set[str] | None = None) -> list[str]:
    base = os.path.join(root, directory) if directory else root
    found = []
    for dirpath, dirnames, filenames in os.walk(base):
        if walked is not None:
            walked.add(dirpath)
        rel = os.path.relpath(dirpath, root)
        rel = "" if rel == "." else rel.replace(os.sep, "/")
        dirnames[:] = sorted(
            d for d in dirnames
            if d not in _SKIP_DIRS
            and not d.startswith("kiln-")
            and not os.path.islink(os.path.join(dirpath, d))
            and (f"{rel}/{d}" if rel else d) not in ignored
        )
        if any(f in filenames for f in BUILD_FILE_NAMES):
            found.append(rel)
    return found


def read_ignore_file(root: str) -> set[str]:
    """Directories listed in .bazelignore (one per line) are not searched."""
    try:
        with open(os.path.join(root, ".bazelignore")) as f:
            return {l.strip().strip("/") for l in f if l.strip() and not l.startswith("#")}
    except FileNotFoundError:
        return set()


class PatternResolver:
    def __init__(self, loader: Loader, offset: str = "", *, keep_going: bool = False, skip_manual: bool = True):
        self.loader = loader
        self.skip_manual = skip_manual
        self.offset = offset
        self.keep_going = keep_going
        self.errors: list[KilnError] = []
        self._ignored = read_ignore_file(str(loader.workspace.root))

    def parse(self, text: str) -> TargetPattern:
        pattern = parse_pattern(text, offset=self.offset)
        # `@<module name>//...` is the main repository; `@@name` is already canonical.
        canonical = text.lstrip("-").startswith("@@")
        if pattern.repo and not canonical and pattern.repo in self.loader.repo_mapping:
            repo = self.loader.repo_mapping[pattern.repo]
            label = pattern.label
            if label is not None:
                label = type(label)(repo, label.package, label.name)
            pattern = replace(pattern, repo=repo, label=label)
        return pattern

    def resolve(self, texts: list[str]) -> list[Any]:
        """Targets matched by the positive patterns minus the negative ones, in first-seen order."""
        with collector_paused():
            return self._resolve(texts)

    def _resolve(self, texts: list[str]) -> list[Any]:
        result: dict[Any, Any] = {}
        for text in texts:
            pattern = self.parse(text)
            targets = self.targets_of(pattern)
            if pattern.negative:
                for t in targets:
                    result.pop(t.label, None)
            else:
                for t in targets:
                    result.setdefault(t.label, t)
        return list(result.values())

    def targets_of(self, pattern: TargetPattern) -> list[Any]:
        if pattern.kind is PatternKind.SINGLE:
            assert pattern.label is not None
            try:
                return [self.loader.get_target(pattern.label)]
            except NoSuchPackage as e:
                return self._fail(pattern, e)
            except KilnError as e:
                return self._fail(pattern, e)
        if pattern.kind in (PatternKind.RULES_IN_PACKAGE, PatternKind.TARGETS_IN_PACKAGE):
            try:
                pkg = self.loader.load_package(PackageId(pattern.repo, pattern.package))
            except KilnError as e:
                return self._fail(pattern, e)
            return self._pick(pkg.targets.values(), pattern.kind is PatternKind.RULES_IN_PACKAGE)
        if pattern.repo:
            return self._fail(pattern, LoadingError(f"'...' patterns over repository '@{pattern.repo}' are not supported"))
        packages = packages_under(str(self.loader.workspace.root), pattern.package, self._ignored,
                                  self.loader.dirs_read)
        if not packages:
            return self._fail(pattern, LoadingError(f"no targets found beneath '{pattern.package or '//'}'"))
        out: list[Any] = []
        for p in packages:
            try:
                pkg = self.loader.load_package(PackageId("", p))
            except KilnError as e:
                self._fail(pattern, e)
                continue
            out.extend(self._pick(pkg.targets.values(), pattern.kind is PatternKind.RECURSIVE_RULES))
        return out

    def _pick(self, targets: Any, rules_only: bool) -> list[Any]:
        out = []
        for t in targets:
            if rules_only and not isinstance(t, RuleTarget):
                continue
            # Wildcards skip targets tagged "manual" when building, as Bazel's do (query keeps them).
            if self.skip_manual and "manual" in t.tags:
                continue
            out.append(t)
        return out

    def _fail(self, pattern: TargetPattern, err: KilnError) -> list[Any]:
        if not self.keep_going:
            raise err
        self.errors.append(err)
        return []
