"""Hermetic Python runtimes declared in WORKSPACE (python_register_toolchains, python_register_multi_toolchains).

The archives are python-build-standalone-shaped ones made from pyenv's CPythons (pbs_archives.py), served on
127.0.0.1; `tool_versions` and `minor_mapping` name them as rules_python's overrides do, `base_url` points at
the server. Programs and tests run on the extracted runtime, which kiln fetches once into the repository
cache.
"""

from __future__ import annotations

import shutil
import textwrap

import pytest
from archive_server import ArchiveServer, Route
from pbs_archives import RELEASE, TRIPLE, pyenv_root

MUSL = "x86_64-unknown-linux-musl"
RUNTIME_REPO = f"python3_11_{TRIPLE}"

# What the program sees of its runtime: its interpreter, version, and whether anything of pyenv's is loaded.
SHOW = '''
import os, sys
maps = [line.split()[-1] for line in open("/proc/self/maps") if "/" in line]
pyenv = {pyenv!r}
print("executable", sys.executable)
print("real", os.path.realpath(sys.executable))
print("version", sys.version.split()[0])
print("pyenv_loaded", [m for m in maps if m.startswith(pyenv)])
print("pyenv_path", [p for p in sys.path if p.startswith(pyenv)])
'''

# A test that fails unless it runs on the runtime `want` from its runfiles.
CHECK = '''
import os, sys
want = {want!r}
assert sys.version.split()[0] == want, sys.version
assert ".runfiles/" in sys.executable, sys.executable
print("checked", want, sys.executable)
'''
# ... and cannot see pyenv's install of that version.
HIDDEN = '''
assert not os.path.exists({hidden!r}), "pyenv's CPython is visible in the sandbox"
print("hidden", {hidden!r})
'''


def _table(served: dict[str, tuple[str, str]], extra_platforms: tuple[str, ...] = ()) -> str:
    """tool_versions and minor_mapping naming the served archives, as a WORKSPACE writes them."""
    entries = []
    for full, (_, sha256) in served.items():
        platforms = {TRIPLE: sha256, **{p: sha256 for p in extra_platforms}}
        entries.append(f'''"{full}": {{
            "url": "{RELEASE}/cpython-{{python_version}}+{RELEASE}-{{platform}}-{{build}}.tar.gz",
            "sha256": {platforms!r},
            "strip_prefix": "python",
        }}'''.replace("'", '"'))
    mapping = {full.rsplit(".", 1)[0]: full for full in served}
    return f"minor_mapping = {mapping!r},\n    tool_versions = {{{', '.join(entries)}}},".replace("'", '"')


def _workspace(ws, base_url: str, served, *, macro: str = "python_register_toolchains",
               args: str = 'name = "python3_11", python_version = "3.11"', extra_platforms=()) -> None:
    ws.write("WORKSPACE", f'''
load("@rules_python//python:repositories.bzl", "py_repositories", "{macro}")

py_repositories()

{macro}(
    {args},
    base_url = "{base_url}",
    {_table(served, extra_platforms)}
)
''')


def _app(ws, version: str) -> None:
    ws.write("app/BUILD.bazel", '''
        load("@rules_python//python:defs.bzl", "py_binary", "py_test")

        py_binary(name = "show", srcs = ["show.py"])

        py_test(name = "show_test", srcs = ["show.py"], main = "show.py", size = "small")
        ''')
    ws.write("app/show.py", SHOW.format(pyenv=str(pyenv_root())))


def _lines(output: str) -> dict[str, str]:
    return {k: v for k, _, v in (line.partition(" ") for line in output.splitlines())}


def test_py_binary_and_py_test_run_on_the_extracted_runtime(ws, pbs_server, pbs_archives):
    base_url, served = pbs_server("3.11")
    full = pbs_archives("3.11").version
    _workspace(ws, base_url, served)
    _app(ws, full)
    r = ws.kiln("run", "//app:show")
    assert r.code == 0, r.output
    seen = _lines(r.stdout)
    assert seen["version"] == full
    runtime = ws.output_base / "external" / RUNTIME_REPO
    assert seen["executable"].endswith(f".runfiles/{RUNTIME_REPO}/bin/python3")
    assert seen["real"] == str(runtime / "bin" / "python3.11")
    assert seen["pyenv_loaded"] == "[]"
    assert seen["pyenv_path"] == "[]"
    r = ws.kiln("test", "//app:show_test", "--test_output=all")
    assert r.code == 0, r.output
    seen = _lines(r.output)
    assert seen["version"] == full
    assert seen["executable"].endswith(f".runfiles/{RUNTIME_REPO}/bin/python3")
    assert seen["pyenv_loaded"] == "[]"


