"""The repository rules of @bazel_tools//tools/build_defs/repo (http.bzl, local.bzl, git.bzl, utils.bzl).

What loading checks when WORKSPACE calls them or MODULE.bazel names them in
use_repo_rule: their attributes by name and kind. kiln.repos.repository_rules
fetches them.
"""

from __future__ import annotations

from typing import Any

from kiln.loading.extension_schema import (ANY, BOOL, INT, LABEL, LABEL_LIST, STRING, STRING_LIST,
                                           TagClass, WorkspaceBzl, WorkspaceRule)

# Accepted and without effect in kiln: credentials (kiln reads no .netrc) and Windows-only commands.
_IGNORED = {"netrc": ANY, "auth_patterns": ANY, "patch_cmds_win": ANY, "canonical_id": STRING}

_DOWNLOAD = {"url": STRING, "urls": STRING_LIST, "sha256": STRING, "integrity": STRING, **_IGNORED}
_PATCHES = {"patches": LABEL_LIST, "patch_args": STRING_LIST, "patch_cmds": STRING_LIST, "patch_tool": STRING,
            "patch_strip": INT}
_FILES = {"build_file": LABEL, "build_file_content": STRING, "workspace_file": LABEL,
          "workspace_file_content": STRING}

HTTP_ARCHIVE = {**_DOWNLOAD, **_PATCHES, **_FILES, "strip_prefix": STRING, "add_prefix": STRING, "type": STRING}
HTTP_FILE = {**_DOWNLOAD, "downloaded_file_path": STRING, "executable": BOOL}
GIT_REPOSITORY = {**_PATCHES, **_FILES, "remote": STRING, "commit": STRING, "tag": STRING, "branch": STRING,
                  "shallow_since": ANY, "strip_prefix": STRING, "init_submodules": BOOL,
                  "recursive_init_submodules": BOOL, "verbose": ANY}

# What kiln does not do yet, named instead of reported as unknown.
_NOT_YET = ("remote_file_urls", "remote_file_integrity", "remote_patches", "remote_patch_strip", "files",
            "remote_module_file_urls", "remote_module_file_integrity")


def _check(rule: str) -> Any:
    def check(attrs: dict[str, Any]) -> str | None:
        for key in _NOT_YET:
            if attrs.get(key):
                return f"{rule}(name = \"{attrs.get('name')}\"): kiln does not support '{key}' yet"
        if rule in ("http_archive", "http_file") and not (attrs.get("url") or attrs.get("urls")):
            return f"{rule}(name = \"{attrs.get('name')}\"): give url or urls"
        if rule in ("local_repository", "new_local_repository") and not attrs.get("path"):
            return f"{rule}(name = \"{attrs.get('name')}\"): missing mandatory attribute 'path'"
        if rule.endswith("git_repository"):
            if not attrs.get("remote"):
                return f"{rule}(name = \"{attrs.get('name')}\"): missing mandatory attribute 'remote'"
            pinned = [k for k in ("commit", "tag", "branch") if attrs.get(k)]
            if len(pinned) != 1:
                return f"{rule}(name = \"{attrs.get('name')}\"): give exactly one of commit, tag and branch"
        if attrs.get("build_file") and attrs.get("build_file_content"):
            return f"{rule}(name = \"{attrs.get('name')}\"): give build_file or build_file_content, not both"
        return None

    return check


def _rule(name: str, attrs: dict[str, str]) -> WorkspaceRule:
    known = {**attrs, **{k: ANY for k in _NOT_YET}}
    return WorkspaceRule(name, TagClass(known), _check(name))


# `maybe(repo_rule, name, ...)` declares the repository unless one of that name exists.
_UTILS = '''
def maybe(repo_rule, name, **kwargs):
    if not _kiln_repo_defined(name):
        repo_rule(name = name, **kwargs)
'''

REPOSITORY_RULE_KINDS = ("http_archive", "http_file", "local_repository", "new_local_repository",
                         "git_repository", "new_git_repository")

BAZEL_TOOLS_BZLS = (
    WorkspaceBzl("bazel_tools", "tools/build_defs/repo/http.bzl",
                 rules=(_rule("http_archive", HTTP_ARCHIVE), _rule("http_file", HTTP_FILE))),
    WorkspaceBzl("bazel_tools", "tools/build_defs/repo/local.bzl",
                 rules=(_rule("local_repository", {"path": STRING}),
                        _rule("new_local_repository", {"path": STRING, **_FILES}))),
    WorkspaceBzl("bazel_tools", "tools/build_defs/repo/git.bzl",
                 rules=(_rule("git_repository", GIT_REPOSITORY), _rule("new_git_repository", GIT_REPOSITORY))),
    WorkspaceBzl("bazel_tools", "tools/build_defs/repo/utils.bzl", starlark=_UTILS),
)
