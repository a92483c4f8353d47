"""The CargoBuild action: one Rust artifact, built by cargo from a generated workspace.

Rules describe crates; this module turns a crate (with its kiln and registry
dependencies) into the JSON spec of `kiln.tools.cargo_build` and registers the
action. The action's inputs are every source of every crate involved, the
vendored registry crates, the lock file and kiln's own tool modules, and the
spec names the toolchain's fingerprint, so kiln's action key decides whether cargo
runs at all; cargo then reuses its own incremental state in a target directory
shared by all targets, kept in the action's persistent cache (docs/rust-pyo3.md).
"""

from __future__ import annotations

import json
import os
import sys

from kiln.core.actions import HOST_DIRS, PERSISTENT_CACHE, REPORTS_PROGRESS, cache_path
from kiln.core.artifacts import Artifact, kiln_tool_artifact
from kiln.core.depset import Depset
from kiln.rules.python.providers import PyRuntimeInfo
from kiln.rules.python.py_runtime import python_runtime
from kiln.rules.rust.providers import RUST_TOOLCHAIN_TYPE, CrateInfo, RegistryCrateInfo
from kiln.rules.rust.pyo3_config import abi3_minimum, config_file_text, loads_abi3

# cargo's workspaces and target directory: the action's persistent cache, which the executor shows
# every run at the same place relative to the exec root (kiln.execution.local_executor).
_CACHE_NAME = "cargo"
_CARGO_DIR = cache_path(_CACHE_NAME)
# kiln's own code the action runs: declared inputs, so a change to it re-runs the action.
_TOOL_MODULES = ("cargo_build", "cargo_elf", "cargo_inputs", "cargo_lock", "cargo_manifest", "cargo_progress",
                 "cargo_spec")
PROFILES = {"fastbuild": "dev", "dbg": "dev", "opt": "release"}
# pyo3 from this version reads PYO3_BUILD_EXTENSION_MODULE instead of needing the feature.
_PYO3_ENV_SWITCH = (0, 26)


def _registry_entry(reg: RegistryCrateInfo, extra_features: tuple[str, ...] = ()) -> dict:
    return {
        "name": reg.name,
        "package": reg.package,
        "version": reg.version,
        "features": sorted(set(reg.features) | set(extra_features)),
        "default_features": reg.default_features,
    }


def find_pyo3(crate: CrateInfo) -> RegistryCrateInfo | None:
    for reg in crate.all_registry_deps():
        if reg.package == "pyo3":
            return reg
    return None


def pyo3_abi3(crate: CrateInfo) -> bool:
    pyo3 = find_pyo3(crate)
    return pyo3 is not None and abi3_minimum(pyo3.features) is not None


