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


def test_a_library_module_adds_a_version_and_its_root_only_tags_are_ignored(ws, pbs_server, pbs_archives):
    base_url, served = pbs_server("3.11", "3.12")
    v311, v312 = pbs_archives("3.11").version, pbs_archives("3.12").version
    _module(ws, base_url, served, 'python.toolchain(python_version = "3.12")',
            extra='bazel_dep(name = "lib")\nlocal_path_override(module_name = "lib", path = "lib")')
    # The library asks for 3.11 (which only it registers) and 3.12 (the root's, which wins); its defaults and
    # override are not the root's and change nothing.
    ws.write("lib/MODULE.bazel", '''
        module(name = "lib")

        bazel_dep(name = "rules_python", version = "1.6.0")

        python = use_extension("@rules_python//python/extensions:python.bzl", "python")
        python.toolchain(python_version = "3.11")
        python.toolchain(python_version = "3.12")
        python.defaults(python_version = "3.11")
        python.override(base_url = "http://127.0.0.1:9/unreachable")
        use_repo(python, "python_3_11")
        ''')
    ws.write("lib/BUILD.bazel", '''
        load("@python_3_11//:defs.bzl", "py_test")

        py_test(name = "on_3_11", srcs = ["check_3_11.py"], main = "check_3_11.py")
        ''')
    ws.write("lib/check_3_11.py", CHECK.format(want=v311, repo=f"python_3_11_{TRIPLE}"))
    ws.write("app/BUILD.bazel", '''
        load("@rules_python//python:defs.bzl", "py_test")

        py_test(name = "default", srcs = ["check_3_12.py"], main = "check_3_12.py")
        ''')
    ws.write("app/check_3_12.py", CHECK.format(want=v312, repo=f"python_3_12_{TRIPLE}"))
    r = ws.kiln("test", "//app:default", "@lib//:on_3_11", "--test_output=all")
    assert r.code == 0, r.output
    assert f"checked {v311} " in r.output and f"checked {v312} " in r.output
    assert ("WARNING: lib/MODULE.bazel:8:8: python.defaults() of module 'lib' is ignored: only the root module's "
            "python.defaults() takes effect, as in rules_python") in r.output
    assert ("WARNING: lib/MODULE.bazel:9:8: python.override() of module 'lib' is ignored: only the root module's "
            "python.override() takes effect, as in rules_python") in r.output
    assert ("WARNING: Ignoring toolchain 'python_3_12' from module 'lib': Toolchain 'python_3_12' from module 'app' "
            "already registered Python version 3.12 and has precedence.") in r.output


def test_two_is_default_toolchains_in_the_root_module(ws):
    ws.write("MODULE.bazel", '''
        module(name = "app")

        python = use_extension("@rules_python//python/extensions:python.bzl", "python")
        python.toolchain(python_version = "3.11", is_default = True)
        python.toolchain(python_version = "3.12", is_default = True)
        ''')
    ws.write("BUILD.bazel", "")
    r = ws.kiln("build", "//...")
    assert r.code != 0
    assert ("MODULE.bazel:5:8: Multiple default toolchains: only one toolchain can have is_default=True.\n"
            "Module 'app' contains 2 toolchains with is_default=True: 3.11, 3.12") in r.output
    assert "Traceback" not in r.output


def test_python_version_file_picks_the_default_and_a_change_to_it_is_seen(ws, pbs_server, pbs_archives):
    base_url, served = pbs_server("3.11", "3.12")
    v311, v312 = pbs_archives("3.11").version, pbs_archives("3.12").version
    _module(ws, base_url, served, '''python.toolchain(python_version = "3.11")
python.toolchain(python_version = "3.12")
python.defaults(python_version_file = "//:.python-version")''')
    ws.write(".python-version", "3.11\n")
    ws.write("BUILD.bazel", '''
        load("@rules_python//python:defs.bzl", "py_binary")

        py_binary(name = "which", srcs = ["which.py"])
        ''')
    ws.write("which.py", "import sys\nprint(sys.version.split()[0])\n")
    r = ws.kiln("run", "//:which")
    assert r.code == 0, r.output
    assert r.stdout.strip() == v311
    ws.write(".python-version", "3.12\n")
    r = ws.kiln("run", "//:which")
    assert r.code == 0, r.output
    assert r.stdout.strip() == v312


def test_python_version_env_chooses_the_default_and_a_change_to_it_is_seen(ws, pbs_server, pbs_archives):
    base_url, served = pbs_server("3.11", "3.12")
    v311, v312 = pbs_archives("3.11").version, pbs_archives("3.12").version
    _module(ws, base_url, served, '''python.toolchain(python_version = "3.11")
python.toolchain(python_version = "3.12")
python.defaults(python_version = "3.11", python_version_env = "APP_PYTHON")''')
    ws.write("BUILD.bazel", '''
        load("@rules_python//python:defs.bzl", "py_binary")

        py_binary(name = "which", srcs = ["which.py"])
        ''')
    ws.write("which.py", "import sys\nprint(sys.version.split()[0])\n")
    assert ws.kiln("run", "//:which").stdout.strip() == v311
    r = ws.kiln("run", "//:which", env={"APP_PYTHON": "3.12"})
    assert r.code == 0, r.output
    assert r.stdout.strip() == v312
    assert ws.kiln("run", "//:which").stdout.strip() == v311
    # --repo_env sets it for repository rules as the shell would (as Bazel's repository rules see it).
    r = ws.kiln("run", "--repo_env=APP_PYTHON=3.12", "//:which")
    assert r.code == 0, r.output
    assert r.stdout.strip() == v312
    assert ws.kiln("run", "//:which").stdout.strip() == v311


