"""PyO3 configuration and extension file names derived from a Python runtime."""

import pytest

from kiln.rules.python.providers import PyRuntimeInfo
from kiln.rules.rust.pyo3_config import abi3_minimum, config_file_text, extension_file_name

CPYTHON = PyRuntimeInfo(
    implementation_name="cpython", version_info=(3, 11, 7), pyc_tag="cpython-311", abi_flags="",
    ext_suffix=".cpython-311-x86_64-linux-gnu.so", interpreter_path="/opt/py/bin/python3.11",
    lib_dir="/opt/py/lib", ld_library="libpython3.11.so",
)
DEBUG = PyRuntimeInfo(
    implementation_name="cpython", version_info=(3, 11, 2), pyc_tag="cpython-311", abi_flags="d",
    ext_suffix=".cpython-311d-x86_64-linux-gnu.so", interpreter_path="/usr/bin/python3.11d",
    ld_library="libpython3.11d.a",
)
PYPY = PyRuntimeInfo(
    implementation_name="pypy", version_info=(3, 9, 16), pyc_tag="pypy39", abi_flags="",
    ext_suffix=".pypy39-pp73-x86_64-linux-gnu.so", interpreter_path="/usr/bin/pypy3",
)


def parse(text):
    return dict(line.split("=", 1) for line in text.splitlines())


def test_cpython_config():
    cfg = parse(config_file_text(CPYTHON, abi3=False))
    assert cfg["implementation"] == "CPython"
    assert cfg["version"] == "3.11"
    assert cfg["shared"] == "true"
    assert cfg["abi3"] == "false"
    assert cfg["lib_name"] == "python3.11"
    assert cfg["lib_dir"] == "/opt/py/lib"
    assert cfg["executable"] == "/opt/py/bin/python3.11"
    assert cfg["pointer_width"] == "64"
    assert cfg["build_flags"] == ""
    assert cfg["suppress_build_script_link_lines"] == "true"


def test_debug_build_flag_and_static_lib():
    cfg = parse(config_file_text(DEBUG, abi3=False))
    assert cfg["build_flags"] == "Py_DEBUG"
    assert cfg["shared"] == "false"


def test_pypy_config():
    cfg = parse(config_file_text(PYPY, abi3=False))
    assert cfg["implementation"] == "PyPy"
    assert cfg["version"] == "3.9"


def test_extension_names_follow_the_runtime():
    assert extension_file_name("word_count", CPYTHON, abi3=False) == "word_count.cpython-311-x86_64-linux-gnu.so"
    assert extension_file_name("word_count", PYPY, abi3=False) == "word_count.pypy39-pp73-x86_64-linux-gnu.so"
    assert extension_file_name("word_count", DEBUG, abi3=False) == "word_count.cpython-311d-x86_64-linux-gnu.so"
    assert extension_file_name("pkg.sub", CPYTHON, abi3=True) == "pkg/sub.abi3.so"


def test_abi3_falls_back_to_a_version_specific_module_for_pypy():
    # PyPy cannot load abi3 modules: pyo3 and maturin build for its version instead.
    assert extension_file_name("m", PYPY, abi3=True) == "m" + PYPY.ext_suffix
    assert "abi3=false" in config_file_text(PYPY, abi3=False)


def test_bad_module_name():
    with pytest.raises(ValueError, match="not a Python module name"):
        extension_file_name("my-module", CPYTHON, abi3=False)


def test_abi3_minimum_takes_the_lowest():
    assert abi3_minimum(["extension-module", "abi3-py311", "abi3-py38"]) == (3, 8)
    assert abi3_minimum(["abi3"]) == (0, 0)
    assert abi3_minimum(["extension-module"]) is None
