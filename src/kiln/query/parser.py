"""Recursive-descent parser from query text to the expression tree.

Grammar (Bazel's): all binary operators (`+ union`, `- except`,
`^ intersect`) have equal precedence and associate to the left; `let`
binds a body that extends as far right as possible.

    expr    ::= primary (op primary)*
    primary ::= WORD | WORD '(' args ')' | '(' expr ')'
              | 'let' NAME '=' expr 'in' expr | 'set' '(' WORD* ')'

Function arguments are parsed by the function's signature: a word slot takes
exactly one word token (a regex or attribute name), an integer slot one
integer word, an expression slot a full expression.
"""

from __future__ import annotations

import re

from kiln.query.ast import (
    SIGNATURES,
    ArgKind,
    BinaryOp,
    Expr,
    FunctionCall,
    IntArg,
    Let,
    Op,
    SetExpr,
    Signature,
    TargetLiteral,
    Variable,
    WordArg,
)
from kiln.query.errors import QuerySyntaxError
from kiln.query.lexer import Token, TokenKind, tokenize

_BINARY = {
    TokenKind.PLUS: Op.UNION,
    TokenKind.UNION: Op.UNION,
    TokenKind.MINUS: Op.EXCEPT,
    TokenKind.EXCEPT: Op.EXCEPT,
    TokenKind.CARET: Op.INTERSECT,
    TokenKind.INTERSECT: Op.INTERSECT,
}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_INT = re.compile(r"^[0-9]+$")


def parse(text: str) -> Expr:
    """Parses a query expression; raises QuerySyntaxError naming the column of the problem."""
    return _Parser(text).parse()


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.pos = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.pos]

    def advance(self) -> Token:
        tok = self.tokens[self.pos]
        if tok.kind is not TokenKind.EOF:
            self.pos += 1
        return tok

    def error(self, message: str, column: int) -> QuerySyntaxError:
        return QuerySyntaxError(message, expression=self.text, column=column)

    def expect(self, kind: TokenKind, what: str | None = None) -> Token:
        if self.token.kind is not kind:
            wanted = what or f"'{kind.value}'"
            raise self.error(f"expected {wanted}, got {self.token.describe()}", self.token.column)
        return self.advance()

    def parse(self) -> Expr:
        expr = self.expression()
        if self.token.kind is not TokenKind.EOF:
            raise self.error(
                f"unexpected {self.token.describe()} after the end of the expression "
                "(missing operator, or a word that needs quotes?)",
                self.token.column,
            )
        return expr

    def expression(self) -> Expr:
        left = self.primary()
        while self.token.kind in _BINARY:
            op_tok = self.advance()
            right = self.primary()
            left = BinaryOp(_BINARY[op_tok.kind], left, right, column=op_tok.column)
        return left

    def primary(self) -> Expr:
        tok = self.token
        if tok.kind is TokenKind.WORD:
            self.advance()
            if self.token.kind is TokenKind.LPAREN and not tok.quoted:
                return self.call(tok)
            return self.literal(tok)
        if tok.kind is TokenKind.LPAREN:
            self.advance()
            inner = self.expression()
            self.expect(TokenKind.RPAREN)
            return inner
        if tok.kind is TokenKind.LET:
            return self.let()
        if tok.kind is TokenKind.SET:
            self.advance()
            self.expect(TokenKind.LPAREN)
            items = []
            while self.token.kind is TokenKind.WORD:
                items.append(self.literal(self.advance()))
            self.expect(TokenKind.RPAREN, "a word or ')'")
            return SetExpr(tuple(items), column=tok.column)
        raise self.error(f"expected an expression, got {tok.describe()}", tok.column)

    def literal(self, tok: Token) -> TargetLiteral | Variable:
        text = tok.text
        if text.startswith("$"):
            name = text[1:]
            if not _NAME.match(name):
                raise self.error(f"invalid variable reference '{text}'", tok.column)
            return Variable(name, column=tok.column)
        # As in Bazel: these would read as a negative pattern or a glob, so they need spelling out.
        if text.startswith(("-", "*")):
            raise self.error(f"target literal must not begin with '{text[0]}': {text}", tok.column)
        if text == "":
            raise self.error("empty target literal", tok.column)
        return TargetLiteral(text, column=tok.column)

    def let(self) -> Let:
        start = self.advance()
        name_tok = self.expect(TokenKind.WORD, "a variable name")
        if name_tok.quoted or not _NAME.match(name_tok.text):
            raise self.error(f"invalid variable name '{name_tok.text}'", name_tok.column)
        self.expect(TokenKind.EQUALS)
        value = self.expression()
        self.expect(TokenKind.IN, "'in'")
        body = self.expression()
        return Let(name_tok.text, value, body, column=start.column)

    def call(self, name_tok: Token) -> FunctionCall:
        sig = SIGNATURES.get(name_tok.text)
        if sig is None:
            known = ", ".join(sorted(SIGNATURES))
            raise self.error(f"unknown function '{name_tok.text}' (known functions: {known})", name_tok.column)
        self.expect(TokenKind.LPAREN)
        args: list[Expr | WordArg | IntArg] = []
        extra_at = 0  # column of the first argument beyond the signature
        if self.token.kind is not TokenKind.RPAREN:
            while True:
                index = len(args)
                if index >= len(sig.params) and not extra_at:
                    extra_at = self.token.column
                kind = sig.params[index].kind if index < len(sig.params) else ArgKind.EXPR
                args.append(self.argument(sig, index, kind))
                if self.token.kind is TokenKind.COMMA:
                    self.advance()
                    continue
                if self.token.kind is TokenKind.RPAREN:
                    break
                if kind is not ArgKind.EXPR:
                    raise self.error(
                        f"argument '{sig.params[index].name}' of {sig.name}() must be a single "
                        f"{kind.value}; quote it if it contains spaces or operators",
                        self.token.column,
                    )
                raise self.error(f"expected ',' or ')', got {self.token.describe()}", self.token.column)
        close = self.expect(TokenKind.RPAREN)
        given = len(args)
        if extra_at or given < sig.mandatory:
            were = "was" if given == 1 else "were"
            raise self.error(
                f"{sig.name}() takes {sig.arity()} but {given} {were} given; usage: {sig.usage()}",
                extra_at or close.column,
            )
        return FunctionCall(sig.name, tuple(args), column=name_tok.column)

    def argument(self, sig: Signature, index: int, kind: ArgKind) -> Expr | WordArg | IntArg:
        if kind is ArgKind.EXPR:
            return self.expression()
        tok = self.token
        param = sig.params[index].name
        if tok.kind is not TokenKind.WORD:
            raise self.error(f"expected a {kind.value} for argument '{param}' of {sig.name}(), got {tok.describe()}", tok.column)
        self.advance()
        if kind is ArgKind.WORD:
            return WordArg(tok.text, column=tok.column)
        if not _INT.match(tok.text):
            raise self.error(
                f"expected a non-negative integer for argument '{param}' of {sig.name}(), got '{tok.text}'",
                tok.column,
            )
        return IntArg(int(tok.text), column=tok.column)
