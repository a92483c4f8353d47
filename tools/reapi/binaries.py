"""Builds the engine's five binaries from the Go module proxy into a cache outside the repository.

The binaries go to $XDG_CACHE_HOME/kiln-reapi/<key>/bin (default ~/.cache), where the key digests
everything that decides them: the wrapper modules (buildbarn/, bazel-remote/: go.mod, the committed
go.sum, tools.go), the patch pins below, the Go version and the build flags. A cold build takes
minutes and downloads ~1.7 GB of modules into Go's module cache; a warm one does nothing.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from errors import EngineError

HERE = Path(__file__).resolve().parent
BUILDBARN = HERE / "buildbarn"
BAZEL_REMOTE = HERE / "bazel-remote"
MODULE_FILES = ("go.mod", "go.sum", "tools.go")

BINARIES = {
    # binary name -> (wrapper module, main package)
    "bb_storage": (BUILDBARN, "github.com/buildbarn/bb-storage/cmd/bb_storage"),
    "bb_scheduler": (BUILDBARN, "github.com/buildbarn/bb-remote-execution/cmd/bb_scheduler"),
    "bb_worker": (BUILDBARN, "github.com/buildbarn/bb-remote-execution/cmd/bb_worker"),
    "bb_runner": (BUILDBARN, "github.com/buildbarn/bb-remote-execution/cmd/bb_runner"),
    "bazel-remote": (BAZEL_REMOTE, "github.com/buchgr/bazel-remote/v2"),
}


@dataclass(frozen=True)
class PatchedModule:
    """A dependency that Buildbarn's Bazel build patches, so a plain `go build` must too.

    buildbarn/go.mod replaces `module` with the directory patched/`directory`, made from `module` at
    `version` (checked against `sum`: Go checks no directory replacement) with the diffs that
    `patches_from` (a Buildbarn module, at the version go.mod requires) ships, applied in order.
    """

    directory: str
    module: str
    version: str
    sum: str
    patches_from: str
    patches: tuple[str, ...]


PATCHED_MODULES = (
    PatchedModule(
        directory="go-fuse",
        module="github.com/hanwen/go-fuse/v2",
        version="v2.5.1",  # bb-remote-execution's own replace: its patches do not apply to newer ones
        sum="h1:OQBE8zVemSocRxA4OaFJbjJ5hlpCmIWbGr7r0M4uoQQ=",
        patches_from="github.com/buildbarn/bb-remote-execution",
        patches=(
            "patches/com_github_hanwen_go_fuse_v2/direntrylist-offsets-and-testability.diff",
            "patches/com_github_hanwen_go_fuse_v2/writeback-cache.diff",
            "patches/com_github_hanwen_go_fuse_v2/notify-testability.diff",
        ),
    ),
    PatchedModule(
        directory="bytestream",
        module="google.golang.org/genproto/googleapis/bytestream",
        version="v0.0.0-20251103181224-f26f9409b101",  # the version go.mod's build list selects
        sum="h1:yPJt1QyhbMgVYk1uHU1fzFDusVK69zmYfO7uupO0/QE=",
        patches_from="github.com/buildbarn/bb-storage",
        patches=("patches/org_golang_google_genproto_googleapis_bytestream/service-registrar.diff",),
    ),
)

GO_ENV = {
    # Pure Go: no C toolchain needed, and bazel-remote uses its Go zstd.
    "CGO_ENABLED": "0",
    "GOFLAGS": "-mod=readonly -buildvcs=false -trimpath",
    # The checksum database has no entry for these pseudo-versions; go.sum is the pin.
    "GONOSUMDB": "github.com/buildbarn,github.com/bazelbuild",
    # go.mod's `go` line must not make go fetch another toolchain: only the module proxy is reachable.
    "GOTOOLCHAIN": "local",
}


def go() -> str:
    path = shutil.which("go")
    if path is None:
        raise EngineError("`go` is not on PATH: install Go (https://go.dev/doc/install) to build the engine")
    return path


def cache_key() -> str:
    digest = hashlib.sha256()
    for module in (BUILDBARN, BAZEL_REMOTE):
        for name in MODULE_FILES:
            digest.update(f"{module.name}/{name}\0".encode())
            digest.update((module / name).read_bytes())
    go_version = subprocess.run([go(), "env", "GOVERSION"], capture_output=True, text=True, check=True).stdout
    # Names, not paths: two checkouts at different places share the cache.
    recipe = {
        "go": go_version.strip(),
        "env": GO_ENV,
        "patched": [asdict(spec) for spec in PATCHED_MODULES],
        "binaries": {name: (module.name, package) for name, (module, package) in BINARIES.items()},
    }
    digest.update(json.dumps(recipe, sort_keys=True).encode())
    return digest.hexdigest()[:16]


def bin_dir() -> Path:
    """The directory of the built binaries; an error if `build` has not made them."""
    directory = cache_root() / cache_key() / "bin"
    missing = [name for name in BINARIES if not (directory / name).is_file()]
    if missing:
        raise EngineError(f"{', '.join(missing)} not built: run `python3 {HERE / 'engine.py'} build` first")
    return directory


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kiln-reapi"


def build() -> Path:
    """Builds the five binaries into the cache unless they are there; returns their directory."""
    entry = cache_root() / cache_key()
    done = entry / "bin"
    if done.is_dir():
        return done
    entry.mkdir(parents=True, exist_ok=True)
    # Two test sessions may build at once: one builds, the other waits and finds it done.
    with open(entry / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.is_dir():
            return done
        with tempfile.TemporaryDirectory(dir=entry, prefix="work-") as work:
            staged = Path(work) / "bin"
            for module in (BUILDBARN, BAZEL_REMOTE):
                source = Path(work) / module.name
                source.mkdir()
                for name in MODULE_FILES:
                    shutil.copyfile(module / name, source / name)
                if module is BUILDBARN:
                    for spec in PATCHED_MODULES:
                        make_patched_module(spec, source)
                packages = [package for _, (mod, package) in BINARIES.items() if mod is module]
                go_build(source, packages, staged)
            # The bin directory appears whole or not at all: its presence means "built".
            os.rename(staged, done)
    return done


def go_env() -> dict[str, str]:
    return {**os.environ, **GO_ENV}


def go_download(module: str, version: str, cwd: Path) -> dict:
    result = subprocess.run([go(), "mod", "download", "-json", f"{module}@{version}"], cwd=cwd,
                            capture_output=True, text=True, env=go_env())
    info = json.loads(result.stdout) if result.stdout.strip() else {}
    if result.returncode != 0 or "Error" in info:
        raise EngineError(f"cannot download {module}@{version}: {info.get('Error') or result.stderr.strip()}")
    return info


def module_version(gomod: Path, module: str) -> str:
    """The version go.mod requires of `module` (a `module vX` line in a require block or alone)."""
    for line in gomod.read_text().splitlines():
        words = line.replace("require ", "", 1).split()
        if len(words) >= 2 and words[0] == module:
            return words[1]
    raise EngineError(f"{gomod} does not require {module}")


def make_patched_module(spec: PatchedModule, source: Path) -> None:
    original = go_download(spec.module, spec.version, source)
    if original["Sum"] != spec.sum:
        raise EngineError(f"{spec.module}@{spec.version} has hash {original['Sum']}, expected {spec.sum}")
    target = source / "patched" / spec.directory
    shutil.copytree(original["Dir"], target)
    # The module cache is read-only; the copy must be writable to be patched.
    for path in [target, *target.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200)
    owner = go_download(spec.patches_from, module_version(source / "go.mod", spec.patches_from), source)
    for diff in spec.patches:
        result = subprocess.run(["patch", "-p0", "--batch", "--forward", "--no-backup-if-mismatch",
                                 "-i", str(Path(owner["Dir"]) / diff)], cwd=target, capture_output=True, text=True)
        if result.returncode != 0:
            raise EngineError(f"{diff} does not apply to {spec.module}@{spec.version}:\n{result.stdout}{result.stderr}")


def go_build(source: Path, packages: list[str], out: Path) -> None:
    out.mkdir(exist_ok=True)
    result = subprocess.run([go(), "build", "-o", str(out) + "/", *packages], cwd=source,
                            capture_output=True, text=True, env=go_env())
    if result.returncode != 0:
        raise EngineError(f"go build failed in {source.name}:\n{result.stderr[-4000:]}")

