"""`kiln query`: Bazel's query language over the loaded (unconfigured) target graph.

    result = evaluate("deps(//app) - //third_party/...", env, keep_going=False)
    text = format_result(result.targets, "label_kind", env, order_output="auto")

`env` implements `QueryEnvironment` (target patterns and labels to targets).
"""

from kiln.query.ast import SIGNATURES, Expr
from kiln.query.environment import QueryEnvironment
from kiln.query.errors import QueryError, QuerySyntaxError
from kiln.query.evaluator import QueryResult, evaluate
from kiln.query.output import OUTPUT_FORMATS, ORDER_OUTPUTS, format_result
from kiln.query.parser import parse

__all__ = [
    "Expr",
    "ORDER_OUTPUTS",
    "OUTPUT_FORMATS",
    "QueryEnvironment",
    "QueryError",
    "QueryResult",
    "QuerySyntaxError",
    "SIGNATURES",
    "evaluate",
    "format_result",
    "parse",
]
