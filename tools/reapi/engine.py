"""Command line of kiln's test engine for the Remote Execution API (stdlib only: any python3 runs it).

The engine is Buildbarn (bb_storage, bb_scheduler, bb_worker, bb_runner: cache and remote
execution) and bazel-remote (a second, independent cache), on 127.0.0.1:

    python3 tools/reapi/engine.py build            # idempotent; prints the directory of the binaries
    python3 tools/reapi/engine.py start STATE_DIR  # prints the endpoints, also in STATE_DIR/endpoints.json
    python3 tools/reapi/engine.py stop STATE_DIR   # SIGTERM, then SIGKILL; returns once none is left

Exit status 0 on success, 1 with a one-line reason (and a log excerpt) on stderr otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from binaries import HERE, bin_dir, build
from errors import EngineError
from processes import start, stop


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="engine.py", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("build", help="build the engine's binaries unless they are cached")
    commands.add_parser("start", help="start the engine, its state under STATE_DIR").add_argument("state_dir", type=Path)
    commands.add_parser("stop", help="stop the engine started in STATE_DIR").add_argument("state_dir", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            print(build())
        elif args.command == "start":
            print(json.dumps(start(bin_dir(), args.state_dir.resolve(), HERE / "config"), indent=2))
        else:
            stop(args.state_dir.resolve())
    except (EngineError, OSError) as error:
        print(f"engine.py {args.command}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
