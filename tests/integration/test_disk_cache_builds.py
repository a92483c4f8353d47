"""--disk_cache in real builds: keys that do not depend on the workspace's path, hits after
`kiln clean` and in another output base, stdout kept byte for byte, damaged entries, an
unusable cache directory, garbage collection; and --strategy per mnemonic."""

from __future__ import annotations

import hashlib
import re
import shutil

from conftest import Workspace

BUILD = r"""
genrule(name = "up", srcs = ["a.txt"], outs = ["up.out"], cmd = "tr a-z A-Z < $< > $@")
genrule(name = "both", srcs = [":up", "b.txt"], outs = ["both.out"], cmd = "cat $(SRCS) > $@")
genrule(name = "noisy", outs = ["noisy.out"], cmd = "printf 'caf\\351 \\377\\n' && echo done > $@")
genrule(name = "tool", srcs = ["run.sh"], outs = ["tool.out"], cmd = "./$< > $@")
"""
ACTIONS = 4


def _setup(ws: Workspace) -> None:
    ws.write("p/BUILD.bazel", BUILD)
    ws.write("p/a.txt", "apple\n")
    ws.write("p/b.txt", "banana\n")
    ws.write("p/run.sh", "#!/bin/sh\necho ran\n", executable=True)


def _summary(output: str) -> tuple[int, int]:
    m = re.search(r"(\d+) actions? executed, (\d+) from cache", output)
    assert m, f"no build summary in:\n{output}"
    return int(m[1]), int(m[2])


def _build(ws: Workspace, *args: str):
    r = ws.kiln("build", "//p:all", *args)
    assert r.code == 0, r.output
    return r


def _outputs(ws: Workspace) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((ws.root / "kiln-bin/p").iterdir()) if p.suffix == ".out"}


def test_copy_at_another_path_is_served_whole_from_the_disk_cache(ws, tmp_path):
    _setup(ws)
    disk = tmp_path / "disk"
    first = _build(ws, f"--disk_cache={disk}")
    assert _summary(first.output) == (ACTIONS, 0)
    expected = _outputs(ws)

    (tmp_path / "elsewhere" / "copy").mkdir(parents=True)
    other = Workspace(tmp_path / "elsewhere" / "copy", tmp_path / "other_output_base")
    shutil.copytree(ws.root / "p", other.root / "p")
    second = _build(other, f"--disk_cache={disk}")
    assert _summary(second.output) == (0, ACTIONS), second.output
    assert _outputs(other) == expected


def test_clean_then_build_comes_from_the_disk_cache(ws, tmp_path):
    _setup(ws)
    disk = tmp_path / "disk"
    _build(ws, f"--disk_cache={disk}")
    assert ws.kiln("clean").code == 0
    r = _build(ws, f"--disk_cache={disk}")
    assert _summary(r.output) == (0, ACTIONS)
    assert (ws.root / "kiln-bin/p/both.out").read_text() == "APPLE\nbanana\n"
    assert (ws.root / "kiln-bin/p/tool.out").read_text() == "ran\n"


def test_stdout_is_stored_byte_for_byte(ws, tmp_path):
    _setup(ws)
    disk = tmp_path / "disk"
    _build(ws, f"--disk_cache={disk}")
    printed = "café ÿ\n".encode("latin-1")
    blob = disk / "cas" / hashlib.sha256(printed).hexdigest()[:2] / hashlib.sha256(printed).hexdigest()
    assert blob.read_bytes() == printed


def test_damaged_blob_is_discarded_and_the_action_runs_again(ws, tmp_path):
    _setup(ws)
    disk = tmp_path / "disk"
    _build(ws, f"--disk_cache={disk}")
    content = b"APPLE\nbanana\n"
    digest = hashlib.sha256(content).hexdigest()
    blob = disk / "cas" / digest[:2] / digest
    blob.write_bytes(b"APPLE\nBANANA\n")  # same size, other bytes
    # An empty output base: its store does not hold the blob, so the disk cache must provide it.
    assert ws.kiln("clean", "--expunge").code == 0
    r = _build(ws, f"--disk_cache={disk}")
    assert _summary(r.output) == (1, ACTIONS - 1)
    assert (ws.root / "kiln-bin/p/both.out").read_bytes() == content
    assert blob.read_bytes() == content  # stored afresh by the re-run


def test_unwritable_disk_cache_warns_once_and_builds(ws, tmp_path):
    _setup(ws)
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("a file where the cache directory should be\n")
    r = _build(ws, f"--disk_cache={blocker}/cache")
    warnings = [l for l in r.stderr.splitlines() if "--disk_cache=" in l]
    assert len(warnings) == 1, r.stderr
    assert warnings[0].startswith("WARNING: ")
    assert "cannot be used" in warnings[0] and "building without the disk cache" in warnings[0]
    assert "Traceback" not in r.output
    assert _summary(r.output) == (ACTIONS, 0)


def test_gc_max_size_shrinks_the_cache_after_the_build(ws, tmp_path):
    _setup(ws)
    disk = tmp_path / "disk"
    _build(ws, f"--disk_cache={disk}")
    before = sum(f.stat().st_size for f in disk.rglob("*") if f.is_file())
    assert before > 0
    _build(ws, f"--disk_cache={disk}", "--experimental_disk_cache_gc_max_size=1")
    after = sum(f.stat().st_size for f in (disk / "cas").rglob("*") if f.is_file())
    after += sum(f.stat().st_size for f in (disk / "ac").rglob("*") if f.is_file())
    assert after <= 1


def test_bad_gc_value_is_a_command_line_error(ws, tmp_path):
    _setup(ws)
    r = ws.kiln("build", "//p:all", f"--disk_cache={tmp_path}/d", "--experimental_disk_cache_gc_max_age=soon")
    assert r.code == 2, r.output
    assert "--experimental_disk_cache_gc_max_age=soon: expected a duration" in r.stderr
    assert "Traceback" not in r.output


def test_strategy_per_mnemonic_runs_that_mnemonic_unsandboxed(ws, tmp_path):
    # Inside the Linux sandbox a write outside the outputs never reaches the host; with `local` it does.
    outside = tmp_path / "outside"
    outside.mkdir()
    ws.write("q/BUILD.bazel", "".join(
        f'genrule(name = "{n}", outs = ["{n}.out"], cmd = "touch {outside}/{n} 2>/dev/null || true; touch $@")\n'
        for n in ("boxed", "unboxed")))
    assert ws.kiln("build", "//q:boxed").code == 0
    assert not (outside / "boxed").exists()
    r = ws.kiln("build", "//q:unboxed", "--strategy=Genrule=local")
    assert r.code == 0, r.output
    assert (outside / "unboxed").exists()


def test_unknown_strategy_name_is_rejected(ws):
    _setup(ws)
    r = ws.kiln("build", "//p:all", "--strategy=Genrule=sandboxd")
    assert r.code == 2, r.output
    assert "--strategy=Genrule=sandboxd: 'sandboxd' is not a spawn strategy kiln knows" in r.stderr
    assert "linux-sandbox" in r.stderr
    assert "Traceback" not in r.output


def test_strategy_without_a_mnemonic_part_is_rejected(ws):
    _setup(ws)
    r = ws.kiln("build", "//p:all", "--strategy==local")
    assert r.code == 2, r.output
    assert "--strategy==local: expected MNEMONIC=STRATEGY" in r.stderr
