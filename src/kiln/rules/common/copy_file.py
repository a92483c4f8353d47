"""copy_file (bazel_skylib and aspect_bazel_lib) and write_file (bazel_skylib)."""

from __future__ import annotations

from kiln.core.attrs import Attr, AttrType
from kiln.core.depset import Depset
from kiln.core.providers import DefaultInfo
from kiln.core.rule_class import RuleClass
from kiln.core.runfiles import Runfiles


def _copy_file(ctx):
    srcs = ctx.files.src
    if len(srcs) != 1:
        raise ctx.error(f"expected exactly one file in 'src', got {len(srcs)}", attribute="src")
    out = ctx.outputs.out
    # allow_symlink lets Bazel link instead of copy; kiln's outputs are content-addressed
    # files, so a copy is what both spellings get.
    ctx.actions.copy(srcs[0], out, is_executable=ctx.attr.is_executable, mnemonic="CopyFile")
    files = Depset((out,))
    return [DefaultInfo(files=files, runfiles=Runfiles(files), executable=out if ctx.attr.is_executable else None)]


COPY_FILE = RuleClass.make(
    "copy_file",
    _copy_file,
    [
        Attr("src", AttrType.LABEL, mandatory=True),
        Attr("out", AttrType.OUTPUT, mandatory=True),
        Attr("is_executable", AttrType.BOOL, False),
        Attr("allow_symlink", AttrType.BOOL, False),
    ],
)


def _write_file(ctx):
    newline = {"unix": "\n", "windows": "\r\n", "auto": "\n"}.get(ctx.attr.newline)
    if newline is None:
        raise ctx.error(f"newline must be auto, unix or windows, not '{ctx.attr.newline}'", attribute="newline")
    content = newline.join(ctx.attr.content) + (newline if ctx.attr.content else "")
    out = ctx.outputs.out
    ctx.actions.write(out, content, is_executable=ctx.attr.is_executable)
    files = Depset((out,))
    return [DefaultInfo(files=files, runfiles=Runfiles(files), executable=out if ctx.attr.is_executable else None)]


WRITE_FILE = RuleClass.make(
    "write_file",
    _write_file,
    [
        Attr("out", AttrType.OUTPUT, mandatory=True),
        Attr("content", AttrType.STRING_LIST),
        Attr("is_executable", AttrType.BOOL, False),
        Attr("newline", AttrType.STRING, "auto"),
    ],
)
