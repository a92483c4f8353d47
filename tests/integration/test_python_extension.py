"""The bzlmod `python` extension (@rules_python//python/extensions:python.bzl) on hermetic runtimes.

The archives are python-build-standalone-shaped ones made from pyenv's CPythons (pbs_archives.py), served on
127.0.0.1: the root module names them with single_version_override and points override(base_url) at the
server, as a user would for a mirror. Tests run on the extracted runtimes.
"""

from __future__ import annotations

from pbs_archives import RELEASE, TRIPLE

# A test that fails unless it runs on the runtime `want` from its runfiles, extracted under external/.
CHECK = '''
import sys
want = {want!r}
assert sys.version.split()[0] == want, sys.version
assert ".runfiles/{repo}/bin/python3" in sys.executable, sys.executable
print("checked", want, sys.executable)
'''


def _overrides(base_url: str, served: dict[str, tuple[str, str]]) -> str:
    """The root module's tags naming the served archives."""
    lines = []
    for full, (_, sha256) in served.items():
        lines.append(f'''python.single_version_override(
    python_version = "{full}",
    sha256 = {{"{TRIPLE}": "{sha256}"}},
    urls = ["{RELEASE}/cpython-{{python_version}}+{RELEASE}-{{platform}}-{{build}}.tar.gz"],
)''')
    mapping = ", ".join(f'"{full.rsplit(".", 1)[0]}": "{full}"' for full in served)
    lines.append(f'python.override(base_url = "{base_url}", minor_mapping = {{{mapping}}})')
    return "\n".join(lines)


def _module(ws, base_url, served, tags: str, *, name: str = "app", extra: str = "") -> None:
    ws.write("MODULE.bazel", f'''module(name = "{name}")

bazel_dep(name = "rules_python", version = "1.6.0")
{extra}
python = use_extension("@rules_python//python/extensions:python.bzl", "python")
{tags}
{_overrides(base_url, served)}
''')


def test_default_version_and_a_pinned_version_each_run_on_their_runtime(ws, pbs_server, pbs_archives):
    base_url, served = pbs_server("3.11", "3.12")
    v311, v312 = pbs_archives("3.11").version, pbs_archives("3.12").version
    _module(ws, base_url, served, '''python.toolchain(python_version = "3.11")
python.toolchain(python_version = "3.12")
python.defaults(python_version = "3.12")
use_repo(python, "python_3_11", "python_versions")''')
    ws.write("app/BUILD.bazel", '''
        load("@rules_python//python:defs.bzl", "py_test")
        load("@python_versions//3.11:defs.bzl", py_test_3_11 = "py_test")

        py_test(name = "default", srcs = ["check_3_12.py"], main = "check_3_12.py")

        py_test(name = "pinned", srcs = ["check_3_11.py"], main = "check_3_11.py", python_version = "3.11")

        py_test_3_11(name = "pinned_by_defs", srcs = ["check_3_11.py"], main = "check_3_11.py")
        ''')
    ws.write("app/check_3_11.py", CHECK.format(want=v311, repo=f"python_3_11_{TRIPLE}"))
    ws.write("app/check_3_12.py", CHECK.format(want=v312, repo=f"python_3_12_{TRIPLE}"))
    r = ws.kiln("test", "//app:all", "--test_output=all")
    assert r.code == 0, r.output
    assert r.output.count(f"checked {v311} ") == 2, r.output
    assert r.output.count(f"checked {v312} ") == 1, r.output
    for version, full in (("3_11", v311), ("3_12", v312)):
        runtime = ws.output_base / "external" / f"python_{version}_{TRIPLE}"
        assert (runtime / "bin" / f"python{full.rsplit('.', 1)[0]}").is_file()


def test_use_repo_gives_the_version_repository_and_the_hub(ws, pbs_server, pbs_archives):
    base_url, served = pbs_server("3.11")
    v311 = pbs_archives("3.11").version
    _module(ws, base_url, served, '''python.toolchain(python_version = "3.11")
use_repo(python, "python_3_11", "pythons_hub", py = "python_3_11_host")''')
    ws.write("BUILD.bazel", '''
        load("@python_3_11//:defs.bzl", "interpreter")
        load("@pythons_hub//:versions.bzl", "DEFAULT_PYTHON_VERSION", "MINOR_MAPPING")

        genrule(
            name = "version",
            outs = ["version.txt"],
            tools = [interpreter, "@python_3_11//:files"],
            cmd = "$(location %s) -c 'import sys; print(sys.version.split()[0])' > $@ && echo %s %s >> $@"
                  % (interpreter, DEFAULT_PYTHON_VERSION, MINOR_MAPPING["3.11"]),
        )

        genrule(name = "host", outs = ["host.txt"], srcs = ["@py//:python"], cmd = "echo $< > $@")
        ''')
    r = ws.kiln("build", "//:version", "//:host")
    assert r.code == 0, r.output
    assert (ws.root / "kiln-bin/version.txt").read_text().splitlines() == [v311, f"3.11 {v311}"]
    assert (ws.root / "kiln-bin/host.txt").read_text().strip() == f"external/python_3_11_{TRIPLE}/python"
