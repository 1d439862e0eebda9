"""A query tree as a peewee condition on the traces, spans or logs table: every value a bound
parameter (never text pasted into SQL), attributes read with SQLite's JSON functions.

Each term is written to give exactly what lens_tui/query/predicate.py gives on the rows the
reader builds (TraceSummary, SpanRow, LogRow): the same derived statuses and levels, the same
treatment of NULL and non-finite numbers, the same Unicode case folding for `~`. A term may
yield NULL where Python says False; NULL only ever reaches WHERE (false) or `NOT ifnull(x, 0)`.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable

from peewee import (
    SQL,
    Case,
    Cast,
    Model,
    ModelAlias,
    Node,
    NodeList,
    Value,
    fn,
)

from lens_tui.levels import ALIASES, LEVELS, RANK, spellings
from lens_tui.query.ast import NEGATED, And, Attribute, Compare, Not, Or, Selector
from lens_tui.query.ast import Node as QueryNode
from lens_tui.schema import MODELS, SPAN_STATUSES, Log, Span, Trace, column_names
from lens_tui.store.filters import name_condition as contains_condition
from lens_tui.store.layout import Layout

FULL_LAYOUT = Layout(
    {model._meta.table_name: frozenset(column_names(model)) for model in MODELS}, True
)
"""Every table and column of the current schema: for SQL shown without a database."""

_COMPARE: dict[str, Callable[[object, object], Node]] = {
    "=": operator.eq,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_INF = float("inf")
_WHITESPACE = "".join(chr(c) for c in range(0x3000 + 1) if chr(c).isspace())
"""What str.strip() removes (levels are stripped before they are read)."""
_ID_END = "\U0010ffff"
_JSON5 = 2
"""json_valid flag: accept JSON5, a superset of JSON holding NaN and Infinity, which Python's
json module writes for float('nan') and float('inf') attributes (and reads back)."""


def _value(value: object) -> Value:
    return Value(value, converter=False)


def _true() -> Node:
    return SQL("1")


def _not(node: Node) -> Node:
    return NodeList((SQL("NOT"), fn.ifnull(node, 0)), parens=True)


def _join(nodes: list[Node], glue: str) -> Node:
    # Flat, not nested binary expressions: peewee renders nesting recursively.
    return nodes[0] if len(nodes) == 1 else NodeList(nodes, glue=f" {glue} ", parens=True)


def _finite(column: Node) -> Node:
    """Numbers the reader decodes (`_ms`): not NULL, not text, not an infinity."""
    return (column > _value(-_INF)) & (column < _value(_INF))


def json_path(key: str) -> str:
    """The SQLite JSON path of a top-level key: `$."odd key"`, escaped as a JSON string."""
    return "$." + json.dumps(key, ensure_ascii=False)


class SqlCompiler:
    """Compiles query trees for one database's tables and columns (missing columns read as
    NULL, as the reader selects them)."""

    def __init__(self, layout: Layout = FULL_LAYOUT) -> None:
        self.layout = layout

    def _col(self, source: type[Model] | ModelAlias, name: str) -> Node:
        table = (source.model if isinstance(source, ModelAlias) else source)._meta.table_name
        if not self.layout.has(table, name):
            return SQL("NULL")
        return getattr(source, {"trace_id": "trace"}.get(name, name) if table == "spans" else name)

    # ---- tree walks

    def trace(self, node: QueryNode) -> Node:
        """Condition on the `traces` table (peewee's `Trace`)."""
        return self._walk(node, self._trace_term)

    def span(self, node: QueryNode, source: type[Model] | ModelAlias = Span) -> Node:
        """Condition on one span (`Span` or an alias of it)."""
        return self._walk(node, lambda term: self._span_term(term, source))

    def log(self, node: QueryNode) -> Node:
        """Condition on the `logs` table (peewee's `Log`)."""
        return self._walk(node, self._log_term)

    def _walk(self, node: QueryNode, term: Callable[[QueryNode], Node]) -> Node:
        if isinstance(node, And):
            return (
                _join([self._walk(t, term) for t in node.terms], "AND") if node.terms else _true()
            )
        if isinstance(node, Or):
            return _join([self._walk(t, term) for t in node.terms], "OR")
        if isinstance(node, Not):
            return _not(self._walk(node.term, term))
        if isinstance(node, (Compare, Attribute)) and node.op in NEGATED:
            positive = type(node)(
                node.field if isinstance(node, Compare) else node.key,  # type: ignore[arg-type]
                NEGATED[node.op],
                node.value,
            )
            return _not(term(positive))
        return term(node)

    # ---- the terms of each language

    def _trace_term(self, node: QueryNode) -> Node:
        if isinstance(node, Selector):
            return self._any_span(lambda s: self.span(node.term, s))
        if isinstance(node, Attribute):
            return self._root_span(lambda s: self._attribute(node, self._col(s, "attributes")))
        assert isinstance(node, Compare)
        field = node.field
        if field == "name":
            return self._text(node, self._col(Trace, "root_span_name"))
        if field == "status":
            return self.trace_status_is(str(node.value))
        if field == "duration":
            return self._number(node, self._col(Trace, "duration_ms"))
        if field == "service":
            return self._any_span(lambda s: self._text(node, self._col(s, "service")))
        if field == "trace":
            return self._prefix(node, self._col(Trace, "trace_id"))
        if field == "start":
            return self._start(node, self._col(Trace, "started_at"))
        raise AssertionError(f"not a trace field: {field}")  # pragma: no cover - the parser checks

    def _span_term(self, node: QueryNode, s: type[Model] | ModelAlias) -> Node:
        if isinstance(node, Attribute):
            return self._attribute(node, self._col(s, "attributes"))
        assert isinstance(node, Compare)
        field = node.field
        if field in ("name", "service", "kind"):
            return self._text(node, self._col(s, field))
        if field == "status":
            return self._span_status(s) == _value(node.value)
        if field == "duration":
            return self._number(node, self._col(s, "duration_ms"))
        if field == "start":
            return self._start(node, self._col(s, "started_at"))
        raise AssertionError(f"not a span field: {field}")  # pragma: no cover - the parser checks

    def _log_term(self, node: QueryNode) -> Node:
        if isinstance(node, Attribute):
            return self._attribute(node, self._col(Log, "attributes"))
        assert isinstance(node, Compare)
        field = node.field
        if field in ("message", "logger", "service"):
            return self._text(node, self._col(Log, field))
        if field == "level":
            return self._level(node)
        if field in ("trace", "span"):
            return self._prefix(node, self._col(Log, f"{field}_id"))
        if field == "start":
            return self._start(node, self._col(Log, "timestamp"))
        raise AssertionError(f"not a log field: {field}")  # pragma: no cover - the parser checks

    # ---- building blocks

    def _root_span(self, condition: Callable[[ModelAlias], Node]) -> Node:
        """The trace's root span satisfies `condition`: the span the trace row names (by the
        primary key), or, where the row names none, the trace's parentless span(s)."""
        root_id = self._col(Trace, "root_span_id")
        named = Span.alias()
        by_id = fn.EXISTS(
            named.select(SQL("1")).where(
                (named.span_id == root_id) & (named.trace == Trace.trace_id) & condition(named)
            )
        )
        parentless = self._any_span(
            lambda s: self._col(s, "parent_span_id").is_null() & condition(s)
        )
        return Case(None, [(root_id.is_null(False), by_id)], parentless)

    def _any_span(self, condition: Callable[[ModelAlias], Node]) -> Node:
        s = Span.alias()
        sub = s.select(SQL("1")).where((s.trace == Trace.trace_id) & condition(s))
        return fn.EXISTS(sub)

    @staticmethod
    def _text(node: Compare, column: Node) -> Node:
        """`=` and `~` on a text column; NULL reads as '' (the reader's `_text`/`_opt_text`:
        equal to nothing but '', containing only '')."""
        if node.op == "~":
            return contains_condition(str(node.value), column)
        return (
            fn.coalesce(column, "") == _value(node.value)
            if node.value == ""
            else column == _value(node.value)
        )

    @staticmethod
    def _number(node: Compare, column: Node) -> Node:
        return _finite(column) & _COMPARE[node.op](column, _value(float(node.value)))

    @staticmethod
    def _start(node: Compare, column: Node) -> Node:
        """A time as the reader decodes it (`_ms(x) or 0.0`): a finite number, else 0.0."""
        bound = float(node.value)
        compare = _COMPARE[node.op]
        condition = _finite(column) & compare(column, _value(bound))
        if compare(0.0, bound):  # rows without a usable time read as 0.0, and 0.0 passes
            condition = condition | _not(_finite(column))
        return condition

    @staticmethod
    def _prefix(node: Compare, column: Node) -> Node:
        """The id starts with the text (or its lower case: ids are stored lower-case hex),
        as index ranges."""
        prefix = str(node.value)
        ranges = [
            (column >= _value(p)) & (column < _value(p + _ID_END))
            for p in dict.fromkeys((prefix, prefix.lower()))
        ]
        return _join(ranges, "OR")

    def trace_status_is(self, status: str) -> Node:
        """The trace's status is `status`, as the trace list shows it: the reader's
        `_trace_status`, and `error` whenever an error was counted (the list's `is_error`)."""
        stored = fn.lower(self._col(Trace, "status"))
        failed = (fn.ifnull(Cast(self._col(Trace, "error_count"), "INTEGER"), 0) != 0) | (
            stored == "error"
        )
        if not self.layout.has("traces", "status") and not self.layout.has("traces", "error_count"):
            # The original layout: the reader counts failed spans (error_message set).
            s = Span.alias()
            failed = fn.EXISTS(
                s.select(SQL("1")).where(
                    (s.trace == Trace.trace_id) & self._col(s, "error_message").is_null(False)
                )
            )
        if status == "error":
            return failed
        # Not stored as a known status: derived from the duration (none while running).
        unknown = fn.ifnull(stored.in_(SPAN_STATUSES), 0) == 0
        finite = fn.ifnull(_finite(self._col(Trace, "duration_ms")), 0)
        derived = (finite != 0) if status == "ok" else (finite == 0)
        return _not(failed) & ((stored == _value(status)) | (unknown & derived))

    def _span_status(self, s: type[Model] | ModelAlias) -> Node:
        """The reader's `_span_status`: the stored status, else error with an error message,
        running without a duration, else ok."""
        stored = fn.lower(self._col(s, "status"))
        return Case(
            None,
            [
                (stored.in_(SPAN_STATUSES), stored),
                (self._col(s, "error_message").is_null(False), "error"),
                (fn.ifnull(_finite(self._col(s, "duration_ms")), 0) == 0, "running"),
            ],
            "ok",
        )

    def _level(self, node: Compare) -> Node:
        """The level as `normalise_level` reads it, compared by rank: the usual spellings by
        a list, any other through the same steps as Python (strip, lower, alias, warn…)."""
        rank = RANK[str(node.value)]
        compare = _COMPARE[node.op]
        wanted = [level for level in LEVELS if compare(RANK[level], rank)]
        if not wanted:
            return SQL("0")
        stored = self._col(Log, "level")
        text = fn.lower(fn.trim(stored, _value(_WHITESPACE)))
        aliases = Case(
            text, [(_value(alias), _value(level)) for alias, level in ALIASES.items()], None
        )
        normalised = Case(
            None,
            [
                (text.in_(LEVELS), text),
                (aliases.is_null(False), aliases),
                (fn.substr(text, 1, 4) == "warn", "warn"),
            ],
            "info",
        )
        known = [spelling for level in LEVELS for spelling in spellings(level)]
        chosen = [spelling for level in wanted for spelling in spellings(level)]
        return Case(None, [(stored.in_(known), stored.in_(chosen))], normalised.in_(wanted))

    def _attribute(self, node: Attribute, attributes: Node) -> Node:
        """One key of the attributes' JSON object against a value (see `Attribute`)."""
        path = _value(json_path(node.key))
        kind = fn.json_type(attributes, path)
        value = fn.json_extract(attributes, path)
        literal = node.value
        if isinstance(literal, bool):
            test: Node = kind == ("true" if literal else "false")
        elif isinstance(literal, str):
            if node.op == "~":
                test = (kind == "text") & contains_condition(literal, value)
            else:  # the value test first: most rows hold another value
                test = _COMPARE[node.op](value, _value(literal)) & (kind == "text")
        else:
            compare = _COMPARE[node.op]
            number = _value(literal)
            # A string that is exactly a JSON number ("42") compares as that number.
            numeric_text = Case(
                None,
                [
                    (
                        fn.json_valid(value),
                        fn.json_type(value).in_(("integer", "real"))
                        & compare(fn.json_extract(value, "$"), number),
                    )
                ],
                0,
            )
            test = Case(
                kind,
                [
                    ("integer", compare(value, number)),
                    ("real", compare(value, number)),
                    ("text", numeric_text),
                ],
                0,
            )
        # json_type raises on malformed JSON: only valid documents are looked into.
        return Case(None, [(fn.json_valid(attributes, _JSON5), test)], 0)
