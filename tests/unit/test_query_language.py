"""kiln.query: lexing, parsing, operators, let, quoting and syntax errors."""

from __future__ import annotations

import pytest

from kiln.core.errors import ExitCode, KilnError
from kiln.query import QueryError, QuerySyntaxError, evaluate, parse
from kiln.query.ast import BinaryOp, FunctionCall, IntArg, Let, Op, SetExpr, TargetLiteral, Variable, WordArg
from kiln.query.lexer import TokenKind, tokenize

try:
    from .test_query_fixtures import make_env
except ImportError:  # tests/unit is not a package: pytest put it on sys.path
    from test_query_fixtures import make_env


def labels(expression: str, **kw) -> list[str]:
    return evaluate(expression, make_env(), **kw).labels()


# ---- lexer ------------------------------------------------------------------------------


def test_tokens_and_columns() -> None:
    toks = tokenize("deps(//a:b-c, 2) union 'x y'")
    assert [(t.kind, t.text, t.column) for t in toks] == [
        (TokenKind.WORD, "deps", 1),
        (TokenKind.LPAREN, "(", 5),
        (TokenKind.WORD, "//a:b-c", 6),
        (TokenKind.COMMA, ",", 13),
        (TokenKind.WORD, "2", 15),
        (TokenKind.RPAREN, ")", 16),
        (TokenKind.UNION, "union", 18),
        (TokenKind.WORD, "x y", 24),
        (TokenKind.EOF, "", 29),
    ]


def test_minus_is_an_operator_only_at_the_start_of_a_token() -> None:
    kinds = [t.kind for t in tokenize("a-b -c")]
    assert kinds == [TokenKind.WORD, TokenKind.MINUS, TokenKind.WORD, TokenKind.EOF]


def test_quoted_keyword_is_a_word() -> None:
    toks = tokenize("\"let\" 'in' set")
    assert [t.kind for t in toks[:3]] == [TokenKind.WORD, TokenKind.WORD, TokenKind.SET]
    assert toks[0].quoted and toks[0].text == "let"


# ---- parser shape -----------------------------------------------------------------------


def test_operators_are_left_associative_with_equal_precedence() -> None:
    tree = parse("a ^ b + c - d")
    assert tree == BinaryOp(
        Op.EXCEPT,
        BinaryOp(Op.UNION, BinaryOp(Op.INTERSECT, TargetLiteral("a"), TargetLiteral("b")), TargetLiteral("c")),
        TargetLiteral("d"),
    )
    assert parse("a intersect b union c except d") == tree


def test_parentheses_group() -> None:
    assert parse("a - (b + c)") == BinaryOp(
        Op.EXCEPT, TargetLiteral("a"), BinaryOp(Op.UNION, TargetLiteral("b"), TargetLiteral("c"))
    )


def test_function_arguments_follow_the_signature() -> None:
    assert parse("deps(//x, 3)") == FunctionCall("deps", (TargetLiteral("//x"), IntArg(3)))
    assert parse('kind("py_.* rule", //x)') == FunctionCall("kind", (WordArg("py_.* rule"), TargetLiteral("//x")))
    assert parse("attr(tags, manual, //x)") == FunctionCall(
        "attr", (WordArg("tags"), WordArg("manual"), TargetLiteral("//x"))
    )


def test_let_body_extends_to_the_right() -> None:
    assert parse("let v = a in $v + b") == Let(
        "v", TargetLiteral("a"), BinaryOp(Op.UNION, Variable("v"), TargetLiteral("b"))
    )


def test_set_takes_words_and_variables() -> None:
    assert parse("set(a 'b c' $v)") == SetExpr((TargetLiteral("a"), TargetLiteral("b c"), Variable("v")))
    assert parse("set()") == SetExpr(())


def test_columns_are_recorded() -> None:
    tree = parse("  deps(//x) + y")
    assert isinstance(tree, BinaryOp)
    assert tree.column == 13
    assert tree.left.column == 3
    assert tree.right.column == 15


@pytest.mark.parametrize(
    "text",
    [
        "deps(//a, 2) + kind('py_.* rule', //b) - (c ^ set(d 'e f'))",
        "let x = //a in rdeps(//..., $x, 1) except 'let'",
        "attr(tags, '[\\[ ]manual[,\\]]', //...)",
    ],
)
def test_printing_round_trips(text: str) -> None:
    tree = parse(text)
    assert parse(str(tree)) == tree


# ---- evaluation of operators, let and quoting ---------------------------------------------


