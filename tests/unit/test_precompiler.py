"""kiln's precompiler (src/kiln/tools/precompiler.py), run as a subprocess on the interpreters it serves.

Per interpreter (CPython 3.8-3.13 from pyenv, PyPy 3.9): the pyc headers (checked and unchecked hash), proved
by importing the pyc with that interpreter's importlib; a sourceless pyc whose traceback shows --src_name;
--optimize applied; byte-identical output across hash seeds, processes and worker modes; a syntax error's
message; a wrong --python_version; a worker over each protocol. On one interpreter: @paramfiles and batches,
bad arguments, multiplexing out of order, serial vs async, cancellation, sandboxDir, verbosity, stdout kept
for protocol messages, garbage on stdin.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from precompiler_harness import (TOOL, VERSIONS, WorkerProcess, interpreter, run_tool,  # noqa: E402
                                 tool_env, varint)

# Module level: `not __debug__` is folded at compile time, so it tells an -O1 pyc (True) from the source (False).
MODULE = "OPTIMIZED = not __debug__\nNAMES = {'alpha', 'beta', 'gamma', 'delta', 'epsilon'}\n"
# Constants whose marshal output depends on the hash seed (frozensets) and on what else the process holds
# (names shared with modules the worker imports), before CPython 3.11.
SEEDED = """import json, threading
def kind(x):
    if x in {"loads", "dumps", "Thread", "Lock", "w0", "w1", "w2", "w3", "w4", "w5", "w6", "w7"}:
        return json.loads, threading.Lock, frozenset({1, 2.5, "a", b"b", (1, "x")})
    return x in {1, 2.5, "a", b"b", (1, "x"), None}
class Codec:
    def loads(self, s): return {"dumps": s, "JSONDecodeError": len(s)}
