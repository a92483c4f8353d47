"""rules_python's pip.parse (bzlmod) and pip_parse (WORKSPACE) on a package index served on 127.0.0.1: a hub
whose requirement() labels give programs the wheels the hashed lock pins, for their own Python version."""

from __future__ import annotations

import sys

import pytest
from pip_wheels import IndexServer, make_wheel, sha256

MODULE = '''module(name = "app")

bazel_dep(name = "rules_python", version = "1.5.0")

pip = use_extension("@rules_python//python/extensions:pip.bzl", "pip")
{parses}
use_repo(pip, "pypi")
'''


def _wheel(name: str, version: str, files: dict[str, str], **kwargs) -> tuple[str, bytes]:
    return make_wheel(name, version, files, **kwargs)


@pytest.fixture
def index():
    with IndexServer() as server:
        yield server


def _serve(index, *wheels) -> list[str]:
    """Serves the wheels; the lock lines pinning them."""
    lines = []
    for project, version, (filename, body) in wheels:
        index.add(project, filename, body)
        lines.append(f"{project}=={version} \\\n    --hash=sha256:{sha256(body)}")
    return lines


def test_requirement_gives_a_program_the_locked_wheels_and_their_dependencies(ws, index):
    lines = _serve(index,
                   ("alpha", "2.0", _wheel("Alpha", "2.0", {"alpha/__init__.py": "from beta_lib import WORD\n"
                                                            "GREETING = 'alpha+' + WORD\n"},
                                           requires=("Beta_Lib>=1",))),
                   ("beta-lib", "1.5", _wheel("beta-lib", "1.5", {"beta_lib/__init__.py": "WORD = 'beta'\n"})))
    ws.write("requirements_lock.txt", "# pip-compile output\n" + "\n".join(lines) + "\n")
    ws.write("MODULE.bazel", MODULE.format(parses=f'''pip.parse(
    hub_name = "pypi",
    python_version = "3.11",
    requirements_lock = "//:requirements_lock.txt",
    experimental_index_url = "{index.url}",
)'''))
    ws.write("BUILD.bazel", '''
        load("@pypi//:requirements.bzl", "all_requirements", "requirement")
        load("@rules_python//python:defs.bzl", "py_binary")

        py_binary(name = "main", srcs = ["main.py"], deps = [requirement("Alpha")])

        py_binary(name = "every", srcs = ["main.py"], main = "main.py", deps = all_requirements)

        filegroup(name = "wheels", srcs = ["@pypi//alpha:whl", "@pypi//beta_lib:whl"])
        ''')
    ws.write("main.py", "import sys, alpha\nprint(alpha.GREETING, [p for p in sys.path if 'site-packages' in p])\n")
    r = ws.kiln("run", "//:main")
    assert r.code == 0, r.output
    greeting, paths = r.stdout.split(" ", 1)
    runfiles = ws.output_base / "execroot/_main/kiln-out/k8-fastbuild/bin/main.runfiles"
    assert greeting == "alpha+beta"
    # The wheels' own site-packages, from the runfiles; kiln's (this virtual environment's) is not there.
    paths = eval(paths)
    assert [p for p in paths if ".runfiles/" in p] == [f"{runfiles}/pypi_311_beta_lib/site-packages",
                                                      f"{runfiles}/pypi_311_alpha/site-packages"]
    assert not [p for p in paths if p.startswith(sys.prefix)], paths
    assert ws.kiln("run", "//:every").code == 0
    r = ws.kiln("build", "//:wheels")
    assert r.code == 0, r.output
    for repo, wheel in (("pypi_311_alpha", "Alpha-2.0-py3-none-any.whl"), ("pypi_311_beta_lib",
                                                                           "beta_lib-1.5-py3-none-any.whl")):
        assert (ws.output_base / "external" / repo / wheel).is_file()


def test_workspace_pip_parse_with_an_interpreter_and_annotations(ws, index):
    lines = _serve(index, ("gamma", "1.0", _wheel("gamma", "1.0", {"gamma/__init__.py": "NAME = 'gamma'\n",
                                                                   "gamma/tool.txt": "tool\n"})))
    ws.write("requirements_lock.txt", f"--index-url {index.url}\n" + "\n".join(lines) + "\n")
    ws.write("WORKSPACE", f'''
        load("@rules_python//python:pip.bzl", "package_annotation", "pip_parse")

        pip_parse(
            name = "pypi",
            requirements_lock = "//:requirements_lock.txt",
            python_interpreter = "{sys.executable}",
            annotations = {{
                "gamma": package_annotation(
                    additive_build_content = 'filegroup(name = "tool", srcs = ["tool_copy.txt"])',
                    copy_files = {{"site-packages/gamma/tool.txt": "tool_copy.txt"}},
                ),
            }},
        )

        load("@pypi//:requirements.bzl", "install_deps")

        install_deps()
        ''')
    ws.write("BUILD.bazel", '''
        load("@pypi//:requirements.bzl", "requirement")
        load("@rules_python//python:defs.bzl", "py_binary")

        py_binary(name = "main", srcs = ["main.py"], deps = [requirement("gamma")], data = ["@pypi_gamma//:tool"])
        ''')
    ws.write("main.py", "import gamma\nprint(gamma.NAME)\n")
    r = ws.kiln("run", "//:main")
    assert r.code == 0, r.output
    assert r.stdout.strip() == "gamma"
    assert (ws.output_base / "external/pypi_gamma/tool_copy.txt").read_text() == "tool\n"
