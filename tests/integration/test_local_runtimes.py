"""local_runtime_repo and local_runtime_toolchains_repo through the real command.

A MODULE.bazel (or WORKSPACE) names a local interpreter; the py_binary that
resolves its toolchain runs on it. Seed 002's recipe uses the local toolchain
only under `--//:py=local`; an interpreter that is missing or cannot be
introspected is skipped, warned about, or an error at the rule's line.
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys

from tests.integration.conftest import unavailable

RULES = '''
local_runtime_repo = use_repo_rule("@rules_python//python/local_toolchains:repos.bzl", "local_runtime_repo")
local_runtime_toolchains_repo = use_repo_rule(
    "@rules_python//python/local_toolchains:repos.bzl", "local_runtime_toolchains_repo")
'''

APP = '''
import sys
print("executable", sys.executable)
print("version %d.%d.%d" % sys.version_info[:3])
'''


def _python312() -> str:
    found = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12")))
    if not found:
        unavailable("no CPython 3.12 under ~/.pyenv/versions on this machine")
    return found[-1]


def _module(ws, interpreter: str, on_failure: str = "fail", toolchains: str = "") -> None:
    ws.write("MODULE.bazel", RULES + f'''
local_runtime_repo(name = "local_python3", interpreter_path = "{interpreter}", on_failure = "{on_failure}",
                   dev_dependency = True)
local_runtime_toolchains_repo(name = "local_toolchains", runtimes = ["local_python3"], {toolchains}
                              dev_dependency = True)
register_toolchains("@local_toolchains//:all", dev_dependency = True)
''')
    ws.write("app/main.py", APP)
    ws.write("app/BUILD.bazel", 'py_binary(name = "main", srcs = ["main.py"])\n')


def test_a_local_runtime_named_by_path_is_what_py_binary_runs_on(ws):
    python = _python312()
    _module(ws, python)
    r = ws.kiln("run", "//app:main")
    assert r.code == 0, r.output
    assert f"executable {python}" in r.stdout
    assert "version 3.12." in r.stdout


def test_the_runtime_repo_carries_the_interpreters_own_record(ws):
    python = _python312()
    _module(ws, python)
    r = ws.kiln("query", "@local_python3//:all", "--output=build")  # attributes left at their default omitted
    assert r.code == 0, r.output
    minor = os.path.basename(os.path.dirname(os.path.dirname(python)))  # 3.12.N
    micro = minor.split(".")[2]
    for line in (f'interpreter_path = "{python}"', f'interpreter_version_info = {{"major": "3", "micro": "{micro}", "minor": "12"}}',
                 'pyc_tag = "cpython-312"', 'ext_suffix = ".cpython-312-x86_64-linux-gnu.so"',
                 'soabi = "cpython-312-x86_64-linux-gnu"', 'ld_library = "libpython3.12.so"',
                 f'lib_dir = "{os.path.dirname(os.path.dirname(python))}/lib"'):
        assert line in r.stdout, line
    for name in ("py3_runtime", "python_runtimes", "os", "is_matching_python_version"):
        assert f'name = "{name}"' in r.stdout


def test_a_pyenv_shim_on_path_resolves_to_the_real_interpreter(ws):
    python = _python312()
    shims = os.path.expanduser("~/.pyenv/shims")
    if not os.path.exists(os.path.join(shims, "python3.12")):
        unavailable("no pyenv shim python3.12 on this machine")
    _module(ws, "python3.12")
    pyenv = {"PATH": f"{shims}:/usr/bin:/bin", "PYENV_ROOT": os.path.dirname(shims),
             "PYENV_VERSION": os.path.basename(os.path.dirname(os.path.dirname(python)))}
    r = ws.kiln("run", "//app:main", env=pyenv)
    assert r.code == 0, r.output
    assert f"executable {python}" in r.stdout


FLAG_BUILD = '''
load("@bazel_skylib//rules:common_settings.bzl", "string_flag")

config_setting(name = "is_py_local", flag_values = {":py": "local"})

string_flag(name = "py", build_setting_default = "")
'''


def test_seed_recipe_the_local_toolchain_only_under_the_flag(ws):
    python = _python312()
    _module(ws, python, toolchains='target_compatible_with = {"local_python3": ["HOST_CONSTRAINTS"]}, '
                                   'target_settings = {"local_python3": ["@//:is_py_local"]},')
    ws.write("BUILD.bazel", FLAG_BUILD)
    r = ws.kiln("run", "//app:main")
    assert r.code == 0, r.output
    assert "version %d.%d.%d" % sys.version_info[:3] in r.stdout  # kiln's own interpreter, the fallback
    assert python not in r.stdout
    r = ws.kiln("run", "//app:main", "--//:py=local")
    assert r.code == 0, r.output
    assert f"executable {python}" in r.stdout
    assert "version 3.12." in r.stdout


def _rule_line(ws) -> int:
    lines = (ws.root / "MODULE.bazel").read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.startswith("local_runtime_repo("))


def test_a_missing_interpreter_with_on_failure_fail_is_an_error_at_the_rule(ws):
    _module(ws, "/nonexistent/bin/python3", on_failure="fail")
    r = ws.kiln("run", "//app:main")
    assert r.code == 1, r.output
    assert (f'local_runtime_repo(name = "local_python3") at MODULE.bazel:{_rule_line(ws)}:1: '
            "interpreter_path '/nonexistent/bin/python3' does not exist") in r.stderr
    assert "Traceback" not in r.output


def test_a_missing_interpreter_with_on_failure_warn_is_skipped_with_one_warning(ws):
    _module(ws, "/nonexistent/bin/python3", on_failure="warn")
    r = ws.kiln("run", "//app:main")
    assert r.code == 0, r.output
    assert "version %d.%d.%d" % sys.version_info[:3] in r.stdout
    warning = (f'WARNING: local_runtime_repo(name = "local_python3") at MODULE.bazel:{_rule_line(ws)}:1: '
               "interpreter_path '/nonexistent/bin/python3' does not exist; its toolchains are skipped")
    assert r.stderr.count(warning) == 1, r.stderr


def test_a_missing_interpreter_with_on_failure_skip_is_skipped_silently(ws):
    _module(ws, "/nonexistent/bin/python3", on_failure="skip")
    r = ws.kiln("run", "//app:main")
    assert r.code == 0, r.output
    assert "version %d.%d.%d" % sys.version_info[:3] in r.stdout
    assert "nonexistent" not in r.stderr


def test_a_program_not_on_path_is_an_error_at_the_rule(ws):
    _module(ws, "python9.99", on_failure="fail")
    r = ws.kiln("run", "//app:main")
    assert r.code == 1, r.output
    assert (f'local_runtime_repo(name = "local_python3") at MODULE.bazel:{_rule_line(ws)}:1: '
            "interpreter_path 'python9.99' is not a program on PATH") in r.stderr
    assert "Traceback" not in r.output


def test_an_interpreter_that_cannot_be_introspected_is_an_error_at_the_rule(ws):
    script = ws.write("fake/python3", "#!/bin/sh\necho 'fake python: broken' >&2\nexit 1\n", executable=True)
    _module(ws, str(script), on_failure="fail")
    r = ws.kiln("run", "//app:main")
    assert r.code == 1, r.output
    assert (f'local_runtime_repo(name = "local_python3") at MODULE.bazel:{_rule_line(ws)}:1: '
            f"interpreter_path '{script}' did not report its version and ABI (exit 1: fake python: broken)"
            ) in r.stderr
    assert "Traceback" not in r.output


def test_an_unknown_on_failure_value_is_an_error_at_the_rule(ws):
    _module(ws, "python3", on_failure="ignore")
    r = ws.kiln("run", "//app:main")
    assert r.code != 0, r.output
    assert (f'MODULE.bazel:{_rule_line(ws)}:1: local_runtime_repo(name = "local_python3"): on_failure must be '
            "one of skip, warn, fail, got 'ignore'") in r.stderr
    assert "Traceback" not in r.output


def _python(minor: str) -> str:
    found = sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/3.{minor}*/bin/python3.{minor}")))
    if not found:
        unavailable(f"no CPython 3.{minor} under ~/.pyenv/versions on this machine")
    return found[-1]


def test_the_runtime_repo_is_written_again_when_the_interpreter_changes(ws):
    first, second = _python("12"), _python("13")
    wrapper = ws.write("bin/python3", f'#!/bin/sh\nexec {first} "$@"\n', executable=True)
    _module(ws, str(wrapper))
    r = ws.kiln("run", "//app:main")
    assert r.code == 0, r.output
    assert f"executable {first}" in r.stdout  # the wrapper names the interpreter it runs: that one is run
    ws.write("bin/python3", f'#!/bin/sh\nexec {second} "$@"\n', executable=True)
    r = ws.kiln("run", "//app:main")
    assert r.code == 0, r.output
    assert f"executable {second}" in r.stdout
    assert "version 3.13." in r.stdout


def test_workspace_declares_local_runtimes_too(ws):
    python = _python312()
    ws.write("MODULE.bazel", "")
    ws.write("WORKSPACE", f'''
load("@rules_python//python/local_toolchains:repos.bzl", "local_runtime_repo", "local_runtime_toolchains_repo")
local_runtime_repo(name = "local_python3", interpreter_path = "{python}", on_failure = "fail")
local_runtime_toolchains_repo(name = "local_toolchains", runtimes = ["local_python3"])
register_toolchains("@local_toolchains//:all")
''')
    ws.write("app/main.py", APP)
    ws.write("app/BUILD.bazel", 'py_binary(name = "main", srcs = ["main.py"])\n')
    r = ws.kiln("run", "//app:main")
    assert r.code == 0, r.output
    assert f"executable {python}" in r.stdout


def test_a_python_version_selects_the_version_aware_toolchain(ws):
    py312, py313 = _python312(), _python("13")
    ws.write("MODULE.bazel", RULES + f'''
local_runtime_repo(name = "py312", interpreter_path = "{py312}")
local_runtime_repo(name = "py313", interpreter_path = "{py313}")
local_runtime_toolchains_repo(name = "local_toolchains", runtimes = ["py312"], default_runtimes = ["py313"])
register_toolchains("@local_toolchains//:all")
''')
    ws.write("app/main.py", APP)
    ws.write("app/BUILD.bazel", 'py_binary(name = "main", srcs = ["main.py"])\n')
    r = ws.kiln("run", "//app:main")
    assert r.code == 0, r.output
    assert f"executable {py313}" in r.stdout  # no version asked: the version-unaware default
    for version in ("3.12", os.path.basename(os.path.dirname(os.path.dirname(py312)))):
        r = ws.kiln("run", "//app:main", f"--@rules_python//python/config_settings:python_version={version}")
        assert r.code == 0, r.output
        assert f"executable {py312}" in r.stdout, version


def test_seed_recipe_without_the_flag_never_needs_a_missing_interpreter(ws):
    # CI: the machine lacks the developer's interpreter; only asking for it (--//:py=local) is an error.
    _module(ws, "/nonexistent/bin/python3", on_failure="fail",
            toolchains='target_compatible_with = {"local_python3": ["HOST_CONSTRAINTS"]}, '
                       'target_settings = {"local_python3": ["@//:is_py_local"]},')
    ws.write("BUILD.bazel", FLAG_BUILD)
    r = ws.kiln("run", "//app:main")
    assert r.code == 0, r.output
    assert "version %d.%d.%d" % sys.version_info[:3] in r.stdout
    r = ws.kiln("run", "//app:main", "--//:py=local")
    assert r.code == 1, r.output
    assert (f'local_runtime_repo(name = "local_python3") at MODULE.bazel:{_rule_line(ws)}:1: '
            "interpreter_path '/nonexistent/bin/python3' does not exist") in r.stderr
    assert "Traceback" not in r.output


def test_settings_for_a_runtime_the_rule_does_not_list_are_an_error_at_the_rule(ws):
    _module(ws, "python3", toolchains='target_settings = {"local_pyhton3": ["@//:is_py_local"]},')
    r = ws.kiln("run", "//app:main")
    assert r.code != 0, r.output
    line = next(i for i, text in enumerate((ws.root / "MODULE.bazel").read_text().splitlines(), 1)
                if text.startswith("local_runtime_toolchains_repo("))
    assert (f'MODULE.bazel:{line}:1: local_runtime_toolchains_repo(name = "local_toolchains"): target_settings '
            "names 'local_pyhton3', which is in neither runtimes nor default_runtimes") in r.stderr
    assert "Traceback" not in r.output


def test_a_py_test_runs_on_the_local_runtime(ws):
    python = _python312()
    _module(ws, python)
    ws.write("t/t.py", "import sys\nassert sys.version_info[:2] == (3, 12), sys.version\nprint('ran on', sys.executable)\n")
    ws.write("t/BUILD.bazel", 'py_test(name = "t", srcs = ["t.py"])\n')
    # Sandboxed: the runtime's installation is shown read-only to the test (HostToolsInfo).
    r = ws.kiln("test", "//t:t", "--test_output=all")
    assert r.code == 0, r.output
    assert f"ran on {python}" in r.output


def test_the_runtime_env_toolchain_runs_python3_from_path_at_run_time(ws):
    python = _python312()
    ws.write("MODULE.bazel", 'bazel_dep(name = "rules_python", version = "1.4.1")\n'
                             'register_toolchains("@rules_python//python/runtime_env_toolchains:all")\n')
    ws.write("app/main.py", APP)
    ws.write("app/BUILD.bazel", 'py_binary(name = "main", srcs = ["main.py"])\n')
    ws.write("pybin/python3", f'#!/bin/sh\nexec {python} "$@"\n', executable=True)
    system = {"PATH": "/usr/bin:/bin"}
    r = ws.kiln("run", "//app:main", env=system)
    assert r.code == 0, r.output
    assert "executable /usr/bin/python3" in r.stdout
    # The same build, another PATH: the program runs on the python3 found when it starts.
    r = ws.kiln("run", "//app:main", env={"PATH": f"{ws.root / 'pybin'}:/usr/bin:/bin"})
    assert r.code == 0, r.output
    assert f"executable {python}" in r.stdout
    assert "version 3.12." in r.stdout


def test_the_runtime_env_toolchain_without_python3_on_path_says_so(ws):
    ws.write("MODULE.bazel", 'bazel_dep(name = "rules_python", version = "1.4.1")\n'
                             'register_toolchains("@rules_python//python/runtime_env_toolchains:all")\n')
    ws.write("app/main.py", APP)
    ws.write("app/BUILD.bazel", 'py_binary(name = "main", srcs = ["main.py"])\n')
    empty = ws.root / "empty"
    empty.mkdir()
    r = ws.kiln("build", "//app:main", env={"PATH": str(empty)})
    assert r.code == 1, r.output
    assert (f"@rules_python//python/runtime_env_toolchains: python3 is not a program on PATH ({empty}): kiln reads "
            "the version and ABI of the runtime-env toolchain's Python from it") in r.stderr
    assert "Traceback" not in r.output
    # Found when building, gone when the program runs: the launcher says what is missing.
    r = ws.kiln("build", "//app:main")
    assert r.code == 0, r.output
    launcher = ws.root / "kiln-bin" / "app" / "main"
    done = subprocess.run([str(launcher)], capture_output=True, text=True, env={"PATH": str(empty)})
    assert done.returncode == 127
    assert f"runtime_env_toolchain: no python3 on PATH ({empty})" in done.stderr


def test_an_interpreter_installed_later_where_a_skipped_one_was_missing_is_used(ws):
    python = _python312()
    path = ws.root / "later" / "python3"
    _module(ws, str(path), on_failure="skip")
    r = ws.kiln("run", "//app:main")
    assert r.code == 0, r.output
    assert "version %d.%d.%d" % sys.version_info[:3] in r.stdout
    ws.write("later/python3", f'#!/bin/sh\nexec {python} "$@"\n', executable=True)
    r = ws.kiln("run", "//app:main")
    assert r.code == 0, r.output
    assert f"executable {python}" in r.stdout


def test_exec_compatible_with_limits_where_the_local_toolchain_applies(ws):
    python = _python312()
    _module(ws, python, toolchains='exec_compatible_with = {"local_python3": ["@platforms//os:windows"]},')
    r = ws.kiln("run", "//app:main")
    assert r.code == 0, r.output
    assert python not in r.stdout  # no Windows execution platform: kiln's own runtime instead
    _module(ws, python, toolchains='exec_compatible_with = {"local_python3": ["HOST_CONSTRAINTS"]},')
    r = ws.kiln("run", "//app:main")
    assert r.code == 0, r.output
    assert f"executable {python}" in r.stdout


def test_a_toolchain_for_a_repository_that_is_not_a_local_runtime_is_an_error(ws):
    _module(ws, "python3")
    text = (ws.root / "MODULE.bazel").read_text().replace('runtimes = ["local_python3"]', 'runtimes = ["nope"]')
    ws.write("MODULE.bazel", text)
    r = ws.kiln("run", "//app:main")
    assert r.code == 1, r.output
    line = next(i for i, row in enumerate(text.splitlines(), 1) if row.startswith("local_runtime_toolchains_repo("))
    assert (f'local_runtime_toolchains_repo(name = "local_toolchains") at MODULE.bazel:{line}:1: \'nope\' is not a '
            "local_runtime_repo of this workspace") in r.stderr
    assert "Traceback" not in r.output


def test_a_local_runtime_offers_its_c_headers_as_a_py_cc_toolchain(ws):
    python = _python312()
    _module(ws, python)
    ws.write("h/BUILD.bazel", '''
genrule(
    name = "version_h",
    srcs = ["@rules_python//python/cc:current_py_cc_headers"],
    outs = ["version.txt"],
    cmd = "grep -h '#define PY_VERSION ' $(SRCS) > $@",
)
''')
    r = ws.kiln("build", "//h:version_h")
    assert r.code == 0, r.output
    # The default runtime applies without a version flag: its toolchains come first (registered by the
    # workspace), so the headers are the local 3.12's.
    assert '"3.12.' in (ws.root / "kiln-bin/h/version.txt").read_text()
