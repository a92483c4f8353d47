"""Build plans: what loading and analysis conclude, kept between commands.

A plan is everything execution needs (actions, top-level outputs, runfiles,
tests) with depsets flattened. It is saved with kiln.cli.saved_results, so a
no-op build does not re-evaluate Starlark, without a background server.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from kiln.core.actions import Action
from kiln.core.artifacts import Artifact
from kiln.core.config import Configuration
from kiln.core.depset import Depset
from kiln.core.errors import Location
from kiln.core.labels import Label
from kiln.core.providers import RunEnvironmentInfo
from kiln.core.runfiles import Runfiles

@dataclass(frozen=True)
class TopTarget:
    """A target named on the command line (or a test it expands to), as execution needs it."""

    label: Label
    rule_kind: str
    files: tuple[Artifact, ...]
    executable: Artifact | None = None
    runfiles: Runfiles | None = None
    run_env: RunEnvironmentInfo | None = None
    is_test: bool = False
    size: str = "medium"
    timeout: str = ""
    # Execution requirements from the test's tags (no-sandbox, block-network, ...).
    requirements: tuple[tuple[str, str], ...] = ()
    # The test's `flaky` attribute: by default it gets three attempts.
    flaky: bool = False


@dataclass
class Plan:
    config: Configuration
    top: list[TopTarget]
    actions: list[Action]
    locations: dict[Label, Location]
    packages: int
    tests: list[TopTarget] = field(default_factory=list)
    # Contents of `_repo_mapping` in runfiles trees.
    repo_mapping: str = ""
    # Targets a wildcard matched that are incompatible with the target platform: not built, not tested.
    skipped: list[Label] = field(default_factory=list)
    skipped_tests: list[Label] = field(default_factory=list)
    # (repository, its directory) of every external repository the plan's sources come from.
    repo_dirs: tuple[tuple[str, str], ...] = ()

    def generating(self) -> dict[Artifact, Action]:
        return {o: a for a in self.actions for o in a.outputs}


def flatten_runfiles(rf: Runfiles) -> Runfiles:
    return Runfiles(Depset(tuple(rf.files.to_list())), rf.root_symlinks, rf.symlinks, rf.empty_files)


def flatten_action(a: Action) -> Action:
    return replace(
        a,
        inputs=Depset(tuple(a.inputs.to_list())),
        tool_runfiles=tuple((exe, flatten_runfiles(rf)) for exe, rf in a.tool_runfiles),
    )
