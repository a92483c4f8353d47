"""The repositories pip.parse and pip_parse declare, made when a build first needs them.

- The hub (`@pip`): written from its attributes (kiln.repos.pip_hub_files); the Python version used when a
  target sets none is the `python` extension's default (pythons_hub) when the hub serves several.
- A wheel repository (`@pip_311_requests`): the package's pin for its target runtime (the lock's markers
  evaluated for it), the wheel chosen for that runtime's tags among the files of the package index whose
  sha256 the lock allows, downloaded through the repository cache and unpacked (kiln.repos.wheel_repo). The
  target runtime is the interpreter pip_parse's python_interpreter_target names, else CPython of the
  parse's Python version on this machine (as rules_python chooses wheels without running an interpreter).
  A package the lock pins only for other targets becomes an empty library. A marker beside the repository
  (the declaration, the target and the lock's digest) keeps it until one of them changes.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Callable

from kiln.loading.module_info import ModuleInfo, RepoDecl
from kiln.loading.repository_resolver import ResolvedRepository
from kiln.repos.pip_extension import HUB_KIND, MODS_KIND, WHL_KIND
from kiln.repos.python_register import HOST_KIND as HOST_KIND_PYTHON
from kiln.repos.repository_rules import RepositoryError
from kiln.repos.repo_files import write_if_changed

_LAYOUT_VERSION = "1"


class PipRepositories:
    def __init__(self, external_dir: Path, downloader: Callable[[], Any], report: Callable[[str, str], None],
                 resolve: Callable[[str, ModuleInfo], ResolvedRepository | None]):
        self._external_dir = external_dir
        self._downloader = downloader
        self._report = report
        self._resolve = resolve
        # Each lock parsed once per command, not once per wheel repository: path -> (stat, parsed).
        self._locks: dict[str, tuple[tuple, Any]] = {}

    def __call__(self, name: str, decl: RepoDecl, module: ModuleInfo) -> ResolvedRepository:
        (tag,) = decl.usage.tags
        attrs = {k: v for k, v in tag.attrs.items() if k != "name"}
        python = _python_settings(module)
        if decl.kind == HUB_KIND:
            return ResolvedRepository(self._hub(name, attrs, python))
        if decl.kind == MODS_KIND:
            directory = self._external_dir / name
            files = {f"{package}.json": json.dumps(mod, indent=2, sort_keys=True) + "\n"
                     for package, mod in attrs["mods"].items()}
            files["BUILD.bazel"] = f"exports_files({json.dumps(sorted(files))})\n"
            for relative, text in files.items():
                write_if_changed(directory / relative, text)
            return ResolvedRepository(directory)
        assert decl.kind == WHL_KIND, decl.kind
        return self._wheel(name, attrs, python, module)

    def _hub(self, name: str, attrs: dict[str, Any], python: dict[str, Any]) -> Path:
        from kiln.repos.pip_hub_files import hub_files

        versions: dict[str, str] = attrs["versions"]
        full = {v: _full_version(v, python) for v in versions}
        default = next((v for v in versions if full[v] == _full_version("", python)), next(iter(versions)))
        flag_values: dict[str, list[str]] = {}
        taken: set[str] = set()
        for version in versions:
            major_minor = full[version].rsplit(".", 1)[0]
            # The version as given, its X.Y.Z, and its X.Y when the minor mapping points there too.
            wanted = [version, full[version]] + ([major_minor] if _full_version(major_minor, python) == full[version]
                                                 else [])
            flag_values[version] = [v for v in dict.fromkeys(wanted) if v and v not in taken]
            taken.update(flag_values[version])
        directory = self._external_dir / name
        for relative, text in hub_files(name, versions, default, flag_values, attrs["packages"], attrs["groups"],
                                        sorted(set(attrs["locks"].values()))).items():
            write_if_changed(directory / relative, text)
        return directory

    def _wheel(self, name: str, attrs: dict[str, Any], python: dict[str, Any], module: ModuleInfo) -> ResolvedRepository:
        from kiln.repos.pip_lock import pins_for
        from kiln.repos.pip_target import TargetRuntime
        from kiln.repos.repository_marker import current_inputs, definition_key, write_marker

        if attrs.get("python_interpreter"):
            target = _probed(self._interpreter(attrs["python_interpreter"], module, name), name)
        else:
            target = TargetRuntime.host_cpython(_full_version(attrs["python_version"], python))
        directory = self._external_dir / name
        marker = self._external_dir / f"@{name}.marker"
        lock_path = Path(attrs["lock"])
        key = definition_key(WHL_KIND, {**attrs, "_target": target.describe(), "_layout": _LAYOUT_VERSION})
        if current_inputs(marker, directory, key) is not None:
            return ResolvedRepository(directory, (str(lock_path),))
        marker.unlink(missing_ok=True)
        lock = self._lock(lock_path, attrs.get("lock_display") or str(lock_path), name)
        pins = pins_for(lock, target.marker_environment(), target.describe())
        pin = pins.get(attrs["package"])
        if pin is None:
            shutil.rmtree(directory, ignore_errors=True)
            directory.mkdir(parents=True)
            empty = _EMPTY.format(package=attrs["package"], lock=lock_path, target=target.describe())
            write_if_changed(directory / "BUILD.bazel", empty)
        else:
            self._report("INFO", f"Fetching @{name} ({pin.name}=={pin.version} for {target.describe()})")
            self._unpack(name, attrs, pin, pins, lock, target, directory)
        write_marker(marker, key, [lock_path])
        return ResolvedRepository(directory, (str(lock_path),))

    def _unpack(self, name: str, attrs: dict[str, Any], pin: Any, pins: dict[str, Any], lock: Any, target: Any,
                directory: Path) -> None:
        from kiln.repos.pip_index import IndexConfig, download, lock_index, machine_index, project_files
        from kiln.repos.wheel_repo import unpack_wheel
        from kiln.repos.wheel_select import NoWheel, select_wheel

        if attrs.get("index_url"):
            index = IndexConfig(attrs["index_url"], tuple(attrs.get("extra_index_urls") or ()), "pip.parse")
        else:
            machine = machine_index(os.environ)
            if attrs.get("extra_index_urls"):
                machine = IndexConfig(machine.index_url, (*machine.extra_index_urls, *attrs["extra_index_urls"]),
                                      machine.source)
            index = lock_index(lock, machine)
        choice = select_wheel(project_files(index, pin.name), pin, target)
        members = set(attrs.get("group_members") or ()) - {pin.name}
        if isinstance(choice, NoWheel):
            if choice.sdist is None:
                raise RepositoryError(f"@{name} ({pin.location}): {choice.reason}")
            from kiln.repos.sdist_repo import sdist_repo

            shutil.rmtree(directory, ignore_errors=True)
            directory.mkdir(parents=True)
            sdist = download(self._downloader(), choice.sdist, pinned=f"{pin.name}=={pin.version}",
                             allowed=pin.hashes, output=directory / choice.sdist.filename)
            sdist_repo(sdist, directory, hub=attrs["hub"], name=pin.name, version=pin.version, target=target,
                       extras=pin.extras, pinned=set(pins), grouped=members, index_urls=index.urls)
            return
        downloads = self._external_dir / ".fetching" / f"{name}.wheel"
        shutil.rmtree(downloads, ignore_errors=True)
        downloads.mkdir(parents=True)
        try:
            wheel = download(self._downloader(), choice.file, pinned=f"{pin.name}=={pin.version}",
                             allowed=pin.hashes, output=downloads / choice.file.filename)
            override = (attrs.get("patches") or {}).get(choice.file.filename)
            if override:
                shutil.rmtree(directory, ignore_errors=True)  # patches apply to a freshly unpacked wheel
            unpack_wheel(wheel, directory, hub=attrs["hub"], target=target, extras=pin.extras, pinned=set(pins),
                         grouped=members, annotation=attrs.get("annotation") or None)
            if override:
                _patch(name, directory / "site-packages", override)
        finally:
            shutil.rmtree(downloads, ignore_errors=True)

    def _lock(self, path: Path, display: str, name: str) -> Any:
        from kiln.repos.pip_lock import read_lock

        try:
            st = path.stat()
        except OSError as e:
            raise RepositoryError(f"@{name}: the requirements lock {path} cannot be read: {e.strerror}") from None
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino, display)
        known = self._locks.get(str(path))
        if known is None or known[0] != stamp:
            known = self._locks[str(path)] = (stamp, read_lock(path, display))
        return known[1]

    def _interpreter(self, given: str, module: ModuleInfo, name: str) -> str:
        """The file python_interpreter_target names (`@python_3_11_host//:python`), or the program
        python_interpreter names."""
        if not given.startswith(("@", "//")):
            found = given if os.path.isabs(given) else shutil.which(given)
            if not found:
                raise RepositoryError(f"@{name}: python_interpreter '{given}' is not a program on PATH")
            return found
        repo, _, rest = given.lstrip("@").partition("//")
        package, _, file = rest.partition(":")
        resolved = self._resolve(repo, module) if repo else None
        if repo and resolved is None:
            raise RepositoryError(f"@{name}: python_interpreter_target '{given}': no repository '@{repo}'")
        root = resolved.directory if resolved else Path(os.getcwd())
        path = root / package / (file or package.rsplit("/", 1)[-1])
        decl = module.repos.get(repo)
        if not path.exists() and decl is not None and decl.kind == HOST_KIND_PYTHON:
            # python_register_toolchains' `{name}_host//:python`: an alias of the host platform's runtime.
            (tag,) = decl.usage.tags
            from kiln.repos.python_toolchain_files import host_platform

            runtime = f"{tag.attrs['user_repository_name']}_{host_platform(tag.attrs['platforms'], repo)}"
            found = self._resolve(runtime, module)
            path = found.directory / "python" if found else path
        if not path.exists():
            raise RepositoryError(f"@{name}: python_interpreter_target '{given}' is no file ({path})")
        return str(path)


_EMPTY = '''# Written by kiln: {package} is not pinned by {lock} for {target}.
load("@rules_python//python:defs.bzl", "py_library")

package(default_visibility = ["//visibility:public"])

py_library(name = "pkg")

filegroup(name = "whl")

filegroup(name = "data")

filegroup(name = "dist_info")
'''


def _patch(name: str, root: Path, override: dict[str, Any]) -> None:
    """pip.override's patches, in order, with `patch -p<strip>` in the unpacked wheel's root."""
    import subprocess

    for path, _digest in override["patches"]:
        done = subprocess.run(["patch", f"-p{override['strip']}", "--batch", "--forward", "-i", path], cwd=root,
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise RepositoryError(f"@{name}: pip.override patch {path} does not apply: "
                                  f"{(done.stdout + done.stderr).strip()}")


def _python_settings(module: ModuleInfo) -> dict[str, Any]:
    """The `python` extension's default version and minor mapping (pythons_hub), if the build uses it."""
    decl = module.repos.get("pythons_hub")
    if decl is None:
        return {}
    (tag,) = decl.usage.tags
    return tag.attrs


def _full_version(version: str, python: dict[str, Any]) -> str:
    """X.Y.Z for a version as a parse gives it ("" for the default one)."""
    from kiln.repos.python_tool_versions import MINOR_MAPPING

    version = version or python.get("default_python_version") or "3.11"
    if version.count(".") >= 2:
        return version
    return (python.get("minor_mapping") or MINOR_MAPPING).get(version, version + ".0")


def _probed(interpreter: str, name: str) -> Any:
    from kiln.repos.local_runtime_repos import run_probe
    from kiln.repos.pip_target import TargetRuntime

    found = run_probe(interpreter)
    if found.record is None:
        raise RepositoryError(f"@{name}: the python_interpreter_target {interpreter} {found.why}")
    return TargetRuntime.from_record(found.record)
