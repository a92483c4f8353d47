"""local_runtime_repo and local_runtime_toolchains_repo (@rules_python//python/local_toolchains:repos.bzl).

local_runtime_repo names an interpreter on this machine (an absolute path or a
program on PATH); its repository is written from the interpreter's own
account of itself (kiln.repos.runtime_probe, run once and remembered until the
interpreter's files change): a py_runtime, a py_runtime_pair and the targets
rules_python's local runtime repository offers (`python_runtimes`,
`py3_runtime`, `os`, `is_matching_python_version`).
local_runtime_toolchains_repo writes a toolchain() per runtime. A runtime
that cannot be used is skipped (on_failure = "skip"), skipped with a warning
("warn"), or an error at the rule's line ("fail") once toolchain resolution
picks it: the toolchains repository asks each runtime whether it can be used
(a remembered probe) but never fails for it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from kiln.loading.extension_schema import ANY, STRING, STRING_LIST, TagClass, WorkspaceBzl, WorkspaceRule
from kiln.loading.module_info import ModuleInfo, RepoDecl
from kiln.loading.repository_resolver import ResolvedRepository
from kiln.repos.repository_rules import RepositoryError

_ON_FAILURE = ("skip", "warn", "fail")
_DICT_ATTRS = ("target_compatible_with", "target_settings", "exec_compatible_with")
# Bumped when what a probe records changes: every runtime is probed again.
_PROBE_VERSION = "2"
_VERSION_FLAG = "@rules_python//python/config_settings:python_version"
_TOOLCHAIN_TYPE = "@rules_python//python:toolchain_type"
_CC_TOOLCHAIN_TYPE = "@rules_python//python/cc:toolchain_type"


def _check_runtime(attrs: dict[str, Any]) -> str | None:
    what = f"local_runtime_repo(name = \"{attrs.get('name')}\")"
    if not attrs.get("interpreter_path"):
        return f"{what}: missing mandatory attribute 'interpreter_path'"
    if attrs.get("on_failure", "skip") not in _ON_FAILURE:
        return f"{what}: on_failure must be one of {', '.join(_ON_FAILURE)}, got {attrs['on_failure']!r}"
    return None


def _check_toolchains(attrs: dict[str, Any]) -> str | None:
    what = f"local_runtime_toolchains_repo(name = \"{attrs.get('name')}\")"
    named = set(attrs.get("runtimes") or ()) | set(attrs.get("default_runtimes") or ())
    for attr in _DICT_ATTRS:
        value = attrs.get(attr) or {}
        if not (isinstance(value, dict) and all(isinstance(v, list) and all(isinstance(s, str) for s in v)
                                                for v in value.values())):
            return f"{what}: {attr} must be a dict of runtime names to lists of labels"
        for key in value:
            if key not in named:
                return f"{what}: {attr} names '{key}', which is in neither runtimes nor default_runtimes"
    return None


LOCAL_TOOLCHAINS_BZL = WorkspaceBzl("rules_python", "python/local_toolchains/repos.bzl", rules=(
    WorkspaceRule("local_runtime_repo", TagClass({"interpreter_path": STRING, "on_failure": STRING,
                                                  "dev_dependency": ANY}), _check_runtime),
    WorkspaceRule("local_runtime_toolchains_repo", TagClass({
        "runtimes": STRING_LIST, "default_runtimes": STRING_LIST, "dev_dependency": ANY,
        **{attr: ANY for attr in _DICT_ATTRS}}), _check_toolchains),
))

LOCAL_RUNTIME_KINDS = ("local_runtime_repo", "local_runtime_toolchains_repo")


@dataclass(frozen=True)
class ProbedRuntime:
    """What local_runtime_repo found: the probe's record, or why there is none."""

    interpreter: str  # the absolute path the runtime is run by ("" when none was found)
    record: dict[str, Any] | None
    why: str  # why the interpreter cannot be used; "" when it can
    files: tuple[str, ...]  # whose change means probing again


