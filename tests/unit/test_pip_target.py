"""The target runtime's wheel tags and marker environment, from its probed record (not from kiln's interpreter)."""

from __future__ import annotations

from packaging import markers, tags

from kiln.repos.pip_target import TargetRuntime
from kiln.repos.runtime_probe import probe


def record(**changes):
    base = {"implementation_name": "cpython", "version": ["3", "12", "1"], "implementation_version": ["3", "12", "1"],
            "abi_flags": "", "soabi": "cpython-312-x86_64-linux-gnu", "sys_platform": "linux", "machine": "x86_64",
            "platform": "linux-x86_64", "libc": ["glibc", "2.31"]}
    return {**base, **changes}


def test_the_tags_of_kilns_own_interpreter_are_packagings():
    # The one runtime packaging can describe by itself: both must give the same tags in the same order.
    target = TargetRuntime.from_record(probe())
    assert list(target.tags()) == list(tags.sys_tags())


def test_the_marker_environment_of_kilns_own_interpreter_is_packagings():
    env = TargetRuntime.from_record(probe()).marker_environment()
    expected = dict(markers.default_environment())
    # What the machine a program later runs on will report, a build cannot know.
    expected.update(platform_release="", platform_version="")
    assert env == expected


def test_a_glibc_cpython_of_another_version():
    target = TargetRuntime.from_record(record())
    order = [str(t) for t in target.tags()]
    assert order[0] == "cp312-cp312-linux_x86_64"
    assert order[1] == "cp312-cp312-manylinux_2_31_x86_64"
    assert "cp312-cp312-manylinux2014_x86_64" in order and "cp312-cp312-manylinux1_x86_64" in order
    assert "cp312-cp312-manylinux_2_32_x86_64" not in order  # newer than the target's glibc
    assert order.index("cp312-cp312-manylinux1_x86_64") < order.index("cp312-abi3-linux_x86_64")
    assert "cp38-abi3-manylinux_2_17_x86_64" in order
    assert "cp313-cp313-manylinux_2_17_x86_64" not in order
    assert not any("musllinux" in t for t in order)
    assert order[-1] == "py30-none-any"


def test_aarch64_has_no_manylinux_before_glibc_2_17():
    target = TargetRuntime.from_record(record(platform="linux-aarch64", machine="aarch64"))
    platforms = target.platform_tags()
    assert platforms[-2:] == ["manylinux_2_17_aarch64", "manylinux2014_aarch64"]
    assert "manylinux1_aarch64" not in platforms


def test_a_musl_runtime_gets_musllinux_tags():
    target = TargetRuntime.from_record(record(libc=["musl", "1.2"], soabi="cpython-312-x86_64-linux-musl"))
    assert target.platform_tags() == ["linux_x86_64", "musllinux_1_2_x86_64", "musllinux_1_1_x86_64",
                                      "musllinux_1_0_x86_64"]
    assert target.describe() == "cpython 3.12.1 on linux-x86_64 (musl 1.2)"


def test_a_free_threaded_runtime_has_no_abi3():
    target = TargetRuntime.from_record(record(version=["3", "13", "0"], abi_flags="t"))
    abis = {t.abi for t in target.tags()}
    assert "cp313t" in abis and "abi3" not in abis and "cp313" not in abis


def test_pypy_tags_follow_its_soabi():
    target = TargetRuntime.from_record(record(implementation_name="pypy", version=["3", "9", "16"],
                                              implementation_version=["7", "3", "11"], soabi="pypy39-pp73"))
    order = [str(t) for t in target.tags()]
    assert order[0] == "pp39-pypy39_pp73-linux_x86_64"
    assert "pp39-pypy39_pp73-manylinux_2_17_x86_64" in order
    assert not any("abi3" in t or t.startswith("cp") for t in order)
    env = target.marker_environment()
    assert (env["implementation_name"], env["implementation_version"], env["platform_python_implementation"],
            env["python_full_version"]) == ("pypy", "7.3.11", "PyPy", "3.9.16")


def test_macos_and_windows_targets():
    mac = TargetRuntime.from_record(record(sys_platform="darwin", machine="arm64", platform="macosx-11.0-arm64",
                                           libc=[]))
    assert "macosx_11_0_arm64" in mac.platform_tags() and "macosx_11_0_universal2" in mac.platform_tags()
    assert mac.marker_environment()["platform_system"] == "Darwin"
    win = TargetRuntime.from_record(record(sys_platform="win32", machine="AMD64", platform="win-amd64", libc=[]))
    assert win.platform_tags() == ["win_amd64"]
    assert (win.marker_environment()["os_name"], win.marker_environment()["platform_system"]) == ("nt", "Windows")
