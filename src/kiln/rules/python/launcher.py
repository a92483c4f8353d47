"""The launcher py_binary and py_test produce: one file that is both sh and Python.

/bin/sh reads the first lines and execs the runtime's interpreter on the same
file; Python reads them as a string literal and runs the bootstrap below,
which finds the runfiles tree, sets sys.path and runs `main` in process.
"""

from __future__ import annotations

import shlex

from kiln.rules.python.providers import PyRuntimeInfo

_TEMPLATE = '''#!/bin/sh
\'\'\':'
exec {interpreter} "$0" "$@"
\'\'\'
# kiln launcher for {label}
import os
import sys

MAIN = {main!r}
IMPORTS = {imports!r}


def _runfiles_dir():
    here = os.path.abspath(__file__)
    own = here + ".runfiles"
    if os.path.isdir(own):
        return own
    # Run from inside another program's runfiles tree: that tree is ours too.
    marker = ".runfiles" + os.sep
    if marker in here:
        return here[: here.index(marker) + len(".runfiles")]
    env = os.environ.get("RUNFILES_DIR")
    if env and os.path.isdir(env):
        return env
    sys.stderr.write("kiln launcher: cannot find the runfiles of " + here + "\\n")
    sys.exit(1)


def _main():
    runfiles = _runfiles_dir()
    os.environ["RUNFILES_DIR"] = runfiles
    manifest = os.path.join(runfiles, "MANIFEST")
    if os.path.isfile(manifest):
        os.environ["RUNFILES_MANIFEST_FILE"] = manifest
    # The launcher's own directory must not shadow the runfiles tree.
    if sys.path and os.path.abspath(sys.path[0] or ".") == os.path.dirname(os.path.abspath(__file__)):
        del sys.path[0]
    entries = [os.path.join(runfiles, p) for p in IMPORTS]
    entries += [os.path.join(runfiles, "_main"), runfiles]
    sys.path[:0] = entries
    main = os.path.join(runfiles, MAIN)
    # As `python main.py` would: the main file's directory (inside runfiles, never the source tree) first.
    sys.path.insert(0, os.path.dirname(main))
    sys.argv[0] = main
    import runpy

    runpy.run_path(main, run_name="__main__")


_main()
'''


def launcher_script(label: str, runtime: PyRuntimeInfo, main_runfiles_path: str, imports: list[str]) -> str:
    return _TEMPLATE.format(
        interpreter=shlex.quote(runtime.interpreter_path),
        label=label,
        main=main_runfiles_path,
        imports=imports,
    )
