"""A trace database with fixed ids and times, written through a real APSW connection.

Used by the Pilot and snapshot tests: nested spans, an error with a traceback, a running span,
logs at every level, a captured JSON body, and hostile text (markup and escape sequences) in
names, attributes and messages. `add_trace` plays a second process writing while the app runs.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import apsw

from lens_tui import schema

T0 = 1_700_000_000_000.0
"""Epoch ms of the first fixture trace (2023-11-14 22:13:20 UTC)."""
NOW = T0 + 60_000.0
"""The frozen clock the tests give the app: one minute after the first trace."""

MARKUP_NAME = "[bold red]x[/]"
ESC_TITLE = "\x1b]0;pwned\x07"
ESC_CLEAR = "\x1b[2J"
TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "shop/payments.py", line 42, in charge\n'
    "    gateway.charge(card, amount)\n"
    "ValueError: card declined"
)
BODY = {"order": 1234, "items": [{"sku": "A-1", "qty": 2}], "note": "[b]not markup[/b]"}


def trace_id(n: int) -> str:
    """The fixed trace id number `n`."""
    return f"{0x4BF92F3577B34DA6A3CE929D0E0E4700 + n:032x}"


def span_id(trace: int, n: int) -> str:
    """The fixed span id `n` of trace `trace`."""
    return f"{0x00F067AA0BA90000 + trace * 0x100 + n:016x}"


@dataclass
class S:
    """A span to insert: offsets are ms from the trace start; duration None while running."""

    n: int
    parent: int | None
    name: str
    offset: float
    duration: float | None
    error: str | None = None
    exception_type: str | None = None
    traceback: str | None = None
    attributes: dict[str, object] = field(default_factory=dict)
    kind: str | None = "internal"
    input_body: bytes | None = None
    source_location: str | None = None


@dataclass
class L:
    """A log to insert: offset in ms from the trace start, tied to span `span` (or none)."""

    level: str
    message: str
    offset: float
    span: int | None = None
    logger: str = "shop"


def connect(path: Path) -> apsw.Connection:
    """A writing connection in WAL mode with the schema in place."""
    conn = apsw.Connection(str(path))
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA busy_timeout=5000")
    schema.migrate(conn)
    return conn


def insert_trace(
    conn: apsw.Connection,
    n: int,
    start: float,
    spans: list[S],
    logs: list[L] = (),  # type: ignore[assignment]
    *,
    service: str = "shop",
    updated_at: float | None = None,
) -> str:
    """Insert one trace with its spans and logs in one transaction; returns its id."""
    tid = trace_id(n)
    stamp = updated_at if updated_at is not None else start + 5_000
    root = spans[0]
    running = any(s.duration is None for s in spans)
    errors = sum(1 for s in spans if s.error)
    ends = [start + s.offset + s.duration for s in spans if s.duration is not None]
    status = "error" if errors else ("running" if root.duration is None else "ok")
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(
        "INSERT INTO traces (trace_id, root_span_name, source, started_at, ended_at, duration_ms,"
        " root_span_id, service, status, span_count, error_count, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            tid,
            root.name,
            "python",
            start,
            None if running else max(ends),
            None if root.duration is None else max(ends) - start,
            span_id(n, root.n),
            service,
            status,
            len(spans),
            errors,
            stamp,
        ),
    )
    for s in spans:
        body_hash = None
        if s.input_body is not None:
            body_hash = hashlib.sha256(s.input_body).hexdigest()
            packed = gzip.compress(s.input_body, mtime=0)
            conn.execute(
                "INSERT OR IGNORE INTO bodies (hash, body, is_compressed, original_size,"
                " stored_size, content_type, created_at) VALUES (?, ?, 1, ?, ?, ?, ?)",
                (body_hash, packed, len(s.input_body), len(packed), "application/json", start),
            )
        conn.execute(
            "INSERT INTO spans (span_id, trace_id, parent_span_id, name, started_at, duration_ms,"
            " error_message, input_size, output_size, status, service, kind, attributes,"
            " exception_type, traceback, source_location, input_body_hash, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                span_id(n, s.n),
                tid,
                None if s.parent is None else span_id(n, s.parent),
                s.name,
                start + s.offset,
                s.duration,
                s.error,
                None if s.input_body is None else len(s.input_body),
                512 if s.n == 0 else None,
                "error" if s.error else ("running" if s.duration is None else "ok"),
                service,
                s.kind,
                json.dumps(s.attributes) if s.attributes else None,
                s.exception_type,
                s.traceback,
                s.source_location,
                body_hash,
                stamp,
            ),
        )
    for log in logs:
        conn.execute(
            "INSERT INTO logs (trace_id, span_id, level, message, timestamp, logger, service)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                tid,
                None if log.span is None else span_id(n, log.span),
                log.level,
                log.message,
                start + log.offset,
                log.logger,
                service,
            ),
        )
    conn.execute("COMMIT")
    return tid


def build(path: Path) -> Path:
    """Write the fixture database at `path` (which must not exist) and return it."""
    conn = connect(path)
    insert_trace(
        conn,
        1,
        T0,
        [
            S(
                0,
                None,
                "GET /orders",
                0,
                48.5,
                kind="server",
                attributes={"http.method": "GET", "http.route": "/orders", "http.status": 200},
                source_location="shop/web.py:88",
            ),
            S(1, 0, "auth.verify", 1, 6),
            S(2, 1, "cache.get session", 1.5, 0.8, attributes={"cache.hit": True}),
            S(3, 0, "orders.list", 8, 32),
            S(
                4,
                3,
                "db.query SELECT orders",
                9,
                18,
                kind="client",
                attributes={"db.statement": "SELECT * FROM orders WHERE user_id = ?"},
            ),
            S(5, 3, "db.query SELECT items", 28, 10, kind="client"),
            S(6, 0, "render json", 41, 6),
        ],
        [
            L("debug", "session cache hit", 2, 2, "shop.cache"),
            L("info", "listing orders for user 42", 8.5, 3, "shop.orders"),
            L("debug", "query took 18 ms", 27, 4, "shop.db"),
            L("info", "200 OK in 48.5 ms", 48, 0, "shop.web"),
        ],
    )
    insert_trace(
        conn,
        2,
        T0 + 1_250,
        [
            S(
                0,
                None,
                "POST /checkout",
                0,
                120,
                kind="server",
                error="payment failed",
                attributes={"http.method": "POST", "http.status": 500},
            ),
            S(
                1,
                0,
                "payments.charge",
                10,
                95,
                error="card declined",
                exception_type="ValueError",
                traceback=TRACEBACK,
                input_body=json.dumps(BODY).encode(),
                source_location="shop/payments.py:42",
            ),
            S(2, 1, "http POST gateway/charge", 12, 80, kind="client"),
        ],
        [
            L("info", "checkout started", 1, 0, "shop.web"),
            L("warn", "gateway slow: 80 ms", 93, 2, "shop.payments"),
            L("error", "card declined for order 1234", 105, 1, "shop.payments"),
        ],
    )
    insert_trace(
        conn,
        3,
        T0 + 2_500,
        [
            S(
                0,
                None,
                MARKUP_NAME,
                0,
                15,
                attributes={"evil": ESC_TITLE + "title", "[link=x]": ESC_CLEAR + "clear"},
            ),
            S(1, 0, "child " + ESC_CLEAR + " name", 2, 5),
        ],
        [
            L("warn", "markup " + MARKUP_NAME + " and " + ESC_TITLE + " title", 3, 1, "evil"),
            L("info", "clear " + ESC_CLEAR + " screen", 4, 0, "evil"),
        ],
    )
    insert_trace(
        conn,
        4,
        T0 + 3_750,
        [
            S(0, None, "GET /reports/export", 0, None, kind="server"),
            S(1, 0, "db.query SELECT report", 2, 1_800, kind="client"),
            S(2, 0, "render csv", 1_900, None),
        ],
        [L("info", "export running", 5, 0, "shop.reports")],
    )
    for k in range(5, 9):
        insert_trace(
            conn,
            k,
            T0 + 1_250 * k,
            [S(0, None, "GET /health", 0, 0.6 + k / 10, kind="server")],
            [L("debug", f"health check {k}", 0.3, 0, "shop.health")],
        )
    conn.execute(
        "INSERT INTO writers (writer_id, pid, hostname, service, started_at, last_write_at,"
        " spans_written, logs_written, dropped, errors) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        ("w1", 4242, "box", "shop", T0, T0 + 12_000, 19, 14, 3, 0),
    )
    conn.close()
    return path


def add_trace(path: Path, n: int, name: str = "GET /live", *, error: bool = False) -> str:
    """Write one more trace from a second connection, newer than every fixture trace."""
    import time

    conn = connect(path)
    try:
        start = T0 + 100_000 + n * 1_000
        return insert_trace(
            conn,
            n,
            start,
            [S(0, None, name, 0, 3.5, error="boom" if error else None)],
            [L("error" if error else "info", f"{name} handled", 1, 0, "shop.live")],
            updated_at=time.time() * 1000,
        )
    finally:
        conn.close()


def grow_running_trace(path: Path) -> str:
    """From a second connection: the running export trace gets a new child and its running
    `render csv` span finishes (as a writer flushing a long trace would do). Returns the new
    span's id."""
    import time

    conn = connect(path)
    try:
        stamp = time.time() * 1000
        tid, start = trace_id(4), T0 + 3_750
        new_span = span_id(4, 3)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "INSERT INTO spans (span_id, trace_id, parent_span_id, name, started_at, duration_ms,"
            " status, service, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'ok', 'shop', ?)",
            (new_span, tid, span_id(4, 0), "upload s3", start + 2_000, 500.0, stamp),
        )
        conn.execute(
            "UPDATE spans SET duration_ms = 1000, status = 'ok', updated_at = ? WHERE span_id = ?",
            (stamp, span_id(4, 2)),
        )
        conn.execute(
            "UPDATE traces SET span_count = 4, updated_at = ? WHERE trace_id = ?", (stamp, tid)
        )
        conn.execute("COMMIT")
        return new_span
    finally:
        conn.close()


