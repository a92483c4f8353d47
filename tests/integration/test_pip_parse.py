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
    # Nor the base installation's (kiln's default runtime is an empty virtual environment of it).
    assert not [p for p in paths if p.startswith(sys.base_prefix)], paths
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


def _hub(ws, index_url: str, lock: str, build: str) -> None:
    ws.write("requirements_lock.txt", lock)
    ws.write("MODULE.bazel", MODULE.format(parses=f'''pip.parse(
    hub_name = "pypi",
    python_version = "3.11",
    requirements_lock = "//:requirements_lock.txt",
    experimental_index_url = "{index_url}",
)'''))
    ws.write("BUILD.bazel", 'load("@pypi//:requirements.bzl", "requirement")\n'
                            'load("@rules_python//python:defs.bzl", "py_binary")\n' + build)
    ws.write("main.py", "")


MAIN = 'py_binary(name = "main", srcs = ["main.py"], deps = [requirement("{name}")])\n'


def _failure(ws, *args: str) -> str:
    r = ws.kiln("build", *(args or ("//:main",)))
    assert r.code != 0, r.output
    assert "Traceback" not in r.output
    return r.stderr


def test_a_requirement_without_a_hash(ws, index):
    _hub(ws, index.url, "alpha==2.0\n", MAIN.format(name="alpha"))
    assert _failure(ws) == ("ERROR: requirements_lock.txt:1: alpha==2.0 has no --hash: every requirement of a lock "
                            "must list the sha256 of the files it allows, as pip's --require-hashes demands "
                            "(pip-compile --generate-hashes, uv pip compile --generate-hashes)\n")


def test_a_file_whose_content_is_not_the_locked_one(ws, index):
    name, body = _wheel("alpha", "2.0", {"alpha/__init__.py": ""})
    locked = sha256(b"what the lock was made from")
    index.add("alpha", name, body, claimed_sha256=locked)
    _hub(ws, index.url, f"alpha==2.0 --hash=sha256:{locked}\n", MAIN.format(name="alpha"))
    err = _failure(ws)
    assert f"sha256 mismatch: expected {locked}, got {sha256(body)}" in err, err
    assert f"{index.url.rsplit('/', 1)[0]}/files/{name}" in err
    cache = ws.output_base.parent / "home" / ".cache" / "kiln" / "repository_cache"
    assert not [p for p in cache.rglob("*") if p.is_file()]


def test_no_wheel_for_the_target_runtime(ws, index):
    lines = _serve(index, ("alpha", "2.0", _wheel("alpha", "2.0", {"alpha/__init__.py": ""},
                                                  tag="cp27-cp27m-win32", purelib=False)))
    _hub(ws, index.url, "\n".join(lines) + "\n", MAIN.format(name="alpha"))
    err = _failure(ws)
    assert "@pypi_311_alpha (requirements_lock.txt:1): alpha==2.0: no wheel for cpython 3.11" in err, err
    assert "alpha-2.0-cp27-cp27m-win32.whl" in err
    assert "cpython 3.11" in err and "cp311" in err


def test_a_requirement_the_lock_does_not_pin(ws, index):
    lines = _serve(index, ("requests", "2.32.0", _wheel("requests", "2.32.0", {"requests/__init__.py": ""})))
    _hub(ws, index.url, "\n".join(lines) + "\n", MAIN.format(name="request"))
    err = _failure(ws)
    assert "requirement(\"request\"): the lock " in err and "requirements_lock.txt does not pin 'request' for " \
           "@pypi; did you mean 'requests'?" in err, err
    assert "BUILD.bazel:3" in err


def test_a_lock_pinning_two_versions_for_one_platform(ws, index):
    one = _wheel("alpha", "1.0", {"alpha/__init__.py": ""})
    two = _wheel("alpha", "2.0", {"alpha/__init__.py": ""})
    _hub(ws, index.url, f"alpha==1.0 --hash=sha256:{sha256(one[1])}\n"
                        f"alpha==2.0 ; sys_platform == 'linux' --hash=sha256:{sha256(two[1])}\n",
         MAIN.format(name="alpha"))
    err = _failure(ws)
    assert "requirements_lock.txt:2: alpha is pinned to two versions for cpython 3.11" in err, err
    assert "1.0 (line 1) and 2.0" in err


