"""kiln's precompiler: Python sources to .pyc files, one-shot or as a persistent, multiplexed worker.

It runs on the target runtime's own interpreter (any CPython 3.8+ or PyPy), so it uses the standard library
only and must stay runnable as a plain file (`python precompiler.py ...`).

Per-request arguments, as rules_python's precompiler takes them (directly, or one a line in an `@paramfile`):
`--invalidation_mode checked_hash|unchecked_hash`, `--src`, `--src_name` (the name tracebacks show: the code's
co_filename), `--pyc`, `--optimize N`, `--python_version X.Y`. `--src`, `--src_name` and `--pyc` repeat to
compile several files in one request; the i-th of each go together.

Worker: `--persistent_worker [--worker_protocol=json|proto] [--worker_impl=async|serial]` serves Bazel's
worker protocols on stdin/stdout (JSON lines, or length-delimited blaze.worker protobuf written by hand) from
one thread, a select loop. A request id of 0 is singleplex and runs at once; others are multiplexed: `serial`
compiles them one at a time in this process; `async` in processes forked at start, one per core, each fed
over a pipe up to two requests at a time (a compile holds the GIL: threads would not run two at once). A
cancel answers `wasCancelled` for any request not yet answered, whose pyc files are then never written
(each is compiled into a temporary file that only this process renames into place). Only protocol messages
go to stdout: the real stdout is kept for them and fd 1 is pointed at stderr, so stray prints land in the
worker's log.

Output is byte-identical for identical input, whatever the hash seed, the process or what it compiled
before: hash-based pyc files only (PEP 552; timestamp ones are not reproducible); on CPython 3.11+ the
one-character string constants are interned; before 3.11 and on PyPy the marshal stream is rewritten into a
canonical form (see below).
"""

from __future__ import annotations

import importlib.util
import marshal
import os
import sys
from types import CodeType

PROTOCOLS = ("json", "proto")
IMPLS = ("async", "serial")
MODES = {"checked_hash": 0b11, "unchecked_hash": 0b01}  # PEP 552 flags: hash-based, checked
MAX_MESSAGE = 64 << 20
# Before 3.11 and on PyPy the marshal stream is rewritten into a canonical form (precompiler_marshal).
CANONICALIZE = sys.implementation.name == "pypy" or sys.version_info < (3, 11)


class UsageError(Exception):
    """Arguments a request cannot run with (exit code 2)."""


class CompileError(Exception):
    """A source that cannot be compiled; the message names the file and line (exit code 1)."""


class BadMessage(Exception):
    """Bytes on stdin that are not a worker request: the stream cannot be trusted any further."""


class Request:
    """One request's compile jobs: (src path, src_name, pyc path) triples and how to compile them."""

    __slots__ = ("jobs", "flags", "optimize", "verbose")

    def __init__(self, jobs, flags, optimize, verbose):
        self.jobs, self.flags, self.optimize, self.verbose = jobs, flags, optimize, verbose


# ---- arguments ----

def expand_paramfiles(args, base=""):
    out = []
    for arg in args:
        if not arg.startswith("@"):
            out.append(arg)
            continue
        path = _under(base, arg[1:])
        try:
            with open(path, encoding="utf-8") as f:
                out += f.read().splitlines()
        except OSError as e:
            raise UsageError("cannot read the param file %s: %s" % (arg[1:], e.strerror))
    return out


def _under(base, path):
    return path if not base or os.path.isabs(path) else os.path.join(base, path)


def parse_request(args, base="", verbose=False):
    """The Request of per-request arguments; relative paths are under `base` (a request's sandboxDir)."""
    values = {"--src": [], "--src_name": [], "--pyc": []}
    single = {"--invalidation_mode": "checked_hash", "--optimize": "0", "--python_version": None}
    args = expand_paramfiles(args, base)
    i = 0
    while i < len(args):
        name, eq, value = args[i].partition("=")
        if name not in values and name not in single:
            raise UsageError("unknown argument %r (expected %s)" % (args[i], ", ".join(sorted([*values, *single]))))
        if not eq:
            i += 1
            if i == len(args):
                raise UsageError("%s needs a value" % name)
            value = args[i]
        if name in values:
            values[name].append(value)
        else:
            single[name] = value
        i += 1
    srcs, names, pycs = values["--src"], values["--src_name"], values["--pyc"]
    if not srcs or len(pycs) != len(srcs) or len(names) not in (0, len(srcs)):
        raise UsageError("each --src needs one --pyc (and one --src_name, if any is given): got %d --src, "
                         "%d --pyc, %d --src_name" % (len(srcs), len(pycs), len(names)))
    mode = single["--invalidation_mode"]
    if mode not in MODES:
        raise UsageError("--invalidation_mode=%s: kiln's precompiler writes checked_hash or unchecked_hash "
                         "pyc files (timestamp ones are not reproducible)" % mode)
    if single["--optimize"] not in ("0", "1", "2"):
        raise UsageError("--optimize=%s: expected 0, 1 or 2" % single["--optimize"])
    _check_version(single["--python_version"])
    jobs = tuple((_under(base, src), name, _under(base, pyc)) for src, name, pyc in zip(srcs, names or srcs, pycs))
    return Request(jobs, MODES[mode], int(single["--optimize"]), verbose)


