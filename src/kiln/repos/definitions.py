"""The module extensions and repository rules kiln implements, registered with loading."""

from __future__ import annotations

from kiln.loading.extension_schema import RepositoryDefinitions
from kiln.repos.bazel_repo_rules import BAZEL_TOOLS_BZLS
from kiln.repos.crate_tags import EXTENSIONS
from kiln.repos.crate_workspace import CRATE_UNIVERSE_WORKSPACE
from kiln.repos.local_runtime_repos import LOCAL_TOOLCHAINS_BZL
from kiln.repos.pip_extension import PIP_EXTENSION
from kiln.repos.pip_workspace import PIP_BZL
from kiln.repos.python_extension import PYTHON_EXTENSION
from kiln.repos.python_register import PYTHON_REPOSITORIES_BZL
from kiln.repos.rule_set_setup import GENERATED_BZLS, SETUP_BZLS


def default_definitions() -> RepositoryDefinitions:
    return RepositoryDefinitions(
        extensions=(*EXTENSIONS, PYTHON_EXTENSION, PIP_EXTENSION),
        workspace_bzls=(*BAZEL_TOOLS_BZLS, CRATE_UNIVERSE_WORKSPACE, LOCAL_TOOLCHAINS_BZL, PYTHON_REPOSITORIES_BZL,
                        PIP_BZL, *SETUP_BZLS),
        generated_bzls=GENERATED_BZLS)
