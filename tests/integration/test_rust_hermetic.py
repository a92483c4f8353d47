"""The CargoBuild action's identity: the Rust toolchain it runs and kiln's own tool code are in its key.

kiln finds the machine's rustc on PATH; here PATH leads to a copy of the
toolchain (its bin/, lib/, libexec/ and etc/, hard-linked from the real one:
cheap, and a file is replaced by unlinking it first, never written through
the link). The copy's rustc is a wrapper that adds a line read from a file
outside the toolchain to `rustc -vV`, so its version output changes while
none of its files do. Another version output, or another byte in a file of
the toolchain, must re-run the action even though no source changed; an
unchanged toolchain is not hashed again (its digest table is not rewritten).
Needs rustc and cargo (a crate without registry dependencies: no network);
skipped without them, failed instead under CI=true.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import unavailable

from kiln.core.artifacts import SourceTree, kiln_tool_artifact


@pytest.fixture
def sysroot() -> str:
    rustc = shutil.which("rustc") or os.path.expanduser("~/.cargo/bin/rustc")
    if not os.path.exists(rustc):
        unavailable("no Rust toolchain (rustc) on this machine")
    return subprocess.run([rustc, "--print", "sysroot"], capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def toolchain_copy(tmp_path, sysroot) -> Path:
    """A copy of the machine's toolchain whose rustc prints `kiln-test: <version.txt>` in `rustc -vV`."""
    copy = tmp_path / "toolchain"
    for d in ("bin", "lib", "libexec", "etc"):
        if os.path.isdir(os.path.join(sysroot, d)):
            shutil.copytree(os.path.join(sysroot, d), copy / d, symlinks=True, copy_function=os.link)
    (copy / "bin" / "rustc").rename(copy / "bin" / "rustc-real")
    version = tmp_path / "version.txt"
    version.write_text("a\n")
    wrapper = copy / "bin" / "rustc"
    wrapper.write_text(
        "#!/bin/sh\n"
        'real="$(dirname "$0")/rustc-real"\n'
        f'if [ "$1" = "-vV" ]; then "$real" -vV; echo "kiln-test: $(cat {version} 2>/dev/null)"; exit 0; fi\n'
        'exec "$real" "$@"\n')
    wrapper.chmod(0o755)
    return copy


def run_kiln(ws, copy: Path, *args: str):
    return ws.kiln(*args, "--explain=-", env={"PATH": f"{copy}/bin:/usr/bin:/bin",
                               "XDG_CACHE_HOME": str(ws.output_base.parent / "xdg")})


def cargo_runs(result) -> int:
    return len(re.findall(r"Executing action 'Compiling Rust", result.output))


def digest_table(ws) -> Path:
    (table,) = (ws.output_base.parent / "xdg" / "kiln" / "host_tools").glob("*.json")
    return table


def fingerprint_of(ws) -> str:
    text = (ws.output_base / "external" / "kiln_local_rust" / "BUILD.bazel").read_text()
    return re.search(r'fingerprint = "([0-9a-f]{64})"', text).group(1)


def write_app(ws) -> None:
    ws.write("app/BUILD.bazel", 'rust_binary(name = "app", srcs = ["main.rs"])\n')
    ws.write("app/main.rs", 'fn main() { println!("hi"); }\n')


def test_another_rustc_version_output_reruns_the_cargo_action(ws, toolchain_copy):
    write_app(ws)
    first = run_kiln(ws, toolchain_copy, "build", "//app")
    assert first.code == 0, first.output
    assert cargo_runs(first) == 1, first.output
    assert f'sysroot = "{toolchain_copy}"' in (ws.output_base / "external" / "kiln_local_rust" / "BUILD.bazel").read_text()
    again = run_kiln(ws, toolchain_copy, "build", "//app")
    assert again.code == 0 and cargo_runs(again) == 0, again.output

    # Only what rustc -vV prints changes, not a file of the toolchain: the plan's stat check cannot
    # see it, so a command that loads again (here after a BUILD file edit) must probe again.
    before = fingerprint_of(ws)
    (toolchain_copy.parent / "version.txt").write_text("b\n")
    ws.write("app/BUILD.bazel", 'rust_binary(name = "app", srcs = ["main.rs"])  # edited\n')
    changed = run_kiln(ws, toolchain_copy, "build", "//app")
    assert changed.code == 0, changed.output
    assert cargo_runs(changed) == 1, changed.output
    assert fingerprint_of(ws) != before


