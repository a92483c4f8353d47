"""aquery: the actions analysis registered for the configured targets a query names.

The target part of an aquery expression is a cquery expression (same
language, same configured graph: kiln.query.cquery). Around it, aquery's own
filters keep only some of those targets' actions, as Bazel's do:
`mnemonic(REGEX, expr)` (the mnemonic), `inputs(REGEX, expr)` (some input's
exec path), `outputs(REGEX, expr)` (some output's exec path); a regex must
match the whole text. Filters nest, and like Bazel's they must enclose the
whole expression: they select actions, and no target function takes actions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from kiln.core.errors import ExitCode
from kiln.query.ast import SIGNATURES
from kiln.query.cquery import SUPPORTED, evaluate as evaluate_cquery
from kiln.query.errors import QueryError
from kiln.query.lexer import Token, TokenKind, tokenize

FILTERS = ("mnemonic", "inputs", "outputs")


class AqueryError(QueryError):
    """An aquery expression kiln cannot evaluate: a command-line error, as in Bazel."""

    exit_code = ExitCode.COMMAND_LINE_ERROR


@dataclass(frozen=True)
class ActionFilter:
    function: str  # one of FILTERS
    pattern: re.Pattern[str]

    def matches(self, action) -> bool:
        if self.function == "mnemonic":
            return self.pattern.fullmatch(action.mnemonic) is not None
        files = action.input_list() if self.function == "inputs" else action.outputs
        return any(self.pattern.fullmatch(a.exec_path) for a in files)


@dataclass(frozen=True)
class AqueryExpression:
    filters: tuple[ActionFilter, ...]
    # The cquery expression inside the filters, other characters blanked so columns stay the user's.
    targets: str

    def keeps(self, action) -> bool:
        return all(f.matches(action) for f in self.filters)


def parse(text: str) -> AqueryExpression:
    tokens = tokenize(text)
    filters: list[ActionFilter] = []
    pos = 0
    while _is_call(tokens, pos) and tokens[pos].text in FILTERS:
        name = tokens[pos]
        # Past the end stands the EOF token, which is neither.
        regex, comma = (tokens[min(i, len(tokens) - 1)] for i in (pos + 2, pos + 3))
        if regex.kind is not TokenKind.WORD or comma.kind is not TokenKind.COMMA:
            raise AqueryError(f"{name.text}() takes a regular expression and an expression; usage: "
                              f"{name.text}(REGEX, expr)", expression=text, column=name.column)
        try:
            pattern = re.compile(regex.text)
        except re.error as e:
            raise AqueryError(f"invalid regular expression '{regex.text}' in {name.text}(): {e}",
                              expression=text, column=regex.column) from None
        filters.append(ActionFilter(name.text, pattern))
        pos += 4
    end = len(tokens) - 1 - len(filters)  # the EOF token, then one ')' per filter before it
    inner = tokens[pos:end]
    if filters:
        _check_closed(text, tokens, pos, end, filters)
    _check_functions(text, inner)
    if not inner:
        raise AqueryError("expected an expression", expression=text, column=tokens[end].column)
    start = inner[0].column - 1
    stop = tokens[end].column - 1
    return AqueryExpression(tuple(filters), " " * start + text[start:stop])


def _is_call(tokens: list[Token], pos: int) -> bool:
    tok = tokens[pos]
    return (tok.kind is TokenKind.WORD and not tok.quoted and pos + 1 < len(tokens)
            and tokens[pos + 1].kind is TokenKind.LPAREN)


def _check_closed(text: str, tokens: list[Token], pos: int, end: int, filters: list[ActionFilter]) -> None:
    """The filters' closing parentheses must be the last tokens, and close what they opened."""
    depth = 0
    for i in range(pos, len(tokens) - 1):
        tok = tokens[i]
        if tok.kind is TokenKind.LPAREN:
            depth += 1
        elif tok.kind is TokenKind.RPAREN:
            depth -= 1
        if depth < 0 and i < end:
            raise AqueryError(f"{filters[-1].function}() must enclose the whole expression (aquery's filters "
                              "select actions, so nothing can follow them)", expression=text, column=tok.column)
    if depth != -len(filters):
        raise AqueryError(f"expected ')' to close {filters[0].function}(", expression=text,
                          column=tokens[-1].column)


def _check_functions(text: str, tokens: list[Token]) -> None:
    for i, tok in enumerate(tokens):
        if not _is_call(tokens, i):
            continue
        if tok.text in FILTERS:
            raise AqueryError(f"{tok.text}() filters actions: it must enclose the whole aquery expression, "
                              "not be an argument of a target function", expression=text, column=tok.column)
        if tok.text not in SUPPORTED:
            problem = f"aquery does not support the function '{tok.text}' yet" if tok.text in SIGNATURES \
                else f"unknown function '{tok.text}'"
            raise AqueryError(f"{problem} (aquery supports: {', '.join((*SUPPORTED, *FILTERS))}, set operators "
                              "and let)", expression=text, column=tok.column)


def evaluate(expr: AqueryExpression, text: str, resolve: Callable[[str], list]) -> list:
    """The configured targets of the expression's target part, sorted (kiln.query.cquery.evaluate)."""
    try:
        return evaluate_cquery(expr.targets, resolve)
    except QueryError as e:
        # Columns are already the user's: only the echoed expression is put back.
        raise type(e)(e.detail, expression=text, column=e.column) from None
