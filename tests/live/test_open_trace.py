"""`OpenTrace` on real SQLite files: live spans merged into new forests, and a load from keys
(`keys_only=True`): the forest's columns and the first screen's rows are read with it, any
other span is a `PendingSpan` until a worker reads its row (`SpanRows`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from ui import fixture_db

from lens_tui.forest import SpanForest
from lens_tui.live import open_trace, span_rows
from lens_tui.live.open_trace import OpenTrace
from lens_tui.live.readers import Readers
from lens_tui.store.reader import TraceReader
from lens_tui.store.records import PendingSpan


def test_open_trace_merges_live_spans(tmp_path: Path) -> None:
    path = fixture_db.build(tmp_path / "t.db")
    readers = Readers(path)
    opened = OpenTrace(fixture_db.trace_id(4))
    forest = opened.load(readers.get("trace"), fixture_db.NOW)
    assert len(forest) == 3 and forest.running == 2 and opened.version == 1
    assert opened.update(readers.get("trace"), None, fixture_db.NOW) is None
    conn = fixture_db.connect(path)
    conn.execute(
        "UPDATE spans SET duration_ms = 2000, status = 'ok', updated_at = ? WHERE span_id = ?",
        (fixture_db.NOW + 1, fixture_db.span_id(4, 2)),
    )
    conn.close()
    updated = opened.update(readers.get("trace"), None, fixture_db.NOW)
    assert updated is not None and updated.running == 1 and opened.version == 2
    readers.invalidate()
    assert opened.load(readers.get("trace"), fixture_db.NOW).running == 1
    readers.close_all()


def _drain(opened: OpenTrace, reader: TraceReader) -> int:
    """What the app's "spans" worker does: read queued spans until none is waiting."""
    assert opened.rows is not None
    batches = 0
    while opened.rows.read(reader):
        batches += 1
    return batches


def _opened_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, Readers, OpenTrace, SpanForest]:
    """Fixture trace 4 (two running spans) opened from its keys, no span read yet."""
    monkeypatch.setattr(open_trace, "FIRST_SCREEN_ROWS", 0)
    path = fixture_db.build(tmp_path / "t.db")
    readers = Readers(path)
    opened = OpenTrace(fixture_db.trace_id(4))
    return path, readers, opened, opened.load(readers.get("trace"), fixture_db.NOW, keys_only=True)


def _touch_all(forest: SpanForest) -> list[object]:
    return [forest.spans[i] for i in range(len(forest))]


def test_keys_only_load_matches_full_load_once_read(tmp_path: Path) -> None:
    path = fixture_db.build(tmp_path / "t.db")
    readers = Readers(path)
    for n in (1, 2, 3, 4):
        full = OpenTrace(fixture_db.trace_id(n)).load(readers.get("trace"), fixture_db.NOW)
        asked: list[int] = []
        opened = OpenTrace(fixture_db.trace_id(n))
        lazy = opened.load(
            readers.get("trace"),
            fixture_db.NOW,
            keys_only=True,
            on_missing=lambda asked=asked: asked.append(1),
        )
        assert (lazy.span_ids, lazy.parent, lazy.order) == (full.span_ids, full.parent, full.order)
        assert (lazy.critical, lazy.self_ms, lazy.running) == (
            full.critical,
            full.self_ms,
            full.running,
        )
        _touch_all(lazy)
        _drain(opened, readers.get("spans"))
        assert list(lazy.spans) == list(full.spans)
        assert not any(type(span) is PendingSpan for span in lazy.spans)
    readers.close_all()


