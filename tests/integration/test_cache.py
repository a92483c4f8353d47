"""The content-addressed cache: no-op rebuilds, incremental rebuilds, --explain,
recovery after a killed build, `kiln clean` and `kiln clean --expunge`."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time

import pytest

from conftest import KILN, kill_processes, processes_running

# a.txt -> A ; b.txt -> B ; A + B -> AB ; AB -> FINAL ; write_file W (no inputs) ; c.txt -> C
BUILD = """
load("@bazel_skylib//rules:write_file.bzl", "write_file")

genrule(name = "A", srcs = ["a.txt"], outs = ["A.out"], cmd = "tr a-z A-Z < $< > $@")
genrule(name = "B", srcs = ["b.txt"], outs = ["B.out"], cmd = "tr a-z A-Z < $< > $@")
genrule(name = "AB", srcs = [":A", ":B"], outs = ["AB.out"], cmd = "cat $(SRCS) > $@")
genrule(name = "FINAL", srcs = [":AB"], outs = ["FINAL.out"], cmd = "wc -l < $< > $@ && cat $< >> $@")
genrule(name = "C", srcs = ["c.txt"], outs = ["C.out"], cmd = "cat $< > $@")
write_file(name = "W", out = "W.out", content = ["written"])
"""
TOTAL = 6  # actions of //c:all


def _summary(output: str) -> tuple[int, int]:
    m = re.search(r"(\d+) actions? executed, (\d+) from cache", output)
    assert m, f"no build summary in:\n{output}"
    return int(m[1]), int(m[2])


def _setup(ws):
    ws.write("c/BUILD.bazel", BUILD)
    ws.write("c/a.txt", "apple\n")
    ws.write("c/b.txt", "banana\n")
    ws.write("c/c.txt", "cherry\n")


def _build(ws, *args):
    r = ws.kiln("build", "//c:all", *args)
    assert r.code == 0, r.output
    return r


def _out(ws, name):
    return (ws.root / "kiln-bin/c" / name).read_text()


def _edit(path, text):
    # New content with a later mtime (a stat-based check cannot miss it).
    path.write_text(text)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))


def test_first_build_executes_every_action(ws):
    _setup(ws)
    r = _build(ws)
    assert _summary(r.output) == (TOTAL, 0)
    assert _out(ws, "FINAL.out") == "2\nAPPLE\nBANANA\n"


def test_second_build_executes_nothing(ws):
    _setup(ws)
    _build(ws)
    r = _build(ws)
    assert _summary(r.output) == (0, TOTAL)
    assert "0 actions executed" in r.output
    assert _out(ws, "FINAL.out") == "2\nAPPLE\nBANANA\n"


def test_edit_reexecutes_only_dependent_actions(ws):
    _setup(ws)
    _build(ws)
    _edit(ws.root / "c/a.txt", "avocado\n")
    r = _build(ws)
    # A, AB and FINAL depend on a.txt; B, C and W do not.
    assert _summary(r.output) == (3, TOTAL - 3)
    assert _out(ws, "A.out") == "AVOCADO\n"
    assert _out(ws, "FINAL.out") == "2\nAVOCADO\nBANANA\n"
    assert _out(ws, "B.out") == "BANANA\n"


def test_edit_of_leaf_reexecutes_one_action(ws):
    _setup(ws)
    _build(ws)
    _edit(ws.root / "c/c.txt", "cranberry\n")
    r = _build(ws)
    assert _summary(r.output) == (1, TOTAL - 1)
    assert _out(ws, "C.out") == "cranberry\n"


def test_same_size_edit_is_noticed(ws):
    _setup(ws)
    _build(ws)
    (ws.root / "c/c.txt").write_text("CHERRY\n")  # same size, maybe the same mtime tick
    r = _build(ws)
    assert _summary(r.output) == (1, TOTAL - 1)
    assert _out(ws, "C.out") == "CHERRY\n"


def test_content_unchanged_output_stops_rebuild(ws):
    """An edit that leaves A.out unchanged does not rerun what depends on A.out."""
    _setup(ws)
    _build(ws)
    _edit(ws.root / "c/a.txt", "APPLE\n")  # A.out is still APPLE
    r = _build(ws)
    assert _summary(r.output) == (1, TOTAL - 1)


def test_revert_is_a_cache_hit(ws):
    _setup(ws)
    _build(ws)
    _edit(ws.root / "c/a.txt", "avocado\n")
    _build(ws)
    _edit(ws.root / "c/a.txt", "apple\n")
    r = _build(ws)
    assert _summary(r.output) == (0, TOTAL)
    assert _out(ws, "FINAL.out") == "2\nAPPLE\nBANANA\n"
    assert _out(ws, "A.out") == "APPLE\n"


def test_changed_command_reruns_only_that_action(ws):
    _setup(ws)
    _build(ws)
    ws.write("c/BUILD.bazel", BUILD.replace('cmd = "cat $< > $@")', 'cmd = "cat $< $< > $@")'))
    r = _build(ws)
    assert _summary(r.output) == (1, TOTAL - 1)
    assert _out(ws, "C.out") == "cherry\ncherry\n"


def test_action_env_is_part_of_the_key(ws):
    _setup(ws)
    _build(ws)
    r = _build(ws, "--action_env=SOMETHING=1")
    # Every genrule reruns; write_file runs no process, gets no environment and is reused.
    assert _summary(r.output) == (TOTAL - 1, 1)
    r = _build(ws, "--action_env=SOMETHING=1")
    assert _summary(r.output) == (0, TOTAL)
    r = _build(ws)
    assert _summary(r.output) == (0, TOTAL)


def test_deleted_output_is_restored(ws):
    _setup(ws)
    _build(ws)
    target = ws.root / "kiln-bin/c/FINAL.out"
    os.unlink(target)
    r = _build(ws)
    assert _out(ws, "FINAL.out") == "2\nAPPLE\nBANANA\n"
    assert _summary(r.output)[0] == 0


def test_explain_names_the_changed_input(ws):
    _setup(ws)
    _build(ws, "--explain")
    _edit(ws.root / "c/a.txt", "avocado\n")
    r = _build(ws, "--explain")
    explained = [l for l in r.stderr.splitlines() if l.startswith("Executing action")]
    assert len(explained) == 3, r.stderr  # A, AB and FINAL reran
    line_a = next(l for l in explained if "//c:A " in l or "//c:A'" in l)
    assert "c/a.txt" in line_a
    # Actions that did not run are not explained.
    assert not any("//c:B" in l or "//c:C" in l for l in explained)


def test_explain_after_a_build_without_explain(ws):
    _setup(ws)
    _build(ws)
    _edit(ws.root / "c/a.txt", "avocado\n")
    r = _build(ws, "--explain")
    assert "c/a.txt" in r.stderr
    assert "no previous run" not in r.stderr


def test_explain_to_file(ws):
    _setup(ws)
    _build(ws, "--explain")
    _edit(ws.root / "c/c.txt", "cranberry\n")
    log = ws.output_base.parent / "explain.log"
    r = _build(ws, f"--explain={log}")
    text = log.read_text()
    assert "c/c.txt" in text and "//c:C" in text
    assert "c/c.txt" not in r.stderr


def test_killed_build_leaves_a_usable_output_base(ws):
    _setup(ws)
    gate = ws.output_base.parent / "slow.gate"
    started = ws.output_base.parent / "slow.started"
    gate.write_text("slow\n")
    marker = f"60.{os.getpid()}{time.monotonic_ns() % 100000}"
    ws.write("c/BUILD.bazel", BUILD + f"""
