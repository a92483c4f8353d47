"""The module extensions and WORKSPACE symbols kiln's rule sets implement, registered with loading."""

from __future__ import annotations

from kiln.loading.extension_schema import RepositoryDefinitions
from kiln.repos.crate_tags import EXTENSIONS
from kiln.repos.crate_workspace import CRATE_UNIVERSE_WORKSPACE


def default_definitions() -> RepositoryDefinitions:
    return RepositoryDefinitions(extensions=EXTENSIONS, workspace_bzls=(CRATE_UNIVERSE_WORKSPACE,))