def register_cargo_build(
    ctx,
    crate: CrateInfo,
    output,
    *,
    mode: str = "build",
    runtime: PyRuntimeInfo | None = None,
    extension_module: bool = False,
    pyo3_module: str | None = None,
):
    toolchain = ctx.toolchains[RUST_TOOLCHAIN_TYPE]
    crates = crate.transitive()
    pyo3 = find_pyo3(crate)
    pyo3_features: tuple[str, ...] = ()
    # No CARGO_HOME: the tool makes a private one (kiln.tools.cargo_inputs).
    env = {
        "PATH": f"{toolchain.bin_dir}:/usr/bin:/bin",
        "RUSTC": toolchain.rustc,
        "CARGO_TERM_COLOR": "never",
    }
    pyo3_config = None
    if pyo3 is not None:
        if runtime is None:
            runtime = python_runtime(ctx)
        # A runtime that cannot load abi3 (PyPy, free-threaded) gets a version-specific build, as pyo3 does.
        pyo3_config = config_file_text(runtime, abi3=pyo3_abi3(crate) and loads_abi3(runtime),
                                       extension_module=extension_module)
        if extension_module:
            env["PYO3_BUILD_EXTENSION_MODULE"] = "1"
            if pyo3.version_tuple() < _PYO3_ENV_SWITCH:
                pyo3_features = ("extension-module",)
    spec_crates = []
    for c in crates:
        spec_crates.append({
            "label": str(c.label),
            "package": c.package,
            "name": c.name,
            "root": c.root.exec_path,
            "edition": c.edition,
            "kind": c.kind,
            "features": list(c.features),
            "deps": [{"package": d.package, "name": d.name} for d in c.deps],
            "registry_deps": [
                _registry_entry(r, pyo3_features if r.package == "pyo3" else ()) for r in c.registry_deps
            ],
            "rustc_flags": list(c.rustc_flags),
            "rustc_env": dict(c.rustc_env),
        })
    lockfiles = sorted({r.lockfile for r in crate.all_registry_deps() if r.lockfile is not None}, key=str)
    if len(lockfiles) > 1:
        raise ctx.error("the crates of one target come from more than one lock file: "
                        + ", ".join(str(l) for l in lockfiles), attribute="deps")
    sources = []
    for c in crates:
        sources.extend(c.srcs)
        sources.extend(c.compile_data)
        sources.append(c.root)
    sources = list(dict.fromkeys(sources))
    # Crate indexes always lock and vendor their crates (a lock kiln made when the user gave none):
    # the action never fetches, so a registry crate without vendored sources cannot be built.
    unvendored = sorted(str(r.package) for r in crate.all_registry_deps() if r.vendor_dir is None)
    if unvendored:
        raise ctx.error(f"registry crates without a lock file and vendored sources: {', '.join(unvendored)}; "
                        "kiln builds registry crates offline, from a crate index (crate.from_cargo, "
                        "crate.from_specs) that locks and vendors them", attribute="deps")
    # The vendored crates enter as one directory input per index (read once per build, mounted whole in
    # the Linux sandbox: kiln.execution.tree_inputs), not as thousands of files linked per run.
    by_dir = sorted({r.vendor_dir for r in crate.all_registry_deps() if r.vendor_dir})
    vendored = [Artifact("", d, is_directory=True) for d in by_dir]
    spec = {
        "workspace_dir": f"{_CARGO_DIR}/ws/{crate.package}",
        "target_dir": f"{_CARGO_DIR}/target",
        "cargo": toolchain.cargo,
        "profile": PROFILES[ctx.config.compilation_mode],
        "lockfile": lockfiles[0].exec_path if lockfiles else None,
        "sources": [a.exec_path for a in sources],
        # One lock file, one index: at most one vendored directory.
        "vendor_dir": by_dir[0] if by_dir else None,
        # Not read by the tool: here so that another toolchain (its version or any of its files) gives
        # the action another key.
        "toolchain": toolchain.fingerprint,
        "crates": spec_crates,
        "build": {"package": crate.package, "mode": mode},
        "env": env,
        "output": output.exec_path,
        "pyo3_module": pyo3_module,
        "pyo3_config": pyo3_config,
    }
    spec_file = ctx.actions.declare_file(f"{ctx.label.name}.cargo.json")
    ctx.actions.write(spec_file, json.dumps(spec, indent=1, sort_keys=True))
    inputs = [spec_file, *sources, *lockfiles, *vendored, *(kiln_tool_artifact(f"{m}.py") for m in _TOOL_MODULES)]
    verb = "Testing" if mode == "test" else "Compiling"
    return ctx.actions.run(
        outputs=[output],
        inputs=Depset(tuple(dict.fromkeys(inputs))),
        argv=[sys.executable, "-m", "kiln.tools.cargo_build", spec_file.exec_path],
        mnemonic="CargoBuild",
        progress_message=f"{verb} Rust {crate.kind} {ctx.label} (cargo, {spec['profile']})",
        execution_requirements={
            PERSISTENT_CACHE: _CACHE_NAME,
            # The toolchain lives outside the exec root (rustup's directory, usually in a home).
            HOST_DIRS: ":".join(sorted({toolchain.sysroot, toolchain.bin_dir, os.path.dirname(toolchain.rustc)})),
            "block-network": "1",
            # cargo's progress bar, for the live display (kiln.tools.cargo_progress).
            REPORTS_PROGRESS: "1",
        },
        executable_outputs=mode == "test" or crate.kind == "bin",
    )
