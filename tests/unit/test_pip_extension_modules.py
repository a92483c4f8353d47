"""The bzlmod `pip` extension as MODULE.bazel files see it: which lock a parse reads, the repositories it
declares, and its messages."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kiln.core.errors import LoadingError, Location
from kiln.loading.module_files import read_module_files
from kiln.loading.module_info import ModuleInfo
from kiln.repos.definitions import default_definitions
from kiln.repos.pip_extension import host_platform_name

USE = 'pip = use_extension("@rules_python//python/extensions:pip.bzl", "pip")\n'
LOCK = "alpha==1.0 --hash=sha256:" + "a" * 64 + "\nBeta_Lib==2.0 --hash=sha256:" + "b" * 64 + "\n"


def read(tmp_path: Path, tags: str, files: dict[str, str]) -> ModuleInfo:
    (tmp_path / "MODULE.bazel").write_text('module(name = "app")\n' + USE + textwrap.dedent(tags))
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    return read_module_files(tmp_path, default_definitions())


def attrs(info: ModuleInfo, name: str) -> dict:
    (tag,) = info.repos[name].usage.tags
    return tag.attrs


def test_requirements_by_platform_picks_this_machines_lock(tmp_path):
    host = host_platform_name()
    info = read(tmp_path, f'''pip.parse(
        hub_name = "pypi",
        python_version = "3.11",
        requirements_by_platform = {{
            "//:lock_other.txt": "windows_x86_64,osx_*",
            "//:lock_here.txt": "{host.split("_")[0]}_*",
        }},
        requirements_lock = "//:lock_fallback.txt",
    )
    ''', {"lock_here.txt": LOCK, "lock_other.txt": "", "lock_fallback.txt": ""})
    whl = attrs(info, "pypi_311_beta_lib")
    assert whl["lock"] == str(tmp_path / "lock_here.txt")
    assert whl["package"] == "beta-lib"
    hub = attrs(info, "pypi")
    assert hub["packages"] == ["alpha", "beta-lib"]
    assert hub["versions"] == {"3.11": "pypi_311"}
    assert str(tmp_path / "lock_here.txt") in info.files


def test_envsubst_fills_the_index_url_and_the_variable_is_watched(tmp_path, monkeypatch):
    monkeypatch.setenv("MIRROR", "https://mirror.example/simple")
    info = read(tmp_path, '''pip.parse(
        hub_name = "pypi",
        python_version = "3.11",
        requirements_lock = "//:lock.txt",
        extra_pip_args = ["--index-url=${MIRROR}", "--extra-index-url", "${OTHER:-https://other.example/simple}"],
        envsubst = ["MIRROR", "OTHER"],
    )
    ''', {"lock.txt": LOCK})
    whl = attrs(info, "pypi_311_alpha")
    assert whl["index_url"] == "https://mirror.example/simple"
    assert whl["extra_index_urls"] == ["https://other.example/simple"]
    assert info.env == ["MIRROR", "OTHER"]


@pytest.mark.parametrize("tags, files, message, line", [
    ('pip.parse(hub_name = "pypi", python_version = "3.11", requirements_lock = "//:missing.txt")\n', {},
     'pip.parse(hub_name = "pypi", requirements_lock = "//:missing.txt"): the file missing.txt does not exist', 3),
    ('pip.parse(hub_name = "pypi", python_version = "3.11", requirements_lock = "//:lock.txt")\n'
     'pip.parse(hub_name = "pypi", python_version = "3.11", requirements_lock = "//:lock.txt")\n', {"lock.txt": LOCK},
     'pip.parse(hub_name = "pypi"): a second parse for python_version = "3.11"; each Python version of a hub has '
     "one lock", 4),
    ('pip.override(file = "a-1.0-py3-none-any.whl", patches = ["//:missing.patch"])\n', {},
     'pip.override(file = "a-1.0-py3-none-any.whl"): the patch //:missing.patch cannot be read: No such file or '
     "directory", 3),
])
def test_bad_parses(tmp_path, tags, files, message, line):
    with pytest.raises(LoadingError) as caught:
        read(tmp_path, tags, files)
    assert caught.value.message == message
    assert caught.value.location == Location("MODULE.bazel", line, 5)
