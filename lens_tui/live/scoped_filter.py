"""`ScopedFilter`: the trace list's filter narrowed to a scope with a query text: a route the
overview drilled into (`RouteWhere`), a selection on its latency chart (`LatencyRegion`), or
the trace query the user made of either's text (`TraceQuery`).

The scope is one more `TraceWhere` ANDed with the list's own rules (name, errors only,
minimum duration): its SQL for reloads, its rule for live rows, so the list and a reload
agree as they do for every filter (lens_tui/store/filters.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from peewee import SQL, Node

from lens_tui.query import compile_trace_query
from lens_tui.query.compiled import needs_spans
from lens_tui.store.filters import TraceFilter, TraceWhere
from lens_tui.store.layout import Layout
from lens_tui.store.records import TraceSummary


class Scope(TraceWhere, Protocol):
    """A filter that can say itself as a trace query (docs/query.md)."""

    def query_text(self) -> str:
        """The same traces as a query the user can edit."""
        ...


@dataclass(frozen=True, slots=True)
class QueryScope:
    """A trace query the user typed over a scope's text."""

    text: str
    where: TraceWhere

    @property
    def needs_spans(self) -> bool:
        """Whether the query has terms about spans."""
        return needs_spans(self.where)

    def sql_where(self, layout: Layout, now: float | None = None) -> list[Node]:
        """The query's conditions."""
        return self.where.sql_where(layout, now)

    def matches(self, trace: TraceSummary, now: float | None = None) -> bool:
        """The query on a live row."""
        return self.where.matches(trace, now)

    def query_text(self) -> str:
        """What the user typed."""
        return self.text


def query_scope(text: str, now_ms: float | None) -> QueryScope:
    """`text` compiled as a trace query. Raises QueryError (with a message for the user)."""
    return QueryScope(text, compile_trace_query(text, now_ms=now_ms))


@dataclass(frozen=True, slots=True)
class ScopedFilter(TraceFilter):
    """A `TraceFilter` ANDed with a scope (None: the plain filter)."""

    scope: Scope | None = None

    @property
    def judged_by_store(self) -> bool:
        """The scope has terms about spans (a route's `service = …`, `{ }`, `attr.`): a live
        row's summary cannot decide it, so the list asks the store which arriving rows it
        keeps (`TracesPane`) and `matches` leaves the scope to that answer."""
        return self.scope is not None and needs_spans(self.scope)

    @property
    def scope_text(self) -> str:
        """The scope as a query ("" without one)."""
        return "" if self.scope is None else self.scope.query_text()

    def sql_where(self, layout: Layout, now: float | None = None) -> list[Node]:
        """The list's own conditions and the scope's."""
        conditions = TraceFilter.sql_where(self, layout, now)
        if self.scope is not None:
            conditions.extend(self.scope.sql_where(layout, now))
        return conditions

    def matches(self, trace: TraceSummary, now: float | None = None) -> bool:
        """The list's own rule and the scope's, on a live row (the scope's only when a row's
        summary can decide it: see `judged_by_store`)."""
        scope = self.scope
        if scope is not None and not self.judged_by_store and not scope.matches(trace, now):
            return False
        return TraceFilter.matches(self, trace, now)


def scoped(base: TraceFilter, scope: Scope | None) -> ScopedFilter:
    """`base`'s rules with `scope` (replacing any scope it had)."""
    return ScopedFilter(base.name, base.errors_only, base.min_duration_ms, scope)


class NoTraces:
    """Keeps nothing (`TraceWhere`): rows the store said a scope does not keep leave the list
    through it."""

    def sql_where(self, layout: Layout, now: float | None = None) -> list[Node]:
        """Nothing."""
        return [SQL("0")]

    def matches(self, trace: TraceSummary, now: float | None = None) -> bool:
        """Never."""
        return False
