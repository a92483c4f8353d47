"""Writes the .pyc of one source, taking the arguments rules_python passes its precompiler."""

import argparse
import py_compile
import sys


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--src", required=True)
    parser.add_argument("--src_name", required=True)
    parser.add_argument("--pyc", required=True)
    parser.add_argument("--optimize", type=int, default=0)
    parser.add_argument("--invalidation_mode", default="checked_hash")
    parser.add_argument("--python_version", default="")
    args = parser.parse_args(argv)
    mode = py_compile.PycInvalidationMode[args.invalidation_mode.upper()]
    py_compile.compile(args.src, cfile=args.pyc, dfile=args.src_name, doraise=True,
                       optimize=args.optimize, invalidation_mode=mode)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
