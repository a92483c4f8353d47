"""`python -S -E outputs_zip.py DIR DEST`: a test's undeclared outputs as one zip (Bazel's
test.outputs/outputs.zip), paths relative to DIR, in sorted order; DEST may lie in DIR.

Run by kiln's test wrapper (test_setup.sh) only when the test left files there; the standard library
only, so that it runs without site-packages.
"""

import os
import sys
import zipfile


def main(directory: str, dest: str) -> None:
    dest = os.path.abspath(dest)
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as z:
        for root, dirs, files in os.walk(directory):
            dirs.sort()
            for name in sorted(files):
                path = os.path.join(root, name)
                if os.path.abspath(path) != dest:
                    z.write(path, os.path.relpath(path, directory))


if __name__ == "__main__":
    main(*sys.argv[1:])
