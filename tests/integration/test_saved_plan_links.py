"""The saved plan survives kiln's own convenience links, and only them."""

from __future__ import annotations

LOADED = "DEBUG: BUILD.bazel: root package evaluated"


def _workspace(ws):
    ws.write("BUILD.bazel", """
        print("root package evaluated")
        genrule(name = "root", outs = ["root.txt"], cmd = "echo root > $@")
    """)
    ws.write("lib/BUILD.bazel", """
        genrule(name = "lib", outs = ["lib.txt"], cmd = "echo lib > $@")
    """)


def test_first_build_after_a_clean_build_reuses_the_plan(ws):
    _workspace(ws)
    r = ws.kiln("build", "//...")
    assert r.code == 0, r.output
    assert LOADED in r.output
    assert (ws.root / "kiln-bin").is_symlink()
    # The links just made changed the root directory's stat: the plan must still be reused.
    r = ws.kiln("build", "//...")
    assert r.code == 0, r.output
    assert LOADED not in r.output
    assert "0 actions executed" in r.output
    # `clean` removes the links again; the plan (kept by clean) still holds.
    r = ws.kiln("clean")
    assert r.code == 0, r.output
    assert not (ws.root / "kiln-bin").exists()
    r = ws.kiln("build", "//...")
    assert r.code == 0, r.output
    assert LOADED not in r.output
    assert (ws.root / "kiln-bin" / "root.txt").read_text() == "root\n"


def test_other_symlink_prefix_is_ignored_too(ws):
    _workspace(ws)
    r = ws.kiln("build", "--symlink_prefix=out-", "//...")
    assert r.code == 0, r.output
    assert (ws.root / "out-bin").is_symlink()
    r = ws.kiln("build", "--symlink_prefix=out-", "//...")
    assert r.code == 0, r.output
    assert LOADED not in r.output


def test_new_and_removed_packages_invalidate_the_plan(ws):
    _workspace(ws)
    assert ws.kiln("build", "//...").code == 0
    ws.write("extra/BUILD.bazel", """
        genrule(name = "extra", outs = ["extra.txt"], cmd = "echo extra > $@")
    """)
    r = ws.kiln("build", "//...")
    assert r.code == 0, r.output
    assert LOADED in r.output
    assert (ws.root / "kiln-bin" / "extra" / "extra.txt").read_text() == "extra\n"
    (ws.root / "extra" / "BUILD.bazel").unlink()
    (ws.root / "extra").rmdir()
    r = ws.kiln("build", "//...")
    assert r.code == 0, r.output
    assert LOADED in r.output
    assert "extra" not in r.stderr.replace("kiln-bin", "")


def test_query_answer_survives_the_links_of_a_build(ws):
    _workspace(ws)
    r = ws.kiln("query", "//...")
    assert r.code == 0, r.output
    assert LOADED in r.output
    assert ws.kiln("build", "//...").code == 0
    r = ws.kiln("query", "//...")
    assert r.code == 0, r.output
    assert LOADED not in r.output
    assert r.stdout.split() == ["//:root", "//lib:lib"]
