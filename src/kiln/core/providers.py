"""Providers every rule set shares: DefaultInfo and the files-to-run of an executable.

Language-specific providers live with their rules (rules/python/providers.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kiln.core.artifacts import Artifact
from kiln.core.depset import EMPTY, Depset
from kiln.core.runfiles import Runfiles


@dataclass(frozen=True)
class DefaultInfo:
    files: Depset = field(default=EMPTY)
    # Runfiles a dependent collects (Bazel's default_runfiles and data_runfiles, merged).
    runfiles: Runfiles = field(default_factory=Runfiles)
    executable: Artifact | None = None


@dataclass(frozen=True)
class OutputGroupInfo:
    groups: tuple[tuple[str, Depset], ...] = ()

    def get(self, name: str) -> Depset | None:
        for n, d in self.groups:
            if n == name:
                return d
        return None


@dataclass(frozen=True)
class RunEnvironmentInfo:
    """What `kiln run` and `kiln test` add to an executable: its `args` and `env` attributes."""

    args: tuple[str, ...] = ()
    environment: tuple[tuple[str, str], ...] = ()
    inherited_environment: tuple[str, ...] = ()


@dataclass(frozen=True)
class TemplateVariableInfo:
    """Make variables a target offers to rules that list it in `toolchains` ($(PYTHON3) of
    @rules_python//python:current_py_toolchain): Bazel's platform_common.TemplateVariableInfo."""

    variables: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class HostToolsInfo:
    """Directories of this machine a target's programs run from (a platform Python runtime's
    installation): an action that runs them sees them read-only in its sandbox (kiln.core.actions
    HOST_DIRS). Machine paths, so they never enter an action's key."""

    dirs: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExecutionInfo:
    """Execution requirements a target asks of the actions that run it (Bazel's testing.ExecutionInfo):
    rules_python's py_interpreter_program offers its precompiler's, e.g. supports-workers."""

    requirements: tuple[tuple[str, str], ...] = ()
