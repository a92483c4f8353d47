"""From the sandbox options to how this command's actions run: the policy, the strategy, the warning.

The options are checked before anything runs (a bad one is a command-line
error); the strategy is chosen, and bubblewrap probed, only when the first
process starts, so a build served from the cache never pays for it.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from kiln.core.errors import CommandLineError
from kiln.execution import linux_sandbox, strategies
from kiln.execution.linux_sandbox import SandboxPolicy
from kiln.execution.local_executor import Isolation


class IsolationChoice:
    def __init__(self, opts: dict[str, Any], warn: Callable[[str], None]):
        self.names = tuple(opts.get("spawn_strategy") or ())
        strategies.validate(self.names)
        self.policy = _policy(opts)
        self.warn = warn

    def __call__(self) -> Isolation:
        choice = strategies.choose(self.names, lambda: linux_sandbox.availability()[1])
        if choice.degraded_reason:
            self.warn(
                f"the Linux sandbox cannot be used ({choice.degraded_reason}); actions run in a private exec root "
                "of copies without namespaces, so kiln does not stop them from reading files outside their inputs "
                "by absolute path, writing outside their outputs, using the network, or leaving processes running")
        from kiln.repos.local_runtime import host_runtime_dirs

        policy = dataclasses.replace(self.policy, tool_dirs=host_runtime_dirs())
        return Isolation(choice.mode, policy, linux_sandbox.availability()[0])


def _policy(opts: dict[str, Any]) -> SandboxPolicy:
    """The sandbox flags, checked; the tool directories are added when a process first runs."""
    pairs = []
    for text in opts.get("sandbox_add_mount_pair") or ():
        source, _, target = text.partition(":")
        target = target or source
        if not (source.startswith("/") and target.startswith("/")):
            raise CommandLineError(f"--sandbox_add_mount_pair={text}: paths must be absolute (SOURCE or SOURCE:TARGET)")
        pairs.append((source, target))
    for name in ("sandbox_writable_path", "sandbox_tmpfs_path"):
        for path in opts.get(name) or ():
            if not path.startswith("/"):
                raise CommandLineError(f"--{name}={path}: the path must be absolute")
    return SandboxPolicy(
        hermetic=bool(opts.get("experimental_use_hermetic_linux_sandbox")),
        default_allow_network=bool(opts.get("sandbox_default_allow_network", True)),
        extra_mounts=tuple(pairs),
        writable_paths=tuple(opts.get("sandbox_writable_path") or ()),
        tmpfs_paths=tuple(opts.get("sandbox_tmpfs_path") or ()),
    )