genrule(
    name = "SLOW",
    srcs = [":A", "b.txt"],
    outs = ["SLOW.out"],
    cmd = "echo go > {started}.tmp && mv {started}.tmp {started} && "
          + "if [ -e {gate} ]; then sleep {marker}; fi && cat $(SRCS) > $@",
)
genrule(name = "AFTER_SLOW", srcs = [":SLOW"], outs = ["AFTER_SLOW.out"], cmd = "cat $< $< > $@")
""")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KILN_")}
    env["HOME"] = str(ws.output_base.parent / "home")
    proc = subprocess.Popen([*KILN, f"--output_base={ws.output_base}", "build", "//c:all", "--jobs=2",
                             f"--sandbox_writable_path={ws.output_base.parent}"],
                            cwd=ws.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not started.exists():
            assert proc.poll() is None, proc.stdout.read().decode()
            assert time.monotonic() < deadline, "the slow genrule never started"
            time.sleep(0.05)
        time.sleep(0.3)
        assert processes_running(marker), "the genrule's sleep should be running"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        # The action's processes end with kiln (the sandbox dies with its parent).
        deadline = time.monotonic() + 5
        while processes_running(marker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not processes_running(marker), "the action kept running after kiln was killed"
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        proc.stdout.close()
        kill_processes(marker)
    assert proc.returncode == -signal.SIGKILL

    gate.unlink()
    started.unlink()
    r = _build(ws, f"--sandbox_writable_path={ws.output_base.parent}")
    executed, cached = _summary(r.output)
    assert executed + cached == TOTAL + 2
    assert executed >= 2  # SLOW and AFTER_SLOW never finished
    assert _out(ws, "SLOW.out") == "APPLE\nbanana\n"
    assert _out(ws, "AFTER_SLOW.out") == "APPLE\nbanana\n" * 2
    assert _out(ws, "FINAL.out") == "2\nAPPLE\nBANANA\n"
    assert _out(ws, "W.out") == "written\n"
    r = _build(ws)
    assert _summary(r.output) == (0, TOTAL + 2)


def test_clean_then_build_reexecutes(ws):
    _setup(ws)
    _build(ws)
    r = ws.kiln("clean")
    assert r.code == 0, r.output
    assert not os.path.lexists(ws.root / "kiln-bin")
    assert ws.output_base.exists()
    r = _build(ws)
    assert _summary(r.output) == (TOTAL, 0)
    assert _out(ws, "FINAL.out") == "2\nAPPLE\nBANANA\n"


def test_clean_expunge_removes_output_base(ws):
    _setup(ws)
    _build(ws)
    assert ws.output_base.is_dir()
    r = ws.kiln("clean", "--expunge")
    assert r.code == 0, r.output
    assert not ws.output_base.exists()
    assert not os.path.lexists(ws.root / "kiln-bin")
    assert not os.path.lexists(ws.root / "kiln-out")
    assert not os.path.lexists(ws.root / "kiln-testlogs")
    r = _build(ws)
    assert _summary(r.output) == (TOTAL, 0)
    assert _out(ws, "FINAL.out") == "2\nAPPLE\nBANANA\n"


def test_output_base_is_shared_between_workspaces_copies_by_content(tmp_path, ws):
    """Constructive traces: the same action in another workspace reuses the outputs."""
    _setup(ws)
    _build(ws)
    from conftest import Workspace

    other_root = tmp_path / "ws2"
    other_root.mkdir()
    other = Workspace(other_root, ws.output_base)
    _setup(other)
    r = other.kiln("build", "//c:all")
    assert r.code == 0, r.output
    assert _summary(r.output) == (0, TOTAL)
    assert (other_root / "kiln-bin/c/FINAL.out").read_text() == "2\nAPPLE\nBANANA\n"


# --------------------------------------------------------------------------
# incremental loading and analysis: what a new build must notice
# --------------------------------------------------------------------------


def _glob_ws(ws):
    ws.write("g/defs.bzl", """
        def listing(name):
            native.genrule(name = name, srcs = native.glob(["**/*.txt"]), outs = [name + ".out"],
                           cmd = "echo $(SRCS) > $@")
    """)
    ws.write("g/BUILD.bazel", """
        load(":defs.bzl", "listing")
        listing(name = "list")
    """)
    ws.write("g/one.txt", "1\n")


def _listing(ws):
    r = ws.kiln("build", "//g:list")
    assert r.code == 0, r.output
    return (ws.root / "kiln-bin/g/list.out").read_text().split()


def test_new_file_matching_glob_is_picked_up(ws):
    _glob_ws(ws)
    assert _listing(ws) == ["g/one.txt"]
    ws.write("g/two.txt", "2\n")
    assert _listing(ws) == ["g/one.txt", "g/two.txt"]
    ws.write("g/deep/er/three.txt", "3\n")
    assert _listing(ws) == ["g/deep/er/three.txt", "g/one.txt", "g/two.txt"]
    os.unlink(ws.root / "g/two.txt")
    assert _listing(ws) == ["g/deep/er/three.txt", "g/one.txt"]


def test_new_subpackage_cuts_the_glob(ws):
    _glob_ws(ws)
    ws.write("g/deep/er/three.txt", "3\n")
    assert _listing(ws) == ["g/deep/er/three.txt", "g/one.txt"]
    ws.write("g/deep/BUILD.bazel", "")
    assert _listing(ws) == ["g/one.txt"]
    r = ws.kiln("query", "labels(srcs, //g:list)")
    assert r.stdout == "//g:one.txt\n"


def test_removed_subpackage_rejoins_the_glob(ws):
    _glob_ws(ws)
    ws.write("g/deep/er/three.txt", "3\n")
    ws.write("g/deep/BUILD.bazel", "")
    assert _listing(ws) == ["g/one.txt"]
    r = ws.kiln("query", "labels(srcs, //g:list)")
    assert r.stdout == "//g:one.txt\n"
    os.unlink(ws.root / "g/deep/BUILD.bazel")
    r = ws.kiln("query", "labels(srcs, //g:list)")
    assert r.stdout == "//g:deep/er/three.txt\n//g:one.txt\n"
    assert _listing(ws) == ["g/deep/er/three.txt", "g/one.txt"]


def test_edited_bzl_file_is_reloaded(ws):
    _glob_ws(ws)
    assert _listing(ws) == ["g/one.txt"]
    ws.write("g/defs.bzl", """
        def listing(name):
            native.genrule(name = name, srcs = native.glob(["**/*.txt"]), outs = [name + ".out"],
                           cmd = "echo changed $(SRCS) > $@")
    """)
    assert _listing(ws) == ["changed", "g/one.txt"]


def test_new_package_is_found_by_recursive_pattern(ws):
    _glob_ws(ws)
    r = ws.kiln("build", "//...")
    assert r.code == 0, r.output
    ws.write("h/sub/BUILD.bazel", 'genrule(name = "new", outs = ["new.out"], cmd = "echo new > $@")\n')
    r = ws.kiln("build", "//...")
    assert r.code == 0, r.output
    assert "//h/sub:new" in r.output
    assert (ws.root / "kiln-bin/h/sub/new.out").read_text() == "new\n"


def test_bzl_edit_that_keeps_size_and_mtime_is_noticed(ws):
    _glob_ws(ws)
    assert _listing(ws) == ["g/one.txt"]
    bzl = ws.root / "g/defs.bzl"
    st = bzl.stat()
    bzl.write_text(bzl.read_text().replace("echo $(SRCS)", "echo $(OUTS)"))  # same size
    os.utime(bzl, ns=(st.st_atime_ns, st.st_mtime_ns))  # as `cp -p`, rsync or tar leave it
    listed = _listing(ws)
    assert len(listed) == 1 and listed[0].endswith("/bin/g/list.out"), listed


def test_source_edit_that_keeps_size_and_mtime_is_noticed(ws):
    _setup(ws)
    _build(ws)
    src = ws.root / "c/c.txt"
    st = src.stat()
    src.write_text("CHERRY\n")
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns))
    r = _build(ws)
    assert _summary(r.output) == (1, TOTAL - 1)
    assert _out(ws, "C.out") == "CHERRY\n"


def test_action_env_from_client_environment_change_reruns(ws):
    ws.write("e/BUILD.bazel", 'genrule(name = "e", outs = ["e.out"], cmd = "echo $$MY_VAR > $@")\n')
    for value in ("one", "two", "one"):
        r = ws.kiln("build", "//e:e", "--action_env=MY_VAR", env={"MY_VAR": value})
        assert r.code == 0, r.output
        assert (ws.root / "kiln-bin/e/e.out").read_text() == f"{value}\n"


def test_deleted_source_is_an_error(ws):
    _setup(ws)
    _build(ws)
    os.unlink(ws.root / "c/c.txt")
    r = ws.kiln("build", "//c:all")
    assert r.code == 1, r.output
    assert "c/c.txt" in r.stderr


# --------------------------------------------------------------------------
# interruption, concurrent commands, and actions that misbehave
# --------------------------------------------------------------------------


def test_interrupt_exits_8_and_stops_running_actions(ws):
    started = ws.output_base.parent / "int.started"
    marker = f"60.{os.getpid()}{time.monotonic_ns() % 100000}"
    ws.write("i/BUILD.bazel", f"""
