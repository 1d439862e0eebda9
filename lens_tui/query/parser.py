"""Query text to a query tree (lens_tui/query/ast.py): lark's LALR parser, then the meaning of
each field checked for the language at hand (trace, span or log), every error a QueryError."""

from __future__ import annotations

import json
import re
import time
from functools import cache
from importlib import resources
from typing import Literal

import lark
from lark import Token, Tree

from lens_tui.levels import ALIASES, LEVELS
from lens_tui.query.ast import EVERYTHING, And, Attribute, Compare, Node, Not, Or, Selector
from lens_tui.query.errors import QueryError
from lens_tui.query.times import duration_ms, time_point_ms

Language = Literal["trace", "span", "log"]

MAX_CHARS = 10_000
"""Longest query text accepted."""
MAX_DEPTH = 32
"""Deepest nesting of parentheses, braces and `not` (each SQL level is a level of recursion)."""
MAX_TERMS = 256
"""Most comparisons in one query: SQLite refuses expression trees deeper than 1000."""

_TEXT_OPS = ("=", "!=", "~", "!~")
_ORDER_OPS = ("=", "!=", "<", "<=", ">", ">=")
_FIELD_OPS: dict[str, tuple[str, ...]] = {
    "name": _TEXT_OPS,
    "service": _TEXT_OPS,
    "kind": _TEXT_OPS,
    "logger": _TEXT_OPS,
    "message": _TEXT_OPS,
    "status": ("=", "!="),
    "level": _ORDER_OPS,
    "duration": _ORDER_OPS,
    "trace": ("=", "!="),
    "span": ("=", "!="),
}
FIELDS: dict[Language, tuple[str, ...]] = {
    "trace": ("name", "status", "duration", "service", "trace"),
    "span": ("name", "status", "duration", "service", "kind"),
    "log": ("level", "logger", "message", "service", "trace", "span"),
}
"""The intrinsic fields of each language (besides `attr.KEY`, `since` and `until`)."""
BARE_FIELD: dict[Language, str] = {"trace": "name", "span": "name", "log": "message"}
"""What bare words and quoted strings search: the root span's name, the span's, the message."""
STATUSES = ("ok", "error", "running")
_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")
_INT64 = (-(2**63), 2**63 - 1)


@cache
def _parser() -> lark.Lark:
    grammar = resources.files("lens_tui.query").joinpath("grammar.lark").read_text("utf-8")
    return lark.Lark(grammar, parser="lalr", lexer="contextual", maybe_placeholders=False)


def parse(text: str, language: Language, *, now_ms: float | None = None) -> Node:
    """The tree of `text` in `language`; `now_ms` (epoch ms, default the clock) anchors `since`
    and `until`. Raises QueryError."""
    _check_text(text)
    try:
        tree = _parser().parse(text)
    except lark.exceptions.UnexpectedInput as exc:
        raise _syntax_error(exc, text) from None
    _check_shape(tree)
    now = time.time() * 1000.0 if now_ms is None else float(now_ms)
    return _Builder(text, now).build(tree, language)


def _check_text(text: str) -> None:
    if len(text) > MAX_CHARS:
        raise QueryError(
            f"query too long ({len(text)} characters, at most {MAX_CHARS})", MAX_CHARS + 1
        )
    for at, char in enumerate(text):
        if "\ud800" <= char <= "\udfff":
            raise QueryError("invalid character (the text is not UTF-8)", at + 1)


