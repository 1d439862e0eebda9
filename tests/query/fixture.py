"""A trace database with known contents for the query tests: a plain Python description of
traces, spans and logs (times as offsets from a given "now"), written into the real schema by
raw SQL on a second connection, so each test can compute its expected answer from the
description alone."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import apsw

from lens_tui import schema

MINUTE = 60_000.0
HOUR = 60 * MINUTE
NOW = datetime(2026, 12, 7, 12, 0).timestamp() * 1000.0
"""Local noon on 2026-12-07, as epoch ms: the clock the compiler is given."""


@dataclass
class Sp:
    """A span: `parent` indexes the trace's spans (None for the root)."""

    name: str
    duration: float | None
    parent: int | None = 0
    service: str = "shop-api"
    failed: bool = False
    attributes: dict[str, Any] | None = None
    remote_parent: bool = False
    """A root continuing a caller's trace: its parent is a span of another process."""


@dataclass
class Tr:
    """A trace: `spans[0]` is its root (named by the trace row, written unless not
    `root_written`: an open root); `ago` ms before now it started."""

    trace_id: str
    ago: float
    spans: list[Sp]
    root_written: bool = True

    @property
    def name(self) -> str:
        return self.spans[0].name

    @property
    def duration(self) -> float | None:
        return self.spans[0].duration

    @property
    def errors(self) -> int:
        return sum(1 for s in self.spans if s.failed)

    @property
    def status(self) -> str:
        if self.errors:
            return "error"
        return "running" if self.duration is None else "ok"

    def start(self, now: float) -> float:
        return now - self.ago


@dataclass
class Lg:
    """A log record, `ago` ms before now, of trace `trace` (an index into TRACES) or none."""

    level: str
    message: str
    ago: float
    logger: str | None = "shop.api"
    service: str | None = "shop-api"
    trace: int | None = None
    attributes: dict[str, Any] | None = None
    stored_level: str | None = None
    """The level as stored, when it is not the normalised spelling."""


def _id(prefix: str, n: int) -> str:
    return f"{prefix}{n:0{32 - len(prefix)}x}"


TRACES: list[Tr] = [
    Tr(
        _id("01a25", 1),
        5 * MINUTE,
        [
            Sp("POST /checkout", 120.0, None, attributes={"http.status_code": 200}),
            Sp("db.query", 60.0, service="shop-db", attributes={"user.id": 7}),
            Sp("cache.get", 1.0),
        ],
    ),
    Tr(
        _id("01a25", 2),
        20 * MINUTE,
        [
            Sp("GET /orders/{id}", 300.0, None, attributes={"http.status_code": 503}),
            Sp("payments.charge", 200.0, service="payments", failed=True),
            Sp("db.query", 20.0, service="shop-db", attributes={"user.id": 42}),
        ],
    ),
    Tr(
        _id("01a25", 3),
        2 * HOUR,
        [  # exactly local 10:00
            Sp("GET /orders", 260.0, None, attributes={"http.status_code": "502"}),
            Sp("db.query", 70.0, service="shop-db", attributes={"user.id": "42"}),
            Sp("cache.get", 2.0),
        ],
    ),
    Tr(
        _id("01a26", 4),
        1 * MINUTE,
        [
            Sp("Checkout retry", None, None, attributes={"http.status_code": 500}),
            Sp("cache.get", 0.5),
        ],
    ),
    Tr(
        _id("01a26", 5),
        3 * HOUR,
        [
            Sp("GET /health", 2.0, None, attributes={"http.status_code": 404}),
            Sp("probe", 1.0, attributes={"http.status_code": 500}),
        ],
    ),
    Tr(
        _id("01a26", 6),
        30 * MINUTE,
        [
            Sp("GET /users/{id}", 80.0, None, failed=True, attributes={"http.status_code": 500}),
            Sp("payments.lookup", 10.0, service="payments"),
            Sp("db.query", 55.0, service="shop-db", failed=True),
        ],
    ),
    Tr(
        _id("01b00", 7),
        4 * HOUR,
        [
            Sp("worker ÜBER straße", 1_000.0, None, service="worker", attributes={"odd key": "x"}),
            Sp("step", 400.0, service="worker", attributes={"odd key": "y", "user.id": 42.0}),
        ],
    ),
    Tr(
        _id("01b00", 8),
        10 * MINUTE,
        [
            Sp("POST /orders", 250.0, None, attributes={"http.status_code": 201}),
            Sp("cache.get", 3.0, attributes={"user.id": 420, "odd key": "x"}),
        ],
    ),
    Tr(_id("01b00", 9), 50 * MINUTE, [Sp("GET /search", 0.09, None)]),
    Tr(_id("01b00", 10), 5 * HOUR, [Sp("batch.job", 2 * HOUR, None, service="batch")]),
    Tr(
        _id("01b00", 11),
        6 * HOUR,
        [
            Sp("sync", 90_000.0, None, service="batch"),
            Sp("cache.get", 51.0, service="batch"),
        ],
    ),
    Tr(  # continues a caller's trace: its root stands in for the remote one
        _id("01c00", 12),
        40 * MINUTE,
        [
            Sp("GET /remote", 30.0, None, remote_parent=True, attributes={"http.status_code": 502}),
            Sp("db.query", 12.0, service="shop-db"),
        ],
    ),
    Tr(  # its root is still open, not written: the trace row names it, no span row holds it
        _id("01c00", 13),
        2 * MINUTE,
        [
            Sp("POST /upload", None, None, attributes={"http.status_code": 500}),
            Sp("store.put", 20.0, attributes={"http.status_code": 507}),
        ],
        root_written=False,
    ),
]

