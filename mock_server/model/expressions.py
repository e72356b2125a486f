"""Band-math expressions of indices, parsed by a small grammar and evaluated over numpy
arrays, never run as code (no `eval`): a formula comes from a client.

    parts   := expr ("," expr)*
    expr    := term (("+" | "-") term)*
    term    := unary (("*" | "/") unary)*
    unary   := ("-" | "+") unary | primary
    primary := NUMBER | BAND | "(" expr ")"

A band is a name the satellite has; anything else is refused with its position.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

MAX_DEPTH = 32  # nested parentheses and unary signs: deeper formulas are refused, not recursed
_TOKEN = re.compile(  # ASCII: a digit or letter of another script is not a number or band
    r"\s*(?:(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|([A-Za-z_]\w*)|(\S))",
    re.ASCII,
)


class ExpressionError(ValueError):
    """A formula that does not parse or names a band the satellite lacks."""


@dataclass(frozen=True)
class Number:
    value: float


@dataclass(frozen=True)
class Band:
    name: str


@dataclass(frozen=True)
class Unary:
    operator: str
    operand: Node


@dataclass(frozen=True)
class Binary:
    operator: str
    left: Node
    right: Node


Node = Number | Band | Unary | Binary


@dataclass(frozen=True)
class Expression:
    """A parsed formula: one part per output channel, and the bands it reads in order."""

    parts: tuple[Node, ...]
    bands: tuple[str, ...]


def parse(text: str, band_names: Sequence[str]) -> Expression:
    """The formula's parts, or ExpressionError saying what and where."""
    tokens = _tokens(text)
    parser = _Parser(tokens, frozenset(band_names))
    parts = [parser.expr(0)]
    while parser.peek() == ",":
        parser.take()
        parts.append(parser.expr(0))
    if parser.position < len(tokens):
        raise ExpressionError(f"unexpected {tokens[parser.position][0]!r} at {parser.offset()}")
    return Expression(tuple(parts), tuple(dict.fromkeys(parser.used)))


def evaluate(node: Node, bands: Mapping[str, np.ndarray]) -> np.ndarray:
    """The node's values per pixel; a division by zero gives NaN (no data), not inf."""
    if isinstance(node, Number):
        return np.asarray(node.value, dtype=np.float64)
    if isinstance(node, Band):
        return np.asarray(bands[node.name], dtype=np.float64)
    if isinstance(node, Unary):
        operand = evaluate(node.operand, bands)
        return -operand if node.operator == "-" else operand
    left, right = evaluate(node.left, bands), evaluate(node.right, bands)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if node.operator == "+":
            result = left + right
        elif node.operator == "-":
            result = left - right
        elif node.operator == "*":
            result = left * right
        else:
            result = left / right
    return np.where(np.isfinite(result), result, np.nan)


def _tokens(text: str) -> list[tuple[str, int, int]]:
    """(token, offset, kind) triples, kind 1 a number, 2 a name, 3 any other character."""
    tokens, offset = [], 0
    while offset < len(text):
        match = _TOKEN.match(text, offset)
        if match is None:  # only whitespace is left
            break
        kind = match.lastindex or 3
        tokens.append((match.group(kind), match.start(kind), kind))
        offset = match.end()
    if not tokens:
        raise ExpressionError("the expression is empty")
    return tokens


class _Parser:
    """Recursive descent over the tokens, depth-limited."""

    def __init__(self, tokens: list[tuple[str, int, int]], band_names: frozenset[str]) -> None:
        self.tokens, self.band_names = tokens, band_names
        self.position = 0
        self.used: list[str] = []

    def peek(self) -> str | None:
        return self.tokens[self.position][0] if self.position < len(self.tokens) else None

    def offset(self) -> str:
        if self.position < len(self.tokens):
            return f"position {self.tokens[self.position][1]}"
        return "the end"

    def take(self) -> str:
        token = self.tokens[self.position][0]
        self.position += 1
        return token

    def expr(self, depth: int) -> Node:
        node = self.term(depth)
        while self.peek() in ("+", "-"):
            operator = self.take()
            node = Binary(operator, node, self.term(depth))
        return node

    def term(self, depth: int) -> Node:
        node = self.unary(depth)
        while self.peek() in ("*", "/"):
            operator = self.take()
            node = Binary(operator, node, self.unary(depth))
        return node

    def unary(self, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise ExpressionError(f"the expression nests deeper than {MAX_DEPTH} levels")
        if self.peek() in ("-", "+"):
            operator = self.take()
            return Unary(operator, self.unary(depth + 1))
        return self.primary(depth)

    def primary(self, depth: int) -> Node:
        token = self.peek()
        where = self.offset()
        if token is None:
            raise ExpressionError("the expression ends where a value was expected")
        kind = self.tokens[self.position][2]
        if token == "(":
            self.take()
            node = self.expr(depth + 1)
            if self.peek() != ")":
                raise ExpressionError(f"expected ')' at {self.offset()}")
            self.take()
            return node
        self.take()
        if kind == 1:
            return Number(float(token))
        if kind == 2:
            if token not in self.band_names:
                raise ExpressionError(
                    f"{token!r} at {where} is not a band of the satellite"
                    f" (its bands: {', '.join(sorted(self.band_names))})"
                )
            self.used.append(token)
            return Band(token)
        raise ExpressionError(f"unexpected {token!r} at {where}")
