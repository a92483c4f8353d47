"""The Linux sandbox: bubblewrap command lines that confine one action.

An action runs in new mount, PID, IPC, UTS (and, unless it may use the
network, network) namespaces. Its view of the file system is built from
nothing: the system directories read-only (none in hermetic mode), the
directories of the tools it runs read-only, its staged exec root read-only
with only the directories of its declared outputs writable, a private /tmp,
/dev/shm and /proc. The workspace, the output base and home directories are
simply not there. bwrap's `--die-with-parent` and the PID namespace end every
process the action started when it ends or when kiln dies.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache

# Visible read-only to every non-hermetic action: what a POSIX program expects of a machine.
SYSTEM_DIRS = ("/bin", "/sbin", "/usr", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt", "/sys")


@dataclass(frozen=True)
class SandboxPolicy:
    """What every sandboxed action of one build may see, from the command's options."""

    # Host directories holding the tools actions run (interpreters, kiln's own code): read-only.
    tool_dirs: tuple[str, ...] = ()
    hermetic: bool = False
    default_allow_network: bool = True
    # --sandbox_add_mount_pair: (source, target), mounted read-only.
    extra_mounts: tuple[tuple[str, str], ...] = ()
    # --sandbox_writable_path and --sandbox_tmpfs_path.
    writable_paths: tuple[str, ...] = ()
    tmpfs_paths: tuple[str, ...] = ()


# Where an action finds itself inside the sandbox, whatever the output base's path on the host:
# outputs that embed paths come out the same from every run and every machine.
INSIDE_ROOT = "/kiln"
INSIDE_EXECROOT = f"{INSIDE_ROOT}/execroot/_main"


@dataclass(frozen=True)
class Confinement:
    """One action's view: (host path, path inside) mounts, and whether it may use the network."""

    execroot: tuple[str, str]             # the staged exec root's parent (execroot/)
    tmp: str                              # host directory that becomes the private /tmp
    cwd: str                              # inside
    writable_dirs: tuple[tuple[str, str], ...] = ()     # directories of declared outputs
    # Inputs inside writable dirs, read-only again; then directory inputs mounted whole (kiln.execution.tree_inputs).
    protected_inputs: tuple[tuple[str, str], ...] = ()
    extra_writable: tuple[tuple[str, str], ...] = ()    # test dirs (TEST_TMPDIR, ...), persistent caches
    host_dirs: tuple[str, ...] = ()                     # the action's host tools (HOST_DIRS), read-only
    network: bool = False


def bwrap_args(policy: SandboxPolicy, c: Confinement) -> list[str]:
    """The bwrap options (without the program) that confine an action as `c` says."""
    args = ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--hostname", "localhost", "--die-with-parent", "--new-session"]
    if not c.network:
        args.append("--unshare-net")
    if not policy.hermetic:
        for d in SYSTEM_DIRS:
            if os.path.isdir(d):
                args += ["--ro-bind", d, d]
    # The private /tmp before the tools: a tool may live under /tmp, and a later mount covers an earlier one.
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/dev/shm", "--bind", c.tmp, "/tmp"]
    for d in (*policy.tool_dirs, *c.host_dirs):
        args += ["--ro-bind-try", d, d]
    for source, target in policy.extra_mounts:
        args += ["--ro-bind", source, target]
    for path in policy.tmpfs_paths:
        args += ["--tmpfs", path]
    for path in policy.writable_paths:
        args += ["--bind-try", path, path]
    args += ["--ro-bind", *c.execroot]
    for pair in (*c.writable_dirs, *c.extra_writable):
        args += ["--bind", *pair]
    for pair in c.protected_inputs:
        args += ["--ro-bind", *pair]
    args += ["--chdir", c.cwd]
    return args


def pid_namespace_args(cwd: str) -> list[str]:
    """For actions that run unconfined: only a PID namespace, so no process outlives them."""
    return ["--dev-bind", "/", "/", "--unshare-pid", "--die-with-parent", "--proc", "/proc", "--chdir", cwd]


@lru_cache(maxsize=1)
def availability() -> tuple[str | None, str]:
    """(path of a working bwrap or None, why not). Probed once per command, only when needed."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return None, "bubblewrap (bwrap) is not installed"
    try:
        proc = subprocess.run(
            [bwrap, "--ro-bind", "/", "/", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-net",
             "--die-with-parent", "--proc", "/proc", "--dev", "/dev", "true"],
            stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as e:
        return None, f"bwrap cannot run: {e}"
    if proc.returncode != 0:
        reason = proc.stderr.decode("utf-8", "replace").strip() or f"exit code {proc.returncode}"
        return None, f"bwrap cannot create namespaces here: {reason}"
    return bwrap, ""
