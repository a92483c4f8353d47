"""From the sandbox options to how this command's actions run: the policy, the strategy, the warning.

The options are checked before anything runs (a bad one is a command-line
error), with nothing heavier than string checks; the strategy is chosen,
bubblewrap probed and the executor made only when the first process starts,
so a build served from the cache pays for none of it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from kiln.cli.options import Options
from kiln.core.errors import CommandLineError
from kiln.execution import strategies


class IsolationChoice:
    def __init__(self, opts: Options, warn: Callable[[str], None]):
        self.names = opts.spawn_strategy
        strategies.validate(self.names)
        self.mounts = _mount_pairs(opts.sandbox_add_mount_pair)
        for name, paths in (("sandbox_writable_path", opts.sandbox_writable_path),
                            ("sandbox_tmpfs_path", opts.sandbox_tmpfs_path)):
            for path in paths:
                if not path.startswith("/"):
                    raise CommandLineError(f"--{name}={path}: the path must be absolute")
        self.opts = opts
        self.warn = warn

    def __call__(self) -> Any:
        from kiln.execution import linux_sandbox
        from kiln.execution.linux_sandbox import SandboxPolicy
        from kiln.execution.local_executor import Isolation
        from kiln.repos.local_runtime import host_runtime_dirs

        choice = strategies.choose(self.names, lambda: linux_sandbox.availability()[1])
        if choice.degraded_reason:
            self.warn(
                f"the Linux sandbox cannot be used ({choice.degraded_reason}); actions run in a private exec root "
                "of copies without namespaces, so kiln does not stop them from reading files outside their inputs "
                "by absolute path, writing outside their outputs, using the network, or leaving processes running")
        opts = self.opts
        policy = SandboxPolicy(
            tool_dirs=host_runtime_dirs(),
            hermetic=opts.experimental_use_hermetic_linux_sandbox,
            default_allow_network=opts.sandbox_default_allow_network,
            extra_mounts=self.mounts,
            writable_paths=opts.sandbox_writable_path,
            tmpfs_paths=opts.sandbox_tmpfs_path,
        )
        return Isolation(choice.mode, policy, linux_sandbox.availability()[0])


def local_executor(output_base: Any, cas: Any, isolation: IsolationChoice, keep_sandboxes: bool) -> Any:
    from kiln.execution.local_executor import LocalExecutor

    return LocalExecutor(Path(output_base.sandboxes), cas, execroot=output_base.execroot, isolation=isolation,
                         keep_sandboxes=keep_sandboxes)


def _mount_pairs(given: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    pairs = []
    for text in given:
        source, _, target = text.partition(":")
        target = target or source
        if not (source.startswith("/") and target.startswith("/")):
            raise CommandLineError(f"--sandbox_add_mount_pair={text}: paths must be absolute (SOURCE or SOURCE:TARGET)")
        pairs.append((source, target))
    return tuple(pairs)
