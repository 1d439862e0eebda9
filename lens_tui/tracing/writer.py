"""TraceWriter: a bounded queue and one background thread that batches spans and logs into SQLite.

The traced application only extends a list (never blocks, never raises); the writer thread
drains it every `flush_interval` seconds into one `BEGIN IMMEDIATE` transaction on an APSW
connection. The rows come from batch.py, the statements and the connection from sql.py, the
fork guard from process.py.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from pathlib import Path
from time import perf_counter
from typing import TYPE_CHECKING, Any, TextIO

import apsw

from lens_tui.levels import normalise_level, of_number
from lens_tui.tracing import ids, process, retention, sql
from lens_tui.tracing.batch import PAD10, WIDTH, BatchBuilder, RowBatch
from lens_tui.tracing.context import SpanRecord, open_in_frames
from lens_tui.tracing.external import ExternalSpan

if TYPE_CHECKING:
    from lens_tui.tracing.otlp_sender import OTLPSender

_VERBS = {
    "open": "open",
    "write": "write to",
    "locked": "write (locked) to",
    "prune": "prune",
    "body": "store a body in",
    "writer": "run the writer for",
}

REOPEN_AFTER_S = 5.0
"""How long the writer waits before it opens the database again after opening or writing failed."""


class TraceWriter:
    """The process's writer: queue, writer thread, retention and checkpoint habits.

    With `otlp_endpoint` every batch also goes out as OTLP/HTTP (otlp_sender.py), as well as
    into the file, or instead of it when `db_path` is None.
    """

    max_batch = 50_000
    """Most records written in one transaction; a writer that is behind writes the next at once."""

    def __init__(
        self,
        db_path: str | os.PathLike[str] | None,
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
        otlp_endpoint: str | None = None,
        otlp_token: str | None = None,
        otlp_headers: dict[str, str] | None = None,
        otlp_compression: str | None = "gzip",
        otlp_timeout: float = 10.0,
        otlp_max_queue: int = 100_000,
        otlp_max_retry_s: float = 60.0,
        start: bool = True,
    ) -> None:
        if db_path is None and not otlp_endpoint:
            raise ValueError("a trace writer needs a database path, an otlp_endpoint, or both")
        self.path = None if db_path is None else Path(db_path).expanduser()
        self.service = service
        self.flush_interval = flush_interval
        self.max_queue = max_queue
        self.busy_timeout_ms = busy_timeout_ms
        self.max_age_ms = None if retention_days is None else retention_days * retention.DAY_MS
        self.max_body_bytes = max_body_bytes
        self.prune_interval_s = prune_interval_s
        self.max_captured_body = max_captured_body
        self._stderr = stderr
        self._rows = BatchBuilder(self._fail)
        self.otlp: OTLPSender | None = None
        """Where batches go out as OTLP/HTTP too (its stats() count what was sent and dropped)."""
        if otlp_endpoint:
            from lens_tui.tracing.otlp_sender import OTLPSender

            self.otlp = OTLPSender(
                otlp_endpoint,
                service=service,
                token=otlp_token,
                headers=otlp_headers,
                compression=otlp_compression,
                timeout=otlp_timeout,
                max_queue=otlp_max_queue,
                max_retry_s=otlp_max_retry_s,
                stderr=stderr,
                start=start,
            )
        self._init_runtime()
        if start:
            self.start()

    # -- lifecycle ---------------------------------------------------------------------------

    def _init_runtime(self) -> None:
        self.queue: list[Any] = []
        """What waits for the writer thread, oldest first, flat: batch.WIDTH values a record
        (EndedSpans, LogItems, ExternalSpans, flush markers). The application's threads only
        extend it by one whole record at a time (`end`, `put`, and lens_fn's wrapper in api.py,
        inlined), each after checking `queue_limit` and `closed`; only the writer thread takes
        from it, from the front (`_drain`: a slice, then its deletion; appends go on behind)."""
        self.queue_limit = self.max_queue * WIDTH
        """`max_queue` records, in values of `queue`."""
        self.in_flight: dict[int, SpanRecord] = {}
        """Spans begun and not yet ended, by id (`begin`); lens_fn's sync spans are not in it
        but in their wrappers' frames (context.open_in_frames): see `open_spans`."""
        self.running_written: set[int] = set()
        """Writer thread only: ids of spans written as running and not yet as ended."""
        self._wake = threading.Event()
        self.wake_at = max(1000, min(20_000, self.max_queue // 4)) * WIDTH
        """The length of `queue` at which an appender wakes the writer before its interval is up."""
        self._drop_lock = threading.Lock()
        self._fork_lock = process.ForkLock()
        self._dropped = 0
        self._retry_batch: list[Any] = []
        """Records (and the flush markers waiting on them) kept after a locked write, tried first:
        flat, as in `queue`."""
        self._conn: apsw.Connection | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.closed = False
        """Set by shutdown(): what is queued after it is dropped and counted."""
        self._reported: set[str] = set()
        self._reopen_at = 0.0
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
        """Before os.fork(): wait until the writer thread is outside SQLite (process.ForkLock).

        Then close the connection (the next batch reopens it): a child inheriting an open one
        shares SQLite's per-file lock bookkeeping with it, so its own connection never takes
        the file's shared locks at the OS level. Once the parent closed, another process took
        itself for the last connection, checkpointed and deleted the WAL under the child, and
        the child's committed rows were lost (tests/tracing/test_processes.py)."""
        if self._fork_lock.hold_for_fork():
            self._close_connection()

    def after_fork_in_parent(self) -> None:
        """After os.fork() in the parent: let the writer thread go on."""
        self._fork_lock.release_after_fork()

    def after_fork_in_child(self) -> None:
        """A forked child starts afresh: own queue, own connection, own writer thread."""
        if self._conn is not None:
            process.keep_inherited(self._conn)  # never close the parent's connection from the child
        self._init_runtime()
        if self.otlp is not None:
            self.otlp.after_fork_in_child()
        self.start()

    def shutdown(self, timeout: float = 5.0) -> bool:
        """Flush what was recorded, stop the thread and close the database; True if all flushed."""
        if self.closed:
            return True
        ok = self.flush(timeout)
        self._stopping = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self.closed = True
        if self.otlp is not None:
            ok = self.otlp.shutdown(timeout) and ok
        return ok

    close = shutdown

    # -- hot path (application threads) ------------------------------------------------------

    def begin(self, record: SpanRecord) -> None:
        """Register an open span so the writer can show it as running if it runs long."""
        self.in_flight[record.span_id] = record

    def end(self, record: SpanRecord) -> None:
        """Queue a finished span. Queue first, then unregister: the writer never misses it."""
        t1 = record.t1 = perf_counter()
        # put() inlined (and this whole method in lens_fn's wrapper). Queued is an EndedSpan
        # (batch.ended_span's fields), not the record: a tuple of plain values leaves the
        # garbage collector's lists at its first collection, while queued records survived into
        # the oldest generation and made full collections frequent (~1 µs per span, measured).
        queue = self.queue
        size = len(queue)
        if size >= self.queue_limit or self.closed:
            self.count_dropped(1)
        else:
            r = record
            queue.extend(
                (r.span_id, r.trace_id, r.parent_id, r.name, r.t0, t1, r.attributes, r.source_location, r.extra, None, None)
            )  # fmt: skip
            if size == self.wake_at:
                self._wake.set()
        self.in_flight.pop(record.span_id, None)

    def wake(self) -> None:
        """Have the writer thread write what is queued now rather than at its next interval."""
        self._wake.set()

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

        `service` overrides the writer's own (the OTLP receiver stores logs of many services).
        """
        if isinstance(level, int):
            level = of_number(level)
        self.put(
            (
                normalise_level(level),
                message,
                time.time() * 1000.0 if timestamp_ms is None else timestamp_ms,
                trace_id,
                span_id,
                logger,
                source_location,
                attributes,
                exception_type,
                traceback,
                service,
            )
        )

    def record_span(self, span: ExternalSpan) -> None:
        """Queue a span recorded elsewhere (OpenTelemetry); never blocks, never raises."""
        self.put((span, *PAD10))

    def put(self, record: tuple[Any, ...]) -> None:
        """Queue one record of batch.WIDTH values (a LogItem; an ExternalSpan and PAD10); never
        blocks, never raises: a full queue or a closed writer drops it and counts the drop."""
        queue = self.queue
        size = len(queue)
        if size >= self.queue_limit or self.closed:
            with self._drop_lock:  # the rare path; `+=` alone is not atomic across threads
                self._dropped += 1
            return
        queue.extend(record)
        if size == self.wake_at:
            self._wake.set()

    @property
    def queued(self) -> int:
        """Records waiting in the queue (a pending flush's marker counts as one)."""
        return len(self.queue) // WIDTH

    @property
    def retrying(self) -> int:
        """Spans and logs kept for a retry after the database was locked (at most max_queue)."""
        return sum(1 for v in self._retry_batch[::WIDTH] if type(v) is not threading.Event)

    @property
    def backlog(self) -> int:
        """Records queued (or kept for a retry) and not yet written: the OTLP receiver's back-pressure."""
        return (len(self.queue) + len(self._retry_batch)) // WIDTH

    @property
    def dropped(self) -> int:
        """Records dropped so far because the queue was full, the writer closed or writes failed."""
        return self._dropped

    def flush(self, timeout: float | None = 10.0) -> bool:
        """Block until everything queued before this call is committed (or dropped); True if so."""
        if self._thread is None or not self._thread.is_alive():
            return not self.queue
        started = time.monotonic()
        marker = threading.Event()
        self.queue.extend((marker, *PAD10))
        self._wake.set()
        ok = marker.wait(timeout)
        if self.otlp is not None:
            left = None if timeout is None else max(0.0, timeout - (time.monotonic() - started))
            ok = self.otlp.flush(left) and ok
        return ok

    def prune(
        self, *, max_age_ms: float | None = None, max_body_bytes: int | None = None
    ) -> retention.PruneResult:
        """Apply retention now on a connection of the caller's own (defaults: the writer's policy)."""
        if self.path is None:
            raise ValueError("this writer has no database (it only sends OTLP)")
        conn = sql.open_writable(self.path, self.busy_timeout_ms)
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
            if len(self.queue) < self.max_batch * WIDTH:
                self._wake.wait(self.flush_interval)
            else:  # behind: the next batch at once, after a yield (a fork may wait for the lock)
                time.sleep(0)
            self._wake.clear()
            ids.refresh_trace_head()
            stopping = self._stopping
            try:
                with self._fork_lock:
                    self._cycle()
            except BaseException as exc:  # the writer thread must survive anything
                self._fail("writer", exc)
            if stopping and not self.queue:
                break
        with self._fork_lock:
            self._close_connection()

    def _drain(self) -> list[Any]:
        """Up to max_batch queued records (flat, as in `queue`), a batch kept for a retry first."""
        queue = self.queue
        # At most max_batch per transaction: bounds the writer's memory and each transaction.
        # The slice and its deletion are each one step under the GIL, and appenders only add
        # behind them, so the records taken are exactly those removed.
        n = min(len(queue), self.max_batch * WIDTH)
        items = queue[:n]
        del queue[:n]
        if self.otlp is not None and items:
            self.otlp.submit(_records(items))  # the same batch, once: retries are not sent again
        if self._retry_batch:
            items = self._retry_batch + items
            self._retry_batch = []
        return items

    def open_spans(self) -> list[SpanRecord]:
        """The spans begun for this writer and not ended (some may end while this is read)."""
        return [*self.in_flight.copy().values(), *open_in_frames(self)]

    def _running_spans(self, items: list[Any], open_spans: list[SpanRecord]) -> list[SpanRecord]:
        """Open spans open longer than a flush interval and not yet written as running."""
        if not open_spans:
            return []
        horizon = perf_counter() - self.flush_interval
        written = self.running_written
        long = [
            r for r in open_spans if r.t1 is None and r.t0 <= horizon and r.span_id not in written
        ]
        if not long:
            return long
        done = set(items[::WIDTH])  # the ended ones among them are in this batch
        return [r for r in long if r.span_id not in done]

    def _cycle(self) -> None:
        items = self._drain()
        if self.path is None:  # OTLP only: the drain handed the batch to the sender
            for marker in items[::WIDTH]:
                if type(marker) is threading.Event:
                    marker.set()
            return
        open_spans = self.open_spans()
        running = self._running_spans(items, open_spans)
        markers: list[threading.Event] = []
        if items or running:
            markers = self._write(items, running, open_spans)
        # A due prune runs before flush() waiters are released: otherwise the first one (right
        # after the first write) raced whatever the flushing thread did next.
        if (
            self._conn is not None
            and self.max_age_ms is not None
            and time.monotonic() >= self._next_prune
        ):
            self._next_prune = time.monotonic() + self.prune_interval_s
            try:
                retention.prune(
                    self._conn, max_age_ms=self.max_age_ms, max_body_bytes=self.max_body_bytes
                )
            except Exception as exc:
                self._fail("prune", exc)
        for marker in markers:
            marker.set()

    def _ensure_connection(self) -> bool:
        if self._conn is not None:
            return True
        if time.monotonic() < self._reopen_at:
            return False
        try:
            self._conn = sql.open_writable(self.path, self.busy_timeout_ms)
        except Exception as exc:
            self._reopen_at = time.monotonic() + REOPEN_AFTER_S
            self._fail("open", exc)
            return False
        sql.warn_about_sqlite_once(self._stderr)
        return True

    def count_dropped(self, n: int) -> None:
        """Count `n` records dropped (a full queue, a closed writer, a failed write)."""
        with self._drop_lock:
            self._dropped += n

    def _write(
        self, items: list[Any], running: list[SpanRecord], open_spans: list[SpanRecord]
    ) -> list[threading.Event]:
        """One batch in one transaction; the flush markers it releases (none when it was kept
        for a retry: the database locked)."""
        if not self._ensure_connection():
            markers = [m for m in items[::WIDTH] if type(m) is threading.Event]
            self.count_dropped(len(items) // WIDTH - len(markers))
            return markers
        conn = self._conn
        assert conn is not None
        rows = self._rows.build(
            items,
            running,
            service=self.service,
            open_spans=open_spans,
            running_written=self.running_written,
            max_captured_body=self.max_captured_body,
            conn=conn,
        )
        records = rows.n_spans + rows.n_logs
        try:
            self._commit(conn, rows, rows.n_spans, rows.n_logs)
        except sql.TRANSIENT_ERRORS as exc:
            # Locked by another process for longer than busy_timeout: keep the batch (and the
            # flush markers waiting on it) for the next cycle, within the queue bound.
            self._fail("locked", exc)
            overflow = records - self.max_queue
            if overflow > 0:
                self.count_dropped(overflow)
                items = _without_oldest(items, overflow)
            self._retry_batch = items
            return []
        except Exception as exc:
            self._fail("write", exc)
            self.count_dropped(records)
            self._close_connection()
            self._reopen_at = time.monotonic() + REOPEN_AFTER_S
            return rows.markers
        for record in running:
            self.running_written.add(record.span_id)
        if rows.ended_after_running:
            self.running_written.difference_update(rows.ended_after_running)
        for external in rows.externals:
            external.persisted = True
        self.spans_written += rows.n_spans
        self.logs_written += rows.n_logs
        return rows.markers

    def _commit(self, conn: apsw.Connection, rows: RowBatch, spans: int, logs: int) -> None:
        """Write `rows` and this writer's own row in one transaction: all of it, or none."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Stamped under the write lock, so updated_at grows in commit order across
            # processes: readers tail with `updated_at > max seen`.
            stamp = time.time() * 1000.0
            if rows.bodies:
                conn.executemany(sql.BODY_INSERT, [(*b, stamp) for b in rows.bodies.values()])
            sql.TRACES_MULTI.run(conn, rows.traces, (stamp,))
            if rows.standin_traces:
                sql.TRACES_STANDIN_MULTI.run(conn, rows.standin_traces, (stamp,))
            sql.SPANS_PLAIN_MULTI.run(conn, rows.plain_spans, (stamp, rows.base, self.service))
            if rows.lone_roots:
                conn.execute(sql.TRACES_FROM_ROOTS, (stamp, apsw.carray(tuple(rows.lone_roots))))
            if rows.spans:
                sql.SPANS_MULTI.run(conn, rows.spans, (stamp,))
            if rows.logs:
                sql.LOGS_MULTI.run(conn, rows.logs)
            conn.execute(
                sql.WRITER_UPSERT,
                (
                    self._writer_id,
                    self._pid,
                    socket.gethostname(),
                    self.service,
                    self._started_at,
                    stamp,
                    self.spans_written + spans,
                    self.logs_written + logs,
                    self.dropped,
                    self.errors,
                ),
            )
            conn.execute("COMMIT")
        except BaseException:
            if not conn.getautocommit():
                conn.execute("ROLLBACK")
            raise

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


TraceStore = TraceWriter
"""The writer's former name, kept for code written against it."""


def _records(items: list[Any]) -> list[Any]:
    """The queue's flat records as the OTLP sender takes them: EndedSpans, LogItems, ExternalSpans."""
    out: list[Any] = []
    for record in zip(*[iter(items)] * WIDTH, strict=False):  # whole records only
        kind = type(record[0])
        if kind is int:
            out.append(record[:9])
        elif kind is str:
            out.append(record)
        elif kind is ExternalSpan:
            out.append(record[0])
    return out


def _without_oldest(items: list[Any], n: int) -> list[Any]:
    """`items` (flat records) without their first `n` spans and logs; flush markers all kept."""
    kept: list[Any] = []
    for i in range(0, len(items), WIDTH):
        if n > 0 and type(items[i]) is not threading.Event:
            n -= 1
            continue
        kept.extend(items[i : i + WIDTH])
    return kept