def test_drawing_never_reads_the_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first screen comes with the forest; a span drawn later is a placeholder built from
    the keys, queued once (one `on_missing` however many are drawn), and read in one query by
    whoever runs `read` (the app's worker), never by the one drawing."""
    path = fixture_db.build(tmp_path / "t.db")
    readers = Readers(path)
    full = OpenTrace(fixture_db.trace_id(1)).load(readers.get("trace"), fixture_db.NOW)
    monkeypatch.setattr(open_trace, "FIRST_SCREEN_ROWS", 3)
    asked: list[int] = []
    opened = OpenTrace(fixture_db.trace_id(1))
    lazy = opened.load(
        readers.get("trace"), fixture_db.NOW, keys_only=True, on_missing=lambda: asked.append(1)
    )
    assert len(lazy) > 3
    queries: list[int] = []
    spans_at = TraceReader.spans_at

    def counting(self: TraceReader, rowids: object) -> object:
        queries.append(1)
        return spans_at(self, rowids)  # type: ignore[arg-type]

    monkeypatch.setattr(TraceReader, "spans_at", counting)
    first = [lazy.order[k] for k in range(3)]
    assert [lazy.spans[i] for i in first] == [full.spans[i] for i in first]
    assert asked == [] and queries == []
    rest = [i for i in lazy.order if i not in first]
    pending = [lazy.spans[i] for i in rest]
    assert all(type(span) is PendingSpan for span in pending)
    assert [(s.span_id, s.parent_span_id, s.started_at, s.duration_ms) for s in pending] == [
        (s.span_id, s.parent_span_id, s.started_at, s.duration_ms)
        for s in (full.spans[i] for i in rest)
    ]
    assert [s.name for s in pending] == [""] * len(rest)
    assert asked == [1] and queries == []  # asked once; nothing read while drawing
    assert _drain(opened, readers.get("spans")) == 1 and queries == [1]
    assert [lazy.spans[i] for i in rest] == [full.spans[i] for i in rest]
    # Drained: the next span drawn unread asks again (none is left here).
    assert opened.rows is not None and opened.rows.read(readers.get("spans")) is False
    readers.close_all()


def test_the_latest_spans_asked_for_are_read_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scrolling fast asks for spans long off screen again: the queue keeps the latest
    `WANTED_CAP` and a batch reads the latest `READ_BATCH` of them."""
    monkeypatch.setattr(open_trace, "FIRST_SCREEN_ROWS", 0)
    monkeypatch.setattr(span_rows, "WANTED_CAP", 3)
    monkeypatch.setattr(span_rows, "READ_BATCH", 2)
    path = fixture_db.build(tmp_path / "t.db")
    readers = Readers(path)
    opened = OpenTrace(fixture_db.trace_id(1))
    forest = opened.load(readers.get("trace"), fixture_db.NOW, keys_only=True)
    assert len(forest) >= 4 and opened.rows is not None
    for node in range(4):
        forest.spans[node]
    opened.rows.read(readers.get("spans"))
    assert [opened.rows.peek(node) is not None for node in range(4)] == [False, False, True, True]
    opened.rows.read(readers.get("spans"))
    assert [opened.rows.peek(node) is not None for node in range(4)] == [False, True, True, True]
    assert opened.rows.read(readers.get("spans")) is False  # node 0 fell out of the queue
    readers.close_all()


def test_a_span_changed_before_it_was_read_updates_the_forest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, readers, opened, forest = _opened_unread(tmp_path, monkeypatch)
    assert forest.running == 2
    conn = fixture_db.connect(path)
    conn.execute(
        "UPDATE spans SET duration_ms = 2000, status = 'ok', updated_at = ? WHERE span_id = ?",
        (fixture_db.NOW + 1, fixture_db.span_id(4, 2)),
    )
    conn.close()
    # Drawn only now: the row read is the newer version, the forest's columns the older one.
    node = forest.index_of[fixture_db.span_id(4, 2)]
    forest.spans[node]
    _drain(opened, readers.get("spans"))
    assert forest.spans[node].duration_ms == 2000.0 and forest.durations[node] is None
    updated = opened.update(readers.get("trace"), None, fixture_db.NOW)
    assert updated is not None and updated.running == 1 and opened.version == 2
    node = updated.index_of[fixture_db.span_id(4, 2)]
    assert updated.durations[node] == 2000.0 and updated.spans[node].status == "ok"
    readers.close_all()


def test_a_span_never_drawn_takes_its_update_without_a_rebuild(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same times and parent, never read: the live update's row is kept for when it is drawn
    (no new forest, no query then)."""
    path, readers, opened, forest = _opened_unread(tmp_path, monkeypatch)
    conn = fixture_db.connect(path)
    conn.execute(
        "UPDATE spans SET name = 'renamed', updated_at = ? WHERE span_id = ?",
        (fixture_db.NOW + 1, fixture_db.span_id(4, 2)),
    )
    conn.close()
    assert opened.update(readers.get("trace"), None, fixture_db.NOW) is None
    node = forest.index_of[fixture_db.span_id(4, 2)]
    assert forest.spans[node].name == "renamed" and type(forest.spans[node]) is not PendingSpan
    readers.close_all()


def test_a_span_whose_row_is_gone_shows_what_the_forest_knows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, readers, opened, forest = _opened_unread(tmp_path, monkeypatch)
    conn = fixture_db.connect(path)
    conn.execute("DELETE FROM spans WHERE span_id = ?", (fixture_db.span_id(4, 2),))
    conn.close()
    node = forest.index_of[fixture_db.span_id(4, 2)]
    forest.spans[node]
    _drain(opened, readers.get("spans"))
    span = forest.spans[node]
    assert type(span) is not PendingSpan
    assert (span.span_id, span.started_at, span.duration_ms, span.status) == (
        fixture_db.span_id(4, 2),
        forest.starts[node],
        None,
        "running",
    )
    readers.close_all()


def test_a_span_drawn_before_it_changed_is_redrawn(tmp_path: Path) -> None:
    path = fixture_db.build(tmp_path / "t.db")
    readers = Readers(path)
    opened = OpenTrace(fixture_db.trace_id(4))
    forest = opened.load(readers.get("trace"), fixture_db.NOW, keys_only=True)
    node = forest.index_of[fixture_db.span_id(4, 2)]
    forest.spans[node]
    _drain(opened, readers.get("spans"))
    assert forest.spans[node].name != "renamed"  # drawn and read
    conn = fixture_db.connect(path)
    conn.execute(
        "UPDATE spans SET name = 'renamed', updated_at = ? WHERE span_id = ?",
        (fixture_db.NOW + 1, fixture_db.span_id(4, 2)),
    )
    conn.close()
    # Same times and parent: only the row on screen tells that the span changed.
    updated = opened.update(readers.get("trace"), None, fixture_db.NOW)
    assert updated is not None
    assert updated.spans[updated.index_of[fixture_db.span_id(4, 2)]].name == "renamed"
    readers.close_all()