def test_the_runtime_repository_holds_rules_pythons_targets_with_the_probed_record(ws, pbs_server, pbs_archives):
    base_url, served = pbs_server("3.11")
    full = pbs_archives("3.11").version
    _workspace(ws, base_url, served)
    r = ws.kiln("query", f"@{RUNTIME_REPO}//:all", "--output=build")
    assert r.code == 0, r.output
    runtime = ws.output_base / "external" / RUNTIME_REPO
    for line in (f'interpreter = "@{RUNTIME_REPO}//:bin/python3"', f'files = ["@{RUNTIME_REPO}//:files"]',
                 f'interpreter_version_info = {{"major": "3", "micro": "{full.split(".")[2]}", "minor": "11"}}',
                 'pyc_tag = "cpython-311"', 'ext_suffix = ".cpython-311-x86_64-linux-gnu.so"',
                 f'include_dir = "{runtime}/include/python3.11"', f'lib_dir = "{runtime}/lib"'):
        assert line in r.stdout, line
    for name in ("files", "includes", "libpython", "py3_runtime", "python_runtimes", "py_cc_toolchain", "python3"):
        assert f'name = "{name}"' in r.stdout, name
    r = ws.kiln("query", f"labels(srcs, @{RUNTIME_REPO}//:files)")
    assert r.code == 0, r.output
    files = r.stdout.splitlines()
    assert f"@{RUNTIME_REPO}//:lib/python3.11/os.py" in files
    assert f"@{RUNTIME_REPO}//:bin/python3" in files
    # The test suites, bytecode and the unversioned libpython link stay out, as in rules_python.
    assert not [f for f in files if "/test/" in f or "/tests/" in f or "__pycache__" in f]
    assert f"@{RUNTIME_REPO}//:lib/libpython3.11.so" not in files
    # The aliases repository names the same runtime, and the host repository its interpreter.
    r = ws.kiln("query", "@python3_11//:py3_runtime + @python3_11_host//:python", "--output=build")
    assert r.code == 0, r.output
    assert f"@{RUNTIME_REPO}//:py3_runtime" in r.stdout
    assert f"@{RUNTIME_REPO}//:python" in r.stdout


def test_defs_bzl_interpreter_and_the_host_python_in_a_genrule(ws, pbs_server, pbs_archives):
    base_url, served = pbs_server("3.11")
    full = pbs_archives("3.11").version
    # Seed 002's "Workspace toolchain registration", with the archive host replaced by the test server.
    _workspace(ws, base_url, served, args='name = "python_3_11", python_version = "3.11"')
    ws.write("BUILD.bazel", '''
        load("@python_3_11//:defs.bzl", "interpreter")

        genrule(
            name = "version",
            outs = ["version.txt"],
            tools = [interpreter, "@python_3_11//:files"],
            cmd = "echo $(location %s) > $@ && $(location %s) -c 'import sys; print(sys.version.split()[0])' >> $@"
                  % (interpreter, interpreter),
        )

        genrule(name = "host", outs = ["host.txt"], srcs = ["@python_3_11_host//:python"], cmd = "echo $< > $@")
        ''')
    r = ws.kiln("build", "//:version", "//:host")
    assert r.code == 0, r.output
    assert (ws.root / "kiln-bin/version.txt").read_text().splitlines() == [
        f"external/python_3_11_{TRIPLE}/bin/python3", full]
    assert (ws.root / "kiln-bin/host.txt").read_text().strip() == f"external/python_3_11_{TRIPLE}/python"