def _check_version(wanted):
    if wanted is None:
        return
    parts = wanted.split(".")
    if len(parts) < 2 or not all(p.isdigit() for p in parts):
        raise UsageError("--python_version=%s: expected X.Y" % wanted)
    have = sys.version_info
    if tuple(int(p) for p in parts[:3]) != tuple(have[:len(parts[:3])]):
        raise UsageError("--python_version=%s, but this interpreter (%s) is Python %d.%d.%d: run the precompiler "
                         "on the target runtime's interpreter" % (wanted, sys.executable, have[0], have[1], have[2]))


# ---- compiling ----

def compile_pyc(source, src_name, flags, optimize):
    """The bytes of a hash-based pyc file (PEP 552) of `source`, whose code names `src_name`."""
    try:
        code = compile(source, src_name, "exec", dont_inherit=True, optimize=optimize)
    except SyntaxError as e:
        raise CompileError(describe_error(e))
    except (ValueError, RecursionError, MemoryError) as e:  # null bytes before 3.12, nesting too deep
        raise CompileError("%s: %s: %s" % (src_name, type(e).__name__, e))
    if not CANONICALIZE:
        return _pyc(source, flags, marshal.dumps(_intern_short_strings(code)))
    from precompiler_marshal import canonical_marshal

    try:
        return _pyc(source, flags, canonical_marshal(marshal.dumps(code)))
    except (ValueError, IndexError) as e:  # a marshal format this reader does not know
        raise CompileError("%s: cannot write a reproducible pyc on %s %s: %s" % (
            src_name, sys.implementation.name, sys.version.split()[0], e))


def describe_error(error):
    import traceback  # only on errors: it costs a one-shot run ~10 ms of imports
    return "".join(traceback.format_exception_only(type(error), error)).rstrip()


def _pyc(source, flags, data):
    return importlib.util.MAGIC_NUMBER + flags.to_bytes(4, "little") + importlib.util.source_hash(source) + data


def _intern_short_strings(code):
    """CPython 3.11+: the code with every constant string of 0 or 1 characters interned.

    Those strings are the interpreter's shared singletons, interned or not depending on what the process
    did before, and marshal writes that flag; everything else in these versions' output is stable.
    """
    consts = tuple(_interned(c) for c in code.co_consts)
    if all(a is b for a, b in zip(consts, code.co_consts)):
        return code
    return code.replace(co_consts=consts)


def _interned(value):
    kind = type(value)
    if kind is str:
        return sys.intern(value) if len(value) <= 1 else value
    if kind is tuple or kind is frozenset:
        items = [_interned(v) for v in value]
        return value if all(a is b for a, b in zip(items, value)) else kind(items)
    return _intern_short_strings(value) if kind is CodeType else value


def compile_request(request):
    """(exit code, output, [(temporary file, pyc path)]): compiles every job into a temporary file beside its
    pyc; `publish` renames them into place. On failure nothing is left behind."""
    written, lines = [], []
    try:
        for src, src_name, pyc in request.jobs:
            try:
                with open(src, "rb") as f:
                    source = f.read()
            except OSError as e:
                raise CompileError("cannot read %s: %s" % (src, e.strerror))
            data = compile_pyc(source, src_name, request.flags, request.optimize)
            tmp = "%s.tmp-%d" % (pyc, os.getpid())
            try:
                os.makedirs(os.path.dirname(pyc) or ".", exist_ok=True)
                with open(tmp, "wb") as f:
                    written.append((tmp, pyc))
                    f.write(data)
            except OSError as e:
                raise CompileError("cannot write %s: %s" % (e.filename or pyc, e.strerror))
            if request.verbose:
                lines.append("compiled %s (%s) to %s" % (src, src_name, pyc))
    except CompileError as e:
        discard(written)
        return 1, str(e), []
    return 0, "\n".join(lines), written


def publish(code, output, written):
    """Renames each temporary file onto its pyc (a reader sees the old file or the whole new one); the
    request's (exit code, output)."""
    try:
        for tmp, pyc in written:
            os.replace(tmp, pyc)
    except OSError as e:
        discard(written)
        return 1, "cannot write %s: %s" % (e.filename, e.strerror)
    return code, output


def discard(written):
    for tmp, _ in written:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def run_request(request):
    return publish(*compile_request(request))


def main(argv):
    # The sibling modules (precompiler_worker, precompiler_marshal) are found beside this file, also under
    # PYTHONSAFEPATH=1, which leaves the script's directory off sys.path.
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    if "--persistent_worker" in argv:
        from precompiler_worker import worker_main

        return worker_main(argv)
    try:
        code, output = run_request(parse_request(argv))
    except UsageError as e:
        code, output = 2, "precompiler: %s" % e
    if output:
        print(output, file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
