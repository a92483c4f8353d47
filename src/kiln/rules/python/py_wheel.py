"""py_wheel and py_package (@rules_python//python:packaging.bzl): a wheel as a build output.

py_package collects its deps' files (their runfiles too), keeping those under the Python packages it names.
py_wheel writes `{distribution}-{version}-{python_tag}-{abi}-{platform}.whl` from its deps' files (paths in
the repository, less the first of strip_path_prefixes that matches) with a dist-info as pip expects it —
METADATA (2.1), WHEEL, entry_points.txt, RECORD — by a build action (kiln.tools.wheel_maker), which also
checks the wheel's tags against the extension modules inside it. `<name>.name` (output group `name_file`)
holds the wheel's file name. `version` may hold stamp variables ({BUILD_TIMESTAMP}, {BUILD_EMBED_LABEL}): with stamping
(stamp = 1, or -1 and --stamp) they take the build's values, else constants ("0", "").
"""

from __future__ import annotations

import json
import re
import sys
import time
from dataclasses import dataclass

from kiln.core.artifacts import Artifact, kiln_tool_artifact
from kiln.core.attrs import Attr, AttrType
from kiln.core.depset import Depset
from kiln.core.providers import DefaultInfo, OutputGroupInfo
from kiln.core.rule_class import RuleClass


@dataclass(frozen=True)
class PyWheelInfo:
    wheel: Artifact
    name_file: Artifact


def _py_package(ctx):
    wanted = [p.replace("/", ".") for p in ctx.attr.packages]
    files = []
    for dep in ctx.attr.deps:
        files += dep.default_info.files.to_list() + list(dep.default_info.runfiles.artifacts())
    kept = []
    for f in dict.fromkeys(files):
        dotted = f.repo_relative_path.replace("/", ".")
        if not wanted or any(dotted == p or dotted.startswith(p + ".") for p in wanted):
            kept.append(f)
    return [DefaultInfo(files=Depset(tuple(kept)))]


PY_PACKAGE = RuleClass.make("py_package", _py_package, [
    Attr("deps", AttrType.LABEL_LIST),
    Attr("packages", AttrType.STRING_LIST),
])


def _stamped(ctx, text: str) -> str:
    stamp = ctx.attr.stamp
    on = stamp == 1 or (stamp == -1 and any(v in ("true", "1", "yes") for v in ctx.config.option_values("stamp") or ()))
    values = {"BUILD_TIMESTAMP": str(int(time.time())) if on else "0",
              "BUILD_EMBED_LABEL": "", "BUILD_USER": "", "BUILD_HOST": ""}
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), text)


def _escaped(text: str) -> str:
    # PEP 427: runs of anything but letters, digits and "." become "_".
    return re.sub(r"[^\w\d.]+", "_", text, flags=re.UNICODE)


