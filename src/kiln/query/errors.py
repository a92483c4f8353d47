"""Errors raised while parsing or evaluating a query expression.

Every error that concerns a spot in the expression carries its column
(1-based) and shows the expression with a caret under that spot, so a user
typing a long query on the command line can see what the parser saw.
"""

from __future__ import annotations

from kiln.core.errors import ExitCode, KilnError


def _pointer(expression: str, column: int) -> str:
    # Newlines and tabs would break the caret alignment, so the echo is flattened.
    flat = expression.replace("\n", " ").replace("\r", " ").replace("\t", " ")
    caret = " " * max(column - 1, 0) + "^"
    return f"  {flat}\n  {caret}"


class QueryError(KilnError):
    """A query that is well formed but cannot be evaluated (bad regex, unknown variable...)."""

    kind = "error"

    def __init__(self, detail: str, *, expression: str = "", column: int = 0):
        self.detail = detail
        self.expression = expression
        self.column = column
        head = f"{self.kind} at column {column}: {detail}" if column else f"{self.kind}: {detail}"
        if expression and column:
            head += "\n" + _pointer(expression, column)
        super().__init__(head)


class QuerySyntaxError(QueryError):
    """The expression does not parse: unknown function, wrong arity, bad token."""

    # Bazel reports query syntax errors as command-line errors.
    exit_code = ExitCode.COMMAND_LINE_ERROR
    kind = "syntax error"
