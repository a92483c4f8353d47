"""The output store cannot be corrupted from kiln-bin, and a damaged blob is never served.

Outputs are copies of store blobs: editing one in place (as root, whose writes
read-only bits do not stop), deleting it, or a test writing to its runfiles
leaves the store as it was, and the next build restores the output by stat. A
blob damaged in the store itself is discarded when it is next copied out, and
the action that made it runs again. Disk-full cases are in test_disk_full.py.
"""

from __future__ import annotations

import hashlib
import os
import re

# a.txt -> A (upper case) -> AB (A + B.txt) ; AB -> FINAL (line count + AB)
BUILD = """
genrule(name = "A", srcs = ["a.txt"], outs = ["A.out"], cmd = "tr a-z A-Z < $< > $@")
genrule(name = "AB", srcs = [":A", "b.txt"], outs = ["AB.out"], cmd = "cat $(SRCS) > $@")
genrule(name = "FINAL", srcs = [":AB"], outs = ["FINAL.out"], cmd = "wc -l < $< > $@ && cat $< >> $@")
"""
A_OUT = "APPLE\n"
AB_OUT = "APPLE\nbanana\n"


def _summary(output: str) -> tuple[int, int]:
    m = re.search(r"(\d+) actions? executed, (\d+) from cache", output)
    assert m, f"no build summary in:\n{output}"
    return int(m[1]), int(m[2])


def _setup(ws) -> None:
    ws.write("c/BUILD.bazel", BUILD)
    ws.write("c/a.txt", "apple\n")
    ws.write("c/b.txt", "banana\n")


def _build(ws, *targets: str):
    r = ws.kiln("build", *(targets or ("//c:all",)))
    assert r.code == 0, r.output
    return r


def _blob(ws, content: str):
    digest = hashlib.sha256(content.encode()).hexdigest()
    return ws.output_base / "cas" / digest[:2] / digest


def _overwrite_in_place(path, text: str) -> None:
    """Writes through the existing inode (r+), as an editor that saves in place or a test would."""
    with open(path, "r+") as f:
        f.write(text)


def test_output_is_a_copy_not_a_link_into_the_store(ws):
    _setup(ws)
    _build(ws)
    out = ws.root / "kiln-bin/c/A.out"
    blob = _blob(ws, A_OUT)
    assert blob.read_text() == A_OUT
    assert os.stat(out).st_ino != os.stat(blob).st_ino
    assert os.stat(blob).st_nlink == 1


def test_output_edited_in_place_leaves_the_store_intact_and_is_restored(ws):
    _setup(ws)
    _build(ws)
    out = ws.root / "kiln-bin/c/A.out"
    inode = os.stat(out).st_ino
    # Same size, so no size check can notice it: only the stamp or the content tells.
    _overwrite_in_place(out, "XXXXX\n")
    assert os.stat(out).st_ino == inode and out.read_text() == "XXXXX\n"
    assert _blob(ws, A_OUT).read_text() == A_OUT

    r = _build(ws)
    assert _summary(r.output) == (0, 3)
    assert out.read_text() == A_OUT
    # A dependent that runs now is given the right content.
    ws.write("c/b.txt", "blueberry\n")
    r = _build(ws)
    assert _summary(r.output) == (2, 1)
    assert (ws.root / "kiln-bin/c/AB.out").read_text() == "APPLE\nblueberry\n"
    assert (ws.root / "kiln-bin/c/FINAL.out").read_text() == "2\nAPPLE\nblueberry\n"


