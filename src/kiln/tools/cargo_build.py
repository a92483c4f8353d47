"""`python -m kiln.tools.cargo_build SPEC.json`: build one Rust artifact with cargo.

The spec (see `kiln.tools.cargo_spec`) describes the kiln crates of one build
target. The tool mirrors the declared sources and keeps a Cargo workspace for
them in `workspace_dir` (written only where bytes change, see
`kiln.tools.cargo_inputs` and `kiln.tools.cargo_manifest`), runs cargo offline
with a CARGO_HOME of its own in a target directory shared by every target, and
copies the artifact to `output`. Same spec, same manifests: cargo finds
everything fresh.

How cargo is run:

- `cargo rustc --quiet --config term.progress.when='always' ... -p PACKAGE
  --lib|--bin NAME --profile P --target-dir T --manifest-path W/Cargo.toml
  --message-format=json-render-diagnostics --offline [--locked] [-- FLAGS]`, with exactly the spec's environment (nothing
  inherited; `CARGO_HOME` is the tool's, and `PYO3_CONFIG_FILE` is added when
  the spec carries `pyo3_config`)
  and cwd = workspace_dir. `cargo rustc` builds what `cargo build` would, and
  is the stable way to hand extra flags (the non-`--cfg` `rustc_flags`) to the
  one crate being built; cargo fingerprints them, so changing them rebuilds that
  crate only.
- Mode `test` builds the crate's test harness: `--profile test` for dev,
  `--profile bench` (release settings, test harness) for release.
- Diagnostics are rendered by cargo on stderr and passed through, without the
  progress bar drawn between them, which goes to kiln's live display instead
  (kiln.tools.cargo_progress); the JSON on stdout gives the artifacts and
  whether each unit was fresh.
- Cargo serialises builds on a target directory anyway; the tool additionally
  holds a lock of its own from its first look at the shared state until the
  artifact is copied, so another target's build cannot replace the uplifted
  file or repoint the vendored crates' link in between.
- A cdylib's file name carries no hash (`deps/lib<name>.so`), so two targets
  whose cdylibs share a crate name overwrite each other's file while cargo
  still holds each unit fresh. The tool records which package produced the
  file (and its size, mtime, inode); when cargo calls our unit fresh but the
  file is someone else's, it runs `cargo clean -p PACKAGE` for that profile
  and builds again.
"""

from __future__ import annotations

import codecs
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field

from kiln.tools import cargo_lock
from kiln.tools.cargo_elf import pyinit_symbols
from kiln.tools.cargo_inputs import link_vendor_dir, mirror_sources, private_cargo_home
from kiln.tools.cargo_lock import LockError
from kiln.tools.cargo_progress import CARGO_CONFIG, CargoStderr, ProgressChannel
from kiln.tools.cargo_manifest import ManifestError, plan_workspace, sync_workspace, write_if_changed
from kiln.tools.cargo_spec import Spec, load_spec

_LIB_SUFFIXES = (".so", ".dylib", ".dll")
_RUSTUP_HINT = (
    "hint: this cargo is rustup's proxy, which needs RUSTUP_HOME (or HOME) in the environment; "
    "give the toolchain's own cargo and RUSTC instead (`rustc --print sysroot`/bin)"
)


class ToolError(Exception):
    """A failure the user can act on: printed without a traceback, exit 1."""


@dataclass
class CargoRun:
    code: int
    messages: list[dict] = field(default_factory=list)
    stderr_tail: list[str] = field(default_factory=list)


def package_name(package_id: str) -> str:
    """`pyo3` from `registry+https://...#pyo3@0.23.5`; `a` from `path+file:///x/a#0.0.0`."""
    url, _, frag = package_id.partition("#")
    if "@" in frag:
        return frag.split("@", 1)[0]
    return url.rstrip("/").rsplit("/", 1)[-1]


def cargo_command(spec: Spec, rustc_args: list[str], *, locked: bool) -> list[str]:
    crate = spec.target_crate
    if spec.mode == "test":
        profile = "test" if spec.profile == "dev" else "bench"
    else:
        profile = spec.profile
    select = ["--bin", crate.name] if crate.kind == "bin" else ["--lib"]
    cmd = [
        # --quiet: no "Compiling ..." status lines; rustc's warnings and errors still show. The progress
        # bar is drawn on the pipe all the same, for kiln's live display (kiln.tools.cargo_progress).
        spec.cargo, "rustc", "--quiet", *CARGO_CONFIG, "-p", crate.package, *select,
        "--profile", profile,
        "--target-dir", spec.target_dir,
        "--manifest-path", os.path.join(spec.workspace_dir, "Cargo.toml"),
        "--message-format=json-render-diagnostics", "--offline",
    ]
    if locked:
        cmd.append("--locked")
    if rustc_args:
        cmd += ["--", *rustc_args]
    return cmd


