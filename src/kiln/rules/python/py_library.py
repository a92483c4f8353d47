"""py_library, and what py_binary and py_test share with it: sources, imports, runfiles."""

from __future__ import annotations

import posixpath

from kiln.core.attrs import Attr, AttrType
from kiln.core.depset import Depset
from kiln.core.providers import DefaultInfo
from kiln.core.rule_class import RuleClass, ToolchainTypeRequirement
from kiln.core.runfiles import Runfiles, merge_all
from kiln.rules.python.precompile import LIBRARY_PRECOMPILE_ATTRS
from kiln.rules.python.providers import PY_EXEC_TOOLS_TOOLCHAIN_TYPE, PY_TOOLCHAIN_TYPE, PyInfo

PY_EXTENSIONS = ("py", "pyi")

LIBRARY_ATTRS = [
    Attr("srcs", AttrType.LABEL_LIST),
    Attr("deps", AttrType.LABEL_LIST),
    Attr("data", AttrType.LABEL_LIST),
    Attr("imports", AttrType.STRING_LIST),
    # Python 2 is gone; kiln accepts the attribute as rules_python does and checks its value.
    Attr("srcs_version", AttrType.STRING, "PY3"),
    *LIBRARY_PRECOMPILE_ATTRS,
]
# Precompiling asks for the target's runtime and the exec tools; a library that does not precompile needs neither.
LIBRARY_TOOLCHAINS = (ToolchainTypeRequirement(PY_TOOLCHAIN_TYPE, mandatory=False),
                      ToolchainTypeRequirement(PY_EXEC_TOOLS_TOOLCHAIN_TYPE, mandatory=False))


def check_srcs(ctx) -> list:
    srcs = ctx.files.srcs
    for dep in ctx.attr.srcs:
        for f in dep.default_info.files.to_list():
            if f.extension not in PY_EXTENSIONS and f.extension not in ("so", "pyc"):
                raise ctx.error(
                    f"'{dep.label}' does not produce any {ctx.target.rule_kind} srcs files "
                    f"(expected .py, got '{f.basename}')",
                    attribute="srcs",
                )
    if ctx.attr.srcs_version not in ("PY3", "PY2AND3", "PY3ONLY"):
        raise ctx.error(f"srcs_version '{ctx.attr.srcs_version}' is not supported: kiln builds Python 3 only",
                        attribute="srcs_version")
    return srcs


def import_paths(ctx) -> list[str]:
    """`imports` as runfiles paths (`_main/pkg/src`), refusing ones that leave the repository."""
    out = []
    root = ctx.label.repo or "_main"
    for imp in ctx.attr.imports:
        if imp.startswith("/"):
            raise ctx.error(f"absolute import paths are not allowed: '{imp}'", attribute="imports")
        joined = posixpath.normpath(posixpath.join(ctx.label.package, imp))
        if joined == ".." or joined.startswith("../"):
            raise ctx.error(f"path '{imp}' references a path above the execution root", attribute="imports")
        out.append(root if joined == "." else f"{root}/{joined}")
    return out


def collect(ctx, srcs, extra_deps: tuple = (), keep: tuple = ()) -> tuple[PyInfo, Runfiles]:
    """PyInfo and runfiles of `srcs` and the deps, precompiling `srcs` when that is on (`keep`: sources that
    stay in the runfiles whatever the source retention, a binary's main)."""
    from kiln.rules.python.precompile import precompile

    deps = [*ctx.attr.deps, *extra_deps]
    infos = [d.get(PyInfo) for d in deps]
    for dep, info in zip(deps, infos):
        if info is None and not dep.default_info.files.to_list() and dep.default_info.runfiles.is_empty():
            raise ctx.error(f"'{dep.label}' does not have mandatory providers: 'PyInfo'", attribute="deps")
    compiled = precompile(ctx, srcs)
    py_info = PyInfo(
        transitive_sources=Depset(tuple(srcs), [i.transitive_sources for i in infos if i]),
        imports=Depset(tuple(import_paths(ctx)), [i.imports for i in infos if i]),
        uses_shared_libraries=any(i.uses_shared_libraries for i in infos if i)
        or any(f.extension == "so" for f in srcs),
        direct_pyc_files=Depset(compiled.pycs),
        transitive_pyc_files=Depset(compiled.pycs, [i.transitive_pyc_files for i in infos if i]),
    )
    kept = tuple(dict.fromkeys((*compiled.kept_sources, *(k for k in keep if k in srcs))))
    own = Runfiles(Depset(kept + (compiled.pycs if compiled.pycs_in_runfiles else ())))
    data = [Runfiles(d.default_info.files).merge(d.default_info.runfiles) for d in ctx.attr.data]
    dep_runfiles = []
    for d in deps:
        # A dependency without PyInfo (a filegroup of .py files, a genrule) still brings its files.
        rf = d.default_info.runfiles
        if d.get(PyInfo) is None:
            rf = Runfiles(d.default_info.files).merge(rf)
        dep_runfiles.append(rf)
    return py_info, merge_all([own, *data, *dep_runfiles])


def _py_library(ctx):
    srcs = check_srcs(ctx)
    py_info, runfiles = collect(ctx, srcs)
    # Its pyc files are built with it, as rules_python's are.
    return [DefaultInfo(files=Depset(tuple(srcs), [py_info.direct_pyc_files]), runfiles=runfiles), py_info]


PY_LIBRARY = RuleClass.make("py_library", _py_library, LIBRARY_ATTRS, toolchains=LIBRARY_TOOLCHAINS)
