"""Files a module extension's tags name by label (python_version_file, pip.parse's requirements_lock): the
path of such a label in the module that wrote the tag."""

from __future__ import annotations

from pathlib import Path

from kiln.core.errors import LabelError, LoadingError, Location
from kiln.loading.extension_schema import ModuleUsages


def module_file(module: ModuleUsages, label: str, what: str, location: Location | None) -> Path:
    """The file `label` names in `module`'s own repository; `what` starts each error message."""
    from kiln.core.labels import PackageId, parse_label

    try:
        parsed = parse_label(label, base=PackageId("", ""), repo_mapping={module.module: ""} if module.module else {})
    except LabelError as e:
        raise LoadingError(f"{what}: {e.message}", location=location) from None
    if parsed.repo:
        raise LoadingError(f"{what}: kiln reads the file only from the module's own repository", location=location)
    return module.directory / parsed.relative_path()


def read_module_file(module: ModuleUsages, label: str, what: str, location: Location | None,
                     files: list[str]) -> str:
    """The text of the file `label` names in `module`; its path is added to `files` (read again when it
    changes)."""
    path = module_file(module, label, what, location)
    files.append(str(path))
    try:
        return path.read_text()
    except OSError as e:
        why = "does not exist" if isinstance(e, FileNotFoundError) else f"cannot be read: {e.strerror}"
        raise LoadingError(f"{what}: the file {path.relative_to(module.directory)} {why}", location=location) from None