def test_union_except_intersect() -> None:
    assert labels("//lib:core + //lib:util") == ["//lib:core", "//lib:util"]
    assert labels("//lib:all - //lib:core") == [
        "//lib:all_tests", "//lib:core_test", "//lib:explicit", "//lib:fast", "//lib:gen",
        "//lib:nested", "//lib:slow_test", "//lib:small_tests", "//lib:util", "//lib:util_test",
    ]
    assert labels("//lib:all ^ //app:app + //lib:core") == ["//lib:core"]
    assert labels("//lib:core union //lib:util except //lib:util intersect //lib:core") == ["//lib:core"]


def test_evaluation_is_left_associative() -> None:
    # Right-associative would give core + (util - util) = {core, util}.
    assert labels("//lib:core + //lib:util - //lib:util") == ["//lib:core"]
    # If ^ bound tighter: core + (util ^ util) = {core, util}.
    assert labels("//lib:core + //lib:util ^ //lib:util") == ["//lib:util"]
    assert labels("//lib:core + (//lib:util - //lib:util)") == ["//lib:core"]


def test_let_binds_and_shadows() -> None:
    assert labels("let v = //lib:core in $v + //lib:util") == ["//lib:core", "//lib:util"]
    assert labels("let v = //lib:core in let v = //lib:util in $v") == ["//lib:util"]
    assert labels("let v = //lib:core in (let v = //lib:util in $v) + $v") == ["//lib:core", "//lib:util"]
    assert labels("let a = //lib:core in let b = deps($a, 1) in $b - $a") == sorted(
        ["//lib:core.py", "//lib:gen.py", "//lib:util", "//third:fastlib"]
    )


def test_quoted_words_resolve_like_bare_ones() -> None:
    assert labels('"//lib:core"') == labels("'//lib:core'") == labels("//lib:core") == ["//lib:core"]
    assert labels("set(//lib:core \"//lib:util\")") == ["//lib:core", "//lib:util"]


def test_relative_word_is_resolved_by_the_environment() -> None:
    env = make_env()
    evaluate("deps(//app) + //lib/...", env)
    assert env.patterns == ["//app", "//lib/..."]


def test_undefined_variable_reports_column() -> None:
    with pytest.raises(QueryError) as info:
        evaluate("//lib:core + $nope", make_env())
    err = info.value
    assert err.column == 14
    assert "undefined variable 'nope'" in err.message
    assert err.message.splitlines()[1:] == ["  //lib:core + $nope", "               ^"]


def test_unknown_pattern_error_comes_from_the_environment() -> None:
    with pytest.raises(KilnError, match="no such target '//lib:nope'"):
        evaluate("//lib:core + //lib:nope", make_env())


# ---- syntax errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, column, fragment",
    [
        ("deps(//a b", 10, "expected ',' or ')', got 'b'"),
        ("(//a", 5, "expected ')', got end of input"),
        ("", 1, "expected an expression, got end of input"),
        ("//a +", 6, "expected an expression"),
        ("//a //b", 5, "unexpected '//b' after the end of the expression"),
        ("nosuch(//a)", 1, "unknown function 'nosuch'"),
        ("deps(//a, 1, 2)", 14, "deps() takes 1 or 2 arguments but 3 were given; usage: deps(expr[, depth])"),
        ("kind(py_library)", 16, "kind() takes 2 arguments but 1 was given"),
        ("tests()", 7, "tests() takes 1 argument but 0 were given"),
        ("deps(//a, two)", 11, "expected a non-negative integer for argument 'depth' of deps(), got 'two'"),
        ("attr(a + b, c, //x)", 8, "argument 'name' of attr() must be a single word"),
        ("kind((x), //y)", 6, "expected a word for argument 'pattern' of kind()"),
        ("'unclosed", 1, "unclosed quotation"),
        ("//a + *b", 7, "target literal must not begin with '*'"),
        ("//a + \"-b\"", 7, "target literal must not begin with '-'"),
        ("let 1 = //a in $1", 5, "invalid variable name '1'"),
        ("let x = //a $x", 13, "expected 'in', got '$x'"),
        ("//a , //b", 5, "unexpected ','"),
        ("//a + `b`", 7, "unexpected character '`'"),
    ],
)
def test_syntax_errors_name_the_column(text: str, column: int, fragment: str) -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse(text)
    err = info.value
    assert err.column == column
    assert fragment in err.message
    first = err.message.splitlines()[0]
    assert first.startswith(f"syntax error at column {column}: ")


def test_syntax_error_shows_the_expression_with_a_caret() -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse("deps(//a b")
    assert info.value.message == "syntax error at column 10: expected ',' or ')', got 'b'\n  deps(//a b\n           ^"
    assert info.value.exit_code == ExitCode.COMMAND_LINE_ERROR
    assert isinstance(info.value, KilnError)


def test_evaluate_raises_syntax_errors_before_touching_the_environment() -> None:
    env = make_env()
    with pytest.raises(QuerySyntaxError):
        evaluate("//lib:core + nosuch(//lib:util)", env)
    assert env.patterns == []
