"""Local Python runtimes: an interpreter installed on this machine, as a repository.

The interpreter kiln runs on, read in process and written as
@kiln_local_python's BUILD file (a py_runtime and its py_runtime_pair); the
same targets are what local_runtime_repo writes for other interpreters
(kiln.repos.local_runtime_repos).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def host_runtime_build_file(directory: Path) -> tuple[str, tuple[str, ...]]:
    """@kiln_local_python's BUILD text for the interpreter kiln runs on, and the files it describes; the
    runtime runs in an empty virtual environment of it made in `directory` (clean_environment)."""
    from kiln.repos.runtime_probe import probe

    text = (
        "# Written by kiln: the interpreter it runs on, as a Python runtime (an empty environment of it).\n"
        'package(default_visibility = ["//visibility:public"])\n\n'
        + runtime_targets(probe(), clean_environment(directory / "venv"), "runtime", "runtime_pair")
    )
    return text, (os.path.realpath(sys.executable),)


def clean_environment(path: Path) -> str:
    """The python3 of an empty virtual environment of kiln's base interpreter at `path`, made once.

    Programs kiln runs import what their runfiles hold: not kiln's own packages (its virtual environment's),
    nor the base installation's site-packages and its .pth files (which may import modules at every start:
    34 ms here). A virtual environment still runs `site`, so exit(), help() and the like stay. Its only package
    is a link to the base installation's pip, as a python-build-standalone runtime ships pip: building an
    sdist for this runtime runs it."""
    base = os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)
    want = {f"home = {os.path.dirname(base)}", "version = %d.%d.%d" % sys.version_info[:3],
            "include-system-site-packages = false"}
    python = path / "bin" / "python3"
    try:
        ready = python.exists() and want <= set((path / "pyvenv.cfg").read_text().splitlines())
    except OSError:
        ready = False
    if not ready:
        import venv

        venv.EnvBuilder(clear=True, symlinks=True, with_pip=False).create(path)
        site = "lib/python%d.%d/site-packages" % sys.version_info[:2]
        pip = os.path.join(sys.base_prefix, site, "pip")
        if os.path.isdir(pip):
            os.symlink(pip, path / site / "pip")
    return str(python)


# The runtime-env toolchain's interpreter: a script that execs python3 from PATH when the program runs.
RUNTIME_ENV_SCRIPT = "builtin/rules_python/python/runtime_env_toolchains/python3_on_path.sh"


def runtime_env_build_file() -> tuple[str, tuple[str, ...]]:
    """@kiln_local_runtime_env_python's BUILD: a runtime run as `python3` from PATH at run time.

    Its interpreter is a script that execs whichever python3 PATH finds when the program runs; the version
    and ABI recorded are those of the python3 PATH finds now, which rules use for what they decide at build
    time (pyc tags, extension suffixes)."""
    import shutil
    from pathlib import Path

    from kiln.repos.local_runtime_repos import run_probe

    from kiln.repos.repository_rules import RepositoryError

    found = shutil.which("python3")
    probed = run_probe(found) if found else None
    if probed is None or probed.record is None:
        why = probed.why if probed else f"is not a program on PATH ({os.environ.get('PATH', '')})"
        raise RepositoryError(f"@rules_python//python/runtime_env_toolchains: python3 {why}: kiln reads the "
                              "version and ABI of the runtime-env toolchain's Python from it")
    script = Path(__file__).parent / RUNTIME_ENV_SCRIPT
    text = ("# Written by kiln: python3 from PATH at run time (runtime_env_toolchain).\n"
            'package(default_visibility = ["//visibility:public"])\n\n'
            + runtime_targets(probed.record, str(script), "runtime", "runtime_pair"))
    return text, probed.files


def runtime_attrs(record: dict) -> dict:
    """The py_runtime attributes a probed runtime's record (kiln.repos.runtime_probe) gives."""
    return {
        "implementation_name": record["implementation_name"],
        "interpreter_version_info": dict(zip(("major", "minor", "micro"), record["version"])),
        **{key: record[key] for key in ("pyc_tag", "abi_flags", "ext_suffix", "soabi", "include_dir", "lib_dir",
                                        "ld_library")},
    }


def runtime_targets(record: dict, interpreter_path: str, runtime: str, pair: str) -> str:
    """A py_runtime carrying a probed runtime's record, and its py_runtime_pair."""
    attrs = {"interpreter_path": interpreter_path, **runtime_attrs(record)}
    body = "".join(f"    {k} = {json.dumps(val, sort_keys=True)},\n" for k, val in attrs.items())
    return (f'py_runtime(\n    name = "{runtime}",\n{body})\n\n'
            f'py_runtime_pair(name = "{pair}", py3_runtime = ":{runtime}")\n')




def host_runtime_dirs() -> tuple[str, ...]:
    """Directories a sandboxed action needs to run this interpreter with kiln's action tools.

    The interpreter's installation, the virtual environment kiln runs in (its
    site-packages) and kiln's own package: mounted read-only into sandboxes,
    while the rest of the home directory they may live in stays hidden.
    """
    import sysconfig

    import kiln

    found = {sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix,
             os.path.dirname(os.path.dirname(os.path.realpath(sys.executable))),
             os.path.dirname(os.path.dirname(os.path.realpath(kiln.__file__)))}
    for key in ("purelib", "platlib"):
        found.add(sysconfig.get_paths()[key])
    dirs = sorted(({os.path.realpath(d) for d in found} | {os.path.abspath(d) for d in found}) - {"/"})
    # A directory inside another one already listed adds nothing.
    return tuple(d for d in dirs if not any(d.startswith(o.rstrip("/") + "/") for o in dirs if o != d))
