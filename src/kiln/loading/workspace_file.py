"""WORKSPACE / WORKSPACE.bazel: the workspace name, well-known rule sets, crates_repository and registrations.

Fetching a well-known rule set is a no-op (kiln has it built in);
crates_repository and crates_vendor are recorded like MODULE.bazel's crate
extension; every other repository rule fails with a message naming it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import starlark as sl

from kiln.core.errors import LoadingError, Location
from kiln.loading import wellknown
from kiln.loading.call_sites import CallSites
from kiln.loading.source_files import read_source
from kiln.loading.module_file import (
    CRATE_UNIVERSE_DEFS,
    ExtensionUsage,
    GLOBALS,
    HARMLESS_MODULES,
    ModuleInfo,
    Recorder,
    RepoDecl,
    Tag,
    WORKSPACE_CRATE_RULES,
    check_registered_repos,
    registrar,
    unsupported,
)
from kiln.repos import crate_tags


def _crate_helper(kind: str, tag: crate_tags.TagClass, display: str) -> Callable[..., Any]:
    """WORKSPACE's crate.spec()/crate.annotation(): the attributes as a dict, checked like the bzlmod tags."""

    def helper(**attrs: Any) -> dict[str, Any]:
        why = crate_tags.check_attrs(f"crate.{kind}()", tag, attrs)
        if why:
            raise LoadingError(why)
        return {k: v for k, v in attrs.items() if v is not None}

    return helper


