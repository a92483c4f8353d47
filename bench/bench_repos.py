#!/usr/bin/env python3
"""What 20 external repositories cost a no-op build: the same code fetched by http_archive or kept in-tree.

    .venv/bin/python bench/bench_repos.py [--repos 20] [--rounds 11] [--json PATH]

Workspace A keeps 20 small Python libraries in its own tree (one package
each); workspace B gets the same libraries as 20 http_archive repositories
served from 127.0.0.1 (fetched once, before timing). Both have one py_binary
depending on all of them. After a first build, the rounds run a no-op build in
A and in B alternately (A/B interleaved); the figure is B's median over A's,
wall and CPU. The issue's limit: B at most 10 % above A.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import os
import statistics
import sys
import tarfile
import tempfile
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from benchlib import KILN, actions_executed, describe_run, emit, fail, timed  # noqa: E402


def _lib(i: int) -> dict[str, str]:
    return {
        "BUILD.bazel": f'py_library(name = "lib{i}", srcs = ["lib{i}.py"], imports = ["."], '
                       'visibility = ["//visibility:public"])\n',
        f"lib{i}.py": f"VALUE = {i}\n",
    }


def _targz(files: dict[str, str], prefix: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{prefix}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(buf.getvalue(), mtime=0)


def _write(root: str, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)


def make_workspaces(base: str, n: int, serve_dir: str, port: int) -> tuple[str, str]:
    main = "\n".join(f"import lib{i}" for i in range(n)) + "\nprint(sum(m.VALUE for m in [" + \
        ", ".join(f"lib{i}" for i in range(n)) + "]))\n"
    in_tree, external = os.path.join(base, "in_tree"), os.path.join(base, "external")
    files_a = {"MODULE.bazel": "", "app/main.py": main,
               "app/BUILD.bazel": 'py_binary(name = "main", srcs = ["main.py"], deps = ['
                                  + ", ".join(f'"//libs/lib{i}"' for i in range(n)) + "])\n"}
    for i in range(n):
        files_a.update({f"libs/lib{i}/{k}": v for k, v in _lib(i).items()})
    _write(in_tree, files_a)
    module = ['http_archive = use_repo_rule("@bazel_tools//tools/build_defs/repo:http.bzl", "http_archive")\n']
    for i in range(n):
        body = _targz(_lib(i), f"lib{i}-1.0")
        with open(os.path.join(serve_dir, f"lib{i}.tar.gz"), "wb") as f:
            f.write(body)
        module.append(f'http_archive(name = "lib{i}", urls = ["http://127.0.0.1:{port}/lib{i}.tar.gz"], '
                      f'sha256 = "{hashlib.sha256(body).hexdigest()}", strip_prefix = "lib{i}-1.0")\n')
    _write(external, {"MODULE.bazel": "".join(module), "app/main.py": main,
                      "app/BUILD.bazel": 'py_binary(name = "main", srcs = ["main.py"], deps = ['
                                         + ", ".join(f'"@lib{i}//:lib{i}"' for i in range(n)) + "])\n"})
    return in_tree, external


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repos", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=11)
    ap.add_argument("--json")
    args = ap.parse_args()
    base = tempfile.mkdtemp(prefix="kiln-bench-repos-")
    serve_dir = os.path.join(base, "served")
    os.makedirs(serve_dir)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=serve_dir))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    a, b = make_workspaces(base, args.repos, serve_dir, httpd.server_address[1])
    env = dict(os.environ, HOME=os.path.join(base, "home"))
    cache = f"--repository_cache={os.path.join(base, 'repository_cache')}"
    for ws in (a, b):
        _, _, proc = timed([KILN, "build", cache, "//app:main"], ws, env, what=f"first build in {ws}")
        if "external" in ws and proc.stderr.count("Fetching @lib") != args.repos:
            fail(f"expected {args.repos} fetches in the first build:\n{proc.stderr}")
    wall: dict[str, list[float]] = {"a": [], "b": []}
    cpu: dict[str, list[float]] = {"a": [], "b": []}
    for _ in range(args.rounds):
        for key, ws in (("a", a), ("b", b)):
            t, c, proc = timed([KILN, "build", cache, "//app:main"], ws, env, what=f"no-op in {ws}")
            if actions_executed(proc, "no-op") != 0 or "Fetching" in proc.stderr:
                fail(f"the no-op in {ws} did work:\n{proc.stderr}")
            wall[key].append(t)
            cpu[key].append(c)
    httpd.shutdown()
    r = {"repos": args.repos, "rounds": args.rounds,
         "in_tree": {"wall": statistics.median(wall["a"]), "cpu": statistics.median(cpu["a"])},
         "external": {"wall": statistics.median(wall["b"]), "cpu": statistics.median(cpu["b"])}}
    describe_run(r, base)
    ratio_w = r["external"]["wall"] / r["in_tree"]["wall"]
    ratio_c = r["external"]["cpu"] / r["in_tree"]["cpu"]
    text = (f"| no-op build, {args.repos} libraries | wall s (median of {args.rounds}) | CPU s |\n|---|---|---|\n"
            f"| in the workspace (A) | {r['in_tree']['wall']:.3f} | {r['in_tree']['cpu']:.3f} |\n"
            f"| as http_archive repositories (B) | {r['external']['wall']:.3f} | {r['external']['cpu']:.3f} |\n"
            f"| B / A | {ratio_w:.2f} | {ratio_c:.2f} |")
    emit(r, text, args.json)


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


if __name__ == "__main__":
    main()
