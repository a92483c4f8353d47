"""Environment variables as dependencies of saved results.

Loading that reads a variable (rules_python's python.defaults(python_version_env)) records it among the files
it read as a pseudo-path; kiln.cli.saved_results compares such an entry with os.environ, so that a change to
the variable is seen as a change to a file would be.
"""

PREFIX = "\0env:"


def env_dependency(name: str) -> str:
    return PREFIX + name
