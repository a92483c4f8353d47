"""@rules_python//python/bin:repl: an interactive Python, started by its py_binary launcher.

The launcher chose the runtime and put the library --@rules_python//python/bin:repl_dep
names on sys.path; this file only runs the console as `python` would.
"""

import code
import os
import sys


def main():
    # The launcher put this file's directory first, as for any main; the user's imports must not see it.
    here = os.path.dirname(os.path.abspath(__file__))
    if sys.path and os.path.abspath(sys.path[0]) == here:
        del sys.path[0]
    namespace = {"__name__": "__console__", "__doc__": None}
    startup = os.environ.get("PYTHONSTARTUP")
    if startup and os.path.isfile(startup):
        with open(startup) as f:
            exec(compile(f.read(), startup, "exec"), namespace)
    try:
        import readline
        import rlcompleter
    except ImportError:
        pass
    else:
        readline.set_completer(rlcompleter.Completer(namespace).complete)
        readline.parse_and_bind("tab: complete")
    banner = (f"Python {sys.version} on {sys.platform}\n"
              'Type "help", "copyright", "credits" or "license" for more information.')
    code.interact(banner=banner, local=namespace, exitmsg="")


main()
