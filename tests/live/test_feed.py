"""`Feed` on real SQLite files: a first picture, then only what was written since; a replaced
file and a missing one."""

from __future__ import annotations

from pathlib import Path

from ui import fixture_db

from lens_tui.live.feed import Feed
from lens_tui.store.reader import TraceReader


def test_feed_snapshot_then_only_new_rows(tmp_path: Path) -> None:
    path = fixture_db.build(tmp_path / "t.db")
    feed = Feed(TraceReader(path))
    assert feed.try_open() is None
    snapshot = feed.snapshot()
    assert len(snapshot.traces) == 8 and snapshot.stats.dropped == 3
    assert feed.poll() is None  # nothing committed since
    new_id = fixture_db.add_trace(path, 60, "GET /new")
    delta = feed.poll()
    assert delta is not None
    assert [t.trace_id for t in delta.traces] == [new_id]
    assert [log.message for log in delta.logs] == ["GET /new handled"]
    assert delta.stats is not None and delta.stats.traces == 9
    assert feed.poll() is None
    feed.reader.close()


def test_feed_sees_a_replaced_file_and_waits_for_a_missing_one(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    feed = Feed(TraceReader(path))
    assert feed.try_open() == "waiting for t.db…"
    fixture_db.build(path)
    assert feed.try_open() is None
    feed.snapshot()
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / f"t.db{suffix}").unlink(missing_ok=True)
    conn = fixture_db.connect(path)
    fixture_db.insert_trace(conn, 70, fixture_db.T0, [fixture_db.S(0, None, "fresh", 0, 1)])
    conn.close()
    delta = feed.poll()
    assert delta is not None and delta.replaced
    snapshot = feed.snapshot()
    assert [t.root_span_name for t in snapshot.traces] == ["fresh"]
    feed.reader.close()
