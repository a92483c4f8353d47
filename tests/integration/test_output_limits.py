"""Bounded memory and terminal: huge action and test output goes to files, the terminal gets a capped part."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from conftest import KILN, Result

MB = 1 << 20


def _kiln_measured(ws, *args: str) -> tuple[Result, int]:
    """Runs kiln in a fresh process and returns its result and the peak RSS (bytes) of kiln and its children."""
    code = (
        "import json, resource, subprocess, sys\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True)\n"
        "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024\n"
        "sys.stdout.write(json.dumps([p.returncode, p.stdout.decode('utf-8', 'replace'), "
        "p.stderr.decode('utf-8', 'replace'), rss]))\n"
    )
    env_home = str(ws.output_base.parent / "home")
    proc = subprocess.run([sys.executable, "-c", code, *KILN, f"--output_base={ws.output_base}", *args],
                          cwd=ws.root, capture_output=True, text=True, env={"HOME": env_home, "PATH": "/usr/bin:/bin"},
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    rc, out, err, rss = json.loads(proc.stdout)
    return Result(rc, out, err), rss


def _shown_bytes(output: str, filler: str) -> int:
    """How many bytes of the action's filler the terminal got (its longest run)."""
    return max((len(run) for run in re.findall(f"{filler}+", output)), default=0)


def test_huge_action_output_is_capped_on_the_terminal_and_kept_whole_in_a_file(ws):
    ws.write("p/BUILD.bazel", """
        genrule(
            name = "loud",
            outs = ["loud.txt"],
            cmd = "head -c 200000000 /dev/zero | tr '\\\\0' x; echo; echo done > $@",
        )
    """)
    r, rss = _kiln_measured(ws, "build", "//p:loud", "--experimental_ui_max_stdouterr_bytes=5000")
    assert r.code == 0, r.output[-3000:]
    assert _shown_bytes(r.output, "x") <= 5000
    m = re.search(r"output truncated: 5000 of 200000001 bytes shown; the whole output is in (\S+)\)", r.output)
    assert m, r.output[-2000:]
    assert (ws.root / m.group(1)).stat().st_size == 200000001
    # kiln never held the output: its peak memory is far below the 200 MB printed.
    assert rss < 120 * MB, rss
    # The action cache entry names the output blob instead of holding it.
    entries = [p for p in (ws.output_base / "ac").rglob("*") if p.is_file()]
    assert entries and all(p.stat().st_size < 2000 for p in entries)


def test_failing_action_output_is_capped(ws):
    ws.write("p/BUILD.bazel", """
        genrule(name = "bad", outs = ["bad.txt"], cmd = "head -c 3000000 /dev/zero | tr '\\\\0' y; exit 3")
    """)
    r = ws.kiln("build", "//p:bad", "--experimental_ui_max_stdouterr_bytes=1000")
    assert r.code == 1, r.output[-3000:]
    assert "Executing genrule //p:bad failed: (Exit 3)" in r.output
    assert _shown_bytes(r.output, "y") <= 1000
    assert "output truncated: 1000 of 3000000 bytes shown" in r.output


def test_huge_test_output_stays_in_the_log(ws):
    ws.write("t/loud_test.py", """
        import sys
        chunk = "z" * 1000000
        for _ in range(150):
            sys.stdout.write(chunk)
        sys.stdout.write("\\n")
        sys.exit(1)
    """)
    ws.write("t/BUILD.bazel", 'py_test(name = "loud_test", srcs = ["loud_test.py"])\n')
    r, rss = _kiln_measured(ws, "test", "//t:loud_test", "--test_output=errors",
                            "--experimental_ui_max_stdouterr_bytes=2000")
    assert r.code == 3, r.output[-3000:]
    assert _shown_bytes(r.output, "z") <= 2000
    assert "output truncated: 2000 of" in r.output
    log = ws.root / "kiln-testlogs/t/loud_test/test.log"
    assert log.stat().st_size > 150_000_000
    assert rss < 120 * MB, rss


def test_streamed_test_output_with_no_newline_is_copied_in_chunks(ws):
    ws.write("t/long_line_test.py", """
        import sys
        sys.stdout.write("w" * 50000000)
    """)
    ws.write("t/BUILD.bazel", 'py_test(name = "long_line_test", srcs = ["long_line_test.py"])\n')
    r, rss = _kiln_measured(ws, "test", "//t:long_line_test", "--test_output=streamed")
    assert r.code == 0, r.output[-3000:]
    assert _shown_bytes(r.output, "w") == 50000000
    assert (ws.root / "kiln-testlogs/t/long_line_test/test.log").stat().st_size > 50000000
    # The copy goes through a fixed-size buffer, not the whole line.
    assert rss < 120 * MB, rss
