"""A query tree back as query text that parses to the same tree (shown in a list's border, and
how generated trees reach the parser in the tests)."""

from __future__ import annotations

import json
import math
import re

from lens_tui.query.ast import EVERYTHING, And, Attribute, Compare, Node, Not, Or, Selector
from lens_tui.query.times import iso_utc

_PLAIN_KEY = re.compile(r'[^\s(){}\[\]"=!<>~]+')


def render(node: Node) -> str:
    """The query text of a tree (`""` for the empty query)."""
    return "" if node == EVERYTHING else _render(node)


def _render(node: Node) -> str:
    if isinstance(node, And):
        return " and ".join(_operand(t, (Or, And)) for t in node.terms)
    if isinstance(node, Or):
        return " or ".join(_operand(t, (Or,)) for t in node.terms)
    if isinstance(node, Not):
        return "not " + _operand(node.term, (Or, And))
    if isinstance(node, Selector):
        inner = render(node.term)
        return f"{{ {inner} }}" if inner else "{ }"
    if isinstance(node, Attribute):
        key = f"attr.{node.key}" if _PLAIN_KEY.fullmatch(node.key) else f"attr[{_quote(node.key)}]"
        return f"{key} {node.op} {_literal(node.value)}"
    return _compare(node)


def _operand(node: Node, wrap: tuple[type, ...]) -> str:
    text = _render(node)
    return f"({text})" if isinstance(node, wrap) else text


def _compare(node: Compare) -> str:
    if node.field == "start":
        keyword = {">=": "since", "<": "until"}[node.op]
        return f"{keyword} {iso_utc(float(node.value))}"
    if node.field == "duration":
        return f"duration {node.op} {float(node.value)!r}ms"
    if node.field in ("status", "level"):
        return f"{node.field} {node.op} {node.value}"
    return f"{node.field} {node.op} {_quote(str(node.value))}"


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, float) and math.isinf(value):
        return "1e999" if value > 0 else "-1e999"
    return repr(value)
