"""The word_count wheel installs with pip into a fresh virtual environment of this Python, and imports there."""

import os
import subprocess
import sys
import tempfile
import zipfile

wheel = os.path.abspath(sys.argv[1])
names = zipfile.ZipFile(wheel).namelist()
assert "word_count/__init__.py" in names, names
assert any(n.startswith("word_count/_word_count.") and n.endswith(".so") for n in names), names
scratch = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
venv = os.path.join(scratch, "venv")
subprocess.run([sys.executable, "-m", "venv", venv], check=True)
env = {**os.environ, "PIP_NO_CACHE_DIR": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
subprocess.run([os.path.join(venv, "bin", "pip"), "install", "--no-index", "--no-deps", "--quiet", wheel],
               check=True, env=env)
done = subprocess.run([os.path.join(venv, "bin", "python"), "-c",
                       "import word_count; print(word_count.search('the cat and the hat', 'the'), word_count.__file__)"],
                      check=True, capture_output=True, text=True, cwd=scratch)
count, where = done.stdout.split()
assert count == "2", done.stdout
assert where.startswith(venv), where
print("installed and imported from", where)
