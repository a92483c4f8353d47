"""kiln stays light: protobuf, grpc and the REAPI messages load only for a disk cache (or remote), never to key an action."""

from __future__ import annotations

import re

# One line per module imported: "import time: <self us> | <cumulative us> | <indented module name>".
_IMPORT_LINE = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$", re.MULTILINE)


def _imported(stderr: str) -> set[str]:
    return set(_IMPORT_LINE.findall(stderr))


def test_a_noop_build_imports_neither_protobuf_nor_the_reapi_messages(ws):
    ws.write("pkg/BUILD.bazel", 'genrule(name = "g", srcs = ["in.txt"], outs = ["out.txt"], cmd = "cp $< $@")\n')
    ws.write("pkg/in.txt", "hello\n")
    first = ws.kiln("build", "//pkg:g")
    assert first.code == 0, first.output

    noop = ws.kiln("build", "//pkg:g", env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert noop.code == 0, noop.output
    imported = _imported(noop.stderr)
    assert "kiln.cli.main" in imported  # the profile did cover the command
    heavy = sorted(m for m in imported if m.startswith(
        ("google.protobuf", "grpc", "kiln.execution.reapi", "kiln.execution.remote_client", "kiln.execution.action_record")))
    assert heavy == []


def test_an_edit_that_reruns_an_action_does_not_import_protobuf_either(ws):
    # The changed action's key is computed afresh (its REAPI record encoded by kiln itself).
    ws.write("pkg/BUILD.bazel", 'genrule(name = "g", srcs = ["in.txt"], outs = ["out.txt"], cmd = "cp $< $@")\n')
    ws.write("pkg/in.txt", "hello\n")
    assert ws.kiln("build", "//pkg:g").code == 0
    ws.write("pkg/in.txt", "hello again\n")
    edit = ws.kiln("build", "//pkg:g", env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert edit.code == 0, edit.output
    assert "1 action executed" in edit.stderr
    imported = _imported(edit.stderr)
    assert "kiln.execution.action_record" in imported
    assert sorted(m for m in imported if m.startswith(("google.protobuf", "kiln.execution.reapi."))) == []