class LocalRuntimes:
    """The repositories of both rules, under the output base's external/."""

    def __init__(self, external_dir: Path, report: Callable[[str, str], None]):
        self._external_dir = external_dir
        self._report = report
        self._probed: dict[str, ProbedRuntime] = {}

    def __call__(self, name: str, decl: RepoDecl, module: ModuleInfo) -> ResolvedRepository:
        if decl.kind == "local_runtime_repo":
            return self._runtime_repo(name, decl)
        return self._toolchains_repo(name, decl, module)

    def _runtime_repo(self, name: str, decl: RepoDecl) -> ResolvedRepository:
        attrs = _attrs(decl)
        found = self._probe(name, decl)
        if found.why and attrs.get("on_failure", "skip") == "fail":
            # The rule's place is in the text: errors met while resolving toolchains carry the location of
            # the register_toolchains() call instead.
            raise RepositoryError(f"local_runtime_repo(name = \"{name}\") at {decl.location}: interpreter_path "
                                  f"'{attrs['interpreter_path']}' {found.why}")
        header = f"# Written by kiln: local_runtime_repo(name = \"{name}\") at {decl.location}.\n"
        text = header + 'package(default_visibility = ["//visibility:public"])\n\n' + (
            _unusable_targets(found.why) if found.why else _runtime_targets(found) + _cc_targets(found))
        directory = _write_build(self._external_dir / name, text)
        if not found.why:
            _link_headers(directory, (found.record or {}).get("include_dir", ""))
        return ResolvedRepository(directory, found.files)

    def _toolchains_repo(self, name: str, decl: RepoDecl, module: ModuleInfo) -> ResolvedRepository:
        attrs = _attrs(decl)
        host = _host_constraints()
        lines = [f"# Written by kiln: local_runtime_toolchains_repo(name = \"{name}\") at {decl.location}.\n",
                 'package(default_visibility = ["//visibility:public"])\n']
        files: list[str] = []
        version_aware = list(attrs.get("runtimes") or ())
        unaware = list(attrs.get("default_runtimes") or version_aware)
        order = [(r, True) for r in version_aware] + [(r, False) for r in unaware]
        for index, (runtime, versioned) in enumerate(order):
            runtime_decl = module.repos.get(runtime)
            if runtime_decl is None or runtime_decl.kind != "local_runtime_repo":
                raise RepositoryError(f"local_runtime_toolchains_repo(name = \"{name}\") at {decl.location}: "
                                      f"'{runtime}' is not a local_runtime_repo of this workspace")
            probed = self._probe(runtime, runtime_decl)
            files.extend(probed.files)
            # A runtime that cannot be used and may be skipped gets no toolchain; one that must not be
            # skipped keeps its toolchain, whose repository reports the failure if resolution picks it.
            if probed.why and _attrs(runtime_decl).get("on_failure", "skip") != "fail":
                continue
            # Given settings and constraints replace the defaults, which name targets of the runtime's own
            # repository: so a toolchain whose settings do not match never needs that repository (seed 002).
            settings = (attrs.get("target_settings") or {}).get(
                runtime, [f"@{runtime}//:is_matching_python_version"] if versioned else [])
            target = _expand_host((attrs.get("target_compatible_with") or {}).get(runtime, [f"@{runtime}//:os"]),
                                  host)
            exec_with = _expand_host((attrs.get("exec_compatible_with") or {}).get(runtime, []), host)
            # The runtime, and its C headers for building against it (py_cc_toolchain), under the same conditions.
            for suffix, implementation, toolchain_type in (("", "python_runtimes", _TOOLCHAIN_TYPE),
                                                           ("_cc", "py_cc_toolchain", _CC_TOOLCHAIN_TYPE)):
                lines.append(
                    f"toolchain(\n    name = \"{index}_{runtime}{'' if versioned else '_default'}{suffix}\",\n"
                    f"    toolchain = \"@{runtime}//:{implementation}\",\n"
                    f"    toolchain_type = \"{toolchain_type}\",\n"
                    f"    target_compatible_with = {json.dumps(target)},\n"
                    f"    target_settings = {json.dumps(settings)},\n"
                    f"    exec_compatible_with = {json.dumps(exec_with)},\n)\n")
        text = "\n".join(lines)
        return ResolvedRepository(_write_build(self._external_dir / name, text), tuple(dict.fromkeys(files)))

    # ---- probing ------------------------------------------------------------

    def _probe(self, name: str, decl: RepoDecl) -> ProbedRuntime:
        """The runtime's record, probed once per interpreter (remembered in external/@name.local_runtime.json)."""
        found = self._probed.get(name)
        if found is None:
            found = self._probe_uncached(name, decl)
            self._probed[name] = found
            attrs = _attrs(decl)
            if found.why and attrs.get("on_failure", "skip") == "warn":
                self._report("WARNING", f"local_runtime_repo(name = \"{name}\") at {decl.location}: interpreter_path "
                                        f"'{attrs['interpreter_path']}' {found.why}; its toolchains are skipped")
        return found

    def _probe_uncached(self, name: str, decl: RepoDecl) -> ProbedRuntime:
        given = _attrs(decl)["interpreter_path"]
        path, why = _locate(given)
        if path is None:
            # A path watched while absent: installing the interpreter there later writes the repository again.
            return ProbedRuntime("", None, why, (given,) if os.path.isabs(given) else ())
        memo = self._external_dir / f"@{name}.local_runtime.json"
        key = hashlib.sha256(json.dumps([_PROBE_VERSION, given, path]).encode()).hexdigest()
        try:
            saved = json.loads(memo.read_text())
        except (OSError, ValueError):
            saved = {}
        if saved.get("key") == key and saved.get("stamps") == _stamps(saved.get("files", ())):
            return ProbedRuntime(saved["interpreter"], saved["record"], saved["why"], tuple(saved["files"]))
        found = run_probe(path)
        self._external_dir.mkdir(parents=True, exist_ok=True)
        tmp = memo.with_name(memo.name + ".tmp")
        tmp.write_text(json.dumps({"key": key, "interpreter": found.interpreter, "record": found.record,
                                   "why": found.why, "files": found.files, "stamps": _stamps(found.files)}))
        tmp.replace(memo)
        return found