def add_spans(path: Path, n: int, spans: list[S], start: float = NOW - 30_000) -> str:
    """From a second connection: trace number `n` made of `spans`, last written at NOW."""
    conn = connect(path)
    try:
        return insert_trace(conn, n, start, spans, updated_at=NOW)
    finally:
        conn.close()


def wide(root: str, count: int) -> list[S]:
    """A root of `count` ms and its `count - 1` children `step 1`, `step 2`… one a ms."""
    return [S(0, None, root, 0, float(count))] + [
        S(i, 0, f"step {i}", float(i), 0.5) for i in range(1, count)
    ]


def add_loose_logs(
    path: Path, lines: Iterable[tuple[str, str]], logger: str = "flood"
) -> dict[str, int]:
    """From a second connection, in one transaction: (level, message) logs tied to no trace,
    timestamped from NOW on. Returns the file's log count per stored level afterwards."""
    conn = connect(path)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO logs (level, message, timestamp, logger) VALUES (?, ?, ?, ?)",
            ((level, message, NOW + k, logger) for k, (level, message) in enumerate(lines)),
        )
        conn.execute("COMMIT")
        return dict(conn.execute("SELECT level, count(*) FROM logs GROUP BY level"))
    finally:
        conn.close()


def add_logs(path: Path, trace: int, logs: list[L]) -> None:
    """From a second connection, in one transaction: logs of trace number `trace` (tied to its
    spans by `L.span`), their offsets counted from that trace's start."""
    conn = connect(path)
    try:
        conn.execute("BEGIN IMMEDIATE")
        ((base,),) = conn.execute(
            "SELECT started_at FROM traces WHERE trace_id = ?", (trace_id(trace),)
        ).fetchall()
        for log in logs:
            conn.execute(
                "INSERT INTO logs (trace_id, span_id, level, message, timestamp, logger, service)"
                " VALUES (?, ?, ?, ?, ?, ?, 'shop')",
                (
                    trace_id(trace),
                    None if log.span is None else span_id(trace, log.span),
                    log.level,
                    log.message,
                    base + log.offset,
                    log.logger,
                ),
            )
        conn.execute("COMMIT")
    finally:
        conn.close()
