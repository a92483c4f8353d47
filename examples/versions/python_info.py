"""Prints the Python it runs on; given a version (X.Y), fails unless it is that one."""

import sys


def main(argv: list[str]) -> int:
    running = "%d.%d" % sys.version_info[:2]
    print(f"running on Python {sys.version.split()[0]} ({sys.executable})")
    if argv and running != argv[0]:
        print(f"expected Python {argv[0]}, got {running}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
