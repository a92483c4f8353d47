"""compile_pip_requirements' program: `<name>.update` writes the hashed lock, `<name>_test` fails when it is stale.

argv: <requirements.in> <lock> <uv> --label=<//pkg:name> [--generate-hashes|--no-generate-hashes] [uv pip compile
arguments...] [--check]. The paths are runfiles-relative (the program runs in its runfiles' main repository);
`kiln run` gives BUILD_WORKSPACE_DIRECTORY, where `.update` writes the lock. The lock is resolved by `uv pip
compile` for the Python version this program runs on, its header naming the update target.
"""

import difflib
import os
import subprocess
import sys
import tempfile


def main(argv):
    check = "--check" in argv
    argv = [a for a in argv if a != "--check"]
    source, lock, uv, label_arg, *extra = argv
    # Package-relative, as uv writes them into the lock ("# via -r requirements.in") in both modes.
    source, lock = os.path.normpath(source), os.path.normpath(lock)
    label = label_arg.split("=", 1)[1]
    if check:
        workspace = None
    else:
        workspace = os.environ.get("BUILD_WORKSPACE_DIRECTORY")
        if not workspace:
            print(f"{label}.update writes the lock into the workspace: run it with `kiln run {label}.update`",
                  file=sys.stderr)
            return 2
    scratch = os.environ.get("TEST_TMPDIR") or tempfile.mkdtemp(prefix="kiln-pip-compile-")
    output = lock if workspace else os.path.join(scratch, "lock.txt")
    env = dict(os.environ)
    env.setdefault("UV_CACHE_DIR", os.path.join(scratch, "uv-cache"))
    command = [os.path.abspath(uv), "pip", "compile", source, "--output-file", output, "--quiet",
               "--python-version", "%d.%d" % sys.version_info[:2], "--custom-compile-command",
               f"kiln run {label}.update", *extra]
    if not workspace:
        # uv keeps the pins an existing output file holds, as `.update` does with the lock in the workspace: the
        # check fails only when requirements.in asks for what the lock does not give.
        with open(lock, "rb") as f, open(output, "wb") as out:
            out.write(f.read())
    done = subprocess.run(command, env=env, cwd=workspace or os.getcwd())
    if done.returncode != 0:
        print(f"uv pip compile failed (exit {done.returncode}): {' '.join(command)}", file=sys.stderr)
        return 1
    if workspace:
        print(f"Updated {lock}")
        return 0
    with open(lock, encoding="utf-8") as f:
        want = f.read().splitlines(keepends=True)
    with open(output, encoding="utf-8") as f:
        have = f.read().splitlines(keepends=True)
    if want != have:
        sys.stderr.writelines(difflib.unified_diff(want, have, lock, "resolved now"))
        print(f"\n{lock} is out of date with {source}: run `kiln run {label}.update`", file=sys.stderr)
        return 1
    print(f"{lock} is up to date with {source}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
