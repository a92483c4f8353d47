#!/usr/bin/env python3
"""Generates the synthetic workspace of the foundation benchmark.

    python bench/gen_workspace.py N OUT_DIR

Layout (deterministic; the same N always gives byte-identical files):

    MODULE.bazel
    pkg0000/BUILD.bazel  py_library "pkg0000" with a.py, b.py, c.py
    ...
    pkg{N-1}/...         package i depends on packages i-1 and i//2
                         (package 0 has no deps, package 1 only on 0)
    top/BUILD.bazel      py_binary "bin" (main.py) depending on all N libraries

This mirrors the workspace behind FACTS.md §9: 1,000 packages, each a
py_library of 3 small files depending on 2 earlier packages, one py_binary
depending on all.  Native rules are used (no load()), as in the Bazel figures.
"""

from __future__ import annotations

import os
import sys


def pkg_name(i: int) -> str:
    return f"pkg{i:04d}"


def deps_of(i: int) -> list[int]:
    """Indices of the packages that package i depends on (sorted, unique)."""
    if i == 0:
        return []
    return sorted({i - 1, i // 2})


def _write(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)


def _build_file(i: int) -> str:
    deps = "".join(f'        "//{pkg_name(d)}",\n' for d in deps_of(i))
    return (
        "py_library(\n"
        f'    name = "{pkg_name(i)}",\n'
        '    srcs = ["a.py", "b.py", "c.py"],\n'
        "    deps = [\n"
        f"{deps}"
        "    ],\n"
        '    visibility = ["//visibility:public"],\n'
        ")\n"
    )


def _a_py(i: int) -> str:
    # The deps' modules are imported inside the function, so importing a
    # package never cascades through the whole (1,000-deep) chain.
    deps = deps_of(i)
    body = "".join(f"    from {pkg_name(d)} import c as _c{d}\n" for d in deps)
    names = ", ".join(f"_c{d}.NAME" for d in deps)
    return (
        f'"""Module a of {pkg_name(i)}."""\n'
        "\n"
        "\n"
        "def dep_names():\n"
        f"{body}"
        f"    return [{names}]\n"
    )


def _b_py(i: int) -> str:
    return (
        f'"""Module b of {pkg_name(i)}."""\n'
        "from . import a\n"
        "\n"
        "\n"
        "def describe():\n"
        f'    return "{pkg_name(i)} <- " + ", ".join(a.dep_names())\n'
    )


def _c_py(i: int) -> str:
    return (
        f'"""Module c of {pkg_name(i)}."""\n'
        f"NAME = {pkg_name(i)!r}\n"
        f"INDEX = {i}\n"
        "\n"
        "\n"
        "def square():\n"
        "    return INDEX * INDEX\n"
    )


def _top_build(n: int) -> str:
    deps = "".join(f'        "//{pkg_name(i)}",\n' for i in range(n))
    return (
        "py_binary(\n"
        '    name = "bin",\n'
        '    srcs = ["main.py"],\n'
        '    main = "main.py",\n'
        "    deps = [\n"
        f"{deps}"
        "    ],\n"
        ")\n"
    )


def _top_main(n: int) -> str:
    # Import a few libraries: the first, the last and two in between.
    picks = sorted({0, n // 3, (2 * n) // 3, n - 1})
    imports = "".join(f"from {pkg_name(i)} import b as _b{i}\n" for i in picks)
    lines = "".join(f"    print(_b{i}.describe())\n" for i in picks)
    return (
        '"""Entry point of the synthetic benchmark binary."""\n'
        f"{imports}\n"
        "\n"
        "def main():\n"
        f"{lines}"
        "\n"
        "\n"
        'if __name__ == "__main__":\n'
        "    main()\n"
    )


def generate(n: int, out_dir: str) -> None:
    if n < 1:
        raise ValueError("N must be at least 1")
    _write(os.path.join(out_dir, "MODULE.bazel"),
           'module(name = "kiln_bench", version = "0.0.0")\n')
    for i in range(n):
        d = os.path.join(out_dir, pkg_name(i))
        _write(os.path.join(d, "BUILD.bazel"), _build_file(i))
        _write(os.path.join(d, "a.py"), _a_py(i))
        _write(os.path.join(d, "b.py"), _b_py(i))
        _write(os.path.join(d, "c.py"), _c_py(i))
    _write(os.path.join(out_dir, "top", "BUILD.bazel"), _top_build(n))
    _write(os.path.join(out_dir, "top", "main.py"), _top_main(n))


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: gen_workspace.py N OUT_DIR", file=sys.stderr)
        return 2
    try:
        n = int(argv[0])
    except ValueError:
        print(f"gen_workspace.py: N must be an integer, got {argv[0]!r}", file=sys.stderr)
        return 2
    generate(n, argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
