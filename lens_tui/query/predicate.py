"""A query tree as a Python predicate over the rows the reader builds: TraceSummary (with its
spans where a term needs them), SpanRow, LogRow. The same answers as lens_tui/query/sql.py
gives on the stored rows; where Python and SQLite differ (NULL, JSON numbers, case folding)
this side follows what SQLite does."""

from __future__ import annotations

import json
import math
import operator
import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from operator import attrgetter
from typing import Any

from lens_tui.levels import RANK
from lens_tui.query.ast import NEGATED, And, Attribute, Compare, Node, Not, Or, Selector
from lens_tui.query.parser import number
from lens_tui.store.decode import UNPARSED_KEY
from lens_tui.store.filters import name_matches
from lens_tui.store.records import LogRow, SpanRow, TraceSummary

TracePredicate = Callable[[TraceSummary, Sequence[SpanRow]], bool]
SpanPredicate = Callable[[SpanRow], bool]
LogPredicate = Callable[[LogRow], bool]

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_JSON_NUMBER = re.compile(r"[ \t\n\r]*(-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?)[ \t\n\r]*")
"""A string SQLite's json_valid() takes for a JSON number (RFC 8259: no '+', no leading 0)."""
_INT64 = (-(2**63), 2**63 - 1)
_MISSING = object()


def _walk(node: Node, term: Callable[[Node], Callable[[Any], bool]]) -> Callable[[Any], bool]:
    """The predicate of a tree over one kind of row; `term` compiles a single term."""
    if isinstance(node, And):
        parts = [_walk(t, term) for t in node.terms]
        return lambda row: all(part(row) for part in parts)
    if isinstance(node, Or):
        parts = [_walk(t, term) for t in node.terms]
        return lambda row: any(part(row) for part in parts)
    if isinstance(node, Not):
        inner = _walk(node.term, term)
        return lambda row: not inner(row)
    if isinstance(node, (Compare, Attribute)) and node.op in NEGATED:
        positive = term(
            type(node)(
                node.field if isinstance(node, Compare) else node.key,  # type: ignore[arg-type]
                NEGATED[node.op],
                node.value,
            )
        )
        return lambda row: not positive(row)
    return term(node)


# --------------------------------------------------------------------------- values


def _text(node: Compare, get: Callable[[Any], str | None]) -> Callable[[Any], bool]:
    """`=` and `~` with NULL read as ''."""
    value = str(node.value)
    if node.op == "~":
        return lambda row: name_matches(get(row) or "", value)
    return lambda row: (get(row) or "") == value


def _number(node: Compare, get: Callable[[Any], float | None]) -> Callable[[Any], bool]:
    compare, bound = _COMPARE[node.op], float(node.value)

    def test(row: Any) -> bool:
        value = get(row)
        return value is not None and compare(value, bound)

    return test


def _prefix(node: Compare, get: Callable[[Any], str | None]) -> Callable[[Any], bool]:
    prefixes = tuple(dict.fromkeys((str(node.value), str(node.value).lower())))

    def test(row: Any) -> bool:
        value = get(row)
        return value is not None and value.startswith(prefixes)

    return test


def _as_sqlite_number(value: object) -> int | float | None:
    """A JSON value as SQLite's json_extract compares it with a number, or None: integers
    beyond 64 bits become floats, a string that is exactly a JSON number becomes that number."""
    kind = type(value)
    if kind is int:
        return value if _INT64[0] <= value <= _INT64[1] else float(value)  # type: ignore[operator,arg-type]
    if kind is float:
        return None if math.isnan(value) else value  # type: ignore[arg-type]  # SQLite: NaN is NULL
    if kind is str:
        match = _JSON_NUMBER.fullmatch(value)  # type: ignore[arg-type]
        return number(match.group(1)) if match else None
    return None


def attribute_test(node: Attribute) -> Callable[[object], bool]:
    """Whether a decoded JSON value (`_MISSING` when the key is absent) satisfies the term."""
    literal = node.value
    if isinstance(literal, bool):
        return lambda value: type(value) is bool and value is literal
    if isinstance(literal, str):
        if node.op == "~":
            return lambda value: type(value) is str and name_matches(value, literal)  # type: ignore[arg-type]
        compare = _COMPARE[node.op]
        return lambda value: type(value) is str and compare(value, literal)
    compare, bound = _COMPARE[node.op], literal

    def numeric(value: object) -> bool:
        number_value = _as_sqlite_number(value)
        return number_value is not None and compare(number_value, bound)

    return numeric


def _parse_json(text: str) -> object:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return _MISSING


@lru_cache(maxsize=1024)
def _log_attributes(text: str) -> dict[str, object] | None:
    """A log's stored attributes as a dict; None unless a JSON object."""
    value = _parse_json(text)
    return value if isinstance(value, dict) else None