def test_rustup_default_switching_toolchains_is_noticed_without_any_other_change(ws, toolchain_copy, tmp_path):
    # `rustup default X` rewrites rustup's settings.toml; the proxy on PATH stays the same file.
    rustup_home = tmp_path / "rustup"
    rustup_home.mkdir()
    env = {"PATH": f"{toolchain_copy}/bin:/usr/bin:/bin", "XDG_CACHE_HOME": str(ws.output_base.parent / "xdg"),
           "RUSTUP_HOME": str(rustup_home)}
    write_app(ws)
    assert ws.kiln("build", "//app", env=env).code == 0
    before = fingerprint_of(ws)
    (toolchain_copy.parent / "version.txt").write_text("switched\n")
    (rustup_home / "settings.toml").write_text('default_toolchain = "other"\n')
    switched = ws.kiln("build", "//app", "--explain=-", env=env)
    assert switched.code == 0, switched.output
    assert cargo_runs(switched) == 1, switched.output
    assert fingerprint_of(ws) != before


def test_a_replaced_toolchain_file_reruns_the_cargo_action_and_nothing_else_is_rehashed(ws, toolchain_copy):
    write_app(ws)
    first = run_kiln(ws, toolchain_copy, "build", "//app")
    assert first.code == 0 and cargo_runs(first) == 1, first.output
    table = digest_table(ws)
    entries = json.loads(table.read_text())
    components = str(toolchain_copy / "lib" / "rustlib" / "components")
    assert components in entries and str(toolchain_copy / "bin" / "rustc-real") in entries
    assert not any("/share/" in p for p in entries)
    saved = table.stat()

    # Loading again with the toolchain unchanged: the digests come from the table, which is not rewritten.
    ws.write("app/BUILD.bazel", 'rust_binary(name = "app", srcs = ["main.rs"])  # edited\n')
    reloaded = run_kiln(ws, toolchain_copy, "build", "//app")
    assert reloaded.code == 0 and cargo_runs(reloaded) == 0, reloaded.output
    assert (table.stat().st_mtime_ns, table.stat().st_ino) == (saved.st_mtime_ns, saved.st_ino)

    # Same rustc version, one file of the toolchain replaced (unlinked first: it is a hard link to the
    # real toolchain's file). Nothing in the workspace changed: the plan's stat of the file notices it.
    before = fingerprint_of(ws)
    old = Path(components).read_text()
    os.unlink(components)
    Path(components).write_text(old + "kiln-test-component\n")
    changed = run_kiln(ws, toolchain_copy, "build", "//app")
    assert changed.code == 0 and cargo_runs(changed) == 1, changed.output
    assert fingerprint_of(ws) != before
    after = json.loads(table.read_text())
    assert after[components] != entries[components]
    assert {p: e for p, e in after.items() if p != components} == {p: e for p, e in entries.items() if p != components}


def test_kiln_tool_code_is_an_input_read_from_kilns_own_package():
    import kiln.tools.cargo_build

    art = kiln_tool_artifact("cargo_build.py")
    assert art.exec_path == "external/kiln_tools/cargo_build.py"
    from kiln.cli.session import KILN_TOOLS_DIR

    sources = SourceTree("/nonexistent", (("kiln_tools", KILN_TOOLS_DIR),))
    assert os.path.samefile(sources.path(art), kiln.tools.cargo_build.__file__)


@pytest.mark.parametrize("strategy", ["linux-sandbox", "processwrapper-sandbox"])
def test_cargos_target_directory_outlives_the_sandbox(ws, toolchain_copy, strategy):
    if strategy == "linux-sandbox" and shutil.which("bwrap") is None:
        unavailable("bubblewrap is not installed")
    ws.write("app/BUILD.bazel", 'rust_binary(name = "app", srcs = ["main.rs"])\n')
    ws.write("app/main.rs", 'fn main() { println!("one"); }\n')
    r = run_kiln(ws, toolchain_copy, "build", f"--spawn_strategy={strategy}", "//app")
    assert r.code == 0, r.output
    cache = ws.output_base / "caches" / "cargo"
    (fingerprints,) = list((cache / "target" / "debug" / ".fingerprint").glob("k_app_app-*"))
    first = {p.name: p.stat().st_mtime_ns for p in fingerprints.iterdir()}

    ws.write("app/main.rs", 'fn main() { println!("two"); }\n')
    r = ws.kiln("run", f"--spawn_strategy={strategy}", "//app", env={
        "PATH": f"{toolchain_copy}/bin:/usr/bin:/bin", "XDG_CACHE_HOME": str(ws.output_base.parent / "xdg")})
    assert r.code == 0 and r.stdout == "two\n", r.output
    # The same unit of the same target directory, rebuilt in place: cargo saw its own earlier state.
    assert list((cache / "target" / "debug" / ".fingerprint").glob("k_app_app-*")) == [fingerprints]
    assert {p.name for p in fingerprints.iterdir()} == set(first)
    assert (cache / "ws" / "k_app_app" / "_src" / "app" / "main.rs").read_text() == 'fn main() { println!("two"); }\n'
    # Nothing of the sandboxes is left, and nothing in the exec root points into one.
    assert not any((ws.output_base / "sandbox").glob("*/caches"))