def clean_command(spec: Spec, *, locked: bool) -> list[str]:
    cmd = cargo_command(spec, [], locked=locked)
    profile = cmd[cmd.index("--profile") + 1]
    return [spec.cargo, "clean", "--offline", "-p", spec.package, "--profile", profile,
            "--target-dir", spec.target_dir, "--manifest-path", os.path.join(spec.workspace_dir, "Cargo.toml")] + (["--locked"] if locked else [])


def run_cargo(cmd: list[str], spec: Spec, env: dict[str, str], *, forward: bool = True,
              progress: ProgressChannel | None = None) -> CargoRun:
    """Run cargo; stderr goes to ours as it comes (when `forward`) without its progress bar, which goes to
    `progress`; stdout JSON is parsed."""
    try:
        proc = subprocess.Popen(cmd, cwd=spec.workspace_dir, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as e:
        raise ToolError(f"cannot run cargo ({spec.cargo}): {e.strerror or e}") from None
    run = CargoRun(0)

    def text(line: str) -> None:
        if forward:
            sys.stderr.write(line)
            sys.stderr.flush()
        run.stderr_tail.append(line)
        del run.stderr_tail[:-200]

    def pump_stderr():
        stream = CargoStderr(text, progress.send if progress is not None else lambda p: None)
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        for chunk in iter(lambda: proc.stderr.read1(65536), b""):
            stream.feed(decoder.decode(chunk))
        stream.feed(decoder.decode(b"", final=True))
        stream.close()

    thread = threading.Thread(target=pump_stderr, daemon=True)
    thread.start()
    for raw in proc.stdout:
        line = raw.decode("utf-8", "replace")
        try:
            msg = json.loads(line)
        except ValueError:
            msg = None
        if isinstance(msg, dict):
            run.messages.append(msg)
        elif line.strip():
            sys.stderr.write(line)
    run.code = proc.wait()
    thread.join()
    return run


def find_artifact(spec: Spec, messages: list[dict]) -> str | None:
    crate = spec.target_crate
    found = None
    for msg in messages:
        if msg.get("reason") != "compiler-artifact" or package_name(msg.get("package_id", "")) != crate.package:
            continue
        target = msg.get("target") or {}
        if target.get("name") != crate.name or "custom-build" in (target.get("kind") or []):
            continue
        if spec.mode == "test" or crate.kind == "bin":
            found = msg.get("executable") or found
            continue
        wanted = (".rlib",) if crate.kind == "lib" else _LIB_SUFFIXES
        for name in msg.get("filenames") or []:
            if name.endswith(wanted):
                found = name
                break
    return found


def units(messages: list[dict]) -> list[dict]:
    out = []
    for msg in messages:
        if msg.get("reason") == "compiler-artifact":
            target = msg.get("target") or {}
            out.append({"package": package_name(msg.get("package_id", "")), "target": target.get("name"),
                        "kind": (target.get("kind") or [""])[0], "fresh": bool(msg.get("fresh"))})
    return out


def copy_output(src: str, dst: str) -> None:
    os.makedirs(os.path.dirname(dst) or ".", exist_ok=True)
    tmp = f"{dst}.tmp{os.getpid()}"
    shutil.copyfile(src, tmp)
    shutil.copymode(src, tmp)
    os.replace(tmp, dst)


@contextmanager
def target_dir_lock(target_dir: str):
    os.makedirs(target_dir, exist_ok=True)
    try:
        import fcntl
    except ImportError:                       # no flock (Windows): cargo's own lock still serialises builds
        yield
        return
    with open(os.path.join(target_dir, ".kiln-cargo.lock"), "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _owner_record(artifact: str) -> str:
    return os.path.join(os.path.dirname(artifact), ".kiln-owners", os.path.basename(artifact) + ".json")


def _owner(spec: Spec, artifact: str) -> dict:
    st = os.stat(artifact)
    return {"package": spec.package, "workspace": spec.workspace_dir,
            "file": [st.st_size, st.st_mtime_ns, st.st_ino]}


def hashless(spec: Spec) -> bool:
    """Whether the artifact's name in cargo's target directory is shared by every crate of that name."""
    return spec.mode == "build" and spec.target_crate.kind == "cdylib"


def replaced_by_another_build(spec: Spec, artifact: str, messages: list[dict]) -> bool:
    """True when cargo reused our unit but the hashless file it uplifted was made for another package."""
    if not hashless(spec):
        return False
    ours = [u for u in units(messages) if u["package"] == spec.package and u["target"] == spec.target_crate.name]
    if not ours or not all(u["fresh"] for u in ours):
        return False
    try:
        with open(_owner_record(artifact), encoding="utf-8") as f:
            recorded = json.load(f)
    except (OSError, ValueError):
        return False                      # never recorded: nothing says it is not ours
    return recorded != _owner(spec, artifact)


def record_owner(spec: Spec, artifact: str) -> None:
    if hashless(spec):
        write_if_changed(_owner_record(artifact), json.dumps(_owner(spec, artifact), sort_keys=True))


def cargo_env(spec: Spec) -> dict[str, str]:
    """Exactly the spec's environment, plus PYO3_CONFIG_FILE for a `pyo3_config` text.

    The config file is named by its digest under the shared target directory, so
    every workspace built for the same Python hands pyo3's build script the same
    path, and pyo3 (shared by all targets) never reruns because a path changed.
    """
    env = dict(spec.env)
    if spec.pyo3_config and "PYO3_CONFIG_FILE" not in env:
        path = os.path.join(spec.target_dir, "kiln-pyo3", cargo_lock.digest(spec.pyo3_config)[:16] + ".txt")
        write_if_changed(path, spec.pyo3_config)
        env["PYO3_CONFIG_FILE"] = path
    return env


def prepare_lock(spec: Spec, env: dict[str, str], files: dict[str, str]) -> bool:
    """Bring the user's lock file into the workspace; True when cargo must run `--locked`."""
    if not spec.lockfile:
        cargo_lock.write_stamp(spec.workspace_dir, None)
        return False
    try:
        with open(spec.lockfile, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ToolError(f"cannot read the lock file {spec.lockfile}: {e.strerror or e}") from None
    user = cargo_lock.parse_lock(text, spec.lockfile)
    missing = cargo_lock.missing_registry_crates(spec, user)
    if missing:
        raise LockError(cargo_lock.missing_message(missing, spec.lockfile))
    state = cargo_lock.wanted_state(spec, text, files)
    if not cargo_lock.needs_update(spec.workspace_dir, state):
        return True
    ws_lock = os.path.join(spec.workspace_dir, "Cargo.lock")
    write_if_changed(ws_lock, text)
    cmd = [spec.cargo, "update", "--offline", "--workspace", "--manifest-path", os.path.join(spec.workspace_dir, "Cargo.toml")]
    run = run_cargo(cmd, spec, env, forward=False)
    if run.code != 0:
        sys.stderr.write("".join(run.stderr_tail))
        raise ToolError(f"cargo could not fit the lock file {spec.lockfile} to the workspace of "
                        f"'{spec.target_crate.name}' (cargo update exit code {run.code})" + _hint(run))
    with open(ws_lock, encoding="utf-8") as f:
        problems = cargo_lock.unpinned(user, cargo_lock.parse_lock(f.read(), ws_lock), spec.lockfile)
    if problems:
        raise LockError("\n".join(problems))
    cargo_lock.write_stamp(spec.workspace_dir, state)
    return True


_MISSING_FEATURE = re.compile(r"depends on `(?P<crate>[\w-]+)` with feature `(?P<feature>[\w-]+)` but `[\w-]+` "
                              r"does not have that feature")
_LOCKED_TO = re.compile(r"\(locked to (?P<version>[\w.\-+]+)\)")


def _hint(run: CargoRun) -> str:
    text = "".join(run.stderr_tail)
    if "rustup" in text and "toolchain" in text:
        return "\n" + _RUSTUP_HINT
    m = _MISSING_FEATURE.search(text)
    if m and m.group("feature").startswith("abi3"):
        locked = _LOCKED_TO.search(text)
        version = f" {locked.group('version')}" if locked else ""
        return (f"\n{m.group('crate')}{version} has no feature '{m.group('feature')}': this version of "
                f"{m.group('crate')} does not support that Python stable ABI (abi3) version; use a lower "
                f"abi3-py3X feature or a newer {m.group('crate')}")
    if m:
        return f"\n{m.group('crate')} has no feature '{m.group('feature')}'"
    return ""


_COULD_NOT_COMPILE = re.compile(r"could not compile `([\w-]+)`")


def _failed_targets(spec: Spec, run: CargoRun) -> str:
    """Names the kiln targets of the crates rustc failed on (cargo only knows package names)."""
    labels = {c.package: c.label for c in spec.crates if c.label}
    failed = {labels[p] for p in _COULD_NOT_COMPILE.findall("".join(run.stderr_tail)) if p in labels}
    if not failed:
        return ""
    return "\nthe error is in " + ", ".join(sorted(failed))


def check_pyo3_module(module_name: str, path: str) -> None:
    last = module_name.rsplit(".", 1)[-1]
    found = pyinit_symbols(path)
    if f"PyInit_{last}" in found:
        return
    if not found:
        raise ToolError(f"module_name '{module_name}' does not match the Rust code, whose library exports no "
                        f"PyInit_* function: is there a #[pymodule] named '{last}'?")
    defined = ", ".join(f"'{s[len('PyInit_'):]}' ({s})" for s in found)
    raise ToolError(f"module_name '{module_name}' does not match the #[pymodule] in the Rust code, "
                    f"which defines {defined}")


def build(spec: Spec) -> int:
    # Held from the first look at the shared state to the artifact's copy: the vendored crates' link
    # points into this run's exec root until cargo is done (kiln.tools.cargo_inputs.link_vendor_dir).
    with target_dir_lock(spec.target_dir):
        spec = link_vendor_dir(spec)
        home = private_cargo_home(spec)
        try:
            return _build(spec, home)
        finally:
            shutil.rmtree(home, ignore_errors=True)


def _build(spec: Spec, cargo_home: str) -> int:
    crate = spec.target_crate
    spec, mirrored = mirror_sources(spec)
    ws = plan_workspace(spec)
    for warning in ws.warnings:
        print(f"WARNING: {warning}", file=sys.stderr)
    written = sync_workspace(spec.workspace_dir, ws)
    env = cargo_env(spec)
    env["CARGO_HOME"] = cargo_home
    locked = prepare_lock(spec, env, ws.files)
    cmd = cargo_command(spec, ws.rustc_args, locked=locked)
    progress = ProgressChannel()
    run = run_cargo(cmd, spec, env, progress=progress)
    artifact = find_artifact(spec, run.messages) if run.code == 0 else None
    if artifact and replaced_by_another_build(spec, artifact, run.messages):
        print(f"note: {os.path.basename(artifact)} in cargo's target directory was built for another "
              f"target; rebuilding {crate.package}", file=sys.stderr)
        clean = run_cargo(clean_command(spec, locked=locked), spec, env, forward=False)
        if clean.code != 0:
            sys.stderr.write("".join(clean.stderr_tail))
            raise ToolError(f"cargo clean -p {crate.package} failed (exit code {clean.code})")
        run = run_cargo(cmd, spec, env, progress=progress)
        artifact = find_artifact(spec, run.messages) if run.code == 0 else None
    if artifact:
        copy_output(artifact, spec.output)
        record_owner(spec, artifact)
    report = {"package": crate.package, "command": cmd, "exit_code": run.code, "written": written,
              "mirrored": mirrored,
              "units": units(run.messages), "artifact": artifact, "output": spec.output}
    report["compiled"] = sorted({u["package"] for u in report["units"] if not u["fresh"]})
    if spec.report:
        write_if_changed(spec.report, json.dumps(report, indent=1, sort_keys=True) + "\n")
    if run.code != 0:
        if os.path.lexists(spec.output):      # never leave an earlier build's file looking current
            os.remove(spec.output)
        print(f"ERROR: cargo failed to build crate '{crate.name}' (package {crate.package}), "
              f"exit code {run.code}{_hint(run)}{_failed_targets(spec, run)}", file=sys.stderr)
        return run.code if run.code > 0 else 128 - run.code   # killed by a signal: the shell's convention
    if artifact is None:
        raise ToolError(f"cargo built package {crate.package} but reported no {crate.kind} artifact "
                        f"named '{crate.name}'")
    if spec.pyo3_module and spec.mode == "build":
        try:
            check_pyo3_module(spec.pyo3_module, spec.output)
        except ToolError:
            os.remove(spec.output)
            raise
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m kiln.tools.cargo_build SPEC.json", file=sys.stderr)
        return 2
    spec = load_spec(args[0])               # a bad spec is kiln's bug: let the traceback show
    try:
        return build(spec)
    except (ToolError, ManifestError, LockError) as e:
        print(f"ERROR: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