def test_edit_with_mtime_put_back_is_still_noticed(ws):
    _setup(ws)
    _build(ws)
    out = ws.root / "kiln-bin/c/AB.out"
    st = os.stat(out)
    _overwrite_in_place(out, "GARBAGE")
    os.utime(out, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(out).st_mtime_ns == st.st_mtime_ns and os.stat(out).st_size == st.st_size
    _build(ws)
    assert out.read_text() == AB_OUT


def test_deleted_and_replaced_outputs_are_restored(ws):
    _setup(ws)
    _build(ws)
    (ws.root / "kiln-bin/c/A.out").unlink()
    final = ws.root / "kiln-bin/c/FINAL.out"
    final.unlink()
    final.write_text("someone else's file\n")
    r = _build(ws)
    assert _summary(r.output) == (0, 3)
    assert (ws.root / "kiln-bin/c/A.out").read_text() == A_OUT
    assert final.read_text() == "2\n" + AB_OUT


def test_unchanged_outputs_are_not_copied_again(ws):
    _setup(ws)
    _build(ws)
    inodes = {n: os.stat(ws.root / "kiln-bin/c" / n).st_ino for n in ("A.out", "AB.out", "FINAL.out")}
    _overwrite_in_place(ws.root / "kiln-bin/c/AB.out", "x")
    _build(ws)
    after = {n: os.stat(ws.root / "kiln-bin/c" / n).st_ino for n in inodes}
    assert after["A.out"] == inodes["A.out"] and after["FINAL.out"] == inodes["FINAL.out"]
    assert after["AB.out"] != inodes["AB.out"]


def test_a_test_writing_to_its_runfiles_cannot_change_what_the_next_test_sees(ws):
    ws.write("t/BUILD.bazel", """
        load("@rules_python//python:defs.bzl", "py_test")
        genrule(name = "gen", outs = ["gen.txt"], cmd = "echo original > $@")
        py_test(name = "appender", srcs = ["appender.py"], data = [":gen"], size = "small")
        py_test(name = "reader", srcs = ["reader.py"], data = [":gen"], size = "small")
    """)
    ws.write("t/appender.py", """
        import os
        path = os.path.join(os.environ["RUNFILES_DIR"], "_main/t/gen.txt")
        with open(path, "a") as f:
            f.write("appended by a test\\n")
        print("APPENDED", open(path).read().splitlines())
    """)
    ws.write("t/reader.py", """
        import os, sys
        text = open(os.path.join(os.environ["RUNFILES_DIR"], "_main/t/gen.txt")).read()
        print("READ", repr(text))
        sys.exit(0 if text == "original\\n" else 1)
    """)
    # In the sandbox a runfile is read-only (test_sandbox.py); with the local strategy a test's runfiles
    # link to kiln-bin's copies, so the append lands in kiln-bin: never in the store.
    r = ws.kiln("test", "//t:appender", "--spawn_strategy=local")
    assert r.code == 0, r.output
    log = (ws.root / "kiln-testlogs/t/appender/test.log").read_text()
    assert "APPENDED ['original', 'appended by a test']" in log
    assert _blob(ws, "original\n").read_text() == "original\n"

    r = ws.kiln("test", "//t:reader")
    assert r.code == 0, r.output + (ws.root / "kiln-testlogs/t/reader/test.log").read_text()
    assert (ws.root / "kiln-bin/t/gen.txt").read_text() == "original\n"


def test_blob_corrupted_in_the_store_is_discarded_and_its_action_reruns(ws):
    _setup(ws)
    _build(ws)
    blob = _blob(ws, A_OUT)
    _overwrite_in_place(blob, "ZZZZZ\n")  # same size: the size check alone cannot see it
    (ws.root / "kiln-bin/c/A.out").unlink()
    r = _build(ws)
    assert re.search(rf"WARNING: discarded {re.escape(str(blob))} from the store: its content does not match "
                     rf"its digest; running the Genrule action of //c:A again", r.output), r.output
    assert _summary(r.output) == (1, 2)
    assert (ws.root / "kiln-bin/c/A.out").read_text() == A_OUT
    assert blob.read_text() == A_OUT
    r = _build(ws)
    assert _summary(r.output) == (0, 3) and "WARNING" not in r.output


def test_corrupted_blob_is_not_given_to_a_dependent(ws):
    """The output is intact, so only the blob's stamp shows it was written to since it was checked."""
    _setup(ws)
    _build(ws)
    _overwrite_in_place(_blob(ws, A_OUT), "ZZZZZ\n")
    ws.write("c/b.txt", "blueberry\n")
    r = _build(ws)
    assert "does not match its digest" in r.output, r.output
    assert (ws.root / "kiln-bin/c/AB.out").read_text() == "APPLE\nblueberry\n"
    assert _blob(ws, A_OUT).read_text() == A_OUT


def test_blob_of_the_wrong_size_is_discarded(ws):
    _setup(ws)
    _build(ws)
    blob = _blob(ws, AB_OUT)
    with open(blob, "a") as f:
        f.write("extra\n")
    r = _build(ws)
    assert "does not match its digest" in r.output, r.output
    assert _summary(r.output) == (1, 2)
    assert blob.read_text() == AB_OUT
    assert (ws.root / "kiln-bin/c/FINAL.out").read_text() == "2\n" + AB_OUT
