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

from lens_tui import bodies, schema
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
_TRACE_SEED = (
    "INSERT OR IGNORE INTO traces (trace_id, started_at, span_count, error_count, status) "
    "VALUES (?, ?, 0, 0, 'running')"
)
# ?1 id, ?2 root name, ?3 root id, ?4 source, ?5 service, ?6 min start, ?7 max end,
# ?8 new spans, ?9 new errors, ?10 root status (NULL when the root is not in this batch),
# ?11 updated_at. SET expressions see the old row, so the new bounds are spelled out twice.
_NEW_START = "(CASE WHEN started_at IS NULL OR ?6 < started_at THEN ?6 ELSE started_at END)"
_NEW_END = (
    "(CASE WHEN ?7 IS NULL THEN ended_at WHEN ended_at IS NULL OR ?7 > ended_at THEN ?7 "
    "ELSE ended_at END)"
)
_NEW_STATUS = (
    "(CASE WHEN coalesce(error_count, 0) + ?9 > 0 THEN 'error' "
    "WHEN ?10 IS NOT NULL THEN ?10 ELSE status END)"
)
_TRACE_UPDATE = (
    "UPDATE traces SET root_span_name = coalesce(?2, root_span_name), "
    "root_span_id = coalesce(?3, root_span_id), source = coalesce(?4, source), "
    "service = coalesce(service, ?5), "
    f"started_at = {_NEW_START}, ended_at = {_NEW_END}, "
    f"duration_ms = CASE WHEN {_NEW_STATUS} = 'running' THEN NULL "
    f"ELSE {_NEW_END} - {_NEW_START} END, "
    "span_count = coalesce(span_count, 0) + ?8, error_count = coalesce(error_count, 0) + ?9, "
    f"status = {_NEW_STATUS}, updated_at = ?11 WHERE trace_id = ?1"
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

_TRANSIENT = (apsw.BusyError, apsw.LockedError)

LogItem = tuple[Any, ...]
"""(level, message, timestamp_ms, trace_int, span_int, logger, source_location, attributes_json,
exception_type, traceback) as queued by `TraceStore.log`."""


def _json(value: Any) -> str | None:
    if not value:
        return None
    try:
        return json.dumps(value, default=str, ensure_ascii=False)
    except Exception:  # e.g. non-str keys, circular structures: keep what can be said
        return json.dumps({str(k): repr(v) for k, v in dict(value).items()})


class TraceStore:
    """The process's writer: queue, writer thread, retention and checkpoint habits."""

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
        self._wake = threading.Event()
        self._wake_at = max(1000, min(20_000, self.max_queue // 4))
        self._drop_lock = threading.Lock()
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
        record.t1 = perf_counter()
        self._put(record)
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
    ) -> None:
        """Queue one log record (ids as ints, as `SpanRecord` holds them)."""
        if isinstance(level, int):
            level = _LEVEL_OF_NO.get(level - level % 10, "error" if level >= 40 else "debug")
        self._put(
            (
                normalise_level(level), message,
                time.time() * 1000.0 if timestamp_ms is None else timestamp_ms,
                trace_id, span_id, logger, source_location, attributes, exception_type, traceback,
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
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            stopping = self._stopping
            try:
                self._cycle()
            except BaseException as exc:  # the writer thread must survive anything
                self._fail("writer", exc)
            if stopping and not self._queue:
                break
        self._close_connection()

    def _drain(self) -> tuple[list[SpanRecord], list[LogItem], list[threading.Event]]:
        spans: list[SpanRecord] = []
        logs: list[LogItem] = []
        markers: list[threading.Event] = []
        queue = self._queue
        pop = queue.popleft
        items: Iterable[Any] = [pop() for _ in range(len(queue))]
        if self._pending:
            items = [*self._pending, *items]
            self._pending = []
        for item in items:
            kind = type(item)
            if kind is SpanRecord or kind is ExternalSpan:
                spans.append(item)
            elif kind is tuple:
                logs.append(item)
            else:
                markers.append(item)
        return spans, logs, markers

    def _running_spans(self, finished: list[SpanRecord]) -> list[SpanRecord]:
        if not self._open:
            return []
        horizon = perf_counter() - self.flush_interval
        done = {r.span_id for r in finished}
        return [
            r
            for r in self._open.copy().values()
            if not r.persisted and r.t1 is None and r.t0 <= horizon and r.span_id not in done
        ]

    def _cycle(self) -> None:
        spans, logs, markers = self._drain()
        running = self._running_spans(spans)
        if spans or logs or running:
            if not self._ensure_connection():
                self._count_dropped(len(spans) + len(logs))
            elif not self._write(spans, running, logs):
                self._pending.extend(markers)  # flush() waits for the retry, or its timeout
                markers = []
        for marker in markers:
            marker.set()
        if self._conn is not None and self.max_age_ms is not None and time.monotonic() >= self._next_prune:
            self._next_prune = time.monotonic() + self.prune_interval_s
            try:
                retention.prune(self._conn, max_age_ms=self.max_age_ms, max_body_bytes=self.max_body_bytes)
            except Exception as exc:
                self._fail("prune", exc)

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
        return True

    def _count_dropped(self, n: int) -> None:
        with self._drop_lock:
            self._dropped += n

    def _write(
        self, spans: list[SpanRecord], running: list[SpanRecord], logs: list[LogItem]
    ) -> bool:
        """One batch in one transaction; False when it was kept for a retry (database locked)."""
        conn = self._conn
        assert conn is not None
        now_ms = time.time() * 1000.0
        base = now_ms - perf_counter() * 1000.0
        service = self.service
        trace_agg: dict[str, list[Any]] = {}
        span_rows: list[tuple[Any, ...]] = []
        body_rows: dict[str, tuple[Any, ...]] = {}
        counted: set[int] = set()
        for record in itertools.chain(running, spans):
            if type(record) is ExternalSpan:
                span_rows.append(self._external_row(record, trace_agg, counted))
            else:
                span_rows.append(self._span_row(record, base, trace_agg, body_rows, counted))
        log_rows = [self._log_row(item, service) for item in logs]
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                # Stamped under the write lock, so updated_at grows in commit order across
                # processes: readers tail with `updated_at > max seen`.
                stamp = time.time() * 1000.0
                if body_rows:
                    conn.executemany(_BODY_INSERT, [(*b, stamp) for b in body_rows.values()])
                conn.executemany(_TRACE_SEED, [(tid, a[0]) for tid, a in trace_agg.items()])
                conn.executemany(
                    _TRACE_UPDATE,
                    [(tid, a[4], a[5], a[7], a[8] or service, a[0], a[1], a[2], a[3], a[6], stamp)
                     for tid, a in trace_agg.items()],
                )
                conn.executemany(_SPAN_UPSERT, [(*row, stamp) for row in span_rows])
                if log_rows:
                    conn.executemany(_LOG_INSERT, log_rows)
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
        for record in spans:
            record.persisted = True
        self.spans_written += len(spans)
        self.logs_written += len(logs)
        return True

    def _span_row(
        self,
        r: SpanRecord,
        base: float,
        trace_agg: dict[str, list[Any]],
        body_rows: dict[str, tuple[Any, ...]],
        counted: set[int],
    ) -> tuple[Any, ...]:
        start = base + r.t0 * 1000.0
        t1 = r.t1
        if t1 is None:
            duration = None
            status = "running"
            end = None
        else:
            duration = (t1 - r.t0) * 1000.0
            status = r.status
            end = start + duration
        trace_id = trace_hex(r.trace_id)
        span_id = span_hex(r.span_id)
        agg = trace_agg.get(trace_id)
        if agg is None:
            # [min start, max end, new spans, new errors, root name, root id, root status,
            #  source, service]
            agg = trace_agg[trace_id] = [start, end, 0, 0, None, None, None, None, None]
        else:
            if start < agg[0]:
                agg[0] = start
            if end is not None and (agg[1] is None or end > agg[1]):
                agg[1] = end
        if not r.persisted and r.span_id not in counted:
            agg[2] += 1
            counted.add(r.span_id)  # a retried or repeated row of one span counts once
        if status == "error":
            agg[3] += 1
        if r.parent_id is None:
            agg[4] = r.name
            agg[5] = span_id
            agg[6] = status
            agg[7] = r.source
        in_hash = self._body(r.input_body, body_rows) if r.input_body is not None else None
        out_hash = self._body(r.output_body, body_rows) if r.output_body is not None else None
        return (
            span_id, trace_id,
            None if r.parent_id is None else span_hex(r.parent_id),
            r.name, start, duration, r.error_message, r.input_size, r.output_size, status,
            self.service,
            r.kind, _json(r.attributes), _json(r.events), None, r.exception_type, r.traceback,
            r.source_location, in_hash, out_hash,
        )

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
            r.error_message, None, None, r.status, r.service, r.kind, _json(r.attributes),
            _json(r.events), _json(r.links), r.exception_type, r.traceback, None, None, None,
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
        level, message, ts, trace_int, span_int, logger, location, attrs, exc_type, tb = item
        return (
            None if trace_int is None else trace_hex(trace_int),
            None if span_int is None else span_hex(span_int),
            level, message, ts, logger, location, service, _json(attrs), exc_type, tb,
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

_INHERITED: list[apsw.Connection] = []
"""Connections inherited across fork: kept referenced so the child never closes them."""


def normalise_level(level: str) -> str:
    """Map any level spelling onto debug, info, warn or error."""
    low = level.lower()
    if low in ("debug", "info", "warn", "error"):
        return low
    if low.startswith("warn"):
        return "warn"
    if low in ("critical", "fatal", "err", "exception", "panic", "alert", "emergency"):
        return "error"
    if low in ("trace", "verbose", "notset"):
        return "debug"
    return "info"


def open_writable(path: Path, busy_timeout_ms: int = 5000) -> apsw.Connection:
    """Open (creating the directory and file if needed) and migrate a database for writing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = apsw.Connection(str(path))
    try:
        conn.setbusytimeout(busy_timeout_ms)
        conn.execute("PRAGMA journal_mode = WAL").fetchall()
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