genrule(
    name = "slow",
    outs = ["slow.out"],
    cmd = "echo go > {started}.tmp && mv {started}.tmp {started} && sleep {marker} && echo done > $@",
)
""")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KILN_")}
    env["HOME"] = str(ws.output_base.parent / "home")
    proc = subprocess.Popen([*KILN, f"--output_base={ws.output_base}", "build", "//i:slow",
                             f"--sandbox_writable_path={ws.output_base.parent}"],
                            cwd=ws.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not started.exists():
            assert proc.poll() is None, proc.stdout.read().decode()
            assert time.monotonic() < deadline, "the slow genrule never started"
            time.sleep(0.05)
        time.sleep(0.2)
        assert processes_running(marker)
        os.kill(proc.pid, signal.SIGINT)
        code = proc.wait(timeout=30)
        output = proc.stdout.read().decode()
        assert code == 8, output
        deadline = time.monotonic() + 3
        while processes_running(marker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not processes_running(marker), "the action kept running after kiln was interrupted"
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        proc.stdout.close()
        kill_processes(marker)


def test_concurrent_builds_on_one_output_base(ws):
    _setup(ws)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KILN_")}
    env["HOME"] = str(ws.output_base.parent / "home")
    procs = [subprocess.Popen([*KILN, f"--output_base={ws.output_base}", "build", "//c:all"], cwd=ws.root, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in range(3)]
    outputs = [p.communicate(timeout=120)[0].decode() for p in procs]
    for p, out in zip(procs, outputs):
        assert p.returncode == 0, out
    assert _out(ws, "FINAL.out") == "2\nAPPLE\nBANANA\n"
    r = _build(ws)
    assert _summary(r.output) == (0, TOTAL)


BIG = 1024 * 1024  # larger than any "copy small inputs" threshold


def _tamper_ws(ws, size: int = 0):
    _setup(ws)
    if size:
        ws.write("c/a.txt", "apple\n" + "x" * size + "\n")
    ws.write("t/BUILD.bazel", """
        genrule(name = "tamper_src", srcs = ["//c:a.txt"], outs = ["t1.out"],
                cmd = "(echo tampered >> $< || true) 2>/dev/null; cat $< > $@")
        genrule(name = "tamper_gen", srcs = ["//c:A"], outs = ["t2.out"],
                cmd = "(echo tampered >> $< || true) 2>/dev/null; cat $< > $@")
    """)
    ws.write("c/BUILD.bazel", BUILD.replace('genrule(name = "A"', 'genrule(name = "A", visibility = ["//visibility:public"]')
             + 'exports_files(["a.txt"])\n')


@pytest.mark.parametrize("size", [0, BIG], ids=["small", "large"])
def test_action_cannot_modify_source_inputs(ws, size):
    _tamper_ws(ws, size)
    before = (ws.root / "c/a.txt").read_text()
    r = ws.kiln("build", "//t:tamper_src")
    assert (ws.root / "c/a.txt").read_text() == before, r.output


@pytest.mark.parametrize("size", [0, BIG], ids=["small", "large"])
def test_action_cannot_corrupt_cached_outputs(ws, size):
    _tamper_ws(ws, size)
    r = ws.kiln("build", "//c:all", "//t:tamper_gen")
    assert "//t:tamper_gen" in r.output, r.output
    expected = (ws.root / "c/a.txt").read_text().upper()
    assert _out(ws, "A.out") == expected
    assert _out(ws, "AB.out") == expected + "BANANA\n"
    ws.kiln("clean")
    r = _build(ws)
    assert _out(ws, "A.out") == expected
    assert _out(ws, "AB.out") == expected + "BANANA\n"
