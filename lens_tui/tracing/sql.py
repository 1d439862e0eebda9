"""The writer's SQL: its upserts, many rows per statement, and opening a database for writing.

Opening switches the file to WAL (SQLite 3.54 through APSW, free of the WAL-reset bug that
several writing processes would hit), sets the checkpoint habits and migrates the schema.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import apsw

from lens_tui import schema, sqlite_check

# fmt: off
SPAN_COLUMNS = (
    "span_id", "trace_id", "parent_span_id", "name", "started_at", "duration_ms",
    "error_message", "input_size", "output_size", "status", "service", "kind", "attributes",
    "events", "links", "exception_type", "traceback", "source_location", "input_body_hash",
    "output_body_hash", "updated_at",
)
# fmt: on
SPAN_UPSERT = (
    schema.placeholders_insert(schema.Span, SPAN_COLUMNS)
    + " ON CONFLICT(span_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in SPAN_COLUMNS[2:])
)
# fmt: off
LOG_COLUMNS = (
    "trace_id", "span_id", "level", "message", "timestamp", "logger", "source_location",
    "service", "attributes", "exception_type", "traceback",
)
# fmt: on
LOG_INSERT = schema.placeholders_insert(schema.Log, LOG_COLUMNS)
# One upsert per trace and batch. A trace new to the database (most) is inserted complete
# (the Python side computes its status and duration): one row and index write, where a seed
# then an UPDATE wrote the row and its started_at/updated_at index entries twice (~2.5 µs per
# trace). A trace already stored (spans across batches) is updated from `excluded`: root
# fields only when this batch has the root (excluded.root_span_id set), then excluded.status
# is the root's status. SET expressions see the old row, so the new bounds are spelled out.
# root_span_name is '' (not NULL) without the root: the original LENS layout declares it NOT
# NULL (tests/reliability/test_07_schema_live.py). Readers show NULL and '' alike.
# fmt: off
TRACE_COLUMNS = (
    "trace_id", "root_span_name", "root_span_id", "source", "service", "started_at", "ended_at",
    "duration_ms", "span_count", "error_count", "status", "updated_at",
)
# fmt: on
_NEW_START = (
    "(CASE WHEN started_at IS NULL OR excluded.started_at < started_at "
    "THEN excluded.started_at ELSE started_at END)"
)
_NEW_END = (
    "(CASE WHEN excluded.ended_at IS NULL THEN ended_at "
    "WHEN ended_at IS NULL OR excluded.ended_at > ended_at THEN excluded.ended_at "
    "ELSE ended_at END)"
)
_NEW_STATUS = (
    "(CASE WHEN coalesce(error_count, 0) + excluded.error_count > 0 THEN 'error' "
    "WHEN excluded.root_span_id IS NOT NULL THEN excluded.status ELSE status END)"
)
TRACE_UPSERT = (
    schema.placeholders_insert(schema.Trace, TRACE_COLUMNS)
    + " ON CONFLICT(trace_id) DO UPDATE SET "
    "root_span_name = CASE WHEN excluded.root_span_id IS NOT NULL "
    "THEN excluded.root_span_name ELSE root_span_name END, "
    "root_span_id = coalesce(excluded.root_span_id, root_span_id), "
    "source = coalesce(excluded.source, source), "
    # The root's service names the trace, even when another service's spans came first.
    "service = CASE WHEN excluded.root_span_id IS NOT NULL THEN coalesce(excluded.service, service) "
    "ELSE coalesce(service, excluded.service) END, "
    f"started_at = {_NEW_START}, ended_at = {_NEW_END}, "
    f"duration_ms = CASE WHEN {_NEW_STATUS} = 'running' THEN NULL "
    f"ELSE {_NEW_END} - {_NEW_START} END, "
    "span_count = coalesce(span_count, 0) + excluded.span_count, "
    "error_count = coalesce(error_count, 0) + excluded.error_count, "
    f"status = {_NEW_STATUS}, updated_at = excluded.updated_at"
)
# A trace whose root is the first of its spans in the batch (most often its only span: a job, a
# CLI call) takes its row from the root's span row, already inserted: SQLite reads it back
# through the span_id index and the ids come in one carray, so the Python side does nothing
# per such trace but name its root. Its other spans, if any later in the batch, come as a
# rootless TRACE_UPSERT row; the two merge either way round.
TRACES_FROM_ROOTS = (
    f"INSERT INTO traces ({', '.join(TRACE_COLUMNS)}) "
    "SELECT s.trace_id, s.name, s.span_id, NULL, s.service, s.started_at, "
    "s.started_at + s.duration_ms, s.duration_ms, 1, 0, 'ok', ?1 "
    "FROM carray(?2) AS r CROSS JOIN spans AS s ON s.span_id = r.value WHERE true"
    + TRACE_UPSERT[TRACE_UPSERT.index(" ON CONFLICT") :]
)
# A trace that crossed processes: its root is the caller's, stored by another writer (or by
# nobody: a caller that records nothing here). The first span of this batch whose parent is
# remote stands in for it: it names the trace and gives its status only while the stored row
# has no root or the same stand-in, so the real root, whenever it comes (TRACE_UPSERT), wins,
# and a stand-in never replaces it. Bounds, counts and errors add up as in TRACE_UPSERT.
_STANDS_IN = "(root_span_id IS NULL OR root_span_id = excluded.root_span_id)"
_STANDIN_STATUS = (
    "(CASE WHEN coalesce(error_count, 0) + excluded.error_count > 0 THEN 'error' "
    f"WHEN {_STANDS_IN} THEN excluded.status ELSE status END)"
)
TRACE_STANDIN_UPSERT = (
    schema.placeholders_insert(schema.Trace, TRACE_COLUMNS)
    + " ON CONFLICT(trace_id) DO UPDATE SET "
    f"root_span_name = CASE WHEN {_STANDS_IN} THEN excluded.root_span_name ELSE root_span_name END, "
    f"root_span_id = CASE WHEN {_STANDS_IN} THEN excluded.root_span_id ELSE root_span_id END, "
    "source = coalesce(source, excluded.source), service = coalesce(service, excluded.service), "
    f"started_at = {_NEW_START}, ended_at = {_NEW_END}, "
    f"duration_ms = CASE WHEN {_STANDIN_STATUS} = 'running' THEN NULL "
    f"ELSE {_NEW_END} - {_NEW_START} END, "
    "span_count = coalesce(span_count, 0) + excluded.span_count, "
    "error_count = coalesce(error_count, 0) + excluded.error_count, "
    f"status = {_STANDIN_STATUS}, updated_at = excluded.updated_at"
)
WRITER_UPSERT = (
    "INSERT INTO writers (writer_id, pid, hostname, service, started_at, last_write_at, "
    "spans_written, logs_written, dropped, errors) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT(writer_id) DO UPDATE SET last_write_at = excluded.last_write_at, "
    "spans_written = excluded.spans_written, logs_written = excluded.logs_written, "
    "dropped = excluded.dropped, errors = excluded.errors"
)
BODY_INSERT = schema.placeholders_insert(
    schema.Body,
    ("hash", "body", "is_compressed", "original_size", "stored_size", "created_at"),
).replace("INSERT INTO", "INSERT OR IGNORE INTO")

TRANSIENT_ERRORS = (apsw.BusyError, apsw.LockedError)
"""A database locked by another process for longer than busy_timeout: worth a retry."""


class MultiRow:
    """One INSERT run with many rows per statement step.

    Two measured costs shape it. APSW releases the GIL around every step, and a busy
    application thread can keep it for up to a switch interval (5 ms) before the writer gets it
    back: one row per step (`executemany`) managed ~7,000 rows/s beside a busy thread. And APSW
    caches prepared statements only up to 16 KiB of SQL: a longer one is compiled again for
    every step (2.7 against 1.1 µs per row). So rows go `step` to a statement (the most, up to
    256, whose SQL fits), the remainder in halving sizes (at most ~9 texts per statement).

    `row` is one row's SQL: each bare `?` takes the row's next value, in order; `?1` .. `?N`
    are the `shared` leading parameters, bound once per step (updated_at, say), and SQL around
    the placeholders is evaluated by SQLite, without the GIL (arithmetic, formatting).
    """

    MAX_SQL = 16_000  # APSW's statement cache keeps SQL texts up to 16,384 bytes

    def __init__(self, head: str, row: str, tail: str = "", shared: int = 0) -> None:
        self.head = head
        self.row = row
        self.tail = tail
        self.shared = shared
        self.width = len(_BARE.findall(row))
        """Values per row in the flat lists `run` takes."""
        self._sql: dict[int, str] = {}
        self.step = 256
        while self.step > 1 and len(self.sql(self.step)) > self.MAX_SQL:
            self.step //= 2

    def sql(self, rows: int) -> str:
        """The statement text for `rows` rows."""
        text = self._sql.get(rows)
        if text is None:
            # A bare `?` takes the number after the largest so far: only the very first one is
            # numbered, so that the row values follow the shared parameters.
            first = _BARE.sub(f"?{self.shared + 1}", self.row, count=1) if self.shared else self.row
            text = self.head + ",".join([first, *[self.row] * (rows - 1)]) + self.tail
            self._sql[rows] = text
        return text

    def run(self, conn: apsw.Connection, flat: list[Any], shared: tuple[Any, ...] = ()) -> None:
        """Write the rows whose values are concatenated in `flat` (`width` values per row)."""
        width, step = self.width, self.step
        rows = len(flat) // width
        full = rows - rows % step
        chunk = step * width
        if full:
            conn.executemany(
                self.sql(step),
                [[*shared, *flat[i : i + chunk]] for i in range(0, full * width, chunk)],
            )
        offset, rest, size = full * width, rows - full, step // 2
        while rest:
            if rest >= size:
                conn.execute(self.sql(size), [*shared, *flat[offset : offset + size * width]])
                offset += size * width
                rest -= size
            size //= 2


_BARE = re.compile(r"\?(?!\d)")


def _values_head(statement: str) -> str:
    return statement[: statement.index("VALUES")] + "VALUES "


def _conflict_tail(statement: str) -> str:
    return statement[statement.index(" ON CONFLICT") :]


def _bare_row(width: int, last: str = "") -> str:
    """`(?,?,...)`: `width` bare placeholders, then `last` (SQL) if given."""
    return "(" + ",".join(["?"] * width + ([last] if last else [])) + ")"


SPANS_MULTI = MultiRow(
    _values_head(SPAN_UPSERT),
    _bare_row(len(SPAN_COLUMNS) - 1, "?1"),  # updated_at, the last column, is the shared ?1
    _conflict_tail(SPAN_UPSERT),
    shared=1,
)
# Most spans are ended spans of this process that set none of the rarer columns: their rows
# bind 8 values, not 20 (tuple building and binding are both under the GIL), and SQLite does
# the rest: the epoch milliseconds from perf_counter seconds (`?2` is the batch's offset, the
# same float arithmetic the Python side did), the status, the service (`?3`). On a conflict
# (a running row written before) `excluded` holds NULL for the columns left out, so the same
# SET list overwrites the running row completely.
RARE_SPAN_COLUMNS = frozenset((
    "error_message", "input_size", "output_size", "kind", "events", "links", "exception_type",
    "traceback", "input_body_hash", "output_body_hash",
))  # fmt: skip
SPAN_PLAIN_COLUMNS = tuple(c for c in SPAN_COLUMNS if c not in RARE_SPAN_COLUMNS)
SPAN_PLAIN_ROW = "(?,?,?,?,?2+?*1000.0,?*1000.0,'ok',?3,?,?,?1)"
"""span_id, trace_id, parent_span_id, name, perf_counter start (s), duration (s), attributes,
source_location: `SPAN_PLAIN_COLUMNS` in order, status and service filled in."""
SPANS_PLAIN_MULTI = MultiRow(
    _values_head(schema.placeholders_insert(schema.Span, SPAN_PLAIN_COLUMNS)),
    SPAN_PLAIN_ROW,
    _conflict_tail(SPAN_UPSERT),
    shared=3,
)
TRACES_MULTI = MultiRow(
    _values_head(TRACE_UPSERT),
    _bare_row(len(TRACE_COLUMNS) - 1, "?1"),  # updated_at, the last column, is the shared ?1
    _conflict_tail(TRACE_UPSERT),
    shared=1,
)
TRACES_STANDIN_MULTI = MultiRow(
    _values_head(TRACE_STANDIN_UPSERT),
    _bare_row(len(TRACE_COLUMNS) - 1, "?1"),
    _conflict_tail(TRACE_STANDIN_UPSERT),
    shared=1,
)
LOGS_MULTI = MultiRow(_values_head(LOG_INSERT), _bare_row(len(LOG_COLUMNS)))


def body_stored(conn: apsw.Connection, digest: str) -> bool:
    """Whether the bodies table already holds the body with this hash."""
    return conn.execute("SELECT 1 FROM bodies WHERE hash = ?", (digest,)).fetchone() is not None


# -- opening for writing -----------------------------------------------------------------------


def open_writable(path: Path, busy_timeout_ms: int = 5000) -> apsw.Connection:
    """Open (creating the directory and file if needed) and migrate a database for writing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = apsw.Connection(str(path))
    try:
        conn.setbusytimeout(busy_timeout_ms)
        schema.assert_ours(conn)  # before switching the journal mode of someone else's file
        enable_wal(conn, busy_timeout_ms)
        conn.execute("PRAGMA synchronous = NORMAL")
        # Off (SQLite's default) on the writer's connection: each span row would look its trace
        # up in the traces index (~0.17 µs a span), and the writer keeps the reference itself,
        # every span's trace row written in the span's own transaction (and retention deletes a
        # trace's spans before the trace). The schema's foreign key, cascade and all, stays.
        conn.execute("PRAGMA foreign_keys = OFF")
        # Checkpoint habits: automatic checkpoints every 1000 pages, and the WAL file truncated
        # back to 64 MiB after one, so it never grows without bound while readers behave.
        conn.execute("PRAGMA wal_autocheckpoint = 1000").fetchall()
        conn.execute("PRAGMA journal_size_limit = 67108864").fetchall()
        conn.execute("PRAGMA cache_size = -16000")
        schema.migrate(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def enable_wal(conn: apsw.Connection, busy_timeout_ms: int) -> None:
    """Switch the file to WAL, retrying while another process converts it at the same moment.

    Converting a new file needs an exclusive lock, and when processes race for it SQLite
    answers SQLITE_BUSY at once, without its busy handler (deadlock avoidance): measured, of 30
    processes opening new files three at a time, 2 got "database is locked" within 0.3 ms
    despite a 5 s busy_timeout. Once the file is in WAL mode this is a plain read.
    """
    deadline = time.monotonic() + busy_timeout_ms / 1000.0
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL").fetchall()
            return
        except apsw.BusyError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.005)


_sqlite_warned = False


def warn_about_sqlite_once(stream: TextIO | None) -> None:
    """Say once per process when the linked SQLite has the WAL-reset bug (never with our APSW)."""
    global _sqlite_warned
    if _sqlite_warned:
        return
    _sqlite_warned = True
    warning = sqlite_check.check_linked()
    if warning:
        try:
            (stream or sys.stderr).write(warning + "\n")
        except Exception:
            pass
