"""Artifacts: files an action reads or writes, named by root and path.

A source artifact lives in the workspace (root ""); a derived artifact lives
under an output root such as `kiln-out/k8-fastbuild/bin`. The exec path
(root/path) is where an action sees it; the short path is where it appears
in runfiles relative to the repo directory.
"""

from __future__ import annotations

from dataclasses import dataclass

from kiln.core.labels import MAIN_REPO_RUNFILES_NAME, Label


@dataclass(frozen=True, order=True)
class Artifact:
    root: str          # "" for sources; the output root for derived files
    path: str          # relative to root: "pkg/f.py", or "external/repo/pkg/f.py"
    owner: Label | None = None
    is_directory: bool = False

    @property
    def is_source(self) -> bool:
        return self.root == ""

    @property
    def exec_path(self) -> str:
        return f"{self.root}/{self.path}" if self.root else self.path

    @property
    def repo(self) -> str:
        if self.path.startswith("external/"):
            return self.path.split("/", 2)[1]
        return ""

    @property
    def repo_relative_path(self) -> str:
        """The path inside its repository; empty for an external repository's own directory."""
        if self.path.startswith("external/"):
            parts = self.path.split("/", 2)
            return parts[2] if len(parts) == 3 else ""
        return self.path

    @property
    def short_path(self) -> str:
        """Runfiles path relative to the main repo's directory (`../repo/...` for externals)."""
        if self.path.startswith("external/"):
            return "../" + self.path[len("external/"):]
        return self.path

    @property
    def runfiles_path(self) -> str:
        """Path inside a runfiles tree: `_main/pkg/f.py` or `repo/pkg/f.py` (the rlocation path)."""
        rel = self.repo_relative_path
        return f"{self.repo or MAIN_REPO_RUNFILES_NAME}/{rel}" if rel else self.repo

    @property
    def basename(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def dirname(self) -> str:
        return self.exec_path.rsplit("/", 1)[0] if "/" in self.exec_path else ""

    @property
    def extension(self) -> str:
        base = self.basename
        return base.rsplit(".", 1)[1] if "." in base else ""

    def __str__(self) -> str:
        return self.exec_path


# The pseudo-repository of kiln's own action tools (the modules of kiln.tools): actions that run one
# declare its files as inputs, so a changed tool re-runs them.
KILN_TOOLS_REPO = "kiln_tools"


def kiln_tool_artifact(filename: str) -> "Artifact":
    return Artifact("", f"external/{KILN_TOOLS_REPO}/{filename}")


@dataclass(frozen=True)
class SourceTree:
    """Where source artifacts are: the workspace, and each external repository's directory."""

    workspace_root: str
    # (repository name, its directory), for sources under `external/<repo>/`.
    repo_dirs: tuple[tuple[str, str], ...] = ()

    def path(self, art: Artifact) -> str:
        return self.path_of(art.path)

    def path_of(self, exec_path: str) -> str:
        """Where the source at `exec_path` is on this machine."""
        if exec_path.startswith("external/"):
            repo, _, rest = exec_path[len("external/"):].partition("/")
            for name, directory in self.repo_dirs:
                if name == repo:
                    return f"{directory}/{rest}" if rest else directory
        return f"{self.workspace_root}/{exec_path}"


def source_artifact(label: Label, owner: Label | None = None) -> Artifact:
    path = label.relative_path()
    if label.repo:
        path = f"external/{label.repo}/{path}"
    return Artifact("", path, owner or label)
