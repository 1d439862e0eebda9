"""TraceStore: a bounded queue and one background thread that batches spans and logs into SQLite.

The traced application only appends to a deque (never blocks, never raises); the writer thread
drains it every `flush_interval` seconds into one `BEGIN IMMEDIATE` transaction on an APSW
connection (SQLite 3.54, free of the WAL-reset bug that several writing processes would hit).
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from time import perf_counter
from typing import Any, TextIO

import apsw

from lens_tui import bodies, schema, sqlite_check
from lens_tui.levels import normalise_level
from lens_tui.text import encode_json
from lens_tui.tracing import retention
from lens_tui.tracing.context import SpanRecord
from lens_tui.tracing.external import ExternalSpan
from lens_tui.tracing.ids import span_hex, trace_hex

_LEVEL_OF_NO = {10: "debug", 20: "info", 30: "warn", 40: "error", 50: "error"}

_SPAN_COLUMNS = (
    "span_id", "trace_id", "parent_span_id", "name", "started_at", "duration_ms",
    "error_message", "input_size", "output_size", "status", "service", "kind", "attributes",
    "events", "links", "exception_type", "traceback", "source_location", "input_body_hash",
    "output_body_hash", "updated_at",
)
_SPAN_UPSERT = (
    schema.placeholders_insert(schema.Span, _SPAN_COLUMNS)
    + " ON CONFLICT(span_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _SPAN_COLUMNS[2:])
)
_LOG_COLUMNS = (
    "trace_id", "span_id", "level", "message", "timestamp", "logger", "source_location",
    "service", "attributes", "exception_type", "traceback",
)
_LOG_INSERT = schema.placeholders_insert(schema.Log, _LOG_COLUMNS)
# One upsert per trace and batch. A trace new to the database (most) is inserted complete
# (the Python side computes its status and duration): one row and index write, where a seed
# then an UPDATE wrote the row and its started_at/updated_at index entries twice (~2.5 µs per
# trace). A trace already stored (spans across batches) is updated from `excluded`: root
# fields only when this batch has the root (excluded.root_span_id set), then excluded.status
# is the root's status. SET expressions see the old row, so the new bounds are spelled out.
# root_span_name is '' (not NULL) without the root: the original LENS layout declares it NOT
# NULL (tests/reliability/test_07_schema_live.py). Readers show NULL and '' alike.
_TRACE_COLUMNS = (
    "trace_id", "root_span_name", "root_span_id", "source", "service", "started_at",
    "ended_at", "duration_ms", "span_count", "error_count", "status", "updated_at",
)
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
_TRACE_UPSERT = (
    schema.placeholders_insert(schema.Trace, _TRACE_COLUMNS)
    + " ON CONFLICT(trace_id) DO UPDATE SET "
    "root_span_name = CASE WHEN excluded.root_span_id IS NOT NULL "
    "THEN excluded.root_span_name ELSE root_span_name END, "
    "root_span_id = coalesce(excluded.root_span_id, root_span_id), "
    "source = coalesce(excluded.source, source), service = coalesce(service, excluded.service), "
    f"started_at = {_NEW_START}, ended_at = {_NEW_END}, "
    f"duration_ms = CASE WHEN {_NEW_STATUS} = 'running' THEN NULL "
    f"ELSE {_NEW_END} - {_NEW_START} END, "
    "span_count = coalesce(span_count, 0) + excluded.span_count, "
    "error_count = coalesce(error_count, 0) + excluded.error_count, "
    f"status = {_NEW_STATUS}, updated_at = excluded.updated_at"
)
_WRITER_UPSERT = (
    "INSERT INTO writers (writer_id, pid, hostname, service, started_at, last_write_at, "
    "spans_written, logs_written, dropped, errors) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT(writer_id) DO UPDATE SET last_write_at = excluded.last_write_at, "
    "spans_written = excluded.spans_written, logs_written = excluded.logs_written, "
    "dropped = excluded.dropped, errors = excluded.errors"
)
_BODY_INSERT = schema.placeholders_insert(
    schema.Body,
    ("hash", "body", "is_compressed", "original_size", "stored_size", "created_at"),
).replace("INSERT INTO", "INSERT OR IGNORE INTO")


class _MultiRow:
    """One INSERT or UPDATE ... FROM (VALUES ...) run with many rows per statement step.

    Two measured costs shape it. APSW releases the GIL around every step, and a busy
    application thread can keep it for up to a switch interval (5 ms) before the writer gets it
    back: one row per step (`executemany`) managed ~7,000 rows/s beside a busy thread. And APSW
    caches prepared statements only up to 16 KiB of SQL: a longer one is compiled again for
    every step (2.7 against 1.1 µs per row). So rows go `step` to a statement (the most, up to
    256, whose SQL fits), the remainder in halving sizes (at most ~9 texts per statement).
    Placeholders are bare `?` (numbered after the `shared` leading parameters, like `?1` =
    updated_at, bound once per step) to keep the text short.
    """

    MAX_SQL = 16_000  # APSW's statement cache keeps SQL texts up to 16,384 bytes

    def __init__(self, head: str, cells: tuple[int | str, ...], tail: str = "", shared: int = 0) -> None:
        self.head = head
        self.cells = cells  # per row: an int is that row's n-th value (in order), a str is SQL as is
        self.tail = tail
        self.shared = shared
        self.width = sum(1 for c in cells if isinstance(c, int))
        assert [c for c in cells if isinstance(c, int)] == list(range(self.width))
        self._sql: dict[int, str] = {}
        self.step = 256
        while self.step > 1 and len(self.sql(self.step)) > self.MAX_SQL:
            self.step //= 2

    def sql(self, rows: int) -> str:
        """The statement text for `rows` rows."""
        text = self._sql.get(rows)
        if text is None:
            # A bare `?` takes the number after the largest so far: only the very first value
            # is numbered, so that it follows the shared parameters.
            row = "(" + ",".join(c if isinstance(c, str) else "?" for c in self.cells) + ")"
            first = row.replace("?", f"?{self.shared + 1}", 1) if self.shared else row
            text = self.head + ",".join([first, *[row] * (rows - 1)]) + self.tail
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
                self.sql(step), [[*shared, *flat[i : i + chunk]] for i in range(0, full * width, chunk)]
            )
        offset, rest, size = full * width, rows - full, step // 2
        while rest:
            if rest >= size:
                conn.execute(self.sql(size), [*shared, *flat[offset : offset + size * width]])
                offset += size * width
                rest -= size
            size //= 2


_SPANS_MULTI = _MultiRow(
    _SPAN_UPSERT[: _SPAN_UPSERT.index("VALUES")] + "VALUES ",
    (*range(len(_SPAN_COLUMNS) - 1), "?1"),  # updated_at, the last column, is the shared ?1
    _SPAN_UPSERT[_SPAN_UPSERT.index(" ON CONFLICT") :],
    shared=1,
)
# Most spans set none of the rarer columns: their rows bind 10 values, not 20 (less tuple
# building and binding, both under the GIL). On a conflict `excluded` holds NULL for the
# columns left out, so the same SET list overwrites a running row completely.
_SPAN_PLAIN_COLUMNS = (
    "span_id", "trace_id", "parent_span_id", "name", "started_at", "duration_ms", "status",
    "service", "attributes", "source_location", "updated_at",
)
_SPAN_PLAIN_INSERT = schema.placeholders_insert(schema.Span, _SPAN_PLAIN_COLUMNS)
_SPANS_PLAIN_MULTI = _MultiRow(
    _SPAN_PLAIN_INSERT[: _SPAN_PLAIN_INSERT.index("VALUES")] + "VALUES ",
    (*range(len(_SPAN_PLAIN_COLUMNS) - 1), "?1"),
    _SPAN_UPSERT[_SPAN_UPSERT.index(" ON CONFLICT") :],
    shared=1,
)
_TRACES_MULTI = _MultiRow(
    _TRACE_UPSERT[: _TRACE_UPSERT.index("VALUES")] + "VALUES ",
    (*range(len(_TRACE_COLUMNS) - 1), "?1"),  # updated_at, the last column, is the shared ?1
    _TRACE_UPSERT[_TRACE_UPSERT.index(" ON CONFLICT") :],
    shared=1,
)
_LOGS_MULTI = _MultiRow(_LOG_INSERT[: _LOG_INSERT.index("VALUES")] + "VALUES ", tuple(range(len(_LOG_COLUMNS))))

_TRANSIENT = (apsw.BusyError, apsw.LockedError)

LogItem = tuple[Any, ...]
"""(level, message, timestamp_ms, trace_int, span_int, logger, source_location, attributes_json,
exception_type, traceback, service) as queued by `TraceStore.log`."""


def _snapshot(r: SpanRecord, t1: float | None) -> tuple[Any, ...]:
    """A span's fields as `TraceStore.end` queues them (inlined there; keep the two in step).

    The last is the record's `_Extra` (its rarely set fields), or None.
    """
    return (r.span_id, r.trace_id, r.parent_id, r.name, r.t0, t1, r.attributes, r.source_location, r._extra)


_ENCODE = encode_json  # the one stored JSON form (lens_tui.text)


def _json(value: Any) -> str | None:
    if not value:
        return None
    try:
        return _ENCODE(value)
    except Exception:  # e.g. non-str keys, circular structures: keep what can be said
        return json.dumps({str(k): repr(v) for k, v in dict(value).items()})


def _json_or_text(value: Any) -> str | None:
    """`_json`, but JSON text encoded beforehand (a str, see ExternalSpan) is kept as it is."""
    return value if value.__class__ is str else _json(value)


class TraceStore:
    """The process's writer: queue, writer thread, retention and checkpoint habits."""

    max_batch = 50_000
    """Most records written in one transaction; a writer that is behind writes the next at once."""

    def __init__(
        self,
        db_path: str | os.PathLike[str],
        *,
        service: str | None = None,
        flush_interval: float = 0.1,
        max_queue: int = 200_000,
        busy_timeout_ms: int = 5000,
        retention_days: float | None = 7.0,
        max_body_bytes: int | None = retention.DEFAULT_MAX_BODY_BYTES,
        prune_interval_s: float = 3600.0,
        max_captured_body: int = 64 * 1024,
        stderr: TextIO | None = None,
        start: bool = True,
    ) -> None:
        self.path = Path(db_path).expanduser()
        self.service = service
        self.flush_interval = flush_interval
        self.max_queue = max_queue
        self.busy_timeout_ms = busy_timeout_ms
        self.max_age_ms = None if retention_days is None else retention_days * retention.DAY_MS
        self.max_body_bytes = max_body_bytes
        self.prune_interval_s = prune_interval_s
        self.max_captured_body = max_captured_body
        self._stderr = stderr
        self._init_runtime()
        if start:
            self.start()

    # -- lifecycle ---------------------------------------------------------------------------

    def _init_runtime(self) -> None:
        self._queue: deque[Any] = deque()
        self._open: dict[int, SpanRecord] = {}
        self._running_written: set[int] = set()  # writer thread only: ids written as running
        self._wake = threading.Event()
        self._wake_at = max(1000, min(20_000, self.max_queue // 4))
        self._drop_lock = threading.Lock()
        # Held by the writer thread while it uses SQLite, and taken around os.fork() (api.py):
        # a child forked while this process holds a SQLite lock inherits SQLite's in-process
        # lock bookkeeping, a write lock "held" by a connection that does not exist there, and
        # its own writer is refused forever (tests/reliability/test_13_context.py).
        self._fork_lock = threading.Lock()
        self._fork_locked = False
        self._dropped = 0
        self._pending: list[Any] = []
        self._conn: apsw.Connection | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._closed = False
        self._reported: set[str] = set()
        self._retry_at = 0.0
        self._next_prune = 0.0
        self.errors = 0
        self.spans_written = 0
        self.logs_written = 0
        self.last_error: str | None = None
        self._pid = os.getpid()
        self._writer_id = f"{socket.gethostname()}:{self._pid}:{id(self):x}:{time.time_ns():x}"
        self._started_at = time.time() * 1000.0

    def start(self) -> None:
        """Start the writer thread (done by the constructor unless `start=False`)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._thread = threading.Thread(target=self._run, name="lens-writer", daemon=True)
        self._thread.start()

    def before_fork(self) -> None:
        """Before os.fork(): wait until the writer thread is outside SQLite (at most
        FORK_WAIT_S: a batch takes milliseconds; a longer wait means the database is locked
        by another process, and then the writer holds no lock while it waits).

        Then close the connection (the next batch reopens it): a child inheriting an open one
        shares SQLite's per-file lock bookkeeping with it, so its own connection never takes
        the file's shared locks at the OS level. Once the parent closed, another process took
        itself for the last connection, checkpointed and deleted the WAL under the child, and
        the child's committed rows were lost (tests/tracing/test_processes.py)."""
        self._fork_locked = self._fork_lock.acquire(timeout=FORK_WAIT_S)
        if self._fork_locked:
            self._close_connection()

    def after_fork_in_parent(self) -> None:
        """After os.fork() in the parent: let the writer thread go on."""
        if self._fork_locked:
            self._fork_locked = False
            self._fork_lock.release()

    def after_fork_in_child(self) -> None:
        """A forked child starts afresh: own queue, own connection, own writer thread."""
        if self._conn is not None:
            _INHERITED.append(self._conn)  # never close the parent's connection from the child
        self._init_runtime()
        self.start()

    def shutdown(self, timeout: float = 5.0) -> bool:
        """Flush what was recorded, stop the thread and close the database; True if all flushed."""
        if self._closed:
            return True
        ok = self.flush(timeout)
        self._stopping = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self._closed = True
        return ok

    close = shutdown

    # -- hot path (application threads) ------------------------------------------------------

    def begin(self, record: SpanRecord) -> None:
        """Register an open span so the writer can show it as running if it runs long."""
        self._open[record.span_id] = record

    def end(self, record: SpanRecord) -> None:
        """Queue a finished span. Queue first, then unregister: the writer never misses it."""
        t1 = record.t1 = perf_counter()
        # _put() inlined: this runs once per span. Queued is a snapshot (`_snapshot`'s fields),
        # not the record: a tuple of plain values leaves the garbage collector's lists at its
        # first collection, while queued records survived into the oldest generation and made
        # full collections frequent (~1 µs per span, measured).
        queue = self._queue
        size = len(queue)
        if size >= self.max_queue or self._closed:
            self._count_dropped(1)
        else:
            r = record
            queue.append(
                (r.span_id, r.trace_id, r.parent_id, r.name, r.t0, t1, r.attributes, r.source_location, r._extra)
            )
            if size == self._wake_at:
                self._wake.set()
        self._open.pop(record.span_id, None)

    def log(
        self,
        level: str | int,
        message: str,
        *,
        timestamp_ms: float | None = None,
        trace_id: int | None = None,
        span_id: int | None = None,
        logger: str | None = None,
        source_location: str | None = None,
        attributes: dict[str, Any] | None = None,
        exception_type: str | None = None,
        traceback: str | None = None,
        service: str | None = None,
    ) -> None:
        """Queue one log record (ids as ints, as `SpanRecord` holds them).

        `service` overrides the store's own (the OTLP receiver stores logs of many services).
        """
        if isinstance(level, int):
            level = _LEVEL_OF_NO.get(level - level % 10, "error" if level >= 40 else "debug")
        self._put(
            (
                normalise_level(level), message,
                time.time() * 1000.0 if timestamp_ms is None else timestamp_ms,
                trace_id, span_id, logger, source_location, attributes, exception_type, traceback,
                service,
            )
        )

    def _put(self, item: Any) -> None:
        queue = self._queue
        size = len(queue)
        if size >= self.max_queue or self._closed:
            with self._drop_lock:  # the rare path; `+=` alone is not atomic across threads
                self._dropped += 1
            return
        queue.append(item)
        if size == self._wake_at:
            self._wake.set()

    @property
    def backlog(self) -> int:
        """Records queued (or kept for a retry) and not yet written: the OTLP receiver's back-pressure."""
        return len(self._queue) + len(self._pending)

    @property
    def dropped(self) -> int:
        """Records dropped so far because the queue was full, the store closed or writes failed."""
        return self._dropped

    def flush(self, timeout: float | None = 10.0) -> bool:
        """Block until everything queued before this call is committed (or dropped); True if so."""
        if self._thread is None or not self._thread.is_alive():
            return not self._queue
        marker = threading.Event()
        self._queue.append(marker)
        self._wake.set()
        return marker.wait(timeout)

    def prune(
        self, *, max_age_ms: float | None = None, max_body_bytes: int | None = None
    ) -> retention.PruneResult:
        """Apply retention now on a connection of the caller's own (defaults: the store's policy)."""
        conn = open_writable(self.path, self.busy_timeout_ms)
        try:
            return retention.prune(
                conn,
                max_age_ms=self.max_age_ms if max_age_ms is None else max_age_ms,
                max_body_bytes=self.max_body_bytes if max_body_bytes is None else max_body_bytes,
            )
        finally:
            conn.close()

    # -- writer thread -----------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            if len(self._queue) < self.max_batch:
                self._wake.wait(self.flush_interval)
            else:  # behind: the next batch at once, after a yield (a fork may wait for the lock)
                time.sleep(0)
            self._wake.clear()
            stopping = self._stopping
            try:
                with self._fork_lock:
                    self._cycle()
            except BaseException as exc:  # the writer thread must survive anything
                self._fail("writer", exc)
            if stopping and not self._queue:
                break
        with self._fork_lock:
            self._close_connection()

    def _drain(self) -> tuple[list[Any], list[LogItem], list[threading.Event]]:
        """Up to max_batch queued items: ended spans (`_snapshot` tuples, ExternalSpans), logs, markers."""
        spans: list[Any] = []
        logs: list[LogItem] = []
        markers: list[threading.Event] = []
        queue = self._queue
        pop = queue.popleft
        # At most max_batch per transaction: bounds the writer's memory and each transaction.
        items: Iterable[Any] = [pop() for _ in range(min(len(queue), self.max_batch))]
        if self._pending:
            items = [*self._pending, *items]
            self._pending = []
        for item in items:
            kind = type(item)
            if kind is tuple:  # an ended span starts with its int id, a LogItem with its level
                (spans if type(item[0]) is int else logs).append(item)
            elif kind is ExternalSpan:
                spans.append(item)
            else:
                markers.append(item)
        return spans, logs, markers

    def _running_spans(self, finished: list[Any]) -> list[SpanRecord]:
        if not self._open:
            return []
        horizon = perf_counter() - self.flush_interval
        long = [r for r in self._open.copy().values() if not r.persisted and r.t1 is None and r.t0 <= horizon]
        if not long:
            return long
        done = {item[0] for item in finished if type(item) is tuple}
        return [r for r in long if r.span_id not in done]

    def _cycle(self) -> None:
        spans, logs, markers = self._drain()
        running = self._running_spans(spans)
        if spans or logs or running:
            if not self._ensure_connection():
                self._count_dropped(len(spans) + len(logs))
            elif not self._write(spans, running, logs):
                self._pending.extend(markers)  # flush() waits for the retry, or its timeout
                markers = []
        # A due prune runs before flush() waiters are released: otherwise the first one (right
        # after the first write) raced whatever the flushing thread did next.
        if self._conn is not None and self.max_age_ms is not None and time.monotonic() >= self._next_prune:
            self._next_prune = time.monotonic() + self.prune_interval_s
            try:
                retention.prune(self._conn, max_age_ms=self.max_age_ms, max_body_bytes=self.max_body_bytes)
            except Exception as exc:
                self._fail("prune", exc)
        for marker in markers:
            marker.set()

    def _ensure_connection(self) -> bool:
        if self._conn is not None:
            return True
        if time.monotonic() < self._retry_at:
            return False
        try:
            self._conn = open_writable(self.path, self.busy_timeout_ms)
        except Exception as exc:
            self._retry_at = time.monotonic() + 5.0
            self._fail("open", exc)
            return False
        _warn_about_sqlite_once(self._stderr)
        return True

    def _count_dropped(self, n: int) -> None:
        with self._drop_lock:
            self._dropped += n

    def _write(
        self, spans: list[Any], running: list[SpanRecord], logs: list[LogItem]
    ) -> bool:
        """One batch in one transaction; False when it was kept for a retry (database locked)."""
        conn = self._conn
        assert conn is not None
        now_ms = time.time() * 1000.0
        base = now_ms - perf_counter() * 1000.0
        service = self.service
        trace_agg: dict[str, list[Any]] = {}
        body_rows: dict[str, tuple[Any, ...]] = {}
        reran: list[int] = []
        span_values, plain_values = self._span_values(
            itertools.chain(running, spans), base, trace_agg, body_rows, reran
        )
        log_values = list(itertools.chain.from_iterable(self._log_row(item, service) for item in logs))
        self._name_open_roots(trace_agg, base)
        traces: list[Any] = []
        for tid, a in trace_agg.items():
            # The row for a trace new to the database; `_TRACE_UPSERT` merges it into a stored one.
            first, last, has_root = a[0], a[1], a[5] is not None
            fresh_status = "error" if a[3] else (a[6] if has_root else "running")
            traces += (
                tid, a[4] if has_root else "", a[5], a[7], a[8] or service, first, last,
                None if fresh_status == "running" or last is None else last - first, a[2], a[3],
                fresh_status,
            )
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                # Stamped under the write lock, so updated_at grows in commit order across
                # processes: readers tail with `updated_at > max seen`.
                stamp = time.time() * 1000.0
                if body_rows:
                    conn.executemany(_BODY_INSERT, [(*b, stamp) for b in body_rows.values()])
                _TRACES_MULTI.run(conn, traces, (stamp,))
                _SPANS_PLAIN_MULTI.run(conn, plain_values, (stamp,))
                if span_values:
                    _SPANS_MULTI.run(conn, span_values, (stamp,))
                if log_values:
                    _LOGS_MULTI.run(conn, log_values)
                conn.execute(
                    _WRITER_UPSERT,
                    (self._writer_id, self._pid, socket.gethostname(), service, self._started_at,
                     stamp, self.spans_written + len(spans), self.logs_written + len(logs),
                     self.dropped, self.errors),
                )
                conn.execute("COMMIT")
            except BaseException:
                if not conn.getautocommit():
                    conn.execute("ROLLBACK")
                raise
        except _TRANSIENT as exc:
            # Locked by another process for longer than busy_timeout: keep the batch for the
            # next cycle, within the queue bound.
            self._fail("locked", exc)
            keep = [*spans, *logs]
            overflow = len(keep) - self.max_queue
            if overflow > 0:
                self._count_dropped(overflow)
                keep = keep[overflow:]
            self._pending = keep
            return False
        except Exception as exc:
            self._fail("write", exc)
            self._count_dropped(len(spans) + len(logs))
            self._close_connection()
            self._retry_at = time.monotonic() + 5.0
            return True
        for record in running:
            record.persisted = True
            self._running_written.add(record.span_id)
        if reran:
            self._running_written.difference_update(reran)
        for item in spans:
            if type(item) is ExternalSpan:
                item.persisted = True
        self.spans_written += len(spans)
        self.logs_written += len(logs)
        return True

    def _name_open_roots(self, trace_agg: dict[str, list[Any]], base: float) -> None:
        """Give traces whose root span is still open (and not yet written) its name and start.

        Children usually end before their root: without this, a request in flight shows as a
        trace without a name until its root span ends. The root itself is not written (a short
        span still costs one write); the trace row just says it is running.
        """
        if not self._open:
            return
        rootless = [tid for tid, a in trace_agg.items() if a[5] is None]
        if not rootless:
            return
        open_roots = {
            trace_hex(r.trace_id): r for r in self._open.copy().values() if r.parent_id is None
        }
        for tid in rootless:
            root = open_roots.get(tid)
            if root is None:
                continue
            agg = trace_agg[tid]
            start = base + root.t0 * 1000.0
            if start < agg[0]:
                agg[0] = start
            agg[4], agg[5], agg[6], agg[7] = root.name, span_hex(root.span_id), "running", root.source

    def _span_values(
        self,
        items: Iterable[Any],
        base: float,
        trace_agg: dict[str, list[Any]],
        body_rows: dict[str, tuple[Any, ...]],
        reran: list[int],
    ) -> tuple[list[Any], list[Any]]:
        """The span rows' values concatenated, full rows and plain ones (`_SPAN_PLAIN_COLUMNS`).

        The writer's hottest loop, so one flat function.

        `items` are running SpanRecords, ended-span snapshots (`_snapshot`) and ExternalSpans.
        Fills `trace_agg`: per trace hex id, [min start, max end, new spans, new errors, root
        name, root id, root status, source, service]; and `reran` with the ids of ended spans
        already counted when written as running.
        """
        values: list[Any] = []
        add = values.extend
        plain: list[Any] = []
        add_plain = plain.extend
        service = self.service
        running_written = self._running_written
        counted: set[Any] = set()  # an external span may come twice in a batch: count it once
        last_tint: Any = None
        trace_id = ""
        agg: list[Any] = []
        for item in items:
            kind = type(item)
            if kind is ExternalSpan:
                add(self._external_row(item, trace_agg, counted))
                last_tint = None
                continue
            # a running record (its `persisted` is False: see _running_spans) or a snapshot
            sid, tint, pid, name, t0, t1, attrs, location, extra = (
                item if kind is tuple else _snapshot(item, None)
            )
            start = base + t0 * 1000.0
            if t1 is None:
                duration = end = None
            else:
                duration = (t1 - t0) * 1000.0
                end = start + duration
            if tint is not last_tint:  # a trace's spans mostly come together (children share it)
                last_tint = tint
                trace_id = "%032x" % tint  # ids.trace_hex, inlined
                agg = trace_agg.get(trace_id)  # type: ignore[assignment]
                if agg is None:
                    agg = trace_agg[trace_id] = [start, end, 0, 0, None, None, None, None, None]
            if start < agg[0]:
                agg[0] = start
            if end is not None and (agg[1] is None or end > agg[1]):
                agg[1] = end
            span_id = "%016x" % sid  # ids.span_hex, inlined
            if running_written and t1 is not None and sid in running_written:
                reran.append(sid)
            else:
                agg[2] += 1
            parent_id = None if pid is None else "%016x" % pid
            if extra is None:
                status = "ok" if t1 is not None else "running"
                if pid is None:
                    agg[4], agg[5], agg[6], agg[7] = name, span_id, status, None
                add_plain((
                    span_id, trace_id, parent_id, name, start, duration, status, service,
                    _json(attrs) if attrs else None, location,
                ))
                continue
            status = extra.status if t1 is not None else "running"
            if status == "error":
                agg[3] += 1
            if pid is None:
                agg[4], agg[5], agg[6], agg[7] = name, span_id, status, extra.source
            events = extra.events
            in_body = extra.input_body
            out_body = extra.output_body
            add((
                span_id, trace_id, parent_id, name, start, duration, extra.error_message,
                extra.input_size, extra.output_size, status, service, extra.kind,
                _json(attrs) if attrs else None, _json(events) if events else None, None,
                extra.exception_type, extra.traceback, location,
                None if in_body is None else self._body(in_body, body_rows),
                None if out_body is None else self._body(out_body, body_rows),
            ))
        return values, plain

    def record_span(self, span: ExternalSpan) -> None:
        """Queue a span recorded elsewhere (OpenTelemetry); never blocks, never raises."""
        self._put(span)

    @staticmethod
    def _external_row(
        r: ExternalSpan, trace_agg: dict[str, list[Any]], counted: set[Any]
    ) -> tuple[Any, ...]:
        start = r.started_at
        end = None if r.duration_ms is None else start + r.duration_ms
        agg = trace_agg.get(r.trace_id)
        if agg is None:
            agg = trace_agg[r.trace_id] = [start, end, 0, 0, None, None, None, None, None]
        else:
            if start < agg[0]:
                agg[0] = start
            if end is not None and (agg[1] is None or end > agg[1]):
                agg[1] = end
        if not r.persisted and r.span_id not in counted:
            agg[2] += 1
            counted.add(r.span_id)
        if r.status == "error":
            agg[3] += 1
        if r.parent_span_id is None:
            agg[4], agg[5], agg[6], agg[7] = r.name, r.span_id, r.status, r.source
        if agg[8] is None:
            agg[8] = r.service
        return (
            r.span_id, r.trace_id, r.parent_span_id, r.name, start, r.duration_ms,
            r.error_message, None, None, r.status, r.service, r.kind, _json_or_text(r.attributes),
            _json_or_text(r.events), _json_or_text(r.links), r.exception_type, r.traceback, None, None, None,
        )

    def _body(self, body: Any, body_rows: dict[str, tuple[Any, ...]]) -> str | None:
        try:
            raw = bodies.as_bytes(body)[: self.max_captured_body]
            digest = bodies.body_hash(raw)
            if digest not in body_rows and self._conn is not None:
                exists = self._conn.execute("SELECT 1 FROM bodies WHERE hash = ?", (digest,)).fetchone()
                if exists is None:
                    enc = bodies.encode(raw)
                    body_rows[digest] = (enc.hash, enc.stored, int(enc.is_compressed),
                                         enc.original_size, len(enc.stored))
            return digest
        except Exception as exc:
            self._fail("body", exc)
            return None

    @staticmethod
    def _log_row(item: LogItem, service: str | None) -> tuple[Any, ...]:
        level, message, ts, trace_int, span_int, logger, location, attrs, exc_type, tb, *rest = item
        return (
            None if trace_int is None else trace_hex(trace_int),
            None if span_int is None else span_hex(span_int),
            level, message, ts, logger, location, (rest and rest[0]) or service, _json(attrs),
            exc_type, tb,
        )

    # -- failure reporting -------------------------------------------------------------------

    def _fail(self, kind: str, exc: BaseException) -> None:
        """Count every failure; say it once per kind on stderr; never raise."""
        self.errors += 1
        self.last_error = f"{type(exc).__name__}: {exc}"
        if kind in self._reported:
            return
        self._reported.add(kind)
        try:
            stream = self._stderr or sys.stderr
            stream.write(
                f"lens_tui: cannot {_VERBS.get(kind, kind)} trace database {self.path}: "
                f"{self.last_error} (the application goes on; further errors are counted)\n"
            )
            stream.flush()
        except Exception:
            pass

    def _close_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except Exception:
            pass
        try:
            conn.close()
        except Exception:
            pass


_VERBS = {
    "open": "open",
    "write": "write to",
    "locked": "write (locked) to",
    "prune": "prune",
    "body": "store a body in",
    "writer": "run the writer for",
}

FORK_WAIT_S = 2.0
"""The longest os.fork() waits for the writer thread to leave SQLite (see before_fork)."""

_INHERITED: list[apsw.Connection] = []
"""Connections inherited across fork: kept referenced so the child never closes them."""


_sqlite_warned = False


def _warn_about_sqlite_once(stream: TextIO | None) -> None:
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


def _enable_wal(conn: apsw.Connection, busy_timeout_ms: int) -> None:
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


def open_writable(path: Path, busy_timeout_ms: int = 5000) -> apsw.Connection:
    """Open (creating the directory and file if needed) and migrate a database for writing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = apsw.Connection(str(path))
    try:
        conn.setbusytimeout(busy_timeout_ms)
        schema.assert_ours(conn)  # before switching the journal mode of someone else's file
        _enable_wal(conn, busy_timeout_ms)
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
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