"""
BIG_FUNCTIONS = 16000  # compiles in ~1 s: a small request finishes, and a cancel arrives, before it does


def big_source(path: str) -> None:
    with open(path, "w") as f:
        for i in range(BIG_FUNCTIONS):
            f.write(f"def f{i}(a, b={i}):\n    return [a, b, 's{i}', {{'k': a + {i}}}]\n")


def probe(python: str, code: str, *args: str, cwd: str | None = None) -> str:
    proc = subprocess.run([python, "-c", code, *args], capture_output=True, text=True, env=tool_env(), cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def write(path, text: str) -> str:
    os.makedirs(os.path.dirname(str(path)), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return str(path)


def read(path) -> bytes:
    with open(path, "rb") as f:
        return f.read()


@pytest.fixture(params=VERSIONS)
def python(request) -> str:
    return interpreter(request.param)


@pytest.fixture
def py311() -> str:
    return interpreter("3.11")


# ---- pyc files, on every interpreter ----

@pytest.mark.parametrize("mode", ["checked_hash", "unchecked_hash"])
def test_hash_pyc_header_and_import(python, tmp_path, mode):
    src = write(tmp_path / "pkg" / "mod.py", MODULE)
    tag = probe(python, "import sys; print(sys.implementation.cache_tag)")
    pyc = tmp_path / "pkg" / "__pycache__" / f"mod.{tag}.pyc"
    proc = run_tool(python, "--invalidation_mode", mode, "--src", src, "--src_name", "pkg/mod.py",
                    "--pyc", str(pyc), "--optimize", "1")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")
    magic, source_hash = probe(python, "import importlib.util, sys; s = open(sys.argv[1], 'rb').read(); "
                                       "print(importlib.util.MAGIC_NUMBER.hex(), importlib.util.source_hash(s).hex())",
                               src).split()
    data = read(pyc)
    flags = 0b11 if mode == "checked_hash" else 0b01
    assert (data[:4].hex(), data[4:8], data[8:16].hex()) == (magic, flags.to_bytes(4, "little"), source_hash)
    imported = "import sys; sys.path.insert(0, sys.argv[1]); import mod; print(mod.OPTIMIZED)"
    assert probe(python, imported, str(tmp_path / "pkg")) == "True"  # the -O1 pyc ran, not the source
    with open(src, "a") as f:
        f.write("# edited\n")
    # A checked pyc no longer matches the source's hash and is ignored; an unchecked one is still used.
    expected = "False" if mode == "checked_hash" else "True"
    assert probe(python, imported, str(tmp_path / "pkg")) == expected


def test_sourceless_pyc_shows_src_name_in_tracebacks(python, tmp_path):
    src = write(tmp_path / "in" / "boom.py", "def boom():\n    raise ValueError('boom')\n")
    proc = run_tool(python, "--src", src, "--src_name", "pkg/boom.py", "--pyc", str(tmp_path / "lib" / "boom.pyc"))
    assert proc.returncode == 0, proc.stderr
    run = subprocess.run([python, "-c", "import sys; sys.path.insert(0, sys.argv[1]); import boom; boom.boom()",
                          str(tmp_path / "lib")], capture_output=True, text=True, env=tool_env())
    assert 'File "pkg/boom.py", line 2, in boom' in run.stderr
    assert "ValueError: boom" in run.stderr


def test_output_is_byte_identical_across_seeds_processes_and_modes(python, tmp_path):
    src = write(tmp_path / "seeded.py", SEEDED)
    outputs = []
    for seed in ("0", "1", "2", "12345"):
        pyc = tmp_path / f"oneshot-{seed}.pyc"
        assert run_tool(python, "--src", src, "--src_name", "seeded.py", "--pyc", str(pyc), seed=seed).returncode == 0
        outputs.append(read(pyc))
    # A worker that compiled other modules first holds other objects than a fresh process does.
    others = probe(python, "import json, threading, os; print(json.__file__, threading.__file__, os.__file__)").split()
    for seed, impl in (("3", "async"), ("4", "serial")):
        worker = WorkerProcess(python, impl=impl, seed=seed)
        for i, other in enumerate(others, start=1):
            worker.send({"arguments": ["--src", other, "--pyc", str(tmp_path / f"other{i}.pyc")], "requestId": i})
        pyc = tmp_path / f"worker-{impl}.pyc"
        worker.send({"arguments": ["--src", src, "--src_name", "seeded.py", "--pyc", str(pyc)], "requestId": 9})
        assert sorted(worker.recv()["requestId"] for _ in range(4)) == [1, 2, 3, 9]
        assert worker.close()[0] == 0
        outputs.append(read(pyc))
    assert len(set(outputs)) == 1
    # What was written loads into the code the interpreter compiles itself.
    same = probe(python, "import marshal, sys; data = open(sys.argv[1], 'rb').read(); "
                         "print(marshal.loads(data[16:]) == compile(open(sys.argv[2], 'rb').read(), 'seeded.py', "
                         "'exec', dont_inherit=True))", str(tmp_path / "worker-async.pyc"), src)
    assert same == "True"


def test_syntax_error_names_file_and_line(python, tmp_path):
    src = write(tmp_path / "bad.py", "x = 1\ndef f(:\n    pass\n")
    pyc = tmp_path / "bad.pyc"
    proc = run_tool(python, "--src", src, "--src_name", "pkg/bad.py", "--pyc", str(pyc))
    assert proc.returncode == 1
    assert 'File "pkg/bad.py", line 2' in proc.stderr
    assert "SyntaxError" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not pyc.exists()


def test_wrong_python_version_is_refused(python, tmp_path):
    src = write(tmp_path / "m.py", "x = 1\n")
    version = probe(python, "import sys; print('%d.%d' % sys.version_info[:2])")
    proc = run_tool(python, "--src", src, "--pyc", str(tmp_path / "m.pyc"), "--python_version", "3.7")
    assert proc.returncode == 2
    assert f"--python_version=3.7, but this interpreter ({python}) is Python {version}." in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "m.pyc").exists()
    ok = run_tool(python, "--src", src, "--pyc", str(tmp_path / "m.pyc"), "--python_version", version)
    assert ok.returncode == 0 and (tmp_path / "m.pyc").exists()


@pytest.mark.parametrize("protocol", ["json", "proto"])
def test_worker_compiles_like_one_shot(python, tmp_path, protocol):
    src = write(tmp_path / "mod.py", SEEDED)
    assert run_tool(python, "--src", src, "--pyc", str(tmp_path / "one.pyc")).returncode == 0
    worker = WorkerProcess(python, protocol)
    worker.send({"arguments": ["--src", src, "--pyc", str(tmp_path / "w0.pyc")]})
    expected = {"requestId": 0, "exitCode": 0, "output": ""}
    if protocol == "proto":  # the harness fills in the fields the wire format leaves out
        expected["wasCancelled"] = False
    assert worker.recv() == expected
    worker.send({"arguments": ["--src", src, "--pyc", str(tmp_path / "w7.pyc")], "requestId": 7})
    assert worker.recv()["requestId"] == 7
    assert worker.close() == (0, "")
    assert read(tmp_path / "one.pyc") == read(tmp_path / "w0.pyc") == read(tmp_path / "w7.pyc")
    assert worker.stdout_rest == b""


# ---- arguments, on one interpreter ----

def test_paramfile_and_batch(py311, tmp_path):
    a = write(tmp_path / "a.py", "A = 1\n")
    b = write(tmp_path / "b.py", "B = 2\n")
    write(tmp_path / "args", "--invalidation_mode\nunchecked_hash\n--src\na.py\n--src_name\npkg/a.py\n--pyc\n"
                             "out/a.pyc\n--src=b.py\n--src_name=pkg/b.py\n--pyc=out/b.pyc\n--python_version\n3.11\n")
    proc = run_tool(py311, "@args", cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    for name, src in (("a", a), ("b", b)):
        data = read(tmp_path / "out" / f"{name}.pyc")
        assert data[4:8] == b"\x01\0\0\0"
        name_in_code = probe(py311, "import marshal, sys; print(marshal.loads(open(sys.argv[1], 'rb').read()[16:])"
                                    ".co_filename)", str(tmp_path / "out" / f"{name}.pyc"))
        assert name_in_code == f"pkg/{name}.py"
    assert not [f for f in os.listdir(tmp_path / "out") if ".tmp" in f]


@pytest.mark.parametrize("args, message", [
    (["--src", "a.py"], "each --src needs one --pyc"),
    (["--src", "a.py", "--pyc", "a.pyc", "--src_name"], "--src_name needs a value"),
    (["--src", "a.py", "--pyc", "a.pyc", "--frobnicate", "1"], "unknown argument '--frobnicate'"),
    (["--src", "a.py", "--pyc", "a.pyc", "--invalidation_mode", "timestamp"],
     "--invalidation_mode=timestamp: kiln's precompiler writes checked_hash or unchecked_hash pyc files"),
    (["--src", "a.py", "--pyc", "a.pyc", "--optimize", "3"], "--optimize=3: expected 0, 1 or 2"),
    (["--src", "a.py", "--pyc", "a.pyc", "--python_version", "three"], "--python_version=three: expected X.Y"),
    (["@missing.args"], "cannot read the param file missing.args"),
])
def test_bad_arguments(py311, tmp_path, args, message):
    write(tmp_path / "a.py", "A = 1\n")
    proc = run_tool(py311, *args, cwd=str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.startswith("precompiler: ") and message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "a.pyc").exists()


def test_unreadable_source(py311, tmp_path):
    proc = run_tool(py311, "--src", str(tmp_path / "gone.py"), "--pyc", str(tmp_path / "gone.pyc"))
    assert proc.returncode == 1
    assert f"cannot read {tmp_path / 'gone.py'}: No such file or directory" in proc.stderr


# ---- the worker, on one interpreter ----

@pytest.mark.parametrize("protocol", ["json", "proto"])
@pytest.mark.parametrize("impl", ["async", "serial"])
def test_multiplex_order_and_cancel(py311, tmp_path, protocol, impl):
    big_source(str(tmp_path / "big.py"))
    for name in ("small", "queued", "after"):
        write(tmp_path / f"{name}.py", f"NAME = {name!r}\n")

    def request(rid: int, name: str) -> dict:
        return {"arguments": ["--src", str(tmp_path / f"{name}.py"), "--pyc", str(tmp_path / "out" / f"{name}.pyc")],
                "requestId": rid}

    worker = WorkerProcess(py311, protocol, impl)
    if impl == "serial":  # one at a time: 3 still waits behind the big file, so it is cancelled, never written
        worker.send(request(1, "big"), request(2, "small"), request(3, "queued"), {"requestId": 3, "cancel": True})
        answers = []
    else:  # the small one is answered while the big file compiles; then 1 is cancelled mid-compile
        worker.send(request(1, "big"), request(2, "small"))
        answers = [worker.recv()]
        worker.send({"requestId": 1, "cancel": True})
    worker.send({"requestId": 99, "cancel": True})  # unknown: no answer
    answers += [worker.recv() for _ in range(3 - len(answers))] if impl == "serial" else [worker.recv()]
    worker.send(request(4, "after"))
    answers.append(worker.recv())
    code, _ = worker.close()
    assert code == 0 and worker.stdout_rest == b""
    order = [(a["requestId"], a.get("wasCancelled", False)) for a in answers]
    if impl == "serial":
        assert order == [(3, True), (1, False), (2, False), (4, False)]
        assert not (tmp_path / "out" / "queued.pyc").exists()
        assert (tmp_path / "out" / "big.pyc").exists()
    else:
        assert order == [(2, False), (1, True), (4, False)]
        assert not (tmp_path / "out" / "big.pyc").exists()
    assert not [f for f in os.listdir(tmp_path / "out") if ".tmp" in f]
    assert all(a.get("exitCode", 0) == 0 for a in answers)
    assert (tmp_path / "out" / "small.pyc").exists() and (tmp_path / "out" / "after.pyc").exists()


@pytest.mark.parametrize("protocol", ["json", "proto"])
def test_worker_sandbox_errors_and_verbosity(py311, tmp_path, protocol):
    sandbox = tmp_path / "sandbox" / "7"
    write(sandbox / "pkg" / "ok.py", "OK = 1\n")
    write(sandbox / "pkg" / "bad.py", "def f(:\n")
    worker = WorkerProcess(py311, protocol, cwd=str(tmp_path))
    worker.send({"arguments": ["--src", "pkg/ok.py", "--pyc", "out/ok.pyc"], "requestId": 1,
                 "sandboxDir": "sandbox/7", "verbosity": 10})
    ok = worker.recv()
    assert (ok["requestId"], ok["exitCode"]) == (1, 0)
    assert ok["output"] == "compiled sandbox/7/pkg/ok.py (pkg/ok.py) to sandbox/7/out/ok.pyc"
    assert (sandbox / "out" / "ok.pyc").exists() and not (tmp_path / "out").exists()
    worker.send({"arguments": ["--src", "pkg/bad.py", "--src_name", "pkg/bad.py", "--pyc", "out/bad.pyc"],
                 "requestId": 2, "sandboxDir": "sandbox/7"})
    bad = worker.recv()
    assert (bad["requestId"], bad["exitCode"]) == (2, 1)
    assert 'File "pkg/bad.py", line 1' in bad["output"] and "SyntaxError" in bad["output"]
    worker.send({"arguments": ["--src", "pkg/ok.py", "--pyc", "x.pyc", "--optimize", "9"], "requestId": 3})
    usage = worker.recv()
    assert (usage["requestId"], usage["exitCode"]) == (3, 2)
    assert usage["output"] == "precompiler: --optimize=9: expected 0, 1 or 2"
    assert worker.close() == (0, "")
    assert not (sandbox / "out" / "bad.pyc").exists()


def test_stray_output_never_reaches_stdout(py311, tmp_path):
    # Something the interpreter loads at start writes to stdout later, from Python and from C-level fd 1.
    write(tmp_path / "site" / "sitecustomize.py",
          "import atexit, os, sys\n"
          "atexit.register(lambda: (print('stray print'), sys.stdout.flush(), os.write(1, b'stray write\\n')))\n")
    env = tool_env()
    env["PYTHONPATH"] = str(tmp_path / "site")
    src = write(tmp_path / "m.py", "M = 1\n")
    worker = WorkerProcess(py311, "json", env=env)
    worker.send({"arguments": ["--src", src, "--pyc", str(tmp_path / "m.pyc")], "requestId": 1})
    assert worker.recv()["exitCode"] == 0
    code, stderr = worker.close()
    assert code == 0
    assert worker.stdout_rest == b""
    assert "stray print" in stderr and "stray write" in stderr


@pytest.mark.parametrize("protocol, garbage, message", [
    ("json", b"this is not json\n", "not JSON"),
    ("json", b"[1, 2]\n", "not a JSON object"),
    ("json", b'{"arguments": "--src a.py", "requestId": 1}\n', "not a list of strings"),
    ("json", b'{"arguments": [], "requestId": "1"}\n', "requestId is '1', not an integer"),
    ("proto", varint(3) + b"\x0b\x01\x02", "wire type 3 (field 1): not a WorkRequest"),
    ("proto", varint(4) + b"\x0a\x10ab", "field 1 runs past the end"),
    ("proto", varint(1 << 30), "a message of 1073741824 bytes announced"),
    ("proto", varint(4) + b"\x0a\x02", "stdin ended 2 bytes into a 4-byte message"),
    ("proto", varint(2) + b"\x1a\x00", "field 3 has wire type 2: not a WorkRequest"),
])
def test_garbage_on_stdin(py311, tmp_path, protocol, garbage, message):
    worker = WorkerProcess(py311, protocol)
    worker.send_raw(garbage)
    code, stderr = worker.close()
    assert code == 2
    assert stderr.startswith("precompiler: bad worker request on stdin: ") and message in stderr, stderr
    assert "Traceback" not in stderr and worker.stdout_rest == b""


def test_unknown_startup_argument(py311):
    proc = subprocess.run([py311, TOOL, "--persistent_worker", "--worker_impl=threads"], capture_output=True,
                          text=True, env=tool_env(), input="")
    assert proc.returncode == 2 and proc.stdout == ""
    assert "unknown startup argument '--worker_impl=threads'" in proc.stderr


STDLIB_MODULES = ("argparse", "ast", "collections", "dataclasses", "datetime", "decimal", "email.message",
                  "enum", "functools", "inspect", "json.decoder", "logging", "pathlib", "pickle", "re",
                  "shutil", "subprocess", "tarfile", "threading", "typing", "unittest.case", "zipfile")


def test_stdlib_modules_reproducible(python, tmp_path):
    """Real modules, in opposite orders, through two workers with other seeds and modes: the same bytes,
    and each loads into the code the interpreter compiles itself."""
    paths = probe(python, "import importlib.util, sys\nfor m in sys.argv[1:]:\n"
                          "    print(importlib.util.find_spec(m).origin)", *STDLIB_MODULES).split()
    for seed, impl, order in (("1", "async", paths), ("2", "serial", paths[::-1])):
        worker = WorkerProcess(python, impl=impl, seed=seed)
        for i, path in enumerate(order, start=1):
            worker.send({"arguments": ["--src", path, "--src_name", os.path.basename(path), "--pyc",
                                       str(tmp_path / impl / f"{paths.index(path)}.pyc")], "requestId": i})
        assert all(worker.recv()["exitCode"] == 0 for _ in order)
        assert worker.close()[0] == 0
    for i, path in enumerate(paths):
        assert read(tmp_path / "async" / f"{i}.pyc") == read(tmp_path / "serial" / f"{i}.pyc"), path
    same = probe(python, "import marshal, os, sys\nfor i, p in enumerate(sys.argv[2:]):\n"
                         "    data = open(os.path.join(sys.argv[1], '%d.pyc' % i), 'rb').read()\n"
                         "    code = compile(open(p, 'rb').read(), os.path.basename(p), 'exec', dont_inherit=True)\n"
                         "    print(marshal.loads(data[16:]) == code)", str(tmp_path / "async"), *paths)
    assert same.split() == ["True"] * len(paths)


@pytest.mark.parametrize("version", ["3.12", "3.13"])
def test_canonical_form_of_newer_code_objects(version, tmp_path):
    """The rewriter also reads the code objects of 3.11+ (PyPy 3.11 uses it): CPython's own streams
    come back as equal code, with sorted frozensets."""
    python = interpreter(version)
    out = probe(python, "import marshal, sys\nsys.path.insert(0, sys.argv[1])\nimport precompiler_marshal as p\n"
                        "code = compile(open(sys.argv[2], 'rb').read(), 'x.py', 'exec', dont_inherit=True)\n"
                        "data = p.canonical_marshal(marshal.dumps(code))\n"
                        "print(marshal.loads(data) == code, p.canonical_marshal(data) == data)",
                os.path.dirname(TOOL), write(tmp_path / "x.py", SEEDED + MODULE))
    assert out == "True True"


def test_async_worker_exits_when_a_compiling_process_dies(py311, tmp_path):
    """Its requests cannot be answered any more: the worker ends, naming the process, so that kiln restarts it."""
    worker = WorkerProcess(py311, "json", "async")
    src = write(tmp_path / "m.py", "M = 1\n")
    worker.send({"arguments": ["--src", src, "--pyc", str(tmp_path / "m.pyc")], "requestId": 1})
    assert worker.recv()["exitCode"] == 0  # the compiling processes are up
    pid = worker.proc.pid
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        children = [int(c) for c in f.read().split()]
    assert len(children) == len(os.sched_getaffinity(0))
    os.kill(children[0], 9)
    assert worker.proc.wait(timeout=30) == 1
    code, stderr = worker.close()
    assert code == 1 and f"precompiler: a compiling process (pid {children[0]}) ended" in stderr
    assert "Traceback" not in stderr
