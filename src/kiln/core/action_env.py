"""The environment a process action runs with, fixed when the action is created.

An action's environment is what its rule declares, over the configuration's
`--action_env` values, over a fixed PATH: never the user's environment. It is
resolved during analysis from the configuration the action is analysed in, so
the action carries its whole environment (its key, --explain and the executor
all read it from the action) and a configuration's `--action_env` reaches only
that configuration's actions. File writes and copies run no process and get
none, so changing `--action_env` never reruns them.
"""

from __future__ import annotations

from typing import Mapping

# Actions see this PATH unless --action_env or the rule sets one.
DEFAULT_PATH = "/bin:/usr/bin:/usr/local/bin"


def spawn_environment(
    action_env: tuple[tuple[str, str], ...], declared: Mapping[str, str] | None
) -> tuple[tuple[str, str], ...]:
    """The sorted environment of a process: the rule's `declared` values win over `action_env`."""
    return tuple(sorted({"PATH": DEFAULT_PATH, **dict(action_env), **(declared or {})}.items()))
