"""Python providers: PyInfo (what a library brings) and PyRuntimeInfo (a Python runtime)."""

from __future__ import annotations

from dataclasses import dataclass, field

from kiln.core.artifacts import Artifact
from kiln.core.depset import EMPTY, Depset
from kiln.core.labels import Label


@dataclass(frozen=True)
class PyInfo:
    transitive_sources: Depset = field(default=EMPTY)
    # Runfiles-relative directories (`_main/pkg/src`) to put on sys.path.
    imports: Depset = field(default=EMPTY)
    uses_shared_libraries: bool = False
    # Precompiled bytecode (kiln.rules.python.precompile): a target's own, and everything it depends on's.
    direct_pyc_files: Depset = field(default=EMPTY)
    transitive_pyc_files: Depset = field(default=EMPTY)


_SYSTEM_PREFIXES = frozenset({"/", "/usr", "/usr/local", "/bin", "/opt"})


@dataclass(frozen=True)
class PyRuntimeInfo:
    """A Python runtime: what launchers, precompiling and PyO3 need to know about it.

    A platform runtime has `interpreter_path` (an absolute path on the machine);
    an in-build runtime has `interpreter` (an artifact) and its `files`, and
    `root` when they are an installation directory (kiln.rules.python.py_runtime).
    """

    implementation_name: str            # "cpython", "pypy"
    version_info: tuple[int, int, int]  # (3, 11, 7)
    pyc_tag: str                        # sys.implementation.cache_tag: "cpython-311"
    abi_flags: str                      # sys.abiflags: "", "d", "t"
    ext_suffix: str                     # ".cpython-311-x86_64-linux-gnu.so"
    soabi: str = ""
    interpreter_path: str = ""
    interpreter: Artifact | None = None
    files: Depset = field(default=EMPTY)
    include_dir: str = ""
    lib_dir: str = ""
    ld_library: str = ""                # LDLIBRARY: "libpython3.11.so"
    stub_shebang: str = "#!/usr/bin/env python3"
    gil_disabled: bool = False
    python_version: str = "PY3"
    # The installation directory (a source directory artifact) standing for the files under it.
    root: Artifact | None = None

    def runfiles_files(self) -> Depset:
        """What a runfiles tree holds of an in-build runtime: its installation directory as one entry
        and the files outside it one by one, or every file when it has no such directory."""
        if self.interpreter is None:
            return EMPTY
        if self.root is None:
            return Depset((self.interpreter,), [self.files])
        inside = self.root.exec_path + "/"
        outside = [f for f in (self.interpreter, *self.files.to_list()) if not f.exec_path.startswith(inside)]
        return Depset((self.root, *outside))

    @property
    def host_dirs(self) -> tuple[str, ...]:
        """The installation a platform runtime runs from (`<prefix>/bin/python3` -> `<prefix>`), when
        it is not among the system directories every sandbox shows."""
        if not self.interpreter_path:
            return ()
        prefix = self.interpreter_path.rsplit("/", 2)[0] or "/"
        return () if prefix in _SYSTEM_PREFIXES else (prefix,)

    @property
    def major_minor(self) -> str:
        return f"{self.version_info[0]}.{self.version_info[1]}"

    def describe(self) -> str:
        where = self.interpreter_path or (self.interpreter.exec_path if self.interpreter else "?")
        return f"{self.implementation_name} {'.'.join(map(str, self.version_info))} at {where}"


# The toolchain type py_binary, py_test and PyO3 extensions ask for; a py_runtime_pair implements it.
PY_TOOLCHAIN_TYPE = Label("rules_python", "python", "toolchain_type")


@dataclass(frozen=True)
class PyCcToolchainInfo:
    """What building C against a Python runtime needs (py_cc_toolchain): its headers and libraries."""

    headers: Depset = field(default=EMPTY)
    libs: Depset = field(default=EMPTY)
    python_version: str = ""


@dataclass(frozen=True)
class PyExecToolsInfo:
    """Tools run at build time for Python rules (py_exec_tools_toolchain): an interpreter and the
    precompiler, as configured targets (None when not given)."""

    exec_interpreter: object = None
    precompiler: object = None


@dataclass(frozen=True)
class PyInterpreterProgramInfo:
    """How to run a program on an interpreter given elsewhere (rules_python's py_interpreter_program):
    environment, the interpreter's own arguments before the program, and its main file."""

    env: tuple[tuple[str, str], ...] = ()
    interpreter_args: tuple[str, ...] = ()
    main: object = None


@dataclass(frozen=True)
class SentinelInfo:
    """Offered by rules_python's "no target" (@rules_python//python:none), so that an attribute or a
    label flag pointing there can be told from one naming a real target."""


# rules_python's other two toolchain types: C headers and libraries of the runtime, build-time tools.
PY_CC_TOOLCHAIN_TYPE = Label("rules_python", "python/cc", "toolchain_type")
PY_EXEC_TOOLS_TOOLCHAIN_TYPE = Label("rules_python", "python", "exec_tools_toolchain_type")