def _check_shape(tree: Tree) -> None:
    """Nesting and size limits, checked without recursion (the tree may be arbitrarily deep)."""
    terms = 0
    stack: list[tuple[Tree | Token, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, Token):
            continue
        if node.data in ("group", "selector", "negation"):
            depth += 1
            if depth > MAX_DEPTH:
                raise QueryError(
                    f"query nests too deeply (at most {MAX_DEPTH} levels)", _first_column(node)
                )
        elif node.data not in ("start", "or_expr", "and_expr"):
            terms += 1
            if terms > MAX_TERMS:
                raise QueryError(f"too many terms (at most {MAX_TERMS})", _first_column(node))
        stack.extend((child, depth) for child in node.children)


def _first_column(node: Tree | Token) -> int:
    while isinstance(node, Tree):
        if not node.children:
            return 1
        node = node.children[0]
    return node.column or 1


# --------------------------------------------------------------------------- syntax errors


def _syntax_error(exc: lark.exceptions.UnexpectedInput, text: str) -> QueryError:
    if isinstance(exc, lark.exceptions.UnexpectedCharacters):
        return _bad_character(exc, text)
    if isinstance(exc, lark.exceptions.UnexpectedToken):
        return _bad_token(exc.token, set(exc.expected), text)
    if isinstance(exc, lark.exceptions.UnexpectedEOF):
        return _bad_token(Token("$END", ""), set(exc.expected), text)
    return QueryError("cannot parse the query", getattr(exc, "column", 1) or 1)  # pragma: no cover


def _bad_character(exc: lark.exceptions.UnexpectedCharacters, text: str) -> QueryError:
    column, char, allowed = exc.column, exc.char, set(exc.allowed or ())
    if "DURATION" in allowed:
        return QueryError("expected a duration", column, "like 250ms; units us, ms, s, m, h")
    if "TIME" in allowed:
        return QueryError("expected a time", column, "like 15m, 10:30 or 2026-12-07T10:00")
    if char == '"':
        return QueryError("unterminated string", column, 'close it with "')
    if "VALUE" in allowed:
        return QueryError(
            f"expected a value, not {char!r}", column, 'quote text with spaces or symbols: "…"'
        )
    if allowed == {"STRING"}:
        return QueryError("expected a quoted key", column, 'attr["odd key"]')
    return QueryError(f"unexpected {char!r}", column, _hint_for(char))


def _hint_for(char: str) -> str | None:
    if char in "=!<>~":
        return 'a comparison needs a field before it (name, status, attr.KEY…); quote text: "…"'
    if char in ")]}":
        return "nothing is open here"
    return None


def _bad_token(token: Token, expected: set[str], text: str) -> QueryError:
    at_end = token.type == "$END"
    column = len(text) + 1 if at_end else (token.column or 1)
    shown = "the end of the query" if at_end else repr(token.value)
    if "TIME" in expected:
        return QueryError(
            f"expected a time, not {shown}", column, "like 15m, 10:30 or 2026-12-07T10:00"
        )
    if "DURATION" in expected:
        return QueryError(
            f"expected a duration, not {shown}", column, "like 250ms; units us, ms, s, m, h"
        )
    if expected and expected <= {"VALUE", "STRING"}:
        return QueryError(
            f"expected a value, not {shown}", column, 'quote text with spaces or symbols: "…"'
        )
    if "OP" in expected:
        return QueryError(
            f"expected an operator, not {shown}", column, "=, !=, ~, !~, <, <=, >, >="
        )
    if expected == {"RBRACKET"}:
        return QueryError(f"expected ']', not {shown}", column)
    if at_end:
        opener = _unclosed(text)
        if opener is not None and ("RPAR" in expected or "RBRACE" in expected):
            return QueryError(f"unclosed {text[opener]!r}", opener + 1)
        return QueryError(
            "the query ends too early", column, "expected a term: a word, a comparison, ( ) or { }"
        )
    if token.type in ("RPAR", "RBRACE"):
        return QueryError(f"unmatched {shown}", column)
    if token.type in ("AND", "OR"):
        return QueryError(f"{shown} needs a term on each side", column)
    if token.type == "OP":
        return QueryError(f"unexpected {shown}", column, _hint_for(token.value[0]))
    return QueryError(f"unexpected {shown}", column)


def _unclosed(text: str) -> int | None:
    """Index of the last '(' or '{' left open (strings skipped), if any."""
    stack: list[int] = []
    quoted = escaped = False
    for at, char in enumerate(text):
        if quoted:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char in "({":
            stack.append(at)
        elif char in ")}" and stack:
            stack.pop()
    return stack[-1] if stack else None


# --------------------------------------------------------------------------- meaning


class _Builder:
    """Builds the query tree from lark's parse tree, checking fields, operators and values."""

    def __init__(self, text: str, now_ms: float) -> None:
        self.text = text
        self.now_ms = now_ms

    def build(self, tree: Tree, language: Language) -> Node:
        if not tree.children:
            return EVERYTHING
        top = tree.children[0]
        if language == "span" and top.data == "selector":  # `{ ... }` alone: its inside
            return self.selector(top, "trace").term  # type: ignore[union-attr]
        return self.node(top, language)

    def node(self, tree: Tree, language: Language) -> Node:
        kind = tree.data
        if kind == "or_expr":
            return Or(tuple(self.node(c, language) for c in tree.children if isinstance(c, Tree)))
        if kind == "and_expr":
            return self.conjunction(tree.children, language)
        if kind == "negation":
            return Not(self.node(tree.children[1], language))
        if kind == "group":
            return self.node(tree.children[1], language)
        if kind == "selector":
            return self.selector(tree, language)
        if kind in ("word", "quoted"):
            token = tree.children[0]
            value = token.value if kind == "word" else self.string(token)
            return Compare(BARE_FIELD[language], "~", value, token.column)
        if kind == "time_bound":
            keyword, operand = tree.children
            at = time_point_ms(operand.value, operand.column, self.now_ms)
            return Compare("start", ">=" if keyword.type == "SINCE" else "<", at, keyword.column)
        if kind == "duration":
            field, op, operand = tree.children
            self.check_field("duration", field, language)
            return Compare(
                "duration",
                self.op(op, "duration"),
                duration_ms(operand.value, operand.column),
                field.column,
            )
        if kind == "comparison":
            return self.comparison(*tree.children, language=language)
        if kind == "attribute":
            key_token, op, value = tree.children
            return self.attribute(key_token.value[5:], key_token, op, value)
        if kind == "attribute_quoted":
            opener, key, _close, op, value = tree.children
            return self.attribute(self.string(key), opener, op, value)
        raise AssertionError(
            f"unknown parse node {kind}"
        )  # pragma: no cover - grammar and builder disagree

    def conjunction(self, children: list[Tree | Token], language: Language) -> Node:
        """An `and` of the children; bare words written side by side are one phrase, the text
        between them as typed (`GET /users` finds names containing "GET /users")."""
        terms: list[Node] = []
        phrase: list[Token] = []
        joined = False  # an explicit `and` stood before the current child

        def close_phrase() -> None:
            if phrase:
                first, last = phrase[0], phrase[-1]
                words = self.text[first.start_pos : last.end_pos]
                terms.append(Compare(BARE_FIELD[language], "~", words, first.column))
                phrase.clear()

        for child in children:
            if isinstance(child, Token):  # AND
                joined = True
                continue
            if child.data == "word":
                if joined:
                    close_phrase()
                phrase.append(child.children[0])
            else:
                close_phrase()
                terms.append(self.node(child, language))
            joined = False
        close_phrase()
        return terms[0] if len(terms) == 1 else And(tuple(terms))

    def selector(self, tree: Tree, language: Language) -> Node:
        opener = tree.children[0]
        if language != "trace":
            where = (
                "selectors do not nest: a span query is one { } or the terms inside one"
                if language == "span"
                else "log queries have no spans"
            )
            raise QueryError("unexpected '{'", opener.column, where)
        inner = tree.children[1] if len(tree.children) == 3 else None
        term = EVERYTHING if inner is None else self.node(inner, "span")
        return Selector(term, opener.column)

    def comparison(
        self, field_token: Token, op_token: Token, value: Token, *, language: Language
    ) -> Node:
        field = field_token.value.lower()
        self.check_field(field, field_token, language)
        op = self.op(op_token, field)
        text = self.string(value) if value.type == "STRING" else value.value
        if field == "status":
            status = text.lower()
            if status not in STATUSES:
                raise QueryError(
                    f"unknown status {text!r}", value.column, "use " + ", ".join(STATUSES)
                )
            return Compare(field, op, status, field_token.column)
        if field == "level":
            level = ALIASES.get(text.lower(), text.lower())
            if level not in LEVELS:
                raise QueryError(
                    f"unknown level {text!r}", value.column, "use " + ", ".join(LEVELS)
                )
            return Compare(field, op, level, field_token.column)
        if field in ("trace", "span") and not text:
            raise QueryError(f"empty {field} id", value.column)
        return Compare(field, op, text, field_token.column)

    def check_field(self, field: str, token: Token, language: Language) -> None:
        if field in FIELDS[language]:
            return
        known = ", ".join((*FIELDS[language], "attr.KEY", "since", "until"))
        where = {"trace": "trace queries", "span": "span selectors", "log": "log queries"}[language]
        if "." in field or field in ("attr", "attributes"):
            raise QueryError(
                f"unknown field {token.value!r}",
                token.column,
                'attributes are attr.KEY or attr["KEY"]',
            )
        raise QueryError(f"unknown field {token.value!r}", token.column, f"{where} use {known}")

    def op(self, token: Token, field: str) -> str:
        op = "=" if token.value == "==" else token.value
        allowed = _FIELD_OPS[field]
        if op not in allowed:
            raise QueryError(
                f"{field} cannot be compared with {op!r}", token.column, "use " + ", ".join(allowed)
            )
        return op

    def attribute(self, key: str, at: Token, op_token: Token, value: Token) -> Attribute:
        op = "=" if op_token.value == "==" else op_token.value
        if value.type == "STRING":
            return Attribute(key, op, self.string(value), at.column)  # type: ignore[arg-type]
        text = value.value
        if op in ("~", "!~"):
            return Attribute(key, op, text, at.column)  # type: ignore[arg-type]
        if _NUMBER.fullmatch(text):
            return Attribute(key, op, number(text), at.column)  # type: ignore[arg-type]
        if text.lower() in ("true", "false"):
            if op not in ("=", "!="):
                raise QueryError(
                    f"true and false compare with = and != only, not {op!r}", op_token.column
                )
            return Attribute(key, op, text.lower() == "true", at.column)  # type: ignore[arg-type]
        return Attribute(key, op, text, at.column)  # type: ignore[arg-type]

    @staticmethod
    def string(token: Token) -> str:
        try:
            value = json.loads(token.value, strict=False)
        except ValueError:
            raise QueryError(
                "bad escape in string", token.column, r"use \" \\ \n \t or \uXXXX"
            ) from None
        if any("\ud800" <= char <= "\udfff" for char in value):
            raise QueryError("invalid \\u escape (a lone surrogate)", token.column)
        return value


def number(text: str) -> int | float:
    """A number literal as SQLite holds it: an int when it is integral and fits in 64 bits."""
    if re.fullmatch(r"[-+]?\d{1,19}", text):  # longer: not int64, and int() refuses 4,300+ digits
        value = int(text)
        if _INT64[0] <= value <= _INT64[1]:
            return value
    return float(text)