def test_multi_toolchains_each_pinned_test_sees_its_own_version(ws, pbs_server, pbs_archives):
    base_url, served = pbs_server("3.11", "3.12")
    v311, v312 = pbs_archives("3.11").version, pbs_archives("3.12").version
    _workspace(ws, base_url, served, macro="python_register_multi_toolchains",
               args='name = "python", python_versions = ["3.11", "3.12"], default_version = "3.11"')
    ws.write("app/BUILD.bazel", '''
        load("@python//3.12:defs.bzl", py_test_3_12 = "py_test")
        load("@rules_python//python:defs.bzl", "py_binary", "py_test")

        py_test(name = "on_3_11", srcs = ["check_3_11.py"], main = "check_3_11.py", python_version = "3.11")

        py_test_3_12(name = "on_3_12", srcs = ["check_3_12.py"], main = "check_3_12.py")

        py_binary(name = "which", srcs = ["which.py"])
        ''')
    ws.write("app/check_3_11.py", CHECK.format(want=v311))
    # kiln runs on a pyenv CPython (3.11 here) whose directory every sandbox mounts for kiln's action tools;
    # pyenv's other versions must stay out of sight.
    hidden = pyenv_root() / "versions" / v312
    assert hidden.is_dir()
    ws.write("app/check_3_12.py", CHECK.format(want=v312) + HIDDEN.format(hidden=str(hidden)))
    ws.write("app/which.py", "import sys\nprint(sys.version.split()[0])\n")
    r = ws.kiln("test", "//app:on_3_11", "//app:on_3_12", "--test_output=all")
    assert r.code == 0, r.output
    assert f"checked {v311} " in r.output and f"checked {v312} " in r.output
    assert f"hidden {hidden}" in r.output
    assert f"python_3_12_{TRIPLE}/bin/python3" in r.output
    # The default version without a flag; the other one by the version flag.
    r = ws.kiln("run", "//app:which")
    assert r.code == 0, r.output
    assert r.stdout.strip() == v311
    r = ws.kiln("run", "//app:which", "--@rules_python//python/config_settings:python_version=3.12")
    assert r.code == 0, r.output
    assert r.stdout.strip() == v312


@pytest.mark.parametrize("flag, key, served_as", [
    ("py_linux_libc=musl", MUSL, MUSL + "-install_only"),
    ("py_freethreaded=yes", TRIPLE + "-freethreaded", TRIPLE + "-freethreaded+pgo+lto-full"),
])
def test_libc_and_free_threading_flags_pick_the_matching_runtime(ws, pbs_archives, flag, key, served_as):
    archive = pbs_archives("3.11")
    with ArchiveServer() as server:
        body = archive.path.read_bytes()
        server.add("/" + archive.url_path, Route(body=body))
        # The same archive stands for the other build, at that build's file name: what matters here is which
        # repository the flag picks.
        server.add("/" + archive.url_path.replace(TRIPLE + "-install_only", served_as), Route(body=body))
        _workspace(ws, server.url(""), {archive.version: (archive.url_path, archive.sha256)},
                   extra_platforms=(key,))
        _app(ws, archive.version)
        r = ws.kiln("run", "//app:show", f"--@rules_python//python/config_settings:{flag}")
        assert r.code == 0, r.output
        assert _lines(r.stdout)["executable"].endswith(f".runfiles/python3_11_{key}/bin/python3")
        r = ws.kiln("run", "//app:show")
        assert r.code == 0, r.output
        assert _lines(r.stdout)["executable"].endswith(f".runfiles/{RUNTIME_REPO}/bin/python3")


def test_a_cold_output_base_takes_the_archive_from_the_repository_cache(ws, pbs_archives):
    archive = pbs_archives("3.11")
    with ArchiveServer() as server:
        route = Route(body=archive.path.read_bytes())
        server.add("/" + archive.url_path, route)
        _workspace(ws, server.url(""), {archive.version: (archive.url_path, archive.sha256)})
        _app(ws, archive.version)
        r = ws.kiln("run", "//app:show")
        assert r.code == 0, r.output
        assert route.requests == 1
        # A second output base (its external/ empty) shares the user's repository cache.
        ws.output_base = ws.output_base.parent / "output_base_2"
        r = ws.kiln("run", "//app:show")
        assert r.code == 0, r.output
        assert _lines(r.stdout)["version"] == archive.version
        assert route.requests == 1


def test_distdir_holding_the_archive_needs_no_server(ws, pbs_archives, tmp_path):
    archive = pbs_archives("3.11")
    distdir = tmp_path / "distdir"
    distdir.mkdir()
    shutil.copy(archive.path, distdir / archive.filename)
    # Nothing listens there: the archive can only come from --distdir.
    _workspace(ws, "http://127.0.0.1:9", {archive.version: (archive.url_path, archive.sha256)})
    _app(ws, archive.version)
    r = ws.kiln("run", "//app:show", f"--distdir={distdir}", "--repository_cache=")
    assert r.code == 0, r.output
    assert _lines(r.stdout)["version"] == archive.version


def test_an_archive_whose_sha256_does_not_match_names_the_url_and_both_digests(ws, pbs_server, pbs_archives):
    base_url, served = pbs_server("3.11")
    full = pbs_archives("3.11").version
    wrong = "0" * 64
    path, actual = served[full]
    _workspace(ws, base_url, {full: (path, wrong)})
    _app(ws, full)
    r = ws.kiln("build", "//app:show")
    assert r.code == 1, r.output
    assert f'python_repository(name = "{RUNTIME_REPO}") at WORKSPACE:5:1' in r.stderr
    assert f"{base_url}/{path}: sha256 mismatch: expected {wrong}, got {actual}" in r.stderr
    assert "Traceback" not in r.output


