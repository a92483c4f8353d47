"""A hermetic runtime starts from the bytecode its archive ships.

python-build-standalone's install_only archives carry the stdlib's `__pycache__`. A .pyc is used only
while its source has the modification time the .pyc records, so an extraction that stamps every file
with the time of extraction makes each interpreter start compile the modules it imports again (it
cannot write the result into the read-only runtime either): ~3-5 ms on every test's start.
"""

from __future__ import annotations

from pbs_archives import TRIPLE
from test_python_extension import _module

# Runs the runtime it was started on, verbose, and fails on stale bytecode.
CHECK = '''
import os, subprocess, sys
assert ".runfiles/python_3_11_{triple}/bin/python3" in sys.executable, sys.executable
env = {{"PYTHONDONTWRITEBYTECODE": "1", "PATH": os.environ.get("PATH", "")}}
err = subprocess.run([sys.executable, "-v", "-c", "import json"], env=env, capture_output=True, text=True).stderr
stale = [line for line in err.splitlines() if "bytecode is stale" in line]
assert not stale, stale
assert "json/__pycache__/__init__.cpython-311.pyc" in err, err[-3000:]
print("stdlib bytecode used")
'''


def test_a_py_test_on_a_hermetic_runtime_uses_the_stdlib_bytecode_of_its_archive(ws, pbs_server):
    base_url, served = pbs_server("3.11", keep_bytecode=True)
    _module(ws, base_url, served, 'python.toolchain(python_version = "3.11")')
    ws.write("app/BUILD.bazel", 'py_test(name = "check", srcs = ["check.py"])\n')
    ws.write("app/check.py", CHECK.format(triple=TRIPLE))
    r = ws.kiln("test", "//app:check", "--test_output=all")
    assert r.code == 0, r.output
    assert "stdlib bytecode used" in r.output
