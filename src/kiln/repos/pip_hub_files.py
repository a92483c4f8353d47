"""The text of a pip hub repository (`@pip`), as rules_python lays it out.

- `<package>/BUILD.bazel` for each package the locks pin: `:<package>` and `:pkg` (the py_library), `:whl`,
  `:data` and `:dist_info`, each an alias of the wheel repository of the target's Python version (a select
  on @rules_python//python/config_settings:python_version; the default version's when no version is set).
  A member of a requirement cycle has `:pkg` point at the cycle's group library instead.
- `_groups/BUILD.bazel`: one py_library per requirement cycle, depending on every member.
- `requirements.bzl`: requirement(), whl_requirement(), data_requirement(), dist_info_requirement(),
  all_requirements, all_whl_requirements, all_data_requirements, and install_deps() (WORKSPACE's: kiln has
  already declared the wheel repositories). A name the locks do not pin fails, naming the locks and the
  closest names they pin.
"""

from __future__ import annotations

import json
from typing import Any

_FLAG = "@rules_python//python/config_settings:python_version"
_HEADER = "# Written by kiln: the pip hub @{hub}, as rules_python's. Do not edit.\n"
_PUBLIC = 'package(default_visibility = ["//visibility:public"])\n'
_TARGETS = ("pkg", "whl", "data", "dist_info")


def hub_files(hub: str, versions: dict[str, str], default: str, flag_values: dict[str, list[str]],
              packages: list[str], groups: dict[str, list[str]], locks: list[str]) -> dict[str, str]:
    """Relative path -> text. `versions`: Python version as the parse gave it -> its wheel repositories'
    prefix; `default`: the version used when the target sets none; `flag_values`: version -> the
    python_version flag values that select it."""
    from kiln.repos.wheel_repo import hub_package

    header = _HEADER.format(hub=hub)
    root = [header, _PUBLIC, 'exports_files(["requirements.bzl"])\n']
    for version, values in flag_values.items():
        names = []
        for i, value in enumerate(values):
            names.append(f":_{_safe(version)}_{i}")
            root.append(f'config_setting(\n    name = "{names[-1][1:]}",\n    flag_values = {{"{_FLAG}": "{value}"}},\n'
                        '    visibility = ["//visibility:private"],\n)\n')
        root.append(f'config_setting_group(\n    name = "is_python_{_safe(version)}",\n    match_any = {json.dumps(names)},\n)\n')
    files = {"BUILD.bazel": "\n".join(root)}
    group_of = {member: group for group, members in groups.items() for member in members}
    for package in packages:
        name = hub_package(package)
        out = [header, _PUBLIC]
        out.append(f'alias(name = "{name}", actual = ":pkg")\n')
        for target in _TARGETS:
            if target == "pkg" and package in group_of:
                actual = f'"//_groups:{group_of[package]}"'
            else:
                actual = _choose(versions, default, flag_values, lambda prefix: f"@{prefix}_{name}//:{target}")
            out.append(f'alias(name = "{target}", actual = {actual})\n')
        files[f"{name}/BUILD.bazel"] = "\n".join(out)
    if groups:
        out = [header, 'load("@rules_python//python:defs.bzl", "py_library")\n', _PUBLIC]
        for group, members in sorted(groups.items()):
            deps = ", ".join(_choose(versions, default, flag_values,
                                     lambda prefix, m=m: f"@{prefix}_{hub_package(m)}//:pkg") for m in members)
            out.append(f'py_library(\n    name = "{group}",\n    deps = [{deps}],\n)\n')
        files["_groups/BUILD.bazel"] = "\n".join(out)
    files["requirements.bzl"] = header + _REQUIREMENTS.format(
        hub=hub, packages=json.dumps([hub_package(p) for p in packages]), locks=json.dumps(", ".join(locks)))
    return files


def _choose(versions: dict[str, str], default: str, flag_values: dict[str, Any], label) -> str:
    """A label string, or a select() over the versions when the hub has several."""
    if len(versions) == 1:
        return json.dumps(label(next(iter(versions.values()))))
    arms = [f'"//:is_python_{_safe(v)}": "{label(p)}"' for v, p in versions.items() if v in flag_values]
    arms.append(f'"//conditions:default": "{label(versions[default])}"')
    return "select({" + ", ".join(arms) + "})"


def _safe(version: str) -> str:
    return version.replace(".", "_") or "default"


_REQUIREMENTS = '''
_PACKAGES = {packages}
_LOCKS = {locks}

def _name(name):
    # As rules_python: PEP 503's normalisation, with "_" for the runs of "-", "_" and ".".
    name = name.lower().replace("-", "_").replace(".", "_")
    for _ in range(8):
        name = name.replace("__", "_")
    return name

def _bigrams(text):
    return [text[i:i + 2] for i in range(len(text) - 1)]

def _closest(name):
    mine = _bigrams(name)
    scored = []
    for other in _PACKAGES:
        theirs = _bigrams(other)
        if not mine or not theirs:
            continue
        common = len([b for b in mine if b in theirs])
        score = 2 * common * 100 // (len(mine) + len(theirs))
        if score >= 50:
            scored.append((-score, other))
    return [other for _, other in sorted(scored)[:3]]

def _label(name, target):
    package = _name(name)
    if package not in _PACKAGES:
        close = _closest(package)
        fail("requirement(\\"%s\\"): the lock %s does not pin '%s' for @{hub}%s" % (
            name, _LOCKS, package, "; did you mean %s?" % ", ".join(["'%s'" % c for c in close]) if close else ""))
    return "@{hub}//%s%s" % (package, target)

def requirement(name):
    return _label(name, "")

def whl_requirement(name):
    return _label(name, ":whl")

def data_requirement(name):
    return _label(name, ":data")

def dist_info_requirement(name):
    return _label(name, ":dist_info")

all_requirements = ["@{hub}//%s" % p for p in _PACKAGES]

all_whl_requirements = ["@{hub}//%s:whl" % p for p in _PACKAGES]

all_data_requirements = ["@{hub}//%s:data" % p for p in _PACKAGES]

all_whl_requirements_by_package = {{p: "@{hub}//%s:whl" % p for p in _PACKAGES}}

def install_deps(**kwargs):
    # WORKSPACE's: pip_parse has already declared every wheel repository.
    pass
'''
