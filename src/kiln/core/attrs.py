"""Rule attribute schemas and the coercion of values written in BUILD files.

Coercion happens at loading time, so a wrong type is reported at the call
site; label strings become `Label`s relative to the package being loaded.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from kiln.core.errors import KilnError, LabelError
from kiln.core.labels import Label, PackageId, parse_label
from kiln.core.select import Select, SelectorList


class AttrType(enum.Enum):
    LABEL = "label"
    LABEL_LIST = "list(label)"
    STRING = "string"
    STRING_LIST = "list(string)"
    BOOL = "boolean"
    INT = "int"
    INT_LIST = "list(int)"
    STRING_DICT = "dict(string, string)"
    STRING_LIST_DICT = "dict(string, list(string))"
    LABEL_KEYED_STRING_DICT = "dict(label, string)"
    STRING_KEYED_LABEL_DICT = "dict(string, label)"
    OUTPUT = "output"
    OUTPUT_LIST = "list(output)"
    ANY = "any"  # passed through unchanged (e.g. attributes kiln accepts but does not use)


LABEL_TYPES = {
    AttrType.LABEL,
    AttrType.LABEL_LIST,
    AttrType.LABEL_KEYED_STRING_DICT,
    AttrType.STRING_KEYED_LABEL_DICT,
}
OUTPUT_TYPES = {AttrType.OUTPUT, AttrType.OUTPUT_LIST}

_EMPTY: dict[AttrType, Any] = {
    AttrType.LABEL: None,
    AttrType.LABEL_LIST: (),
    AttrType.STRING: "",
    AttrType.STRING_LIST: (),
    AttrType.BOOL: False,
    AttrType.INT: 0,
    AttrType.INT_LIST: (),
    AttrType.STRING_DICT: {},
    AttrType.STRING_LIST_DICT: {},
    AttrType.LABEL_KEYED_STRING_DICT: {},
    AttrType.STRING_KEYED_LABEL_DICT: {},
    AttrType.OUTPUT: None,
    AttrType.OUTPUT_LIST: (),
    AttrType.ANY: None,
}


# What an attribute's `cfg` may say: its dependencies are built for the target, or for the execution platform.
CFG_VALUES = ("target", "exec")


@dataclass(frozen=True)
class Attr:
    name: str
    type: AttrType
    default: Any = None
    mandatory: bool = False
    configurable: bool = True
    # For label attributes: built for the execution platform ("exec") or the target ("target").
    cfg: str = "target"
    allow_files: bool = True
    executable: bool = False
    doc: str = ""

    def __post_init__(self) -> None:
        if self.cfg not in CFG_VALUES:
            raise ValueError(f"attribute '{self.name}': cfg = {self.cfg!r} is not a configuration kiln knows "
                             f"(use one of: {', '.join(CFG_VALUES)})")

    def empty(self) -> Any:
        return self.default if self.default is not None else _EMPTY[self.type]


class AttrTypeError(KilnError):
    """An attribute value of the wrong type."""


def _type_name(value: Any) -> str:
    if value is None:
        return "NoneType"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, dict):
        return "dict"
    return type(value).__name__


@dataclass
class Coercer:
    """Turns raw Starlark values into typed attribute values for one package."""

    package: PackageId
    repo_mapping: dict[str, str] = field(default_factory=dict)
    rule_kind: str = ""

    def coerce(self, attr: Attr, value: Any) -> Any:
        if isinstance(value, Select):
            if not attr.configurable:
                raise AttrTypeError(f"attribute '{attr.name}' of '{self.rule_kind}' is not configurable: select() is not allowed")
            return Select(
                tuple((cond, self._coerce_plain(attr, v)) for cond, v in value.conditions),
                value.no_match_error,
            )
        if isinstance(value, SelectorList):
            if not attr.configurable:
                raise AttrTypeError(f"attribute '{attr.name}' of '{self.rule_kind}' is not configurable: select() is not allowed")
            return SelectorList(tuple(self.coerce(attr, p) for p in value.parts))
        return self._coerce_plain(attr, value)

    def _fail(self, attr: Attr, value: Any) -> AttrTypeError:
        shown = repr(value) if not isinstance(value, str) else f'"{value}"'
        if len(shown) > 80:
            shown = shown[:77] + "..."
        return AttrTypeError(
            f"expected value of type '{attr.type.value}' for attribute '{attr.name}' "
            f"in '{self.rule_kind}' rule, but got {shown} ({_type_name(value)})"
        )

    def label(self, attr: Attr, value: Any) -> Label:
        if not isinstance(value, str):
            raise self._fail(attr, value)
        try:
            return parse_label(value, base=self.package, repo_mapping=self.repo_mapping)
        except LabelError as e:
            raise AttrTypeError(f"in attribute '{attr.name}' of '{self.rule_kind}': {e.message}") from None

    def _coerce_plain(self, attr: Attr, value: Any) -> Any:
        t = attr.type
        if value is None:
            return attr.empty()
        if t is AttrType.ANY:
            return value
        if t in (AttrType.LABEL, AttrType.OUTPUT):
            return self.label(attr, value)
        if t in (AttrType.LABEL_LIST, AttrType.OUTPUT_LIST):
            if not isinstance(value, (list, tuple)):
                raise self._fail(attr, value)
            return tuple(self.label(attr, v) for v in value)
        if t is AttrType.STRING:
            if not isinstance(value, str):
                raise self._fail(attr, value)
            return value
        if t is AttrType.STRING_LIST:
            if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
                raise self._fail(attr, value)
            return tuple(value)
        if t is AttrType.BOOL:
            if isinstance(value, bool):
                return value
            if isinstance(value, int) and value in (0, 1):
                return bool(value)
            raise self._fail(attr, value)
        if t is AttrType.INT:
            if isinstance(value, bool) or not isinstance(value, int):
                raise self._fail(attr, value)
            return value
        if t is AttrType.INT_LIST:
            if not isinstance(value, (list, tuple)) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
                raise self._fail(attr, value)
            return tuple(value)
        if t is AttrType.STRING_DICT:
            if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
                raise self._fail(attr, value)
            return dict(value)
        if t is AttrType.STRING_LIST_DICT:
            if not isinstance(value, dict):
                raise self._fail(attr, value)
            out = {}
            for k, v in value.items():
                if not isinstance(k, str) or not isinstance(v, (list, tuple)) or not all(isinstance(s, str) for s in v):
                    raise self._fail(attr, value)
                out[k] = tuple(v)
            return out
        if t is AttrType.LABEL_KEYED_STRING_DICT:
            if not isinstance(value, dict):
                raise self._fail(attr, value)
            out = {}
            for k, v in value.items():
                if not isinstance(v, str):
                    raise self._fail(attr, value)
                out[self.label(attr, k)] = v
            return out
        if t is AttrType.STRING_KEYED_LABEL_DICT:
            if not isinstance(value, dict):
                raise self._fail(attr, value)
            return {str(k): self.label(attr, v) for k, v in value.items()}
        raise AssertionError(f"unhandled attribute type {t}")


def labels_in(attr: Attr, value: Any) -> list[Label]:
    """Every label a (possibly configurable) attribute value mentions, in all branches."""
    if attr.type not in LABEL_TYPES and attr.type not in OUTPUT_TYPES:
        return []
    out: list[Label] = []
    _collect_labels(value, attr.type is AttrType.LABEL_KEYED_STRING_DICT, out)
    return out


# A module function, not a recursive closure: a closure that calls itself is a reference cycle,
# and one per attribute value leaves loading large workspaces to the cyclic garbage collector.
def _collect_labels(v: Any, keyed: bool, out: list[Label]) -> None:
    if isinstance(v, Select):
        for _, branch in v.conditions:
            _collect_labels(branch, keyed, out)
    elif isinstance(v, SelectorList):
        for p in v.parts:
            _collect_labels(p, keyed, out)
    elif isinstance(v, Label):
        out.append(v)
    elif isinstance(v, (list, tuple)):
        for x in v:
            _collect_labels(x, keyed, out)
    elif isinstance(v, dict):
        for k, x in v.items():
            _collect_labels(k if keyed else x, keyed, out)