def test_an_unreachable_index(ws):
    _hub(ws, "http://127.0.0.1:9/simple", f"alpha==2.0 --hash=sha256:{'0' * 64}\n", MAIN.format(name="alpha"))
    err = _failure(ws)
    assert "http://127.0.0.1:9/simple/alpha/" in err, err


def test_one_hub_serves_each_target_the_wheels_of_its_own_python_version(ws, index):
    from test_python_toolchains import PY312

    if PY312 is None:
        from conftest import unavailable

        unavailable("no CPython 3.12 under ~/.pyenv/versions")
    old = _serve(index, ("alpha", "1.0", _wheel("alpha", "1.0", {"alpha/__init__.py": "VERSION = '1.0'\n"})))
    new = _serve(index, ("alpha", "2.0", _wheel("alpha", "2.0", {"alpha/__init__.py": "VERSION = '2.0'\n"})))
    ws.write("lock_3_11.txt", "\n".join(old) + "\n")
    ws.write("lock_3_12.txt", "\n".join(new) + "\n")
    parses = "\n".join(f'''pip.parse(
    hub_name = "pypi",
    python_version = "{v}",
    requirements_lock = "//:lock_{v.replace('.', '_')}.txt",
    experimental_index_url = "{index.url}",
)''' for v in ("3.11", "3.12"))
    ws.write("MODULE.bazel", MODULE.format(parses=parses) + 'register_toolchains("//rt:all")\n')
    ws.write("rt/BUILD.bazel", f'''
        load("@rules_python//python:defs.bzl", "py_runtime", "py_runtime_pair")

        py_runtime(name = "py312", interpreter_path = "{PY312}", interpreter_version_info = {{"major": "3", "minor": "12"}})

        py_runtime_pair(name = "pair312", py3_runtime = ":py312")

        toolchain(
            name = "toolchain_312",
            toolchain = ":pair312",
            toolchain_type = "@rules_python//python:toolchain_type",
            target_settings = ["@rules_python//python/config_settings:is_python_3.12"],
        )
        ''')
    ws.write("BUILD.bazel", '''
        load("@pypi//:requirements.bzl", "requirement")
        load("@rules_python//python:defs.bzl", "py_test")

        py_test(name = "on_default", srcs = ["check.py"], main = "check.py", deps = [requirement("alpha")],
                args = ["3.11", "1.0"])

        py_test(name = "on_3_12", srcs = ["check.py"], main = "check.py", deps = [requirement("alpha")],
                args = ["3.12", "2.0"], python_version = "3.12")
        ''')
    ws.write("check.py", "import sys, alpha\nhave = ('%d.%d' % sys.version_info[:2], alpha.VERSION)\n"
                         "assert have == tuple(sys.argv[1:]), have\nprint('ran', *have)\n")
    r = ws.kiln("test", "//:all", "--test_output=all")
    assert r.code == 0, r.output
    assert "ran 3.11 1.0" in r.output and "ran 3.12 2.0" in r.output


