"""aquery's output formats: Bazel's `text`, and `jsonproto` (analysis_v2's ActionGraphContainer).

`text` prints each action as Bazel does: `action 'PROGRESS'`, then indented
Mnemonic, Target, Configuration, Execution platform, ActionKey, Inputs,
Outputs, Environment, Command Line (with the configuration id and execution
platform as `#` comments) and ExecutionInfo, and a blank line.

`jsonproto` is the ActionGraphContainer message of Bazel's
src/main/protobuf/analysis_v2.proto in protobuf's JSON mapping
(lowerCamelCase names, fields at their default value left out): artifacts
name their exec path through a tree of path fragments, an action's inputs
are dep sets that share the nested depsets analysis built, and ids are
small integers from 1, valid within one output.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass

from kiln.core.actions import Action, ActionKind
from kiln.core.config import Configuration
from kiln.core.depset import Depset

UNKNOWN_KEY = "(unknown until the inputs are built: run kiln build first)"


@dataclass(frozen=True)
class ActionRow:
    """One action as aquery shows it, with what the configured target that registered it knows."""

    action: Action
    rule_class: str
    configuration: Configuration
    execution_platform: str
    # The action digest (hex) the caches use; "" while an input's digest is unknown.
    key: str = ""
    # Why the key is unknown, shown in its place.
    key_note: str = UNKNOWN_KEY


def format_text(rows: list[ActionRow]) -> str:
    return "".join(_text(row) for row in rows)


def _text(row: ActionRow) -> str:
    a = row.action
    lines = [
        f"action '{a.describe()}'",
        f"  Mnemonic: {a.mnemonic}",
        f"  Target: {a.owner}",
        f"  Configuration: {row.configuration.name}",
        f"  Execution platform: {row.execution_platform}",
        f"  ActionKey: {row.key or row.key_note}",
        "  Inputs: [" + ", ".join(sorted(i.exec_path for i in a.input_list())) + "]",
        "  Outputs: [" + ", ".join(sorted(_output(o) for o in a.outputs)) + "]",
    ]
    if a.env:
        lines.append("  Environment: [" + ", ".join(sorted(f"{k}={v}" for k, v in a.env)) + "]")
    if a.kind is ActionKind.SPAWN and a.argv:
        command = " \\\n    ".join(shlex.quote(arg) for arg in a.argv)
        lines.append(f"  Command Line: (exec {command})")
        lines.append(f"# Configuration: {row.configuration.id}")
        lines.append(f"# Execution platform: {row.execution_platform}")
    if a.execution_requirements:
        info = ", ".join(f"{shlex.quote(k)}: {shlex.quote(v)}" for k, v in sorted(a.execution_requirements))
        lines.append(f"  ExecutionInfo: {{{info}}}")
    return "\n".join(lines) + "\n\n"


def _output(artifact) -> str:
    return f"{artifact.exec_path} (TreeArtifact)" if artifact.is_directory else artifact.exec_path


def format_jsonproto(rows: list[ActionRow]) -> str:
    return json.dumps(_Container().build(rows), indent=2) + "\n"


class _Ids:
    """Ids from 1 in order of first use, each with its message."""

    def __init__(self) -> None:
        self.ids: dict[object, int] = {}
        self.messages: list[dict] = []

    def get(self, key: object) -> int | None:
        return self.ids.get(key)

    def add(self, key: object, message: dict) -> int:
        ident = self.ids[key] = len(self.messages) + 1
        self.messages.append({"id": ident, **message})
        return ident


class _Container:
    def __init__(self) -> None:
        self.artifacts = _Ids()
        self.targets = _Ids()
        self.dep_sets = _Ids()
        self.configurations = _Ids()
        self.rule_classes = _Ids()
        self.fragments = _Ids()
        # Dep sets are known by id(): those made here must outlive the output, so no id is reused.
        self._alive: list[Depset] = []

    def build(self, rows: list[ActionRow]) -> dict:
        actions = [self._action(row) for row in rows]
        container = {
            "artifacts": self.artifacts.messages,
            "actions": actions,
            "targets": self.targets.messages,
            "depSetOfFiles": self.dep_sets.messages,
            "configuration": self.configurations.messages,
            "ruleClasses": self.rule_classes.messages,
            "pathFragments": self.fragments.messages,
        }
        return {k: v for k, v in container.items() if v}

    def _action(self, row: ActionRow) -> dict:
        a = row.action
        message: dict = {
            "targetId": self._target(str(a.owner), row.rule_class),
            "actionKey": row.key,
            "mnemonic": a.mnemonic,
            "configurationId": self._configuration(row.configuration),
        }
        if a.kind is ActionKind.SPAWN:
            message["arguments"] = list(a.argv)
        message["environmentVariables"] = [{"key": k, "value": v} for k, v in sorted(a.env)]
        inputs = [a.inputs]
        if a.tool_runfiles:
            # Tools' runfiles are inputs too (Action.input_list): one more dep set holds those not in a.inputs.
            declared = set(a.inputs.to_list())
            inputs.append(Depset(tuple(i for i in a.input_list() if i not in declared)))
            self._alive.append(inputs[-1])
        message["inputDepSetIds"] = [self._dep_set(d) for d in inputs if d]
        message["outputIds"] = [self._artifact(o) for o in a.outputs]
        message["executionInfo"] = [{"key": k, "value": v} for k, v in sorted(a.execution_requirements)]
        if a.outputs:
            message["primaryOutputId"] = self._artifact(a.outputs[0])
        message["executionPlatform"] = row.execution_platform
        return {k: v for k, v in message.items() if v not in ("", [], None)}

    def _target(self, label: str, rule_class: str) -> int:
        found = self.targets.get(label)
        if found is not None:
            return found
        rule_id = self.rule_classes.get(rule_class) or self.rule_classes.add(rule_class, {"name": rule_class})
        return self.targets.add(label, {"label": label, "ruleClassId": rule_id})

    def _configuration(self, config: Configuration) -> int:
        found = self.configurations.get(config)
        if found is not None:
            return found
        message = {"mnemonic": config.name, "platformName": config.cpu, "checksum": config.id}
        if config.is_exec:
            message["isTool"] = True
        return self.configurations.add(config, message)

    def _dep_set(self, depset: Depset) -> int:
        """The dep set's id; nested depsets become transitive dep sets, each emitted once."""
        found = self.dep_sets.get(id(depset))
        if found is not None:
            return found
        # Children first, without recursion: analysis nests depsets thousands deep.
        stack = [(depset, False)]
        while stack:
            node, expanded = stack.pop()
            if self.dep_sets.get(id(node)) is not None:
                continue
            if not expanded:
                stack.append((node, True))
                stack.extend((child, False) for child in node.transitive if self.dep_sets.get(id(child)) is None)
                continue
            message: dict = {}
            if node.transitive:
                message["transitiveDepSetIds"] = [self.dep_sets.get(id(c)) for c in node.transitive]
            if node.direct:
                message["directArtifactIds"] = [self._artifact(a) for a in node.direct]
            self.dep_sets.add(id(node), message)
        return self.dep_sets.get(id(depset))

    def _artifact(self, artifact) -> int:
        path = artifact.exec_path
        found = self.artifacts.get(path)
        if found is not None:
            return found
        message = {"pathFragmentId": self._fragment(path)}
        if artifact.is_directory:
            message["isTreeArtifact"] = True
        return self.artifacts.add(path, message)

    def _fragment(self, path: str) -> int:
        parent_id = 0
        prefix = ""
        for segment in path.split("/"):
            prefix = f"{prefix}/{segment}" if prefix else segment
            found = self.fragments.get(prefix)
            if found is None:
                message = {"label": segment}
                if parent_id:
                    message["parentId"] = parent_id
                found = self.fragments.add(prefix, message)
            parent_id = found
        return parent_id
