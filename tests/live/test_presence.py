"""Deleted rows on real SQLite files: what `Feed.poll` reports gone after a prune by the real
retention code and after a delete by hand, the queue held while paused, the trace rows."""

from __future__ import annotations

import math
from pathlib import Path

from store import record_sample
from ui import fixture_db

from lens_tui.live.feed import Delta, Feed
from lens_tui.live.paused import PausedQueue
from lens_tui.live.trace_rows import TraceRows
from lens_tui.store import presence
from lens_tui.store.filters import TraceFilter
from lens_tui.store.presence import Presence
from lens_tui.store.reader import TraceReader
from lens_tui.tracing import retention


def test_a_prune_by_age_bounds_every_held_row(tmp_path: Path) -> None:
    path = fixture_db.build(tmp_path / "t.db")
    feed = Feed(TraceReader(path))
    assert feed.try_open() is None
    snapshot = feed.snapshot()
    conn = fixture_db.connect(path)
    cutoff = fixture_db.T0 + 5_000  # traces 1-3 start before it
    retention.prune(conn, max_age_ms=1.0, now_ms=cutoff + 1.0, max_body_bytes=None)
    conn.close()
    delta = feed.poll(trace_ids=[fixture_db.trace_id(8)], log_ids=[1])
    assert delta is not None and delta.presence is not None
    found = delta.presence
    gone = {t.trace_id for t in snapshot.traces if found.trace_gone(t.trace_id, t.started_at)}
    assert gone == {fixture_db.trace_id(n) for n in (1, 2, 3, 4)}  # 4 starts at T0 + 3,750
    assert found.oldest_trace == fixture_db.T0 + 6_250  # trace 5, the oldest left
    assert found.missing_logs == {1} and not found.missing_traces
    feed.reader.close()


def test_ids_on_screen_deleted_by_hand_are_missing(tmp_path: Path) -> None:
    path = fixture_db.build(tmp_path / "t.db")
    reader = TraceReader(path)
    reader.open()
    conn = fixture_db.connect(path)
    conn.execute("DELETE FROM traces WHERE trace_id = ?", (fixture_db.trace_id(6),))
    conn.execute("DELETE FROM logs WHERE id = 3")
    conn.close()
    ids = [fixture_db.trace_id(n) for n in range(1, 9)]
    found = presence.check(reader, ids, [2, 3, 4])
    assert found.missing_traces == {fixture_db.trace_id(6)} and found.missing_logs == {3}
    assert found.oldest_trace == fixture_db.T0 and found.oldest_log == fixture_db.T0 + 2
    reader.close()


def test_an_emptied_file_and_a_file_without_the_indexes(tmp_path: Path) -> None:
    path = fixture_db.build(tmp_path / "t.db")
    conn = fixture_db.connect(path)
    conn.execute("DELETE FROM logs")
    conn.execute("DROP INDEX idx_traces_started_at")
    conn.close()
    reader = TraceReader(path)
    reader.open()
    found = presence.check(reader, (), ())
    # No index: a scan per refresh is not worth it (only ids tell); no logs: all are gone.
    assert found.oldest_trace == -math.inf and found.oldest_log == math.inf
    assert found.log_gone(99, fixture_db.T0) and not found.trace_gone("x", fixture_db.T0)
    reader.close()


def test_a_refresh_with_nothing_committed_checks_nothing(tmp_path: Path) -> None:
    path = fixture_db.build(tmp_path / "t.db")
    feed = Feed(TraceReader(path))
    assert feed.try_open() is None
    feed.snapshot()
    assert feed.poll(trace_ids=["gone"]) is None
    feed.reader.close()


def test_the_paused_queue_keeps_the_latest_bounds_and_every_missing_id() -> None:
    queue = PausedQueue()
    queue.add(Delta(presence=Presence(10.0, 20.0, frozenset({"a"}), frozenset({1}))))
    queue.add(Delta(presence=Presence(15.0, 25.0, frozenset({"b"}), frozenset())))
    assert queue
    held = queue.take().presence
    assert held == Presence(15.0, 25.0, frozenset({"a", "b"}), frozenset({1}))
    assert queue.take().presence is None


def test_trace_rows_drop_the_gone_and_keep_an_undecodable_start(tmp_path: Path) -> None:
    path = fixture_db.build(tmp_path / "t.db")
    with TraceReader(path) as reader:
        traces = reader.recent_traces(100)
    rows = TraceRows(cap=100)
    rows.upsert(traces, TraceFilter())
    gone = rows.drop_gone(
        Presence(
            oldest_trace=fixture_db.T0 + 1_000, missing_traces=frozenset({fixture_db.trace_id(8)})
        )
    )
    assert set(gone) == {fixture_db.trace_id(1), fixture_db.trace_id(8)}
    assert len(rows) == 6 and rows[0].trace_id == fixture_db.trace_id(7)
    zero = Presence(oldest_trace=fixture_db.T0)
    assert not zero.trace_gone("t", 0.0)  # a start that did not decode: only its id tells


def test_a_record_store_is_not_checked(tmp_path: Path) -> None:
    """Its own writer owns its retention (ours refuses to prune one)."""
    path = tmp_path / "records.db"
    record_sample.build(path).close()
    with TraceReader(path) as reader:
        assert reader.columns  # opened as a record store
        assert presence.check(reader, ["x"], [1]) == Presence()
