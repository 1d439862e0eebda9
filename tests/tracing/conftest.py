"""Fixtures for the tracing tests: a configured process-wide store on a real file, and a second,
read-only connection to check what the writer committed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import apsw
import pytest

from lens_tui import tracing
from lens_tui.tracing.writer import TraceWriter

FLUSH_INTERVAL = 0.02


def read(path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    """Run one query on a fresh read-only connection (the dashboard's way) and close it."""
    conn = apsw.Connection(
        f"file:{path}?mode=ro", flags=apsw.SQLITE_OPEN_READONLY | apsw.SQLITE_OPEN_URI
    )
    try:
        cursor = conn.execute(sql, params)
        try:
            names = [d[0] for d in cursor.getdescription()]
        except apsw.ExecutionCompleteError:
            return []
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        conn.close()


def scalar(path: Path, sql: str, params: tuple[Any, ...] = ()) -> Any:
    """The first column of the first row of a query on a second connection."""
    rows = read(path, sql, params)
    return next(iter(rows[0].values())) if rows else None


def spans_by_name(path: Path) -> dict[str, dict[str, Any]]:
    """Every span row keyed by name (tests give their spans distinct names)."""
    return {row["name"]: row for row in read(path, "SELECT * FROM spans")}


def trace_row(path: Path, trace_id: str) -> dict[str, Any]:
    """The traces row of one trace."""
    rows = read(path, "SELECT * FROM traces WHERE trace_id = ?", (trace_id,))
    assert len(rows) == 1, f"trace {trace_id} has {len(rows)} rows"
    return rows[0]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Where the test's trace database lives."""
    return tmp_path / "t.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[TraceWriter]:
    """The process-wide store, configured on a fresh file and shut down afterwards."""
    configured = tracing.configure(db_path, service="test", flush_interval=FLUSH_INTERVAL)
    try:
        yield configured
    finally:
        tracing.shutdown()
        configured.shutdown()  # a test may have reconfigured: never leave a writer thread behind


def execute(path: Path, *statements: tuple[str, tuple[Any, ...]] | str) -> None:
    """Run statements in one transaction on a second, writable connection (the test's own)."""
    conn = apsw.Connection(str(path))
    try:
        conn.setbusytimeout(5000)
        conn.execute("PRAGMA foreign_keys = ON")
        with conn:
            for statement in statements:
                sql, params = (statement, ()) if isinstance(statement, str) else statement
                conn.execute(sql, params)
    finally:
        conn.close()


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A real HTTP server on a loopback port, in a thread, for the duration: its base URL."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
