"""Configured targets: a target analysed in one configuration, with its providers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

from kiln.core.actions import Action
from kiln.core.config import Configuration
from kiln.core.labels import Label
from kiln.core.providers import DefaultInfo

P = TypeVar("P")


@dataclass(eq=False)
class ConfiguredTarget:
    label: Label
    config: Configuration
    target: Any  # the loaded RuleTarget / FileTarget / PackageGroup
    providers: dict[type, Any] = field(default_factory=dict)
    actions: tuple[Action, ...] = ()
    # Direct dependencies as analysed: (attribute name, configured target); cquery walks these.
    dependencies: tuple[tuple[str, "ConfiguredTarget"], ...] = ()
    # The execution platform and toolchains resolution chose (None when the target needed none).
    toolchains: Any = None

    def get(self, provider: type[P]) -> P | None:
        return self.providers.get(provider)

    def __getitem__(self, provider: type[P]) -> P:
        value = self.providers.get(provider)
        if value is None:
            raise KeyError(f"{self.label} does not provide {provider.__name__}")
        return value

    @property
    def default_info(self) -> DefaultInfo:
        return self.providers.get(DefaultInfo) or DefaultInfo()

    @property
    def files(self) -> list:
        return self.default_info.files.to_list()

    @property
    def kind(self) -> str:
        return self.target.rule_kind
