#!/usr/bin/env python3
"""What fetching a 50 MB archive costs: download vs repository-cache hit vs distdir, and extraction.

    .venv/bin/python bench/bench_fetch.py [--mb 50] [--rounds 5] [--json PATH]

A .tar.gz of --mb MB (files of random bytes, so it does not compress) is served
over HTTP from 127.0.0.1 by a thread of this script. Each round runs, each in a
new process as a kiln command would: the first fetch (empty repository cache:
download, verify the sha256, store in the cache, copy to the output), the
second fetch (same cache: a verified copy out of it), a fetch with the archive
in a --distdir and an empty cache (verified copy into the cache, then out), and
the extraction of the archive (strip_prefix). References measured in the same
rounds: `curl` + `sha256sum` for the download, `cp` + `sha256sum` for a verified
copy, `tar xzf` for extraction, and the start of a Python process that imports
the downloader (the fixed cost inside every kiln figure).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import shutil
import statistics
import sys
import tarfile
import tempfile
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from benchlib import PYTHON, describe_run, emit, fail, timed  # noqa: E402

FETCH = """
import sys
from pathlib import Path
from kiln.repos.downloader import Downloader
from kiln.repos.repository_cache import RepositoryCache
cache, distdir, url, sha, out = sys.argv[1:]
distdirs = [Path(distdir)] if distdir != "-" else []
print(Downloader(RepositoryCache(Path(cache)), distdirs).fetch([url], sha256=sha, output=Path(out)).origin)
"""
EXTRACT = """
import sys
from pathlib import Path
from kiln.repos.archives import extract
extract(Path(sys.argv[1]), Path(sys.argv[2]), strip_prefix="pkg-1.0")
"""
START = "import kiln.repos.downloader, kiln.repos.archives"

CASES = ("start-up (python + imports)", "first fetch (download)", "second fetch (cache hit)", "distdir hit",
         "extract", "ref: curl + sha256sum", "ref: cp + sha256sum", "ref: tar xzf")


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def make_archive(path: str, mb: int) -> str:
    files = mb * 4  # 256 KiB each
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        for i in range(files):
            data = os.urandom(256 << 10)
            info = tarfile.TarInfo(f"pkg-1.0/d{i % 10}/f{i:04d}.bin")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="kiln-fetch-bench-")
    served = os.path.join(tmp, "served")
    distdir = os.path.join(tmp, "distdir")
    os.makedirs(served)
    os.makedirs(distdir)
    archive = os.path.join(served, "pkg-1.0.tar.gz")
    sha = make_archive(archive, args.mb)
    shutil.copyfile(archive, os.path.join(distdir, "pkg-1.0.tar.gz"))
    size = os.path.getsize(archive)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=served))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/pkg-1.0.tar.gz"
    times: dict[str, tuple[list[float], list[float]]] = {c: ([], []) for c in CASES}

    def run(case: str, argv: list[str], expect: str | None = None) -> None:
        wall, cpu, proc = timed(argv, tmp, what=case)
        if expect is not None and proc.stdout.strip() != expect:
            fail(f"{case}: expected the file from {expect}, got it from {proc.stdout.strip()!r}")
        times[case][0].append(wall)
        times[case][1].append(cpu)

    def fetch(cache: str, dist: str, out: str) -> list[str]:
        return [PYTHON, "-c", FETCH, cache, dist, url, sha, out]

    try:
        for r in range(args.rounds):
            work = os.path.join(tmp, f"round{r}")
            os.makedirs(work)
            cache = os.path.join(work, "cache")
            run(CASES[0], [PYTHON, "-c", START])
            run(CASES[1], fetch(cache, "-", os.path.join(work, "ws1", "a.tar.gz")), expect=url)
            run(CASES[2], fetch(cache, "-", os.path.join(work, "ws2", "a.tar.gz")), expect="repository cache")
            run(CASES[3], fetch(os.path.join(work, "cache2"), distdir, os.path.join(work, "ws3", "a.tar.gz")),
                expect=os.path.join(distdir, "pkg-1.0.tar.gz"))
            run(CASES[4], [PYTHON, "-c", EXTRACT, os.path.join(work, "ws1", "a.tar.gz"), os.path.join(work, "x")])
            ref_out = os.path.join(work, "ref.tar.gz")
            run(CASES[5], ["sh", "-c", f"curl -sf -o {ref_out} {url} && sha256sum {ref_out} >/dev/null"])
            run(CASES[6], ["sh", "-c", f"cp {archive} {ref_out}.2 && sha256sum {ref_out}.2 >/dev/null"])
            os.makedirs(os.path.join(work, "tarx"))
            run(CASES[7], ["tar", "xzf", archive, "-C", os.path.join(work, "tarx")])
            if sorted(os.listdir(os.path.join(work, "x"))) != [f"d{i}" for i in range(10)]:
                fail("extract: the tree is not the archive's")
            shutil.rmtree(work)
    finally:
        httpd.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)

    result = {"mb": args.mb, "bytes": size, "rounds": args.rounds, "cases": {}}
    describe_run(result, tmp)
    lines = [f"{size / 1e6:.1f} MB .tar.gz ({args.mb * 4} files), {args.rounds} rounds, medians (s)", "",
             "| what | wall | CPU |", "|---|---|---|"]
    for case in CASES:
        wall, cpu = statistics.median(times[case][0]), statistics.median(times[case][1])
        result["cases"][case] = {"wall": times[case][0], "cpu": times[case][1]}
        lines.append(f"| {case} | {wall:.3f} | {cpu:.3f} |")
    emit(result, "\n".join(lines), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
