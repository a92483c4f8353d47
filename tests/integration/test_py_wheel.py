"""py_wheel and py_package: a wheel as a build output, with the dist-info pip expects, reproducible, and its tags
checked against the extension modules inside it."""

from __future__ import annotations

import zipfile

import pytest

BUILD = '''
load("@rules_python//python:defs.bzl", "py_library")
load("@rules_python//python:packaging.bzl", "py_package", "py_wheel")

py_library(name = "lib", srcs = ["mypkg/__init__.py", "mypkg/sub/mod.py"], data = ["mypkg/data.txt"])

py_library(name = "other", srcs = ["other/x.py"])

py_package(name = "pkg", packages = ["mypkg"], deps = [":lib", ":other"])

py_wheel(
    name = "wheel",
    distribution = "My.Pkg",
    version = "1.0.0-rc1",
    summary = "A package",
    author = "Kiln Tests",
    requires = ["requests>=2"],
    extra_requires = {{"fast": ["ujson; python_version >= '3.8'"]}},
    entry_points = {{"console_scripts": ["mytool = mypkg.sub.mod:main"]}},
    description_file = "README.md",
    deps = [":pkg"],
    {tags}
)
'''


def _ws(ws, tags: str = "", extra_files: dict[str, str] | None = None) -> None:
    ws.write("MODULE.bazel", 'module(name = "app")\n')
    ws.write("BUILD.bazel", BUILD.format(tags=tags))
    for path, text in {"mypkg/__init__.py": "", "mypkg/sub/mod.py": "def main():\n    return 0\n",
                       "mypkg/data.txt": "data\n", "other/x.py": "", "README.md": "# My package\n",
                       **(extra_files or {})}.items():
        ws.write(path, text)


def test_the_wheel_holds_the_package_and_a_valid_dist_info(ws):
    from installer.sources import WheelFile

    _ws(ws)
    r = ws.kiln("build", "//:wheel")
    assert r.code == 0, r.output
    wheel = ws.root / "kiln-bin" / "my_pkg-1.0.0rc1-py3-none-any.whl"
    names = zipfile.ZipFile(wheel).namelist()
    assert names == ["mypkg/__init__.py", "mypkg/data.txt", "mypkg/sub/mod.py",
                     "my_pkg-1.0.0rc1.dist-info/METADATA", "my_pkg-1.0.0rc1.dist-info/WHEEL",
                     "my_pkg-1.0.0rc1.dist-info/entry_points.txt", "my_pkg-1.0.0rc1.dist-info/RECORD"]
    with WheelFile.open(wheel) as source:
        source.validate_record()
        metadata = source.read_dist_info("METADATA")
        assert source.read_dist_info("WHEEL") == ("Wheel-Version: 1.0\nGenerator: kiln\nRoot-Is-Purelib: true\n"
                                                  "Tag: py3-none-any\n")
        assert source.read_dist_info("entry_points.txt") == "[console_scripts]\nmytool = mypkg.sub.mod:main\n\n"
    assert metadata.startswith("Metadata-Version: 2.1\nName: My.Pkg\nVersion: 1.0.0rc1\nSummary: A package\n")
    assert "Requires-Dist: requests>=2\nProvides-Extra: fast\n" \
           "Requires-Dist: ujson; (python_version >= '3.8') and extra == 'fast'\n" in metadata
    assert metadata.endswith("\n\n# My package\n")
    first = wheel.read_bytes()
    r = ws.kiln("clean")
    r = ws.kiln("build", "//:wheel")
    assert r.code == 0, r.output
    assert wheel.read_bytes() == first


@pytest.mark.parametrize("module, tags, message", [
    ("mypkg/_ext.cpython-311-x86_64-linux-gnu.so", 'python_tag = "cp311", abi = "abi3", platform = "linux_x86_64",',
     "mypkg/_ext.cpython-311-x86_64-linux-gnu.so is built for CPython 3.11 only (its suffix), but the wheel's ABI "
     "tag is 'abi3': set abi = \"cp311\" and python_tag = \"cp311\""),
    ("mypkg/_ext.cpython-311-x86_64-linux-gnu.so", 'python_tag = "cp311", abi = "cp311",',
     "mypkg/_ext.cpython-311-x86_64-linux-gnu.so is an extension module, which runs on one kind of machine only, "
     "but the wheel's platform tag is 'any'"),
    ("mypkg/_ext.cpython-311-x86_64-linux-gnu.so", 'python_tag = "cp311", abi = "cp311", platform = '
     '"macosx_11_0_arm64",', "mypkg/_ext.cpython-311-x86_64-linux-gnu.so is built for x86_64 linux gnu, which the "
     "wheel's platform tag 'macosx_11_0_arm64' does not name"),
])
def test_tags_that_do_not_fit_the_extension_module_inside(ws, module, tags, message):
    _ws(ws, tags, {module: "not really a module"})
    ws.write("BUILD.bazel", (ws.root / "BUILD.bazel").read_text().replace(
        'srcs = ["mypkg/__init__.py", "mypkg/sub/mod.py"]', f'srcs = ["mypkg/__init__.py", "mypkg/sub/mod.py", "{module}"]'))
    r = ws.kiln("build", "//:wheel")
    assert r.code == 1, r.output
    assert message in r.stderr, r.stderr
    assert "Traceback" not in r.output


def test_an_abi3_module_under_a_version_tag_is_a_warning(ws):
    module = "mypkg/_ext.abi3.so"
    _ws(ws, 'python_tag = "cp311", abi = "cp311", platform = "linux_x86_64",', {module: "x"})
    ws.write("BUILD.bazel", (ws.root / "BUILD.bazel").read_text().replace(
        'srcs = ["mypkg/__init__.py", "mypkg/sub/mod.py"]', f'srcs = ["mypkg/__init__.py", "mypkg/sub/mod.py", "{module}"]'))
    r = ws.kiln("build", "//:wheel")
    assert r.code == 0, r.output
    assert ("WARNING: mypkg/_ext.abi3.so is an abi3 module under the version-specific ABI tag 'cp311': the wheel "
            "could be tagged abi = \"abi3\"") in r.stderr, r.stderr
