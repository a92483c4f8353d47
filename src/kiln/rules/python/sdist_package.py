"""kiln_sdist_package: a package the index has only as an sdist, built and installed for the target's runtime.

Written by kiln into a pip hub's wheel repository (kiln.repos.sdist_repo), not by users. The build is an
action on the target's Python toolchain — `pip install --no-deps --target <dir> <sdist>`, which builds the
wheel in an isolated environment whose build requirements pip downloads, so the action has the network (as
rules_python builds sdists by default) — and its output directory is the package's site-packages on sys.path.
--@rules_python//python/config_settings:pip_whl=only makes it an error naming the package.
"""

from __future__ import annotations

from kiln.core.attrs import Attr, AttrType
from kiln.core.depset import Depset
from kiln.core.providers import DefaultInfo
from kiln.core.rule_class import RuleClass, ToolchainTypeRequirement
from kiln.core.runfiles import Runfiles, merge_all
from kiln.rules.python.providers import PY_TOOLCHAIN_TYPE, PyInfo
from kiln.rules.python.py_runtime import python_runtime, runtime_command


def _sdist_package(ctx):
    package = ctx.attr.package
    if ctx.attr.forbidden:
        raise ctx.error(f"{package} has only an sdist on the index, and --@rules_python//python/config_settings:"
                        "pip_whl=only forbids building it: add a wheel of it to the index, or drop the flag",
                        attribute="forbidden")
    runtime = python_runtime(ctx)
    (sdist,) = ctx.files.sdist
    installed = ctx.actions.declare_directory("site-packages")
    interpreter, own, requirements = runtime_command(runtime)
    indexes = [a for i, url in enumerate(ctx.attr.index_urls)
               for a in (("--index-url" if i == 0 else "--extra-index-url"), url)]
    requirements = {**requirements, "requires-network": "1"}
    ctx.actions.run(
        outputs=[installed],
        inputs=Depset((sdist, *own), [runtime.files]),
        argv=[interpreter, "-s", "-m", "pip", "install", "--no-deps", "--no-cache-dir", "--disable-pip-version-check",
              "--no-compile", "--quiet", *indexes, "--target", installed.exec_path, sdist.exec_path],
        mnemonic="PyBuildSdist",
        progress_message=f"Building {package} from its sdist ({ctx.label})",
        execution_requirements=requirements,
    )
    deps = ctx.attr.deps
    infos = [d.get(PyInfo) for d in deps]
    py_info = PyInfo(transitive_sources=Depset((), [i.transitive_sources for i in infos if i]),
                     imports=Depset((installed.runfiles_path,), [i.imports for i in infos if i]))
    runfiles = merge_all([Runfiles(Depset((installed,))), *(d.default_info.runfiles for d in deps)])
    return [DefaultInfo(files=Depset((installed,)), runfiles=runfiles), py_info]


KILN_SDIST_PACKAGE = RuleClass.make("kiln_sdist_package", _sdist_package, [
    Attr("sdist", AttrType.LABEL, mandatory=True),
    Attr("package", AttrType.STRING, mandatory=True),
    Attr("index_urls", AttrType.STRING_LIST),
    Attr("forbidden", AttrType.BOOL, False),
    Attr("deps", AttrType.LABEL_LIST),
], toolchains=(ToolchainTypeRequirement(PY_TOOLCHAIN_TYPE),))