def _attrs(decl: RepoDecl) -> dict[str, Any]:
    (tag,) = decl.usage.tags
    return tag.attrs


def _locate(given: str) -> tuple[str | None, str]:
    """The interpreter's absolute path, or why there is none."""
    if os.path.isabs(given):
        if not os.path.exists(given):
            return None, "does not exist"
        if not os.path.isfile(given) or not os.access(given, os.X_OK):
            return None, "is not an executable file"
        return given, ""
    if os.sep in given:
        return None, "must be an absolute path or the name of a program on PATH"
    found = shutil.which(given)
    return (found, "") if found else (None, "is not a program on PATH")


def run_probe(path: str) -> ProbedRuntime:
    """The record the interpreter at `path` gives of itself, or why it gives none."""
    from kiln.repos import runtime_probe

    watched = [path, os.path.realpath(path)]
    try:
        # -I: neither the user's site-packages nor PYTHON* variables change what the runtime is; -B: -I drops
        # PYTHONDONTWRITEBYTECODE too, and the probe must not write bytecode into the runtime it describes.
        done = subprocess.run([path, "-I", "-B", runtime_probe.__file__], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return ProbedRuntime(path, None, f"could not be run to read its version and ABI ({e})",
                             tuple(dict.fromkeys(watched)))
    record = None
    if done.returncode == 0:
        try:
            record = json.loads(done.stdout)
        except ValueError:
            record = None
    if not isinstance(record, dict):
        detail = (done.stderr.strip().splitlines() or done.stdout.strip().splitlines() or ["no output"])[-1]
        return ProbedRuntime(path, None, f"did not report its version and ABI (exit {done.returncode}: {detail})",
                             tuple(dict.fromkeys(watched)))
    # A pyenv shim or a wrapper script execs the real interpreter, which names itself: run that one.
    real = record.get("executable") or ""
    interpreter = real if os.path.isabs(real) and os.path.isfile(real) else path
    watched.append(os.path.realpath(interpreter))
    return ProbedRuntime(interpreter, record, "", tuple(dict.fromkeys(watched)))


def _stamps(files: Any) -> list[list[int]]:
    out = []
    for f in files:
        try:
            st = os.stat(f)
            out.append([st.st_ino, st.st_size, st.st_mtime_ns])
        except OSError:
            out.append([])
    return out


def _runtime_targets(found: ProbedRuntime) -> str:
    from kiln.repos.local_runtime import runtime_targets

    record = found.record or {}
    major, minor, micro = record["version"]
    system, _ = _host_os_and_cpu()
    return (runtime_targets(record, found.interpreter, "py3_runtime", "python_runtimes") + "\n"
            f'alias(name = "os", actual = "@platforms//os:{system}")\n\n'
            f'config_setting(name = "_is_major_minor", flag_values = {{"{_VERSION_FLAG}": "{major}.{minor}"}})\n\n'
            f'config_setting(name = "_is_major_minor_micro", '
            f'flag_values = {{"{_VERSION_FLAG}": "{major}.{minor}.{micro}"}})\n\n'
            'config_setting_group(name = "is_matching_python_version", '
            'match_any = [":_is_major_minor", ":_is_major_minor_micro"])\n')


def _cc_targets(found: ProbedRuntime) -> str:
    """The runtime's C headers (its include directory, linked into the repository as include/) as a
    py_cc_toolchain."""
    record = found.record or {}
    major, minor, _ = record["version"]
    return ('\nfilegroup(name = "headers", srcs = glob(["include/**"], allow_empty = True))\n\n'
            f'py_cc_toolchain(name = "py_cc_toolchain", headers = ":headers", python_version = "{major}.{minor}")\n')


def _link_headers(directory: Path, include_dir: str) -> None:
    link = directory / "include"
    if os.path.islink(link) and os.readlink(link) == include_dir:
        return
    if os.path.lexists(link):
        os.unlink(link)
    if include_dir and os.path.isdir(include_dir):
        os.symlink(include_dir, link)


def _unusable_targets(why: str) -> str:
    """A runtime repository without a runtime: what toolchains name exists but matches nothing."""
    return (f"# No runtime: the interpreter {why}.\n"
            'py_runtime_pair(name = "python_runtimes")\n\n'
            'py_cc_toolchain(name = "py_cc_toolchain", headers = "@rules_python//python:none")\n\n'
            'alias(name = "os", actual = "@platforms//:incompatible")\n\n'
            'config_setting(name = "is_matching_python_version", constraint_values = ["@platforms//:incompatible"])\n')


def _host_os_and_cpu() -> tuple[str, str]:
    uname = os.uname()
    system = {"linux": "linux", "darwin": "osx", "freebsd": "freebsd"}.get(uname.sysname.lower(), "linux")
    machine = uname.machine.lower()
    return system, {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)


def _host_constraints() -> list[str]:
    system, cpu = _host_os_and_cpu()
    return [f"@platforms//os:{system}", f"@platforms//cpu:{cpu}"]


def _expand_host(labels: list[str], host: list[str]) -> list[str]:
    """"HOST_CONSTRAINTS" in a list stands for the host's OS and CPU constraints."""
    out: list[str] = []
    for label in labels:
        out.extend(host if label == "HOST_CONSTRAINTS" else [label])
    return out


def _write_build(directory: Path, text: str) -> Path:
    """The repository's BUILD, rewritten only when its text changes (a saved plan that read it stays valid)."""
    build = directory / "BUILD.bazel"
    try:
        if build.read_text() == text:
            return directory
    except OSError:
        pass
    directory.mkdir(parents=True, exist_ok=True)
    tmp = build.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(build)
    return directory
