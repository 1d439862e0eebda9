"""Compiled queries: one parsed tree, its SQL and its rule for live rows, in the shape of the
store's filters (lens_tui/store/filters.py: `TraceWhere`, `LogWhere`), so the reader and the
dashboard take a query wherever they take a filter."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from peewee import Node as SqlNode

from lens_tui.query import predicate
from lens_tui.query.ast import EVERYTHING, Node
from lens_tui.query.parser import parse
from lens_tui.query.sql import FULL_LAYOUT, SqlCompiler
from lens_tui.schema import Log, Trace
from lens_tui.store.filters import LogScope, LogWhere, TraceWhere
from lens_tui.store.layout import Layout
from lens_tui.store.records import LogRow, SpanRow, TraceSummary


class SpansNeeded(ValueError):
    """`TraceQuery.matches` was asked about a trace without the spans its terms are about."""


@dataclass(frozen=True)
class TraceQuery:
    """A trace query as a `TraceWhere`: `sql_where` selects from `traces` what `matches` keeps.

    A query about spans (`{ }`, `service`, `attr.KEY`: `needs_spans`) cannot be decided from a
    TraceSummary alone: give `matches` the trace's spans, or ask the store which of some live
    traces match (`only(ids)` as the reader's `where`: lens_tui.query.run.matching_trace_ids).
    """

    text: str
    tree: Node
    _test: predicate.TracePredicate = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_test", predicate.trace_predicate(self.tree))

    @property
    def is_empty(self) -> bool:
        """True for the empty query (every trace)."""
        return self.tree == EVERYTHING

    @property
    def needs_spans(self) -> bool:
        """True when a term is about spans: `matches` then needs the trace's spans."""
        return predicate.needs_spans(self.tree)

    def condition(self, layout: Layout = FULL_LAYOUT) -> SqlNode:
        """The query as one peewee condition on `Trace`."""
        return SqlCompiler(layout).trace(self.tree)

    def sql_where(self, layout: Layout, now: float | None = None) -> list[SqlNode]:
        """`TraceWhere`: the conditions on `traces` (none for the empty query). `since` and
        `until` were fixed when the query was compiled; `now` is not used."""
        return [] if self.is_empty else [self.condition(layout)]

    def matches(
        self,
        trace: TraceSummary,
        now: float | None = None,
        *,
        spans: Sequence[SpanRow] | None = None,
    ) -> bool:
        """`TraceWhere`: whether a live trace is kept; `spans` are its spans (all of them, or
        at least its root for root attributes), required when `needs_spans`."""
        if spans is None:
            if self.needs_spans:
                raise SpansNeeded(f"the query {self.text!r} needs the trace's spans")
            spans = ()
        return self._test(trace, spans)

    def only(self, trace_ids: Iterable[str]) -> TraceWhere:
        """The same query restricted to some traces (to judge live rows by the store)."""
        return OnlyTraces(self, tuple(dict.fromkeys(trace_ids)))

    def sql(self, layout: Layout = FULL_LAYOUT, limit: int = 50) -> tuple[str, list[Any]]:
        """The trace list's statement for this query, newest first: SQL text and parameters."""
        query = Trace.select().order_by(Trace.started_at.desc()).limit(limit)
        conditions = self.sql_where(layout)
        return (query.where(*conditions) if conditions else query).sql()


@dataclass(frozen=True)
class OnlyTraces:
    """A trace filter within given trace ids (`TraceWhere`): how the store is asked about live
    rows (lens_tui.query.run.matching_trace_ids)."""

    where: TraceWhere
    trace_ids: tuple[str, ...]

    def sql_where(self, layout: Layout, now: float | None = None) -> list[SqlNode]:
        """The ids, and the filter's conditions."""
        return [Trace.trace_id.in_(self.trace_ids), *self.where.sql_where(layout, now)]

    def matches(self, trace: TraceSummary, now: float | None = None) -> bool:
        """One of the ids, and kept by the filter."""
        return trace.trace_id in self.trace_ids and self.where.matches(trace, now)


@dataclass(frozen=True)
class AllTraces:
    """Traces every filter keeps (`TraceWhere`): a query and the list's `e`/`d` filter."""

    filters: tuple[TraceWhere, ...]

    def sql_where(self, layout: Layout, now: float | None = None) -> list[SqlNode]:
        """Every filter's conditions."""
        return [c for f in self.filters for c in f.sql_where(layout, now)]

    @property
    def needs_spans(self) -> bool:
        """True when a filter is a query about spans: judge live rows by the store."""
        return any(needs_spans(f) for f in self.filters)

    def matches(self, trace: TraceSummary, now: float | None = None) -> bool:
        """Whether every filter keeps a live trace (SpansNeeded when `needs_spans`)."""
        return all(f.matches(trace, now) for f in self.filters)


def needs_spans(where: TraceWhere) -> bool:
    """Whether a trace filter cannot judge a TraceSummary alone (a query about spans)."""
    return bool(getattr(where, "needs_spans", False))


@dataclass(frozen=True)
class SpanQuery:
    """A span query (`{ duration > 10ms and service = "db" }`, or its inside alone): which
    spans of a trace match, in SQL (`condition`, on `Span`) and on a SpanRow (`matches`)."""

    text: str
    tree: Node
    _test: predicate.SpanPredicate = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_test", predicate.span_predicate(self.tree))

    def condition(self, layout: Layout = FULL_LAYOUT) -> SqlNode:
        """The WHERE condition on peewee's `Span`."""
        return SqlCompiler(layout).span(self.tree)

    def matches(self, span: SpanRow) -> bool:
        """Whether `span` matches."""
        return self._test(span)


@dataclass(frozen=True)
class LogQuery:
    """A log query as a `LogWhere` over all logs: `sql_where` selects what `matches` keeps.
    `within(scope)` narrows it to the log pane's scope (a trace, a span subtree, a level)."""

    text: str
    tree: Node
    _test: predicate.LogPredicate = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_test", predicate.log_predicate(self.tree))

    @property
    def is_empty(self) -> bool:
        """True for the empty query (every log)."""
        return self.tree == EVERYTHING

    @property
    def trace_id(self) -> str | None:
        """`LogWhere`: any trace."""
        return None

    @property
    def span_ids(self) -> frozenset[str] | None:
        """`LogWhere`: any span."""
        return None

    def level_spellings(self) -> list[str] | None:
        """`LogWhere`: None (levels in the query are part of `sql_where`)."""
        return None

    def condition(self, layout: Layout = FULL_LAYOUT) -> SqlNode:
        """The query as one peewee condition on `Log`."""
        return SqlCompiler(layout).log(self.tree)

    def sql_where(
        self, layout: Layout, now: float | None = None, *, levels: bool = True
    ) -> list[SqlNode]:
        """`LogWhere`: the conditions on `logs` (none for the empty query)."""
        return [] if self.is_empty else [self.condition(layout)]

    def for_trace(self, trace_id: str) -> LogWhere:
        """`LogWhere`: the query within one trace."""
        return ScopedLogs(LogScope(trace_id=trace_id), self)

    def in_scope(self, log: LogRow) -> bool:
        """`LogWhere`: every log is in scope."""
        return True

    def matches(self, log: LogRow, now: float | None = None) -> bool:
        """`LogWhere`: whether a live log is kept."""
        return self._test(log)

    def within(self, scope: LogWhere) -> LogWhere:
        """The logs both the pane's scope and this query keep."""
        return ScopedLogs(scope, self)

    def sql(self, layout: Layout = FULL_LAYOUT, limit: int = 50) -> tuple[str, list[Any]]:
        """The newest matching logs' statement: SQL text and parameters."""
        query = Log.select().order_by(Log.id.desc()).limit(limit)
        conditions = self.sql_where(layout)
        return (query.where(*conditions) if conditions else query).sql()


@dataclass(frozen=True)
class ScopedLogs:
    """A `LogWhere`: the logs a scope (trace, span subtree, minimum level, text) keeps that a
    query keeps too. The scope plans the read (its trace's index, its level spellings)."""

    scope: LogWhere
    query: LogQuery

    @property
    def trace_id(self) -> str | None:
        """The scope's trace."""
        return self.scope.trace_id

    @property
    def span_ids(self) -> frozenset[str] | None:
        """The scope's span subtree."""
        return self.scope.span_ids

    def level_spellings(self) -> list[str] | None:
        """The scope's level spellings."""
        return self.scope.level_spellings()

    def sql_where(
        self, layout: Layout, now: float | None = None, *, levels: bool = True
    ) -> list[SqlNode]:
        """The scope's conditions and the query's."""
        return [
            *self.scope.sql_where(layout, now, levels=levels),
            *self.query.sql_where(layout, now),
        ]

    def for_trace(self, trace_id: str) -> LogWhere:
        """Both within one trace."""
        return ScopedLogs(self.scope.for_trace(trace_id), self.query)

    def in_scope(self, log: LogRow) -> bool:
        """The scope's rule."""
        return self.scope.in_scope(log)

    def matches(self, log: LogRow, now: float | None = None) -> bool:
        """Kept by the scope and by the query."""
        return self.scope.matches(log, now) and self.query.matches(log, now)


def compile_trace_query(text: str, *, now_ms: float | None = None) -> TraceQuery:
    """Parse and compile a trace query; `now_ms` anchors `since`/`until`. Raises QueryError."""
    return TraceQuery(text, parse(text, "trace", now_ms=now_ms))


def compile_log_query(text: str, *, now_ms: float | None = None) -> LogQuery:
    """Parse and compile a log query. Raises QueryError."""
    return LogQuery(text, parse(text, "log", now_ms=now_ms))


def compile_span_query(text: str, *, now_ms: float | None = None) -> SpanQuery:
    """Parse and compile a span query: one `{ ... }` selector, or the terms of one (bare words
    search span names, as the waterfall's `/` does). Raises QueryError."""
    return SpanQuery(text, parse(text, "span", now_ms=now_ms))
