"""The configurations a build used, kept in the output base for `kiln config` and cquery's ids.

One JSON file per configuration, `<output_base>/configurations/<id>`, written
once (write-to-temp-and-rename: a reader sees a whole file or none) when
analysis first meets the configuration. A damaged file is skipped.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Iterable

from kiln.core.config import Configuration
from kiln.execution.output_base import atomic_write


def remember(directory: Path, tmp: Path, configs: Iterable[Configuration]) -> None:
    for config in configs:
        path = directory / config.id
        if not path.exists():
            atomic_write(path, json.dumps(dataclasses.asdict(config), sort_keys=True).encode(), tmp)


def known(directory: Path) -> list[Configuration]:
    found = []
    try:
        names = sorted(p.name for p in directory.iterdir())
    except FileNotFoundError:
        return []
    for name in names:
        try:
            fields = json.loads((directory / name).read_text())
            config = Configuration(**{k: tuple(tuple(p) for p in v) if isinstance(v, list) else v
                                      for k, v in fields.items()})
        except (OSError, ValueError, TypeError):
            continue
        if config.id == name:
            found.append(config)
    return found
