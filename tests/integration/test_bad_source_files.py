"""Bad BUILD and .bzl input of issue 6: bytes that are not UTF-8, `def` in BUILD files,
outputs that take a source file's name. Each shows one located message, no traceback,
and exits 1 as Bazel does."""

from __future__ import annotations

BUILD_ERROR = 1


def fails(ws, *args: str) -> str:
    r = ws.kiln(*args)
    out = r.output
    assert "Traceback" not in out, out
    assert "internal error" not in out, out
    assert r.code == BUILD_ERROR, f"exit code {r.code}:\n{out}"
    return out


def test_build_file_that_is_not_utf8_names_file_and_byte(ws):
    text = b'filegroup(\n    name = "a",\n    srcs = ["caf\xe9.txt"],\n)\n'
    (ws.root / "pkg").mkdir()
    (ws.root / "pkg" / "BUILD.bazel").write_bytes(text)
    out = fails(ws, "build", "//pkg:a")
    offset = text.index(b"\xe9")
    assert f"ERROR: pkg/BUILD.bazel:3:17: invalid UTF-8 at byte {offset} (0xe9)" in out, out


def test_bzl_file_that_is_not_utf8_names_the_bzl_file(ws):
    ws.write("pkg/BUILD.bazel", """
        load(":defs.bzl", "NAME")
        filegroup(name = NAME, srcs = [])
    """)
    (ws.root / "pkg" / "defs.bzl").write_bytes(b'# \xff\xfe comment\nNAME = "a"\n')
    out = fails(ws, "build", "//pkg:a")
    assert "pkg/defs.bzl:1:3: invalid UTF-8 at byte 2 (0xff)" in out, out


def test_module_file_that_is_not_utf8(ws):
    (ws.root / "MODULE.bazel").write_bytes(b'module(name = "t\x80")\n')
    ws.write("pkg/BUILD.bazel", 'filegroup(name = "a", srcs = [])\n')
    out = fails(ws, "build", "//pkg:a")
    assert "MODULE.bazel:1:17: invalid UTF-8 at byte 16 (0x80)" in out, out


def test_def_in_a_build_file_is_rejected(ws):
    ws.write("pkg/BUILD.bazel", """
        filegroup(name = "a", srcs = [])

        def make(name):
            filegroup(name = name, srcs = [])
    """)
    out = fails(ws, "build", "//pkg:a")
    assert "ERROR: pkg/BUILD.bazel:3:1: function definitions are not allowed in BUILD files" in out, out


def test_def_in_a_bzl_file_is_still_allowed(ws):
    ws.write("pkg/defs.bzl", """
        def make(name):
            native.genrule(name = name, outs = [name + ".txt"], cmd = "echo made > $@")
    """)
    ws.write("pkg/BUILD.bazel", """
        load(":defs.bzl", "make")
        make("a")
    """)
    r = ws.kiln("build", "//pkg:a")
    assert r.code == 0, r.output
    assert (ws.root / "kiln-bin" / "pkg" / "a.txt").read_text() == "made\n"


def test_output_named_like_an_exported_source_file(ws):
    ws.write("pkg/data.txt", "source\n")
    ws.write("pkg/BUILD.bazel", """
        exports_files(["data.txt"])

        genrule(
            name = "gen",
            outs = ["data.txt"],
            cmd = "echo generated > $@",
        )
    """)
    out = fails(ws, "build", "//pkg:gen")
    assert ("ERROR: pkg/BUILD.bazel:4:5: generated file 'data.txt' in rule 'gen' conflicts with "
            "existing source file (declared at pkg/BUILD.bazel:1:1)") in out, out


def test_output_that_is_also_an_input_of_its_rule(ws):
    ws.write("pkg/data.txt", "source\n")
    ws.write("pkg/BUILD.bazel", """
        genrule(
            name = "gen",
            srcs = ["data.txt"],
            outs = ["data.txt"],
            cmd = "cp $< $@",
        )
    """)
    out = fails(ws, "build", "//pkg:gen")
    assert "ERROR: pkg/BUILD.bazel:2:5: rule 'gen' has file 'data.txt' as both an input and an output" in out, out
    assert "cycle" not in out


def test_output_named_like_the_build_file(ws):
    ws.write("pkg/BUILD.bazel", """
        genrule(name = "gen", outs = ["BUILD.bazel"], cmd = "echo > $@")
    """)
    out = fails(ws, "build", "//pkg:gen")
    assert ("ERROR: pkg/BUILD.bazel:1:1: generated file 'BUILD.bazel' in rule 'gen' conflicts with "
            "existing source file (the package's BUILD file)") in out, out


def test_output_masking_an_unreferenced_file_on_disk_is_allowed_as_in_bazel(ws):
    # Bazel accepts this (bazelbuild/bazel#27376): the label then names the generated file.
    ws.write("pkg/data.txt", "source\n")
    ws.write("pkg/BUILD.bazel", """
        genrule(name = "gen", outs = ["data.txt"], cmd = "echo generated > $@")
        genrule(name = "use", srcs = [":data.txt"], outs = ["use.txt"], cmd = "cat $< > $@")
    """)
    r = ws.kiln("build", "//pkg:use")
    assert r.code == 0, r.output
    assert (ws.root / "kiln-bin" / "pkg" / "use.txt").read_text() == "generated\n"
