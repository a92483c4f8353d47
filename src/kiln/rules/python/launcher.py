"""The launcher py_binary and py_test produce, in the form the target's runtime allows.

A platform runtime whose absolute `interpreter_path` fits a `#!` line (no
whitespace, under the kernel's limit) gets a launcher the kernel hands to that
interpreter directly: one process start. Otherwise — an in-build runtime,
whose interpreter lies in the runfiles tree, or a path a shebang cannot carry —
the file is both sh and Python: /bin/sh reads the first lines and execs the
interpreter on the same file, which Python reads as a string literal.

Either way the bootstrap finds the runfiles tree, sets sys.path as
`python main.py` would plus the imports, and executes the compiled main in
this very `__main__` module; it imports nothing beyond what the interpreter
has loaded at start-up (no runpy), and main's bytecode is cached like a module's.
"""

from __future__ import annotations

import shlex

from kiln.rules.python.providers import PyRuntimeInfo

# Linux reads at most 256 bytes of a `#!` line (BINPRM_BUF_SIZE), newline included; a longer
# line is cut or refused depending on the kernel, so such a path takes the sh form.
_SHEBANG_MAX = 255

_BOOTSTRAP = '''# kiln launcher for {label}
import os
import sys


def _kiln_runfiles(here):
    own = here + ".runfiles"
    if os.path.isdir(own):
        return own
    # Run from inside another program's runfiles tree: that tree is ours too.
    cut = here.find(".runfiles/")
    if cut >= 0:
        return here[: cut + 9]
    env = os.environ.get("RUNFILES_DIR")
    if env and os.path.isdir(env):
        return env
    sys.stderr.write("kiln launcher: cannot find the runfiles of " + here + "\\n")
    sys.exit(1)


def _kiln_main():
    runfiles = _kiln_runfiles(os.path.abspath(__file__))
    os.environ["RUNFILES_DIR"] = runfiles
    manifest = runfiles + "/MANIFEST"
    if os.path.isfile(manifest):
        os.environ["RUNFILES_MANIFEST_FILE"] = manifest
    main = runfiles + "/" + {main!r}
    path = [runfiles + "/" + p for p in {imports!r}]
    path += [runfiles + "/_main", runfiles]
    # sys.path[0] is the launcher's directory, which must not shadow the runfiles tree; as
    # `python main.py` would, the main file's directory (inside runfiles) takes its place.
    if not getattr(sys.flags, "safe_path", False):
        path.insert(0, os.path.dirname(main))
        del sys.path[0]
    sys.path[:0] = path
    sys.argv[0] = main
    # The import system's own loader, loaded at start-up: it keeps main's bytecode in __pycache__
    # like any module's, and spares builtin compile(), whose first call costs ~1 ms (AST types).
    machinery = sys.modules.get("_frozen_importlib_external")
    if machinery is None:
        import importlib.machinery as machinery
    loader = machinery.SourceFileLoader("__main__", main)
    code = loader.get_code("__main__")
    # Main runs in this module, as `python main.py` runs it: the launcher's names go first.
    scope = sys.modules["__main__"].__dict__
    builtins = scope["__builtins__"]
    scope.clear()
    scope.update(__name__="__main__", __file__=main, __builtins__=builtins, __doc__=None,
                 __package__=None, __spec__=None, __loader__=loader, __cached__=None)
    exec(code, scope)


_kiln_main()
'''

# The sh part: Python sees `'''` + a string literal; sh sees `''':'` (the command `:`), then exec.
_SH_HEAD = """#!/bin/sh
''':'
{find}exec {interpreter} "$0" "$@"
'''
"""

# An in-build runtime's interpreter, found by its runfiles path in the tree beside the launcher,
# in the tree the launcher runs inside, or under RUNFILES_DIR (as the bootstrap finds the tree).
_FIND_TREE = """r="$0.runfiles"
if [ ! -d "$r" ]; then case "$0" in *.runfiles/*) r="${0%%.runfiles/*}.runfiles" ;; *) r="$RUNFILES_DIR" ;; esac; fi
"""


def shebang_fits(interpreter_path: str) -> bool:
    """Whether the kernel can start `interpreter_path` from a `#!` line on its own."""
    line = f"#!{interpreter_path}\n".encode()
    return (interpreter_path.startswith("/") and len(line) <= _SHEBANG_MAX
            and not any(c.isspace() for c in interpreter_path))


def launcher_script(label: str, runtime: PyRuntimeInfo, main_runfiles_path: str, imports: list[str]) -> str:
    bootstrap = _BOOTSTRAP.format(label=label, main=main_runfiles_path, imports=imports)
    if runtime.interpreter is not None:
        head = _SH_HEAD.format(find=_FIND_TREE, interpreter=f'"$r"/{shlex.quote(runtime.interpreter.runfiles_path)}')
    elif shebang_fits(runtime.interpreter_path):
        head = f"#!{runtime.interpreter_path}\n"
    else:
        head = _SH_HEAD.format(find="", interpreter=shlex.quote(runtime.interpreter_path))
    return head + bootstrap