def _span_attribute(span: SpanRow, key: str) -> object:
    """The decoded value of `key` in a span's attributes (the last one of that key)."""
    pairs = span.attributes
    if len(pairs) == 1 and pairs[0][0] == UNPARSED_KEY:
        return _MISSING  # the stored text was no JSON object: SQLite sees no keys either
    found: object = _MISSING
    for name, encoded in pairs:
        if name == key:
            found = _parse_json(encoded)
    return found


# --------------------------------------------------------------------------- the languages


def span_predicate(node: Node) -> SpanPredicate:
    """Whether one span satisfies a span tree (the inside of a `{ }`)."""
    return _walk(node, _span_term)


_SPAN_TEXT = {
    "name": attrgetter("name"),
    "service": attrgetter("service"),
    "kind": attrgetter("kind"),
}
_SPAN_NUMBER = {"duration": attrgetter("duration_ms"), "start": attrgetter("started_at")}
_LOG_TEXT = {
    "message": attrgetter("message"),
    "logger": attrgetter("logger"),
    "service": attrgetter("service"),
}
_LOG_PREFIX = {"trace": attrgetter("trace_id"), "span": attrgetter("span_id")}


def _span_term(node: Node) -> Callable[[SpanRow], bool]:
    if isinstance(node, Attribute):
        test, key = attribute_test(node), node.key
        return lambda span: test(_span_attribute(span, key))
    assert isinstance(node, Compare)
    field = node.field
    if field in _SPAN_TEXT:
        return _text(node, _SPAN_TEXT[field])
    if field in _SPAN_NUMBER:
        return _number(node, _SPAN_NUMBER[field])
    if field == "status":
        return lambda span: span.status == node.value
    raise AssertionError(f"not a span field: {field}")  # pragma: no cover - the parser checks


def trace_status(trace: TraceSummary) -> str:
    """`error` when the trace failed anywhere (status or a counted error), else its status."""
    return "error" if trace.status == "error" or trace.error_count else trace.status


def _roots(trace: TraceSummary, spans: Sequence[SpanRow]) -> list[SpanRow]:
    """The trace's root span: the one the trace row names, else (a row that names none) its
    parentless span(s)."""
    if trace.root_span_id is not None:
        return [span for span in spans if span.span_id == trace.root_span_id]
    return [span for span in spans if span.parent_span_id is None]


def trace_predicate(node: Node) -> TracePredicate:
    """Whether a trace (its summary and, for span terms, its spans) satisfies a trace tree."""
    test = _walk(node, _trace_term)
    return lambda trace, spans: test((trace, spans))


def _trace_term(node: Node) -> Callable[[tuple[TraceSummary, Sequence[SpanRow]]], bool]:
    if isinstance(node, Selector):
        inner = span_predicate(node.term)
        return lambda facts: any(inner(span) for span in facts[1])
    if isinstance(node, Attribute):
        test, key = attribute_test(node), node.key
        return lambda facts: any(test(_span_attribute(span, key)) for span in _roots(*facts))
    assert isinstance(node, Compare)
    field = node.field
    if field == "name":
        return _text(node, lambda facts: facts[0].root_span_name)
    if field == "status":
        return lambda facts: trace_status(facts[0]) == node.value
    if field == "duration":
        return _number(node, lambda facts: facts[0].duration_ms)
    if field == "start":
        return _number(node, lambda facts: facts[0].started_at)
    if field == "trace":
        return _prefix(node, lambda facts: facts[0].trace_id)
    if field == "service":
        inner = _text(node, lambda span: span.service)
        return lambda facts: any(inner(span) for span in facts[1])
    raise AssertionError(f"not a trace field: {field}")  # pragma: no cover - the parser checks


def log_predicate(node: Node) -> LogPredicate:
    """Whether one log record satisfies a log tree."""
    return _walk(node, _log_term)


def _log_term(node: Node) -> Callable[[LogRow], bool]:
    if isinstance(node, Attribute):
        test, key = attribute_test(node), node.key

        def attribute(log: LogRow) -> bool:
            found = _log_attributes(log.attributes) if log.attributes else None
            return test(_MISSING if found is None else found.get(key, _MISSING))

        return attribute
    assert isinstance(node, Compare)
    field = node.field
    if field in _LOG_TEXT:
        return _text(node, _LOG_TEXT[field])
    if field in _LOG_PREFIX:
        return _prefix(node, _LOG_PREFIX[field])
    if field == "level":
        compare, rank = _COMPARE[node.op], RANK[str(node.value)]
        return lambda log: compare(RANK[log.level], rank)
    if field == "start":
        return _number(node, attrgetter("timestamp"))
    raise AssertionError(f"not a log field: {field}")  # pragma: no cover - the parser checks


def needs_spans(node: Node) -> bool:
    """Whether a trace tree has a term about spans (a selector, `service`, a root attribute):
    the summary alone cannot decide it."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, (Selector, Attribute)) or (
            isinstance(item, Compare) and item.field == "service"
        ):
            return True
        if isinstance(item, (And, Or)):
            stack.extend(item.terms)
        elif isinstance(item, Not):
            stack.append(item.term)
    return False
