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
