"""Real trace database files for the read-side tests, written by raw SQL on a second connection."""

from __future__ import annotations

import gzip
import hashlib
import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import apsw
import pytest

from lens_tui import schema
from lens_tui.store.reader import TraceReader

ORIGINAL_LAYOUT_SQL = """
CREATE TABLE traces (
    trace_id TEXT PRIMARY KEY NOT NULL,
    root_span_name TEXT NOT NULL,
    source TEXT,
    started_at INTEGER NOT NULL,
    ended_at INTEGER,
    duration_ms INTEGER
);
CREATE TABLE spans (
    span_id TEXT PRIMARY KEY NOT NULL,
    trace_id TEXT NOT NULL REFERENCES traces(trace_id) ON DELETE CASCADE,
    parent_span_id TEXT,
    name TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    duration_ms INTEGER,
    error_message TEXT,
    input_size INTEGER,
    output_size INTEGER
);
CREATE TABLE logs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    trace_id TEXT,
    span_id TEXT,
    level TEXT NOT NULL,
    message TEXT NOT NULL,
    timestamp INTEGER NOT NULL
);
"""


def now_ms() -> float:
    """Wall clock in epoch milliseconds, as writers stamp updated_at."""
    return time.time() * 1000.0


def tid(n: int) -> str:
    """A deterministic 32-hex trace id."""
    return f"{n:032x}"


def sid(trace: int, n: int) -> str:
    """A deterministic 16-hex span id."""
    return f"{trace:08x}{n:08x}"


class TraceDb:
    """A writer connection on a real file in our schema (WAL), with raw-SQL insert helpers."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn = apsw.Connection(str(path))
        self.conn.set_busy_timeout(2000)
        self.conn.execute("PRAGMA journal_mode=WAL")
        schema.migrate(self.conn)
        self._log_ids = itertools.count(1)

    def insert(self, model: type[schema.Model], **values: Any) -> None:
        """One row of `model` with the given columns."""
        sql = schema.placeholders_insert(model, values)
        self.conn.execute(sql, tuple(values.values()))

    def trace(
        self,
        n: int,
        *,
        name: str = "GET /",
        started_at: float | None = None,
        duration_ms: float | None = 10.0,
        status: str = "ok",
        spans: int = 1,
        errors: int = 0,
        updated_at: float | None = None,
        **extra: Any,
    ) -> str:
        """A trace row (no spans); returns its id."""
        start = 1_000_000.0 + n * 100.0 if started_at is None else started_at
        self.insert(
            schema.Trace,
            trace_id=tid(n),
            root_span_name=name,
            source="test",
            started_at=start,
            ended_at=None if duration_ms is None else start + duration_ms,
            duration_ms=duration_ms,
            root_span_id=sid(n, 0),
            service="svc",
            status=status,
            span_count=spans,
            error_count=errors,
            updated_at=now_ms() if updated_at is None else updated_at,
            **extra,
        )
        return tid(n)

    def span(
        self,
        trace: int,
        n: int,
        *,
        name: str = "op",
        started_at: float = 0.0,
        duration_ms: float | None = 1.0,
        parent: int | None = None,
        updated_at: float | None = None,
        **extra: Any,
    ) -> str:
        """A span row of trace `trace`; returns its id."""
        self.insert(
            schema.Span,
            span_id=sid(trace, n),
            trace_id=tid(trace),
            parent_span_id=None if parent is None else sid(trace, parent),
            name=name,
            started_at=started_at,
            duration_ms=duration_ms,
            updated_at=now_ms() if updated_at is None else updated_at,
            **extra,
        )
        return sid(trace, n)

    def log(
        self,
        message: str,
        *,
        level: str = "info",
        trace: int | None = None,
        span: str | None = None,
        timestamp: float = 0.0,
        **extra: Any,
    ) -> int:
        """A log row; returns the id SQLite gave it."""
        self.insert(
            schema.Log,
            trace_id=None if trace is None else tid(trace),
            span_id=span,
            level=level,
            message=message,
            timestamp=timestamp,
            **extra,
        )
        return int(self.conn.last_insert_rowid())

    def body(self, raw: bytes, *, compress: bool) -> str:
        """A bodies row (gzip when asked); returns its hash."""
        digest = hashlib.sha256(raw).hexdigest()
        stored = gzip.compress(raw) if compress else raw
        self.insert(
            schema.Body,
            hash=digest,
            body=stored,
            is_compressed=int(compress),
            original_size=len(raw),
            stored_size=len(stored),
            content_type="text/plain",
            created_at=now_ms(),
        )
        return digest

    def close(self) -> None:
        """Close the writer connection."""
        self.conn.close()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[TraceDb]:
    """An empty database in our schema with a writer connection."""
    handle = TraceDb(tmp_path / "traces.db")
    yield handle
    handle.close()


def make_original_layout(path: Path, *, wal: bool) -> None:
    """A database in exactly the original LENS layout, with a few rows, closed afterwards."""
    conn = apsw.Connection(str(path))
    if wal:
        conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(ORIGINAL_LAYOUT_SQL)
    conn.execute("BEGIN")
    for n in range(1, 4):
        conn.execute(
            "INSERT INTO traces VALUES (?, ?, ?, ?, ?, ?)",
            (tid(n), f"route {n}", "web", 1_000 * n, 1_000 * n + 50, 50),
        )
        conn.execute(
            "INSERT INTO spans VALUES (?, ?, NULL, ?, ?, ?, ?, ?, ?)",
            (sid(n, 0), tid(n), f"route {n}", 1_000 * n, 50, None, 10, 20),
        )
        conn.execute(
            "INSERT INTO spans VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
            (sid(n, 1), tid(n), sid(n, 0), "child", 1_000 * n + 5, 10, "boom" if n == 2 else None),
        )
        conn.execute(
            "INSERT INTO logs (trace_id, span_id, level, message, timestamp) VALUES (?,?,?,?,?)",
            (tid(n), sid(n, 1), "warn" if n == 2 else "info", f"log {n}", 1_000 * n + 6),
        )
    # A running trace: no end, no duration, one running span.
    conn.execute("INSERT INTO traces VALUES (?, 'route 4', 'web', 4000, NULL, NULL)", (tid(4),))
    conn.execute(
        "INSERT INTO spans VALUES (?, ?, NULL, 'route 4', 4000, NULL, NULL, NULL, NULL)",
        (sid(4, 0), tid(4)),
    )
    conn.execute("COMMIT")
    conn.close()


@pytest.fixture
def record_db(tmp_path: Path) -> Path:
    """The sample record store (tests/store/record_sample.py), its writer closed (everything
    checkpointed into the file)."""
    from .record_sample import build

    path = tmp_path / "dispatch.db"
    build(path).close()
    return path


@pytest.fixture
def record_reader(record_db: Path) -> Iterator[TraceReader]:
    """A reader open on the sample record store."""
    with TraceReader(record_db) as handle:
        yield handle
