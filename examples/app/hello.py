"""Greets everyone listed in a data file found through the runfiles library."""

import sys

from runfiles import Runfiles

from greet import banner, greeting


def main(argv: list[str]) -> int:
    r = Runfiles.Create()
    with open(r.Rlocation("_main/app/names.txt")) as f:
        names = [line.strip() for line in f if line.strip()]
    print(banner())
    for name in names + argv:
        print(greeting(name))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
