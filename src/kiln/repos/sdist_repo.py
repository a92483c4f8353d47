"""A package the index has only as an sdist, as a repository: the sdist, and a BUILD that builds it.

The sdist (its sha256 one the lock allows) is kept in the repository; `kiln_sdist_package` (kiln.rules.python
.sdist_package) builds and installs it for the target's runtime by a sandboxed action with network, as
rules_python builds sdists by default, unless --@rules_python//python/config_settings:pip_whl=only forbids it.
The library's deps are the sdist's own Requires-Dist (its PKG-INFO) that hold for the target.
"""

from __future__ import annotations

import json
import tarfile
import zipfile
from pathlib import Path
from typing import Collection, Sequence

from kiln.repos.pip_target import TargetRuntime
from kiln.repos.repo_files import write_if_changed
from kiln.repos.wheel_repo import WheelError, deps_for, hub_package, requires_dist


def sdist_metadata(sdist: Path) -> str:
    """The PKG-INFO at the top of an sdist (`<name>-<version>/PKG-INFO`), "" when it has none."""
    try:
        if sdist.name.endswith(".zip"):
            with zipfile.ZipFile(sdist) as z:
                names = [n for n in z.namelist() if n.count("/") == 1 and n.endswith("/PKG-INFO")]
                return z.read(names[0]).decode("utf-8", "replace") if names else ""
        with tarfile.open(sdist) as t:
            members = [m for m in t.getmembers() if m.name.count("/") == 1 and m.name.endswith("/PKG-INFO")]
            found = t.extractfile(members[0]) if members else None
            return found.read().decode("utf-8", "replace") if found else ""
    except (OSError, tarfile.TarError, zipfile.BadZipFile) as e:
        raise WheelError(f"{sdist.name} is not a readable sdist: {e}") from None


def sdist_repo(sdist: Path, directory: Path, *, hub: str, name: str, version: str, target: TargetRuntime,
               extras: Sequence[str], pinned: Collection[str], grouped: Collection[str], index_urls: Sequence[str]) -> None:
    """Writes the repository of `name`=={version} from `sdist` (already in `directory`)."""
    metadata = sdist_metadata(sdist)
    deps = deps_for(requires_dist(metadata, sdist.name), name, extras, target) if metadata else []
    missing = [d for d in deps if d not in pinned]
    if missing:
        raise WheelError(f"{name}=={version} requires {', '.join(missing)} on {target.describe()}, which the lock "
                         "does not pin for it")
    labels = [f"@{hub}//{hub_package(d)}" for d in deps if d not in grouped]
    write_if_changed(directory / "BUILD.bazel", f'''# Written by kiln from {sdist.name} (only an sdist on the index) for @{hub}.
package(default_visibility = ["//visibility:public"])

config_setting(
    name = "_pip_whl_only",
    flag_values = {{"@rules_python//python/config_settings:pip_whl": "only"}},
)

kiln_sdist_package(
    name = "pkg",
    sdist = {json.dumps(sdist.name)},
    package = "{name}=={version}",
    index_urls = {json.dumps(list(index_urls))},
    forbidden = select({{":_pip_whl_only": True, "//conditions:default": False}}),
    deps = {json.dumps(labels)},
)

filegroup(name = "whl", srcs = [])

filegroup(name = "data", srcs = [])

filegroup(name = "dist_info", srcs = [":pkg"])
''')