_WORKSPACE_SPEC = crate_tags.TagClass(
    {k: v for k, v in crate_tags.SPEC_ATTRS.items() if k not in ("repositories", "package_alias")}
)
_WORKSPACE_ANNOTATION = crate_tags.TagClass(
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


def evaluate_workspace(path: Path, info: ModuleInfo) -> None:
    info.files.append(str(path))
    rec = Recorder()
    display = path.name
    text = read_source(path, display)
    sites = CallSites(text)

    def workspace(name: str = "", **_: Any) -> None:
        info.name = info.name or name

    def archive(name: str = "", **_: Any) -> None:
        # Fetching a well-known rule set is a no-op: kiln has it built in.
        if wellknown.canonical_repo(name) not in wellknown.WELL_KNOWN_REPOS and name not in HARMLESS_MODULES:
            raise LoadingError(f"repository '@{name}': kiln does not fetch external repositories yet")

    def noop(*args: Any, **kwargs: Any) -> None:
        return None

    def rust_register_toolchains(*args: Any, edition: Any = None, **kwargs: Any) -> None:
        if isinstance(edition, str):
            info.rust_edition = edition

    def crate_rule(rule: str) -> Callable[..., None]:
        def record(**attrs: Any) -> None:
            line, column = sites.call(rule)
            where = Location(display, line, column)
            name = attrs.get("name")
            if not isinstance(name, str) or not name:
                raise LoadingError(f"{rule}() needs a name", location=where)
            _check_workspace_crate_attrs(rule, attrs, where)
            if name in info.repos:
                raise LoadingError(f"{rule}(name = \"{name}\"): the repository name '{name}' is already in use",
                                   location=where)
            key_lines = {}
            for attr in ("packages", "annotations"):
                if isinstance(attrs.get(attr), dict):
                    key_lines.update(sites.key_lines(text, line, column, attr, list(attrs[attr])))
            tag = Tag(rule, {k: v for k, v in attrs.items() if v is not None}, line, column, display, key_lines)
            usage = ExtensionUsage(
                bzl_label=CRATE_UNIVERSE_DEFS, name=rule, repo="rules_rust", path="crate_universe/defs.bzl",
                file=display, line=line, column=column, tags=[tag], imports={name: name},
            )
            info.extensions.append(usage)
            info.repos[name] = RepoDecl(name, name, rule, usage, where)

        return record

    def select(common: Any = None, selects: Any = None) -> dict[str, Any]:
        return {"common": common, "selects": selects or {}}

    def workspace_member(version: str = "", sha256: str = "") -> dict[str, Any]:
        return {"version": version, "sha256": sha256}

    def config(**attrs: Any) -> dict[str, Any]:
        return {k: v for k, v in attrs.items() if v is not None}

    setup_functions = {
        "py_repositories", "rules_python_dependencies", "bazel_skylib_workspace", "aspect_bazel_lib_dependencies",
        "rules_rust_dependencies", "pip_install_dependencies", "rules_pkg_dependencies",
        "crate_universe_dependencies", "rust_repositories", "rust_analyzer_dependencies",
        # `load("@crate_index//:defs.bzl", "crate_repositories")`: the crates are kiln's to fetch.
        "crate_repositories",
    }

    def load_module(module_id: str) -> Any:
        mod = sl.Module()
        for fn in ("http_archive", "git_repository", "local_repository", "new_local_repository", "http_file"):
            mod.add_callable(fn, rec.guard(archive))
        for fn in setup_functions:
            mod.add_callable(fn, rec.guard(noop))
        mod.add_callable("rust_register_toolchains", rec.guard(rust_register_toolchains))
        for fn in ("python_register_toolchains", "pip_parse"):
            mod.add_callable(fn, rec.guard(unsupported(fn, display)))
        for rule in WORKSPACE_CRATE_RULES:
            mod.add_callable(rule, rec.guard(crate_rule(rule)))
        mod.add_callable("_kiln_crate_spec", rec.guard(_crate_helper("spec", _WORKSPACE_SPEC, display)))
        mod.add_callable("_kiln_crate_annotation",
                         rec.guard(_crate_helper("annotation", _WORKSPACE_ANNOTATION, display)))
        mod.add_callable("_kiln_crate_select", rec.guard(select))
        mod.add_callable("_kiln_crate_workspace_member", rec.guard(workspace_member))
        mod.add_callable("render_config", rec.guard(config))
        mod.add_callable("splicing_config", rec.guard(config))
        sl.eval(mod, sl.parse("<kiln crate_universe>", _CRATE_STRUCT), GLOBALS)
        return mod.freeze()

    def visible(repo: str) -> bool:
        return (repo == "" or repo in info.main_repo_names or repo in info.repos
                or wellknown.canonical_repo(repo) in wellknown.WELL_KNOWN_REPOS)

    m = sl.Module()
    m.add_callable("workspace", rec.guard(workspace))
    m.add_callable("register_toolchains", rec.guard(
        registrar("register_toolchains", display, sites, info.toolchains, dev=False)))
    m.add_callable("register_execution_platforms", rec.guard(
        registrar("register_execution_platforms", display, sites, info.execution_platforms, dev=False)))
    m.add_callable("bind", rec.guard(unsupported("bind", display)))
    for fn in ("local_repository", "new_local_repository"):
        m.add_callable(fn, rec.guard(archive))
    rec.run(path, display, m, sl.FileLoader(load_module), text=text)
    check_registered_repos(info, display, visible)


def _check_workspace_crate_attrs(rule: str, attrs: dict[str, Any], where: Location) -> None:
    def fail(why: str) -> None:
        raise LoadingError(f"{rule}(name = \"{attrs['name']}\"): {why}", location=where)

    packages = attrs.get("packages")
    if packages is not None:
        if not isinstance(packages, dict) or not all(isinstance(v, dict) for v in packages.values()):
            fail("'packages' must be a dict of crate names to crate.spec(...)")
    annotations = attrs.get("annotations")
    if annotations is not None:
        ok = isinstance(annotations, dict) and all(
            isinstance(v, list) and all(isinstance(a, dict) for a in v) for v in annotations.values()
        )
        if not ok:
            fail("'annotations' must be a dict of crate names to lists of crate.annotation(...)")
    manifests = attrs.get("manifests")
    if manifests is not None and not (isinstance(manifests, list) and all(isinstance(x, str) for x in manifests)):
        fail("'manifests' must be a list of labels")
    for key in ("cargo_lockfile", "lockfile"):
        if attrs.get(key) is not None and not isinstance(attrs[key], str):
            fail(f"'{key}' must be a label")
