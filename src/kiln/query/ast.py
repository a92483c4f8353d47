"""The query expression tree and the signatures of the query functions.

Nodes are frozen dataclasses; their column (1-based, where the node starts
in the source text) is excluded from equality so that trees parsed from
differently spaced text compare equal. `str(node)` prints the expression
back in query syntax, fully parenthesised.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from kiln.query.lexer import KEYWORDS, is_word_char


def _column() -> int:
    return field(default=0, compare=False, kw_only=True)  # type: ignore[return-value]


def quote_word(text: str) -> str:
    """`text` as it must be written in a query: bare if it lexes as one word, quoted otherwise."""
    if text and text not in KEYWORDS and text[0] != "-" and all(is_word_char(c) for c in text):
        return text
    return f"'{text}'" if "'" not in text else f'"{text}"'


@dataclass(frozen=True)
class TargetLiteral:
    """A target pattern or label, resolved through the environment."""

    text: str
    column: int = _column()

    def __str__(self) -> str:
        return quote_word(self.text)


@dataclass(frozen=True)
class Variable:
    """`$name`, bound by an enclosing `let`."""

    name: str
    column: int = _column()

    def __str__(self) -> str:
        return f"${self.name}"


@dataclass(frozen=True)
class SetExpr:
    """`set(a b c)`: the union of its words."""

    items: tuple[TargetLiteral | Variable, ...]
    column: int = _column()

    def __str__(self) -> str:
        return "set(" + " ".join(str(i) for i in self.items) + ")"


class Op(enum.Enum):
    UNION = "+"
    EXCEPT = "-"
    INTERSECT = "^"


@dataclass(frozen=True)
class BinaryOp:
    op: Op
    left: "Expr"
    right: "Expr"
    column: int = _column()  # the operator's column

    def __str__(self) -> str:
        return f"({self.left} {self.op.value} {self.right})"


@dataclass(frozen=True)
class Let:
    name: str
    value: "Expr"
    body: "Expr"
    column: int = _column()

    def __str__(self) -> str:
        return f"let {self.name} = {self.value} in {self.body}"


@dataclass(frozen=True)
class WordArg:
    """A function argument that is a plain word: a regex or an attribute name."""

    text: str
    column: int = _column()

    def __str__(self) -> str:
        return quote_word(self.text)


@dataclass(frozen=True)
class IntArg:
    value: int
    column: int = _column()

    def __str__(self) -> str:
        return str(self.value)


@dataclass(frozen=True)
class FunctionCall:
    name: str
    args: tuple["Expr | WordArg | IntArg", ...]
    column: int = _column()

    def __str__(self) -> str:
        return f"{self.name}(" + ", ".join(str(a) for a in self.args) + ")"


Expr = TargetLiteral | Variable | SetExpr | BinaryOp | Let | FunctionCall


class ArgKind(enum.Enum):
    EXPR = "expression"
    WORD = "word"
    INT = "integer"


@dataclass(frozen=True)
class Param:
    name: str
    kind: ArgKind


@dataclass(frozen=True)
class Signature:
    name: str
    params: tuple[Param, ...]
    mandatory: int

    def usage(self) -> str:
        shown = ", ".join(p.name for p in self.params[: self.mandatory])
        for p in self.params[self.mandatory :]:
            shown += f"[, {p.name}]" if shown else f"[{p.name}]"
        return f"{self.name}({shown})"

    def arity(self) -> str:
        lo, hi = self.mandatory, len(self.params)
        count = f"{lo}" if lo == hi else f"{lo} or {hi}" if hi == lo + 1 else f"{lo} to {hi}"
        return f"{count} argument" + ("" if hi == 1 else "s")


def _sig(name: str, *params: tuple[str, ArgKind], optional: int = 0) -> Signature:
    ps = tuple(Param(n, k) for n, k in params)
    return Signature(name, ps, len(ps) - optional)


_E, _W, _I = ArgKind.EXPR, ArgKind.WORD, ArgKind.INT

SIGNATURES: dict[str, Signature] = {
    s.name: s
    for s in (
        _sig("allpaths", ("from", _E), ("to", _E)),
        _sig("attr", ("name", _W), ("pattern", _W), ("expr", _E)),
        _sig("deps", ("expr", _E), ("depth", _I), optional=1),
        _sig("filter", ("pattern", _W), ("expr", _E)),
        _sig("kind", ("pattern", _W), ("expr", _E)),
        _sig("labels", ("attr_name", _W), ("expr", _E)),
        _sig("rdeps", ("universe", _E), ("expr", _E), ("depth", _I), optional=1),
        _sig("siblings", ("expr", _E)),
        _sig("some", ("expr", _E), ("count", _I), optional=1),
        _sig("somepath", ("from", _E), ("to", _E)),
        _sig("tests", ("expr", _E)),
    )
}
