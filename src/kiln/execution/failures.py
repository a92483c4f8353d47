"""Messages for failed actions: the command, its output, and what went wrong."""

from __future__ import annotations

import os
import re
import shlex

from kiln.core.actions import Action
from kiln.execution.spawn import Spawn, SpawnResult

_PATHISH = re.compile(r"[A-Za-z0-9_.\-/]+")


def describe_failure(action: Action, spawn: Spawn, result: SpawnResult, output: str, workspace_root: str) -> str:
    """`output` is what the terminal may show of the action's stdout and stderr (already capped)."""
    command = " ".join(shlex.quote(a) for a in action.argv)
    if result.missing_outputs:
        missing = ", ".join(f"'{p}'" for p in result.missing_outputs)
        head = f"{action.describe()} failed: the action did not create declared output(s) {missing}"
    elif result.error:
        head = f"{action.describe()} failed: {result.error}"
    else:
        head = f"{action.describe()} failed: (Exit {result.exit_code}): {action.mnemonic} command (from target {action.owner})"
    parts = [head, f"  command: {command}"]
    if output.strip():
        parts.append(output.rstrip())
    hint = _undeclared_hint(spawn, output, workspace_root)
    if hint:
        parts.append(hint)
    if result.note:
        parts.append(result.note)
    return "\n".join(parts)


def describe_command(action: Action, spawn: Spawn) -> str:
    """The command as -s (--subcommands) shows it: environment and argv, ready to paste."""
    lines = [f"# {action.owner} [action '{action.describe()}']"]
    where = "<the output base's exec root>" if action.requirement("no-sandbox") else "<a private exec root>"
    lines.append(f"(cd {where} && \\")
    lines.append("  exec env - \\")
    lines.extend(f"    {k}={shlex.quote(v)} \\" for k, v in spawn.env)
    lines.append("  " + " ".join(shlex.quote(a) for a in action.argv) + ")")
    return "\n".join(lines)


def _undeclared_hint(spawn: Spawn, output: str, workspace_root: str) -> str:
    """Names workspace files the output mentions that were not declared inputs."""
    declared = {i.exec_path for i in spawn.inputs}
    found = []
    for word in set(_PATHISH.findall(output)):
        word = word[2:] if word.startswith("./") else word
        # Absolute paths (/bin/bash) are the machine's, not the workspace's.
        if word.startswith("/") or ("/" not in word and "." not in word) or ".." in word.split("/"):
            continue
        if word in declared or word.startswith("kiln-out/"):
            continue
        if os.path.isfile(os.path.join(workspace_root, word)):
            found.append(word)
    if not found:
        return ""
    names = ", ".join(f"'{f}'" for f in sorted(found))
    return (f"note: {names} exist(s) in the workspace but {'is' if len(found) == 1 else 'are'} not a declared "
            f"input of {spawn.action.owner}: actions see only their declared inputs (add it to srcs, data or tools)")