LOGS: list[Lg] = [
    Lg("info", "checkout started", 5 * MINUTE, trace=0, attributes={"request_id": "r-17"}),
    Lg(
        "warn",
        "db timeout after 50 ms",
        5 * MINUTE - 10,
        logger="shop.db",
        trace=0,
        attributes={"request_id": "r-17", "attempt": 2},
    ),
    Lg(
        "error",
        "payment declined",
        20 * MINUTE,
        logger="shop.payments",
        service="payments",
        trace=1,
        attributes={"request_id": "r-170"},
    ),
    Lg(
        "warn",
        "retrying after TIMEOUT",
        2 * MINUTE,
        logger="shop.db",
        trace=2,
        stored_level="WARNING",
    ),
    Lg("debug", "cache miss", 1 * MINUTE, logger="shop.cache", trace=3),
    Lg(
        "error",
        "Timeout talking to payments",
        30 * MINUTE,
        service="payments",
        trace=5,
        stored_level="critical",
    ),
    Lg("info", "worker heartbeat", 4 * HOUR, logger=None, service="worker", trace=6),
    Lg("info", "startup complete", 7 * HOUR, logger="shop.api", service=None),
    Lg("warn", "disk 91% full", 3 * MINUTE, logger="shop.ops", attributes={"request_id": "r-17"}),
]


def write(path: Path, now: float = NOW) -> Path:
    """The database of TRACES and LOGS at `path` (a new file), WAL mode, closed afterwards."""
    conn = apsw.Connection(str(path))
    conn.execute("PRAGMA journal_mode=WAL")
    schema.migrate(conn)
    conn.execute("BEGIN IMMEDIATE")
    for n, trace in enumerate(TRACES):
        insert_trace(conn, trace, now, n)
    for log in LOGS:
        insert_log(conn, log, now)
    conn.execute("COMMIT")
    conn.close()
    return path


def span_id(trace_n: int, k: int) -> str:
    """The fixed id of span `k` of trace number `trace_n`."""
    return f"{trace_n + 1:08x}{k:08x}"


def insert_row(conn: apsw.Connection, model: type[schema.Model], **values: Any) -> None:
    """One row of `model`'s table with these columns."""
    conn.execute(schema.placeholders_insert(model, values), tuple(values.values()))


def insert_trace(conn: apsw.Connection, trace: Tr, now: float, n: int) -> None:
    """One trace row and its span rows, as the writer would store them."""
    start = trace.start(now)
    duration = trace.duration
    insert_row(
        conn,
        schema.Trace,
        trace_id=trace.trace_id,
        root_span_name=trace.name,
        source="test",
        started_at=start,
        ended_at=None if duration is None else start + duration,
        duration_ms=duration,
        root_span_id=span_id(n, 0),
        service=trace.spans[0].service,
        status=trace.status,
        span_count=len(trace.spans),
        error_count=trace.errors,
        updated_at=now,
    )
    for k, span in enumerate(trace.spans):
        if k == 0 and not trace.root_written:
            continue
        parent = None if span.parent is None else span_id(n, span.parent)
        insert_row(
            conn,
            schema.Span,
            span_id=span_id(n, k),
            trace_id=trace.trace_id,
            parent_span_id="feedfacefeedface" if span.remote_parent else parent,
            name=span.name,
            started_at=start + k,
            duration_ms=span.duration,
            error_message="failed" if span.failed else None,
            status="error" if span.failed else ("running" if span.duration is None else "ok"),
            service=span.service,
            attributes=None if span.attributes is None else json.dumps(span.attributes),
            updated_at=now,
        )


def insert_log(conn: apsw.Connection, log: Lg, now: float) -> None:
    """One log row."""
    trace = None if log.trace is None else TRACES[log.trace]
    insert_row(
        conn,
        schema.Log,
        trace_id=None if trace is None else trace.trace_id,
        span_id=None if log.trace is None else span_id(log.trace, 0),
        level=log.stored_level or log.level,
        message=log.message,
        timestamp=now - log.ago,
        logger=log.logger,
        service=log.service,
        attributes=None if log.attributes is None else json.dumps(log.attributes),
    )


def traces_where(test: Any) -> set[str]:
    """Ids of the described traces for which `test(trace)` holds."""
    return {t.trace_id for t in TRACES if test(t)}


def logs_where(test: Any) -> list[str]:
    """Messages of the described logs for which `test(log)` holds, in id (insertion) order."""
    return [g.message for g in LOGS if test(g)]
