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
        self.by_mnemonic: dict[str, tuple[str, ...]] = {}
        for text in opts.strategy:
            mnemonic, sep, names = text.rpartition("=")
            listed = tuple(n.strip() for n in names.split(",") if n.strip())
            if not listed or (sep and not mnemonic):
                raise CommandLineError(f"--strategy={text}: expected MNEMONIC=STRATEGY[,STRATEGY...] or STRATEGY")
            strategies.validate(listed, f"--strategy={text}")
            if mnemonic:
                self.by_mnemonic[mnemonic] = listed
            else:
                self.names = listed  # --strategy without a mnemonic sets every action's default
        strategies.validate(self.names)
        self._modes: dict[tuple[str, ...], strategies.Mode] = {}
        self._warned = False
        self.mounts = _mount_pairs(opts.sandbox_add_mount_pair)
        for name, paths in (("sandbox_writable_path", opts.sandbox_writable_path),
                            ("sandbox_tmpfs_path", opts.sandbox_tmpfs_path)):
            for path in paths:
                if not path.startswith("/"):
                    raise CommandLineError(f"--{name}={path}: the path must be absolute")
        self.opts = opts
        self.warn = warn

    def mode_for(self, mnemonic: str) -> strategies.Mode:
        """The mode actions of this mnemonic run in: --strategy=MNEMONIC=..., else the default list."""
        return self._mode(self.by_mnemonic.get(mnemonic, self.names))

    def uses_worker(self, mnemonic: str) -> bool:
        """Whether an action of this mnemonic that supports workers runs on one (the default)."""
        from kiln.execution import linux_sandbox

        names = self.by_mnemonic.get(mnemonic, self.names)
        return strategies.worker_first(names, lambda: linux_sandbox.availability()[1])

    def _mode(self, names: tuple[str, ...]) -> strategies.Mode:
        mode = self._modes.get(names)
        if mode is not None:
            return mode
        from kiln.execution import linux_sandbox

        choice = strategies.choose(names, lambda: linux_sandbox.availability()[1])
        if choice.degraded_reason and not self._warned:
            self._warned = True
            self.warn(
                f"the Linux sandbox cannot be used ({choice.degraded_reason}); actions run in a private exec root "
                "of copies without namespaces, so kiln does not stop them from reading files outside their inputs "
                "by absolute path, writing outside their outputs, using the network, or leaving processes running")
        self._modes[names] = choice.mode
        return choice.mode

    def __call__(self) -> Any:
        from kiln.execution import linux_sandbox
        from kiln.execution.linux_sandbox import SandboxPolicy
        from kiln.execution.local_executor import Isolation
        from kiln.repos.local_runtime import host_runtime_dirs

        mode = self._mode(self.names)
        opts = self.opts
        policy = SandboxPolicy(
            tool_dirs=host_runtime_dirs(),
            hermetic=opts.experimental_use_hermetic_linux_sandbox,
            default_allow_network=opts.sandbox_default_allow_network,
            extra_mounts=self.mounts,
            writable_paths=opts.sandbox_writable_path,
            tmpfs_paths=opts.sandbox_tmpfs_path,
        )
        return Isolation(mode, policy, linux_sandbox.availability()[0])


def local_executor(output_base: Any, cas: Any, locator: Any, isolation: IsolationChoice, *, jobs: int,
                   keep_sandboxes: bool, stream: Any = None) -> Any:
    from kiln.execution.local_executor import LocalExecutor

    return LocalExecutor(Path(output_base.sandboxes), cas, locator, execroot=output_base.execroot,
                         isolation=isolation, jobs=jobs, keep_sandboxes=keep_sandboxes, stream=stream)


def _mount_pairs(given: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    pairs = []
    for text in given:
        source, _, target = text.partition(":")
        target = target or source
        if not (source.startswith("/") and target.startswith("/")):
            raise CommandLineError(f"--sandbox_add_mount_pair={text}: paths must be absolute (SOURCE or SOURCE:TARGET)")
        pairs.append((source, target))
    return tuple(pairs)
