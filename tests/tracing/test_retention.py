"""Retention: traces and logs past an age (spans cascade), and a cap on total body bytes."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import apsw

from lens_tui import tracing
from lens_tui.tracing import LensMiddleware, LogHandler, PruneResult, lens_fn, span
from lens_tui.tracing.retention import DAY_MS, prune
from lens_tui.tracing.sql import open_writable
from lens_tui.tracing.writer import TraceWriter

from .conftest import execute, read, scalar
from .test_middleware import exchange, raw_app


def make_traces(n: int, children: int) -> list[str]:
    """n traces of 1 + `children` spans, each with one log; returns their trace ids."""
    log = logging.getLogger("lens_test.retention")
    handler = LogHandler()
    log.addHandler(handler)
    log.setLevel(logging.INFO)

    @lens_fn("child")
    def child() -> None:
        pass

    ids: list[str] = []
    try:
        for i in range(n):
            with span(f"root-{i}") as handle:
                assert handle is not None
                ids.append(handle.trace_id)
                log.info("working on %d", i)
                for _ in range(children):
                    child()
    finally:
        log.removeHandler(handler)
    assert tracing.flush()
    return ids


def backdate(db_path: Path, trace_ids: list[str], days: float) -> None:
    """Move whole traces (and their spans and logs) `days` into the past."""
    shift = days * DAY_MS
    for trace_id in trace_ids:
        execute(
            db_path,
            (
                "UPDATE traces SET started_at = started_at - ?1, ended_at = ended_at - ?1 WHERE trace_id = ?2",
                (shift, trace_id),
            ),
            ("UPDATE spans SET started_at = started_at - ? WHERE trace_id = ?", (shift, trace_id)),
            ("UPDATE logs SET timestamp = timestamp - ? WHERE trace_id = ?", (shift, trace_id)),
        )


def test_prune_by_age_cascades(store: TraceWriter, db_path: Path) -> None:
    ids = make_traces(5, children=3)
    old, recent = ids[:3], ids[3:]
    backdate(db_path, old, days=8)
    # An orphan log (no trace) older than the cutoff goes too.
    execute(
        db_path,
        ("INSERT INTO logs (level, message, timestamp) VALUES ('info', 'stale', ?)", (1_000.0,)),
    )

    result = store.prune()
    assert result == PruneResult(traces=3, spans=12, logs=4, bodies=0, body_bytes=0)
    assert "removed 3 traces, 12 spans, 4 logs" in result.describe()
    assert {r["trace_id"] for r in read(db_path, "SELECT trace_id FROM traces")} == set(recent)
    assert {r["trace_id"] for r in read(db_path, "SELECT DISTINCT trace_id FROM spans")} == set(
        recent
    )
    assert scalar(db_path, "SELECT count(*) FROM spans") == 8
    assert scalar(db_path, "SELECT count(*) FROM logs") == 2
    assert store.prune() == PruneResult()  # nothing left to remove


def test_foreign_key_cascade(store: TraceWriter, db_path: Path) -> None:
    ids = make_traces(2, children=2)
    execute(db_path, ("DELETE FROM traces WHERE trace_id = ?", (ids[0],)))
    assert scalar(db_path, "SELECT count(*) FROM spans WHERE trace_id = ?", (ids[0],)) == 0
    assert scalar(db_path, "SELECT count(*) FROM spans WHERE trace_id = ?", (ids[1],)) == 3


def test_retention_prune_function_with_a_clock(store: TraceWriter, db_path: Path) -> None:
    ids = make_traces(3, children=1)
    tracing.shutdown()  # the test's connection alone now
    conn = open_writable(db_path)
    try:
        newest = conn.execute("SELECT max(started_at) FROM traces").fetchone()[0]
        result = prune(conn, max_age_ms=DAY_MS, max_body_bytes=None, now_ms=newest + DAY_MS + 1)
    finally:
        conn.close()
    assert result.traces == 3 and result.spans == 6 and result.logs == 3
    assert scalar(db_path, "SELECT count(*) FROM traces") == 0
    assert len(ids) == 3


async def test_prune_by_body_bytes_oldest_first(store: TraceWriter, db_path: Path) -> None:
    app = LensMiddleware(raw_app, capture_bodies=True)
    # Random bytes under the gzip threshold: stored as they are.
    payloads = [os.urandom(500) for _ in range(5)]
    for i, payload in enumerate(payloads):
        # The echo app answers the body twice: two bodies (500 and 1000 bytes) per request.
        await exchange(app, "POST", f"/up/{i}", body=payload)
        assert tracing.flush()  # one batch each: created_at orders them
    total = scalar(db_path, "SELECT sum(stored_size) FROM bodies")
    assert total == 5 * 1500

    result = store.prune(max_body_bytes=3000)
    assert result.bodies == 6 and result.body_bytes == 4500 and result.traces == 0
    assert scalar(db_path, "SELECT sum(stored_size) FROM bodies") == 3000
    spans = {r["name"]: r for r in read(db_path, "SELECT * FROM spans WHERE name LIKE 'POST%'")}
    assert len(spans) == 5  # span rows are kept
    for i in range(3):
        row = spans[f"POST /up/{i}"]
        assert row["input_body_hash"] is None and row["output_body_hash"] is None
        assert row["input_size"] == 500  # the sizes survive the body
    for i in (3, 4):
        row = spans[f"POST /up/{i}"]
        assert (
            scalar(
                db_path,
                "SELECT count(*) FROM bodies WHERE hash IN (?, ?)",
                (row["input_body_hash"], row["output_body_hash"]),
            )
            == 2
        )


async def test_bodies_of_expired_traces_go_with_them(store: TraceWriter, db_path: Path) -> None:
    app = LensMiddleware(raw_app, capture_bodies=True)
    await exchange(app, "POST", "/old", body=b"old body")
    await exchange(app, "POST", "/new", body=b"new body")
    assert tracing.flush()
    old_trace = read(db_path, "SELECT trace_id FROM spans WHERE name = 'POST /old'")[0]["trace_id"]
    backdate(db_path, [old_trace], days=8)
    result = store.prune()
    assert result.traces == 1 and result.bodies == 2  # its request and (doubled) response bodies
    assert result.body_bytes == len(b"old body") * 3
    kept = read(
        db_path, "SELECT input_body_hash, output_body_hash FROM spans WHERE name = 'POST /new'"
    )[0]
    assert scalar(db_path, "SELECT count(*) FROM bodies") == 2
    assert (
        scalar(
            db_path,
            "SELECT count(*) FROM bodies WHERE hash IN (?, ?)",
            (kept["input_body_hash"], kept["output_body_hash"]),
        )
        == 2
    )


def test_unreferenced_bodies_are_removed(store: TraceWriter, db_path: Path) -> None:
    make_traces(1, children=0)
    execute(
        db_path,
        (
            "INSERT INTO bodies (hash, body, is_compressed, original_size, stored_size, "
            "created_at) VALUES ('dead', x'00', 0, 1, 1, 0)",
            (),
        ),
    )
    result = store.prune()
    assert result.bodies == 1 and result.body_bytes == 1
    assert scalar(db_path, "SELECT count(*) FROM bodies") == 0


def test_writer_prunes_on_start(db_path: Path) -> None:
    tracing.configure(db_path, service="test", flush_interval=0.02)
    make_traces(2, children=1)
    ids = [r["trace_id"] for r in read(db_path, "SELECT trace_id FROM traces")]
    tracing.shutdown()
    backdate(db_path, ids[:1], days=30)
    tracing.configure(db_path, service="test", flush_interval=0.02, retention_days=7)
    try:
        with span("trigger"):  # the writer connects (and prunes) on its first batch
            pass
        assert tracing.flush()
    finally:
        tracing.shutdown()
    remaining = {r["trace_id"] for r in read(db_path, "SELECT trace_id FROM traces")}
    assert ids[0] not in remaining and ids[1] in remaining


def test_prune_on_a_read_only_connection_is_refused(store: TraceWriter, db_path: Path) -> None:
    make_traces(1, children=0)
    conn = apsw.Connection(
        f"file:{db_path}?mode=ro", flags=apsw.SQLITE_OPEN_READONLY | apsw.SQLITE_OPEN_URI
    )
    try:
        try:
            prune(conn, max_age_ms=0)
        except apsw.ReadOnlyError:
            pass
        else:
            raise AssertionError("a read-only connection must not prune")
    finally:
        conn.close()
