"""What a load() in WORKSPACE, or in a .bzl file WORKSPACE loads, gives.

- a .bzl of the main repository or of a local_repository the workspace
  declared: the file, evaluated once (Bazel's .bzl dialect) with `native`
  holding WORKSPACE's builtins;
- a .bzl of a rule set kiln has built in: the symbols kiln.repos registered
  for that file (WorkspaceBzl), bound to the loading file so that their calls
  are located in it;
- a .bzl of a repository the workspace declared with a rule kiln generates
  (crates_repository's defs.bzl, pip_parse's requirements.bzl): the symbols
  registered for it (GeneratedBzl);
- anything else is an error naming the repository and where it would have to
  be declared. A symbol the file does not define is an error listing those it
  does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import starlark as sl

from kiln.core.errors import KilnError, LabelError, LoadingError, Location
from kiln.core.labels import Label, PackageId, parse_label
from kiln.loading import dialects, wellknown
from kiln.loading.call_sites import CallSites, top_level_names
from kiln.loading.module_eval import GLOBALS, HARMLESS_MODULES
from kiln.loading.module_info import RepoDecl
from kiln.loading.source_files import read_source
from kiln.loading.starlark_lib import BZL_PRELUDE_TEMPLATE, CAPTURE_JSON_BZL, json_indent

if TYPE_CHECKING:
    from kiln.loading.workspace_file import WorkspaceReader

_NATIVE = ("register_toolchains", "register_execution_platforms", "local_repository", "new_local_repository",
           "existing_rule", "existing_rules", "bind")
_PRELUDE = BZL_PRELUDE_TEMPLATE.format(native_fields=", ".join(f"{n} = _kiln_native_{n}" for n in _NATIVE))
_NO_SYMBOL = re.compile(r"^Module has no symbol `(\w+)`")


@dataclass
class SourceFile:
    """A file being evaluated: WORKSPACE or a .bzl it loads, directly or not."""

    display: str   # as messages name it: `WORKSPACE`, `third_party/deps.bzl`, `@my_rules//deps.bzl`
    text: str
    repo: str      # the repository it belongs to ("" for the main one)
    package: str   # its package, against which its relative loads resolve
    sites: CallSites

    def at(self, fn: str) -> Location:
        line, column = self.sites.call(fn)
        return Location(self.display, line, column)


class BzlLoads:
    """The modules load() gives the files of one WORKSPACE evaluation."""

    def __init__(self, reader: WorkspaceReader):
        self.reader = reader
        # The main repository's and local repositories' .bzl files, evaluated once, by label.
        self._evaluated: dict[Label, Any] = {}
        self._evaluating: list[Label] = []
        # What each loaded label defines, for messages.
        self._defines: dict[str, tuple[str, tuple[str, ...]]] = {}

    def load(self, f: SourceFile, module_id: str) -> Any:
        info = self.reader.info
        mapping = {n: "" for n in info.main_repo_names}
        try:
            label = parse_label(module_id, base=PackageId(f.repo, f.package), repo_mapping=mapping)
        except LabelError as e:
            raise LoadingError(f"load(): {e.message}") from None
        if not label.name.endswith(".bzl"):
            raise LoadingError(f"the label '{module_id}' must name a .bzl file")
        repo = wellknown.canonical_repo(label.repo)
        if label.repo == "":
            return self._user_bzl(label, self.reader.root, label.relative_path())
        if repo in wellknown.WELL_KNOWN_REPOS or repo in HARMLESS_MODULES:
            return self._kiln_bzl(f, repo, label, module_id)
        decl = info.repos.get(label.repo)
        if decl is None:
            raise LoadingError(
                f"cannot load '{module_id}': no repository '@{label.repo}' is declared: declare it in WORKSPACE "
                f"before this load (http_archive(name = \"{label.repo}\", ...) or local_repository), or with "
                f"bazel_dep(name = \"{label.repo}\", ...) in MODULE.bazel")
        if decl.kind in ("local_repository", "new_local_repository"):
            path = str(decl.usage.tags[0].attrs["path"])
            return self._user_bzl(label, self.reader.root / path, f"@{label.repo}//{label.relative_path()}")
        generated = self.reader.definitions.generated_bzl(decl.kind, label.relative_path())
        if generated is None:
            fetched = self._fetch(decl)
            if fetched is None:
                raise LoadingError(
                    f"cannot load '{module_id}': kiln reads .bzl files of the {decl.kind} '@{label.repo}' (declared "
                    f"at {decl.location}) only once it is fetched, after WORKSPACE; declare it with "
                    "local_repository to load its files from WORKSPACE")
            return self._user_bzl(label, fetched, f"@{label.repo}//{label.relative_path()}")
        constants = generated.constants(label.repo, dict(decl.usage.tags[0].attrs)) if generated.constants else {}
        module = sl.Module()
        for name in generated.setup_functions:
            module.add_callable(name, _nothing)
        for name, value in constants.items():
            module[name] = value
        self._defines[str(label)] = (module_id, tuple(sorted([*generated.setup_functions, *constants])))
        return module.freeze()

    def _fetch(self, decl: RepoDecl) -> Path | None:
        """The directory of a repository a repository rule declared, fetched now (Bazel fetches what a WORKSPACE
        load() names while reading it); None without a resolver or for another kind of declaration."""
        reader = self.reader
        rules = {rule.name for bzl in reader.definitions.workspace_bzls for rule in bzl.rules}
        if reader.repositories is None or decl.kind not in rules:
            return None
        resolved = reader.repositories(decl.name, reader.info)
        if resolved is None:
            return None
        reader.info.files.extend(resolved.files)
        return resolved.directory

    # ---- kiln's symbols for a rule set's .bzl ------------------------------------------------------

    def _kiln_bzl(self, f: SourceFile, repo: str, label: Label, module_id: str) -> Any:
        reader = self.reader
        bzl = reader.definitions.workspace_bzl(repo, label.relative_path())
        # What the file gives BUILD files: a .bzl WORKSPACE loads may also hold macros for BUILD files.
        build_symbols = wellknown.module_symbols(repo, label.relative_path()) or ()
        if bzl is None and not build_symbols:
            files = sorted(f"//{b.path.rpartition('/')[0]}:{b.path.rpartition('/')[2]}"
                           for b in reader.definitions.workspace_bzls if b.repo == repo)
            raise LoadingError(
                f"kiln does not provide '{module_id}' for WORKSPACE files ({self._rule_set(repo)}): "
                + (f"of @{repo} it provides {', '.join(files)}" if files else f"it provides no file of @{repo}"))
        symbols = sorted({*(bzl.symbols if bzl is not None else ()), *build_symbols})
        missing = sorted(set(_requested(f, module_id)) - set(symbols))
        if missing:
            raise LoadingError(
                f"kiln does not know {', '.join(repr(m) for m in missing)} of '{module_id}' "
                f"({self._rule_set(repo)}); that file defines: {', '.join(symbols) or 'nothing'}")
        module = sl.Module()
        rec = reader.rec
        for name in build_symbols:
            module.add_callable(name, rec.guard(_for_build_files(f"'{name}' from {module_id}")))
        if bzl is None:
            return module.freeze()
        for rule in bzl.rules:
            module.add_callable(rule.name, rec.guard(reader.repository_rule(f, bzl, rule)))
        for name, fn in bzl.functions.items():
            module.add_callable(name, rec.guard(fn))
        for name in bzl.setup_functions:
            module.add_callable(name, _nothing)
        for name, fn in bzl.macros.items():
            module.add_callable(name, rec.guard(reader.macro(f, bzl, name, fn)))
        module.add_callable("_kiln_repo_defined", reader.maybe(f))
        if bzl.starlark:
            sl.eval(module, sl.parse(f"<kiln {bzl.label}>", bzl.starlark), GLOBALS)
        return module.freeze()

    def _rule_set(self, repo: str) -> str:
        archive = self.reader.rule_sets.get(repo)
        if archive is None:
            return f"{repo}, not declared in WORKSPACE"
        return archive.describe(repo)

    # ---- the workspace's own .bzl files -------------------------------------------------------------

    def _user_bzl(self, label: Label, root: Any, display: str) -> Any:
        found = self._evaluated.get(label)
        if found is not None:
            return found
        if label in self._evaluating:
            cycle = " -> ".join(str(x) for x in [*self._evaluating[self._evaluating.index(label):], label])
            raise LoadingError(f"cycle in the load() graph: {cycle}")
        path = root / label.relative_path()
        if not path.is_file():
            raise LoadingError(f"cannot load '{label}': file '{display}' does not exist")
        reader = self.reader
        reader.info.files.append(str(path))
        text = read_source(path, display)
        f = SourceFile(display, text, label.repo, label.package, CallSites(text, native=True))
        module = sl.Module()
        for name, fn in reader.native(f).items():
            module.add_callable(f"_kiln_native_{name}", fn)
        module.add_callable("Label", lambda text: text)
        # Globals of every .bzl that only BUILD files' macros may call: a file shared by both must compile.
        for name in ("select", "depset"):
            module.add_callable(name, reader.rec.guard(_for_build_files(name)))
        module.add_callable("_kiln_unsupported_rule", reader.rec.guard(_refuse("rules written with rule() in "
                                                                              "WORKSPACE .bzl files")))
        module.add_callable("_kiln_unsupported_repository_rule", reader.rec.guard(_refuse(
            "repository rules written with repository_rule()")))
        # Bazel's json (indent, encode_indent) as BUILD files and .bzl files have it (kiln.loading.starlark_lib).
        module.add_callable("_kiln_json_indent", reader.rec.guard(json_indent))
        sl.eval(module, sl.parse("<kiln json>", CAPTURE_JSON_BZL), GLOBALS)
        sl.eval(module, sl.parse("<kiln prelude>", _PRELUDE), GLOBALS)
        self._defines[str(label)] = (display, tuple(n for n in top_level_names(text) if not n.startswith("_")))
        self._evaluating.append(label)
        try:
            ok = reader.evaluate(f, module, dialects.parse_bzl)
        finally:
            self._evaluating.pop()
        if not ok:
            # Its error is recorded; the loading file stops at this load, which is reported as its consequence.
            error = reader.rec.errors.pop()
            raise error
        frozen = module.freeze()
        self._evaluated[label] = frozen
        return frozen

    def explain(self, err: KilnError, f: SourceFile) -> None:
        """Starlark's "Module has no symbol" in the terms of the file loaded: what it does define."""
        m = _NO_SYMBOL.match(err.message)
        if m is None or err.location is None:
            return
        lines = f.text.splitlines()
        line = lines[err.location.line - 1] if 0 < err.location.line <= len(lines) else ""
        load = re.search(r"load\(\s*[\"']([^\"']+)[\"']", line)
        if load is None:
            return
        module_id = load.group(1)
        try:
            label = parse_label(module_id, base=PackageId(f.repo, f.package),
                                repo_mapping={n: "" for n in self.reader.info.main_repo_names})
        except LabelError:
            return
        shown, names = self._defines.get(str(label), (module_id, ()))
        err.message = (f"{shown} does not define '{m.group(1)}'; it defines: "
                       f"{', '.join(names) if names else 'nothing a load() may name'}")


def _requested(f: SourceFile, module_id: str) -> list[str]:
    """The symbols the loads of `module_id` in `f` ask for."""
    names: list[str] = []
    for m in re.finditer(rf"load\(\s*[\"']{re.escape(module_id)}[\"']((?:\s*,\s*(?:\w+\s*=\s*)?[\"']\w+[\"'])*)",
                         f.text):
        names += re.findall(r"[\"'](\w+)[\"']", m.group(1))
    return names


def _nothing(*args: Any, **kwargs: Any) -> None:
    """A rule set's setup macro: kiln has the rule set built in and registers its toolchains itself."""
    return None


def _for_build_files(what: str) -> Any:
    def fail(*args: Any, **kwargs: Any) -> None:
        raise LoadingError(f"{what} is for BUILD files: it cannot be called while WORKSPACE is read")

    return fail


def _refuse(what: str) -> Any:
    def fail(*args: Any, **kwargs: Any) -> None:
        raise LoadingError(f"kiln does not support {what} yet")

    return fail