def test_requirement_cycles_and_whl_mods(ws, index):
    lines = _serve(index,
                   ("alpha", "1.0", _wheel("alpha", "1.0", {"alpha/__init__.py": "NAME = 'alpha'\n"},
                                           requires=("beta",))),
                   ("beta", "1.0", _wheel("beta", "1.0", {"beta/__init__.py": "NAME = 'beta'\n",
                                                          "beta/notes.txt": "notes\n"}, requires=("alpha",))))
    ws.write("requirements_lock.txt", "\n".join(lines) + "\n")
    ws.write("MODULE.bazel", MODULE.format(parses=f'''pip.whl_mods(
    hub_name = "mods",
    whl_name = "beta",
    additive_build_content = 'filegroup(name = "notes", srcs = ["site-packages/beta/notes.txt"])',
)
use_repo(pip, "mods")
pip.parse(
    hub_name = "pypi",
    python_version = "3.11",
    requirements_lock = "//:requirements_lock.txt",
    experimental_index_url = "{index.url}",
    experimental_requirement_cycles = {{"ab": ["alpha", "Beta"]}},
    whl_modifications = {{"@mods//:beta.json": "beta"}},
)'''))
    ws.write("BUILD.bazel", '''
        load("@pypi//:requirements.bzl", "requirement")
        load("@rules_python//python:defs.bzl", "py_binary")

        py_binary(name = "main", srcs = ["main.py"], deps = [requirement("alpha")], data = ["@pypi_311_beta//:notes"])
        ''')
    ws.write("main.py", "import alpha, beta\nprint(alpha.NAME, beta.NAME)\n")
    r = ws.kiln("run", "//:main")
    assert r.code == 0, r.output
    assert r.stdout.strip() == "alpha beta"


def test_py_console_script_binary_runs_a_wheels_console_script(ws, index):
    lines = _serve(index, ("greeter", "1.0", _wheel(
        "greeter", "1.0", {"greeter/__init__.py": "", "greeter/cli.py": "import sys\n\n"
                           "def main():\n    print('hello from', sys.argv[1:])\n    return 3\n"},
        entry_points="[console_scripts]\ngreet = greeter.cli:main\n")))
    _hub(ws, index.url, "\n".join(lines) + "\n", '''
load("@rules_python//python/entry_points:py_console_script_binary.bzl", "py_console_script_binary")

py_console_script_binary(name = "greet", pkg = "@pypi//greeter")

py_console_script_binary(name = "other", pkg = "@pypi//greeter", script = "missing")
''')
    r = ws.kiln("run", "//:greet", "--", "a", "b")
    assert r.code == 3, r.output
    assert r.stdout.strip() == "hello from ['a', 'b']"
    r = ws.kiln("build", "//:other")
    assert r.code == 1
    assert "@pypi//greeter:greeter has no console script 'missing' (its console scripts: greet); set `script`" in r.stderr, r.stderr


def test_compile_pip_requirements_updates_the_lock_and_its_test_sees_a_stale_one(ws, index):
    _serve(index, ("alpha", "2.0", _wheel("alpha", "2.0", {"alpha/__init__.py": ""})),
           ("beta", "1.0", _wheel("beta", "1.0", {"beta/__init__.py": ""})))
    ws.write("MODULE.bazel", 'module(name = "app")\n')
    ws.write("requirements.in", "alpha\n")
    ws.write("requirements_lock.txt", "")
    ws.write("BUILD.bazel", f'''
        load("@rules_python//python:pip.bzl", "compile_pip_requirements")

        compile_pip_requirements(
            name = "requirements",
            requirements_txt = "requirements_lock.txt",
            extra_args = ["--index-url", "{index.url}"],
        )
        ''')
    r = ws.kiln("test", "//:requirements_test")
    assert r.code == 3, r.output
    r = ws.kiln("run", "//:requirements.update")
    assert r.code == 0, r.output
    lock = (ws.root / "requirements_lock.txt").read_text()
    assert "#    kiln run //:requirements.update\n" in lock
    body = index.projects["alpha"][0].body
    assert f"alpha==2.0 \\\n    --hash=sha256:{sha256(body)}\n" in lock, lock
    r = ws.kiln("test", "//:requirements_test", "--test_output=errors")
    assert r.code == 0, r.output
    ws.write("requirements.in", "alpha\nbeta\n")
    r = ws.kiln("test", "//:requirements_test", "--test_output=errors")
    assert r.code == 3, r.output
    assert "+beta==1.0" in r.output
    assert "requirements_lock.txt is out of date with requirements.in: run `kiln run //:requirements.update`" \
        in r.output