def _macro_error(ws, macro: str, args: str) -> str:
    """The message of a WORKSPACE whose only call is `macro(args)`, checked to be an error without a traceback."""
    ws.write("WORKSPACE", f'load("@rules_python//python:repositories.bzl", "{macro}")\n\n{macro}({args})\n')
    _app(ws, "3.11")
    r = ws.kiln("build", "//app:show")
    assert r.code == 1, r.output
    assert "Traceback" not in r.output
    return r.stderr


def test_a_version_the_table_lacks_lists_the_known_versions(ws):
    stderr = _macro_error(ws, "python_register_toolchains", 'name = "python3", python_version = "3.7"')
    assert ('WORKSPACE:3:1: python_register_toolchains(name = "python3"): Python 3.7 is not in kiln\'s '
            "python-build-standalone table") in stderr
    assert "known versions: 3.9, 3.10, 3.11, 3.12, 3.13, 3.14, 3.15" in stderr
    assert "3.11.14" in stderr


def test_a_version_missing_from_the_given_tool_versions_lists_theirs(ws, pbs_server, pbs_archives):
    base_url, served = pbs_server("3.11")
    full = pbs_archives("3.11").version
    _workspace(ws, base_url, served, args='name = "python3_11", python_version = "3.12"')
    _app(ws, full)
    r = ws.kiln("build", "//app:show")
    assert r.code == 1, r.output
    assert (f'WORKSPACE:5:1: python_register_toolchains(name = "python3_11"): Python 3.12 is not in the '
            f"tool_versions given; they have: {full}") in r.stderr


def test_an_archive_holding_another_version_than_its_entry_says_is_an_error(ws, pbs_archives):
    archive = pbs_archives("3.11")
    claimed = archive.version.rsplit(".", 1)[0] + ".99"
    with ArchiveServer() as server:
        path = archive.url_path.replace(archive.version, claimed)
        server.add("/" + path, Route(body=archive.path.read_bytes()))
        _workspace(ws, server.url(""), {claimed: (path, archive.sha256)})
        _app(ws, claimed)
        r = ws.kiln("build", "//app:show")
    assert r.code == 1, r.output
    assert (f'python_repository(name = "{RUNTIME_REPO}") at WORKSPACE:5:1: {path.split("/")[-1]} holds Python '
            f"{archive.version}, not {claimed} as its table entry says") in r.stderr
    assert "Traceback" not in r.output


@pytest.mark.parametrize("macro, args, message", [
    ("python_register_toolchains", 'name = "python3", python_version = "3.11", distutils_content = "x"',
     "python_register_toolchains(name = \"python3\"): kiln does not support 'distutils_content' yet"),
    ("python_register_toolchains", 'name = "python3", pyhton_version = "3.11"',
     "python_register_toolchains(): missing a required argument: 'python_version'"),
    ("python_register_multi_toolchains", 'name = "python3", python_versions = []',
     "python_register_multi_toolchains(name = \"python3\"): python_versions must be a non-empty list"),
    ("python_register_multi_toolchains", 'name = "python3", python_versions = ["3.11"], default_version = "3.12"',
     "python_register_multi_toolchains(name = \"python3\"): default_version '3.12' is not one of python_versions "
     "(3.11)"),
])
def test_bad_macro_arguments_are_errors_at_the_call(ws, macro, args, message):
    assert f"WORKSPACE:3:1: {message}" in _macro_error(ws, macro, args)


def test_loading_defs_bzl_of_kilns_own_table_fetches_no_runtime(ws):
    # `load("@python3//:defs.bzl", "interpreter")` used to fail with "Module has no symbol"; it names the
    # host platform's runtime of the table's 3.11 without downloading it (this machine has no network).
    ws.write("WORKSPACE", textwrap.dedent('''
        load("@rules_python//python:repositories.bzl", "python_register_toolchains")

        python_register_toolchains(name = "python3", python_version = "3.11")
        '''))
    ws.write("BUILD.bazel", '''
        load("@python3//:defs.bzl", "host_platform", "interpreter")

        genrule(name = "names", outs = ["names.txt"], cmd = "echo %s %s > $@" % (interpreter, host_platform))
        ''')
    r = ws.kiln("build", "//:names")
    assert r.code == 0, r.output
    assert (ws.root / "kiln-bin/names.txt").read_text().split() == [f"@python3_{TRIPLE}//:bin/python3", TRIPLE]
    assert not (ws.output_base / "external" / f"python3_{TRIPLE}").exists()
    assert "Fetching" not in r.output
