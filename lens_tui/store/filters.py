"""What the trace list and the log pane keep: each filter states its SQL and its rule for live
rows side by side, so a query and a live row can never be judged differently.

Rows reach the dashboard two ways: read by a query (a first load, a new filter, a page of
older rows) and arriving live (the tail). A row kept live must still be listed after a
reload, and the reverse; so one object answers both questions, and nothing outside this
module decides what a filter keeps. The protocol (`TraceWhere`, `LogWhere`):

- `sql_where(layout, now=None) -> list[Node]`: peewee conditions, ANDed, that select from
  the filter's table (`traces`, `logs`) the rows it keeps, in a file of that `Layout`;
- `matches(row, now=None) -> bool`: the same rule on a decoded record (`TraceSummary`,
  `LogRow`), for rows that arrive live;

`now` is the caller's clock in epoch milliseconds (how long a running trace has run so far),
None where no clock applies. The reader (`lens_tui.store.queries`) builds its WHERE only from
`sql_where`; the UI asks only `matches`.

A log filter also tells the log queries how to plan (`LogWhere`): `trace_id` (read by the
(trace_id, id) index), `span_ids` (a span subtree, decided on the fetched rows by `in_scope`:
no SQL list of 100,000 ids), `level_spellings()` (one index range per stored spelling; None
keeps every level) and `for_trace()`. A filter that cannot say returns None for all three and
gets the plain plan: `sql_where`, newest first by id.

Replacing these filters (the query language) is a change of this module: new classes with the
same methods, built where `TraceFilter` and `LogScope` are built today. SQL functions a filter
calls are registered on every reader connection by `register_sql_functions`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Protocol

import apsw
from peewee import (
    SQL,
    Case,
    Cast,
    Expression,
    Field,
    Function,
    Node,
    NodeList,
    Value,
    fn,
)

from lens_tui.levels import LEVELS, RANK, spellings
from lens_tui.schema import Log, Span, Trace
from lens_tui.store.decode import as_text
from lens_tui.store.layout import Layout
from lens_tui.store.records import LogRow, TraceSummary


class TraceWhere(Protocol):
    """Which traces a list keeps: its SQL and its rule for live rows."""

    def sql_where(self, layout: Layout, now: float | None = None) -> list[Node]:
        """Conditions on `traces` that select the traces `matches` keeps."""
        ...

    def matches(self, trace: TraceSummary, now: float | None = None) -> bool:
        """Whether a live trace is kept."""
        ...


class LogWhere(Protocol):
    """Which logs a pane keeps: its SQL, its rule for live rows, and what the log queries plan
    with."""

    @property
    def trace_id(self) -> str | None:
        """Only logs of this trace (None: any)."""
        ...

    @property
    def span_ids(self) -> frozenset[str] | None:
        """Only logs of these spans (None: any); not part of `sql_where`."""
        ...

    def level_spellings(self) -> list[str] | None:
        """The stored level spellings kept (None: every level)."""
        ...

    def sql_where(
        self, layout: Layout, now: float | None = None, *, levels: bool = True
    ) -> list[Node]:
        """Conditions on `logs` for what `matches` keeps except the span subtree (and, with
        `levels` False, except the level)."""
        ...

    def for_trace(self, trace_id: str) -> LogWhere:
        """The same filter within one trace."""
        ...

    def in_scope(self, log: LogRow) -> bool:
        """Whether a log belongs to the trace/spans (before level and text)."""
        ...

    def matches(self, log: LogRow, now: float | None = None) -> bool:
        """Whether a live log is kept."""
        ...


# --------------------------------------------------------------------------- names


def name_matches(name: str, text: str) -> bool:
    """The trace list's name filter: `text` occurs in `name` ignoring case the Unicode way
    (`str.casefold`: "ÜBER" finds "über", "STRASSE" finds "straße"), every character literal.
    `name_condition` is exactly this rule in SQL."""
    return text.casefold() in name.casefold()


NAME_FUNCTION = "lens_name_contains"
"""A SQL function on every reader connection: `name_matches` on a stored name."""


def _sql_name_contains(stored: object, folded: str) -> bool:
    """`NAME_FUNCTION`: `stored` is the cell as `as_text` decodes it (TEXT arrives as a BLOB:
    invalid UTF-8 in a TEXT argument would make APSW fail the whole query)."""
    return folded in as_text(stored).casefold()


def register_sql_functions(conn: apsw.Connection) -> None:
    """Register the functions filters call on one reader connection (nothing is written);
    DIRECTONLY: no view or trigger stored in the file may call them."""
    conn.create_scalar_function(
        NAME_FUNCTION, _sql_name_contains, 2, deterministic=True, flags=apsw.SQLITE_DIRECTONLY
    )


def name_condition(needle: str, name: Field | None = None) -> Node:
    """`name_matches(cell, needle)` in SQL, on traces' root_span_name or, given `name`, on
    another name column (spans' names: `TraceReader.find_spans`).

    A Python function per row would hold the GIL the UI thread needs once per trace scanned
    (a rare name over 100,000 traces: 33 ms alone, 700 ms beside a busy thread). Names that are
    ASCII text, nearly all of them, are decided by LIKE in C instead, which is exact there:
    casefold of ASCII is ASCII lower case, and LIKE folds ASCII case (with `%`, `_` and `\\`
    escaped). The test is length() == octet_length(): every byte counts as one character, so
    the cell holds no UTF-8 sequence of two or more bytes (a NUL stops length(): unequal).
    Lone bytes >= 0x80 may remain: Python decodes each to U+FFFD, LIKE to some non-ASCII
    character, so an ASCII needle matches both or neither; a needle with other non-ASCII
    characters matches neither; one with U+FFFD goes to Python. Other cells go to Python."""
    name = Trace.root_span_name if name is None else name
    folded = needle.casefold()
    is_text = fn.typeof(name) == "text"
    cell = Case(None, [(is_text, Cast(name, "BLOB"))], name)
    in_python = Function(NAME_FUNCTION, (cell, Value(folded, converter=False)), coerce=False)
    if folded.isascii():
        escaped = folded.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        if "\x00" in folded or len(pattern) > 10_000:
            return in_python  # LIKE ends a pattern at NUL, refuses one over 50,000 bytes
        # Spelled out: peewee's SQLite dialect turns its LIKE operator into GLOB.
        ascii_rows: Node = NodeList(
            (name, SQL("LIKE"), Value(pattern, converter=False), SQL("ESCAPE '\\'"))
        )
    elif "\ufffd" in folded and folded.replace("\ufffd", "").isascii():
        return in_python
    else:
        ascii_rows = SQL("0")
    only_single_bytes = is_text & (fn.length(name) == fn.octet_length(name))
    return Case(None, [(only_single_bytes, ascii_rows)], in_python)


# --------------------------------------------------------------------------- traces


def is_error(trace: TraceSummary) -> bool:
    """Whether a trace failed anywhere (`error_condition` in SQL, which compares a stored
    status exactly: "ERROR" reads as error here but is not selected there)."""
    return trace.status == "error" or bool(trace.error_count)


def error_condition(layout: Layout) -> Expression:
    """Traces that failed anywhere, by what the layout records: a status, an error count, or
    (the original layout) a span with an error message."""
    if layout.has("traces", "status") and layout.has("traces", "error_count"):
        return (Trace.status == "error") | (Trace.error_count > 0)
    if layout.has("traces", "status"):
        return Trace.status == "error"
    if layout.has("traces", "error_count"):
        return Trace.error_count > 0
    errored = Span.select(Span.trace).where(Span.error_message.is_null(False))
    return Trace.trace_id.in_(errored)


SLOW_STEPS_MS: tuple[float | None, ...] = (None, 10.0, 100.0, 1_000.0, 10_000.0)
"""The trace list's minimum durations, in the order `TraceFilter.slower` goes through them."""


@dataclass(frozen=True, slots=True)
class TraceFilter:
    """Which traces the list shows: a root-name substring, errors only, a minimum duration."""

    name: str = ""
    errors_only: bool = False
    min_duration_ms: float | None = None
    """Traces that took at least this long, or that have been running that long by `now`
    (their duration will be at least that)."""

    def sql_where(self, layout: Layout, now: float | None = None) -> list[Node]:
        """The filter on `traces`: `name_condition`, `error_condition`, and the duration (or,
        running, the time since the start at `now`; every running one without `now`)."""
        conditions: list[Node] = []
        if self.name:
            conditions.append(name_condition(self.name))
        if self.errors_only:
            conditions.append(error_condition(layout))
        if self.min_duration_ms is not None and layout.has("traces", "duration_ms"):
            least = float(self.min_duration_ms)
            running = Trace.duration_ms.is_null()
            if now is not None:
                running &= Trace.started_at <= float(now) - least
            conditions.append(running | (Trace.duration_ms >= least))
        return conditions

    def matches(self, trace: TraceSummary, now: float | None = None) -> bool:
        """`sql_where` on a live row (`name_matches`, `is_error`, the duration): a live row is
        kept exactly when a reload would list it."""
        if self.errors_only and not is_error(trace):
            return False
        least = self.min_duration_ms
        if least is not None:
            took = trace.duration_ms
            if took is None:  # running: for how long so far
                took = None if now is None else now - trace.started_at
            if took is not None and took < least:
                return False
        return not self.name or name_matches(trace.root_span_name, self.name)

    def query(self, now: float | None = None) -> dict[str, Any]:
        """The `TraceReader.recent_traces` arguments that apply this filter at `now`."""
        return {"where": self, "now_ms": now}

    def slower(self) -> TraceFilter:
        """The next minimum duration of `SLOW_STEPS_MS` (after the last: none)."""
        least = self.min_duration_ms
        at = SLOW_STEPS_MS.index(least) if least in SLOW_STEPS_MS else 0
        return replace(self, min_duration_ms=SLOW_STEPS_MS[(at + 1) % len(SLOW_STEPS_MS)])


# --------------------------------------------------------------------------- logs


@dataclass(frozen=True, slots=True)
class LogTally:
    """The log pane's counts at one moment: through log id `upto`, after `loads` loads."""

    upto: int
    counts: dict[str, int]
    loads: int


@dataclass(frozen=True, slots=True)
class LogScope:
    """Which logs the pane shows: whose (all, a trace, a span subtree), how loud, what text."""

    trace_id: str | None = None
    span_ids: frozenset[str] | None = None
    """The selected span and its descendants; None for the whole trace (or all logs)."""
    label: str = "all recent"
    """Whose logs, for the title (already made visible)."""
    min_level: str = "debug"
    """One of LEVELS (normalised)."""
    text: str = ""

    @property
    def levels(self) -> tuple[str, ...]:
        """The levels shown: `min_level` and louder."""
        return LEVELS[RANK[self.min_level] :]

    def level_spellings(self) -> list[str] | None:
        """The stored spellings of `levels` (`lens_tui.levels.spellings`), None when every
        level is shown."""
        if RANK[self.min_level] == 0:
            return None
        return [spelling for level in self.levels for spelling in spellings(level)]

    def sql_where(
        self, layout: Layout, now: float | None = None, *, levels: bool = True
    ) -> list[Node]:
        """The filter on `logs` except the span subtree (`in_scope` decides that on the
        fetched rows): the trace, the text (LIKE, `%`/`_` literal) and, unless `levels` is
        False, the level's stored spellings."""
        conditions: list[Node] = []
        if self.trace_id is not None:
            conditions.append(Log.trace_id == self.trace_id)
        if self.text:
            conditions.append(Log.message.contains(self.text))
        shown = self.level_spellings() if levels else None
        if shown is not None:
            conditions.append(Log.level.in_(shown))
        return conditions

    def for_trace(self, trace_id: str) -> LogScope:
        """The same scope and filters within one trace (a span subtree's logs are read trace
        by trace)."""
        return replace(self, trace_id=trace_id)

    def in_scope(self, log: LogRow) -> bool:
        """Whether a log belongs to this trace/span (before level and text filters)."""
        if self.trace_id is not None and log.trace_id != self.trace_id:
            return False
        return self.span_ids is None or log.span_id in self.span_ids

    def matches(self, log: LogRow, now: float | None = None) -> bool:
        """Whether the pane shows this log: `sql_where` and `in_scope` on a live row.

        Two cases are judged differently by the SQL: a `text` with non-ASCII letters (LIKE
        folds ASCII case only, `casefold` all of Unicode) and, above debug, a stored level
        outside `spellings` (" warn ", "chatty": read as warn and info, not listed in SQL)."""
        if RANK.get(log.level, 1) < RANK[self.min_level]:
            return False
        if self.text and self.text.casefold() not in log.message.casefold():
            return False
        return self.in_scope(log)

    def with_level(self, level: str) -> LogScope:
        """The same scope at another minimum level."""
        return replace(self, min_level=level)
