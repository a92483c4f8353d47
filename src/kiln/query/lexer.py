"""Tokens of the query language: words, keywords, punctuation and operators.

Follows Bazel's query lexer: no string escapes; a quoted word (single or
double quotes) may hold any character but its own quote and is never a
keyword; `-` and `+` are operators at the start of a token but `-` may
appear inside an unquoted word (`foo-bar`). Unquoted words additionally
accept label punctuation Bazel's lexer rejects (`!%#&?;<>[]{}|`): that only
turns some would-be syntax errors into target names, it changes no valid
query.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from kiln.query.errors import QuerySyntaxError


class TokenKind(enum.Enum):
    WORD = "word"
    LPAREN = "("
    RPAREN = ")"
    COMMA = ","
    EQUALS = "="
    PLUS = "+"
    MINUS = "-"
    CARET = "^"
    LET = "let"
    IN = "in"
    SET = "set"
    UNION = "union"
    EXCEPT = "except"
    INTERSECT = "intersect"
    EOF = "end of input"


KEYWORDS = {k.value: k for k in (TokenKind.LET, TokenKind.IN, TokenKind.SET, TokenKind.UNION, TokenKind.EXCEPT, TokenKind.INTERSECT)}

_PUNCT = {
    "(": TokenKind.LPAREN,
    ")": TokenKind.RPAREN,
    ",": TokenKind.COMMA,
    "=": TokenKind.EQUALS,
    "+": TokenKind.PLUS,
    "-": TokenKind.MINUS,
    "^": TokenKind.CARET,
}

_WORD_PUNCT = set("*/@.-_:$~!%#&?;<>[]{}|")
_SPACE = set(" \t\r\n")


def is_word_char(c: str) -> bool:
    return c.isalnum() or c in _WORD_PUNCT


@dataclass(frozen=True)
class Token:
    kind: TokenKind
    text: str
    column: int  # 1-based offset of the token's first character
    quoted: bool = False

    def describe(self) -> str:
        if self.kind is TokenKind.EOF:
            return "end of input"
        if self.kind is TokenKind.WORD:
            return f"'{self.text}'" if not self.quoted else f"{self.text!r}"
        return f"'{self.kind.value}'"


def tokenize(text: str) -> list[Token]:
    """Splits `text` into tokens, ending with an EOF token; raises QuerySyntaxError."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in _SPACE:
            i += 1
        elif c in _PUNCT:
            tokens.append(Token(_PUNCT[c], c, i + 1))
            i += 1
        elif c in "'\"":
            end = text.find(c, i + 1)
            if end < 0:
                raise QuerySyntaxError("unclosed quotation", expression=text, column=i + 1)
            tokens.append(Token(TokenKind.WORD, text[i + 1 : end], i + 1, quoted=True))
            i = end + 1
        elif is_word_char(c):
            start = i
            while i < n and is_word_char(text[i]):
                i += 1
            word = text[start:i]
            tokens.append(Token(KEYWORDS.get(word, TokenKind.WORD), word, start + 1))
        else:
            raise QuerySyntaxError(f"unexpected character {c!r} (quote words that contain it)", expression=text, column=i + 1)
    tokens.append(Token(TokenKind.EOF, "", n + 1))
    return tokens