def _normalized_name(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _py_wheel(ctx):
    version = _stamped(ctx, ctx.attr.version)
    if ctx.attr.incompatible_normalize_version:
        from packaging.version import InvalidVersion, Version

        try:
            version = str(Version(version))
        except InvalidVersion:
            raise ctx.error(f"'{version}' is not a PEP 440 version", attribute="version") from None
    distribution = _stamped(ctx, ctx.attr.distribution)
    name = _normalized_name(distribution) if ctx.attr.incompatible_normalize_name else _escaped(distribution)
    filename = f"{name}-{_escaped(version)}-{ctx.attr.python_tag}-{ctx.attr.abi}-{ctx.attr.platform}.whl"
    wheel = ctx.actions.declare_file(filename)
    name_file = ctx.actions.declare_file(f"{ctx.label.name}.name")
    ctx.actions.write(name_file, filename + "\n")
    files = []
    for dep in ctx.attr.deps:
        files += dep.default_info.files.to_list()
    extra = [(f, path) for dep, path in ctx.attr.extra_distinfo_files.items() for f in dep.default_info.files.to_list()]
    data = [(f, path) for dep, path in ctx.attr.data_files.items() for f in dep.default_info.files.to_list()]
    description = ctx.files.description_file
    entry_points = {k: list(v) for k, v in ctx.attr.entry_points.items()}
    if ctx.attr.console_scripts:
        entry_points.setdefault("console_scripts", []).extend(f"{k} = {v}" for k, v in ctx.attr.console_scripts.items())
    requires_files = ctx.files.requires_file
    spec = {
        "output": wheel.exec_path,
        "distribution": distribution, "name": name, "version": version,
        "tags": [ctx.attr.python_tag, ctx.attr.abi, ctx.attr.platform],
        "files": [[f.exec_path, _archive_path(f.repo_relative_path, ctx.attr.strip_path_prefixes)]
                  for f in dict.fromkeys(files)],
        "distinfo_files": [[f.exec_path, path] for f, path in extra],
        "data_files": [[f.exec_path, path] for f, path in data],
        "metadata": {
            "summary": ctx.attr.summary, "author": ctx.attr.author, "author_email": ctx.attr.author_email,
            "maintainer": ctx.attr.maintainer, "maintainer_email": ctx.attr.maintainer_email,
            "license": ctx.attr.license, "homepage": ctx.attr.homepage, "keywords": ctx.attr.keywords,
            "project_urls": dict(ctx.attr.project_urls), "classifiers": list(ctx.attr.classifiers),
            "python_requires": ctx.attr.python_requires, "requires": list(ctx.attr.requires),
            "requires_files": [f.exec_path for f in requires_files],
            "extra_requires": {k: list(v) for k, v in ctx.attr.extra_requires.items()},
            "description_file": description[0].exec_path if description else "",
            "description_content_type": ctx.attr.description_content_type,
        },
        "entry_points": entry_points,
    }
    spec_file = ctx.actions.declare_file(f"{ctx.label.name}.wheel.json")
    ctx.actions.write(spec_file, json.dumps(spec, indent=1, sort_keys=True))
    inputs = [spec_file, kiln_tool_artifact("wheel_maker.py"), *files, *(f for f, _ in extra), *(f for f, _ in data),
              *description, *requires_files]
    ctx.actions.run(
        outputs=[wheel],
        inputs=Depset(tuple(dict.fromkeys(inputs))),
        argv=[sys.executable, "-m", "kiln.tools.wheel_maker", spec_file.exec_path],
        mnemonic="PyWheel",
        progress_message=f"Building wheel {filename} ({ctx.label})",
    )
    return [DefaultInfo(files=Depset((wheel,))), PyWheelInfo(wheel, name_file),
            OutputGroupInfo((("name_file", Depset((name_file,))),))]


def _archive_path(path: str, prefixes: list) -> str:
    for prefix in prefixes:
        prefix = prefix.strip("/")
        if prefix and (path == prefix or path.startswith(prefix + "/")):
            return path[len(prefix):].lstrip("/")
    return path


PY_WHEEL = RuleClass.make("py_wheel", _py_wheel, [
    Attr("deps", AttrType.LABEL_LIST),
    Attr("distribution", AttrType.STRING, mandatory=True),
    Attr("version", AttrType.STRING, mandatory=True),
    Attr("python_tag", AttrType.STRING, "py3"),
    Attr("abi", AttrType.STRING, "none"),
    Attr("platform", AttrType.STRING, "any"),
    Attr("stamp", AttrType.INT, -1),
    Attr("strip_path_prefixes", AttrType.STRING_LIST),
    Attr("requires", AttrType.STRING_LIST),
    Attr("requires_file", AttrType.LABEL),
    Attr("extra_requires", AttrType.STRING_LIST_DICT),
    Attr("entry_points", AttrType.STRING_LIST_DICT),
    Attr("console_scripts", AttrType.STRING_DICT),
    Attr("description_file", AttrType.LABEL),
    Attr("description_content_type", AttrType.STRING),
    Attr("summary", AttrType.STRING),
    Attr("author", AttrType.STRING),
    Attr("author_email", AttrType.STRING),
    Attr("maintainer", AttrType.STRING),
    Attr("maintainer_email", AttrType.STRING),
    Attr("license", AttrType.STRING),
    Attr("homepage", AttrType.STRING),
    Attr("keywords", AttrType.STRING),
    Attr("project_urls", AttrType.STRING_DICT),
    Attr("classifiers", AttrType.STRING_LIST),
    Attr("python_requires", AttrType.STRING),
    Attr("extra_distinfo_files", AttrType.LABEL_KEYED_STRING_DICT),
    Attr("data_files", AttrType.LABEL_KEYED_STRING_DICT),
    Attr("incompatible_normalize_name", AttrType.BOOL, True),
    Attr("incompatible_normalize_version", AttrType.BOOL, True),
])