_BACKEND = '''
import base64, hashlib, os, zipfile

def _wheel(directory):
    name = "mypure-1.0-py3-none-any.whl"
    files = {"mypure/__init__.py": open("mypure/__init__.py").read(),
             "mypure-1.0.dist-info/METADATA": "Metadata-Version: 2.1\\nName: mypure\\nVersion: 1.0\\nRequires-Dist: alpha\\n",
             "mypure-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"}
    record = [f"{p},sha256={base64.urlsafe_b64encode(hashlib.sha256(t.encode()).digest()).rstrip(b'=').decode()},{len(t)}"
              for p, t in files.items()] + ["mypure-1.0.dist-info/RECORD,,"]
    files["mypure-1.0.dist-info/RECORD"] = "\\n".join(record) + "\\n"
    with zipfile.ZipFile(os.path.join(directory, name), "w") as z:
        for p, t in files.items():
            z.writestr(p, t)
    return name

def get_requires_for_build_wheel(config_settings=None):
    return []

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    return _wheel(wheel_directory)
'''


def _sdist() -> tuple[str, bytes]:
    import io
    import tarfile

    files = {"PKG-INFO": "Metadata-Version: 2.1\nName: mypure\nVersion: 1.0\nRequires-Dist: alpha\n",
             "pyproject.toml": '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n',
             "backend.py": _BACKEND, "mypure/__init__.py": "from alpha import NAME\nGREETING = 'built+' + NAME\n"}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as t:
        for path, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"mypure-1.0/{path}")
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return "mypure-1.0.tar.gz", buffer.getvalue()


def test_a_package_with_only_an_sdist_is_built_for_the_target_unless_pip_whl_only(ws, index):
    lines = _serve(index, ("alpha", "1.0", _wheel("alpha", "1.0", {"alpha/__init__.py": "NAME = 'alpha'\n"})),
                   ("mypure", "1.0", _sdist()))
    _hub(ws, index.url, "\n".join(lines) + "\n", MAIN.format(name="mypure"))
    ws.write("main.py", "import mypure\nprint(mypure.GREETING)\n")
    r = ws.kiln("run", "//:main")
    assert r.code == 0, r.output
    assert r.stdout.strip() == "built+alpha"
    r = ws.kiln("build", "//:main", "--@rules_python//python/config_settings:pip_whl=only")
    assert r.code == 1, r.output
    assert ("mypure==1.0 has only an sdist on the index, and --@rules_python//python/config_settings:pip_whl=only "
            "forbids building it") in r.stderr, r.stderr
    assert "Traceback" not in r.output


def test_pip_override_patches_a_wheel_once_unpacked(ws, index):
    wheel = _wheel("alpha", "1.0", {"alpha/__init__.py": "NAME = 'alpha'\n"})
    lines = _serve(index, ("alpha", "1.0", wheel))
    _hub(ws, index.url, "\n".join(lines) + "\n", MAIN.format(name="alpha"))
    ws.write("fix.patch", "--- a/alpha/__init__.py\n+++ b/alpha/__init__.py\n@@ -1 +1 @@\n-NAME = 'alpha'\n"
                          "+NAME = 'patched'\n")
    with open(ws.root / "MODULE.bazel", "a") as f:
        f.write(f'pip.override(file = "{wheel[0]}", patches = ["//:fix.patch"], patch_strip = 1)\n')
    ws.write("main.py", "import alpha\nprint(alpha.NAME)\n")
    r = ws.kiln("run", "//:main")
    assert r.code == 0, r.output
    assert r.stdout.strip() == "patched"
    ws.write("fix.patch", "--- a/alpha/__init__.py\n+++ b/alpha/__init__.py\n@@ -1 +1 @@\n-NAME = 'alpha'\n"
                          "+NAME = 'patched again'\n")
    r = ws.kiln("run", "//:main")
    assert r.code == 0, r.output
    assert r.stdout.strip() == "patched again"