def test_seed_custom_runtime_is_used_when_its_flag_is_set(ws, pbs_server, pbs_archives):
    """seed 002's "Registering custom runtimes": a runtime on a platform of its own, chosen by a flag of the
    workspace's; 3.13's usual platform is served too, so both choices can run."""
    base_url, served = pbs_server("3.11", "3.13")
    v313 = pbs_archives("3.13").version
    url_path, sha256 = served[v313]
    _module(ws, base_url, served, f'''python.toolchain(python_version = "3.11")
python.toolchain(python_version = "{v313}")
python.single_version_platform_override(
    platform = "my-platform",
    python_version = "{v313}",
    sha256 = "{sha256}",
    os_name = "linux",
    arch = "x86_64",
    target_settings = ["@@//:runtime=my-custom-runtime"],
    urls = ["{base_url}/{url_path}"],
    strip_prefix = "python",
)''', extra='bazel_dep(name = "bazel_skylib", version = "1.7.1")')
    ws.write("BUILD.bazel", '''
        load("@bazel_skylib//rules:common_settings.bzl", "string_flag")
        load("@rules_python//python:defs.bzl", "py_binary")

        string_flag(name = "runtime", build_setting_default = "")

        config_setting(name = "runtime=my-custom-runtime", flag_values = {":runtime": "my-custom-runtime"})

        py_binary(name = "which", srcs = ["which.py"])
        ''')
    ws.write("which.py", "import sys\nprint(sys.version.split()[0], sys.executable)\n")
    version = f"--@rules_python//python/config_settings:python_version={v313}"
    r = ws.kiln("run", version, "--//:runtime=my-custom-runtime", "//:which")
    assert r.code == 0, r.output
    assert r.stdout.split()[0] == v313
    repo = "python_" + v313.replace(".", "_")
    assert f"/{repo}_my-platform/bin/python3" in r.stdout.split()[1]
    r = ws.kiln("run", version, "//:which")
    assert r.code == 0, r.output
    assert f"/{repo}_{TRIPLE}/bin/python3" in r.stdout.split()[1]
    # The custom toolchain is version-aware: the default version does not take it.
    r = ws.kiln("run", "--//:runtime=my-custom-runtime", "//:which")
    assert r.code == 0, r.output
    assert r.stdout.split()[0] == pbs_archives("3.11").version


def test_a_python_version_no_toolchain_provides_lists_registered_and_known_versions(ws, pbs_server, pbs_archives):
    base_url, served = pbs_server("3.11", "3.12")
    v311, v312 = pbs_archives("3.11").version, pbs_archives("3.12").version
    _module(ws, base_url, served, '''python.toolchain(python_version = "3.11")
python.toolchain(python_version = "3.12", is_default = True)''')
    ws.write("BUILD.bazel", '''
        load("@rules_python//python:defs.bzl", "py_binary")

        py_binary(name = "old", srcs = ["old.py"], python_version = "3.8")
        ''')
    ws.write("old.py", "")
    r = ws.kiln("build", "//:old")
    assert r.code == 1, r.output
    assert (f"BUILD.bazel:3:1: in python_version attribute of py_binary rule //:old: python_version '3.8': no "
            f"registered Python toolchain provides it. Registered versions: 3.11, {v311}, 3.12, {v312}; without a "
            f"version constraint: cpython ") in r.stderr, r.stderr
    assert "MODULE.bazel: python.toolchain(python_version = \"3.8\")" in r.stderr
    assert "Versions kiln's python-build-standalone table knows: 3.9, 3.10, 3.11, 3.12, 3.13, 3.14, 3.15 (as X.Y.Z: " \
           "3.9.25, 3.10.2, " in r.stderr
    assert "Traceback" not in r.output


def test_seed_using_toolchains_defined_in_module_bazel_from_workspace(ws, pbs_server, pbs_archives):
    """seed 002's "Using defined toolchains from WORKSPACE": MODULE.bazel's python_3_11_host is the interpreter
    WORKSPACE's pip_parse chooses wheels for."""
    from pip_wheels import IndexServer, make_wheel, sha256

    base_url, served = pbs_server("3.11")
    v311 = pbs_archives("3.11").version
    _module(ws, base_url, served, '''python.defaults(python_version = "3.11")
python.toolchain(python_version = "3.11")
use_repo(python, "python_3_11", "python_3_11_host")''')
    name, body = make_wheel("alpha", "1.0", {"alpha/__init__.py": "NAME = 'alpha'\n"})
    with IndexServer() as index:
        index.add("alpha", name, body)
        ws.write("requirements.txt", f"--index-url {index.url}\nalpha==1.0 --hash=sha256:{sha256(body)}\n")
        ws.write("WORKSPACE", '''
            load("@rules_python//python:repositories.bzl", "py_repositories")

            py_repositories()

            load("@rules_python//python:pip.bzl", "pip_parse")

            pip_parse(
                name = "third_party",
                requirements_lock = "//:requirements.txt",
                python_interpreter_target = "@python_3_11_host//:python",
            )

            load("@third_party//:requirements.bzl", "install_deps")

            install_deps()
            ''')
        ws.write("BUILD.bazel", '''
            load("@rules_python//python:defs.bzl", "py_binary")
            load("@third_party//:requirements.bzl", "requirement")

            py_binary(name = "main", srcs = ["main.py"], deps = [requirement("alpha")])
            ''')
        ws.write("main.py", "import sys, alpha\nprint(alpha.NAME, sys.version.split()[0])\n")
        r = ws.kiln("run", "//:main")
    assert r.code == 0, r.output
    assert r.stdout.split() == ["alpha", v311]
    assert f"INFO: Fetching @third_party_alpha (alpha==1.0 for cpython {v311} on linux-x86_64" in r.stderr
