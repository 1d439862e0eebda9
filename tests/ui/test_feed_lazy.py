"""`OpenTrace.load` with a lookup reader: forest columns read now, each span read when drawn."""

from __future__ import annotations

from pathlib import Path

from lens_tui.ui.feed import OpenTrace, Readers

from . import fixture_db


def test_lazy_load_matches_full_load(tmp_path: Path) -> None:
    path = fixture_db.build(tmp_path / "t.db")
    readers = Readers(path)
    for n in (1, 2, 3, 4):
        full = OpenTrace(fixture_db.trace_id(n)).load(readers.get("trace"), fixture_db.NOW)
        lazy = OpenTrace(fixture_db.trace_id(n)).load(
            readers.get("trace"), fixture_db.NOW, readers.get("spans")
        )
        assert (lazy.span_ids, lazy.parent, lazy.order) == (full.span_ids, full.parent, full.order)
        assert (lazy.critical, lazy.self_ms, lazy.running) == (
            full.critical, full.self_ms, full.running,
        )
        assert list(lazy.spans) == list(full.spans)
    readers.close_all()


def test_a_span_read_after_it_changed_still_updates_the_forest(tmp_path: Path) -> None:
    path = fixture_db.build(tmp_path / "t.db")
    readers = Readers(path)
    opened = OpenTrace(fixture_db.trace_id(4))
    forest = opened.load(readers.get("trace"), fixture_db.NOW, readers.get("spans"))
    assert forest.running == 2
    conn = fixture_db.connect(path)
    conn.execute(
        "UPDATE spans SET duration_ms = 2000, status = 'ok', updated_at = ? WHERE span_id = ?",
        (fixture_db.NOW + 1, fixture_db.span_id(4, 2)),
    )
    conn.close()
    # Drawn only now: the row read is the newer version, the forest's columns the older one.
    node = forest.index_of[fixture_db.span_id(4, 2)]
    assert forest.spans[node].duration_ms == 2000.0 and forest.durations[node] is None
    updated = opened.update(readers.get("trace"), None, fixture_db.NOW)
    assert updated is not None and updated.running == 1 and opened.version == 2
    node = updated.index_of[fixture_db.span_id(4, 2)]
    assert updated.durations[node] == 2000.0 and updated.spans[node].status == "ok"
    readers.close_all()


def test_a_span_whose_row_is_gone_shows_what_the_forest_knows(tmp_path: Path) -> None:
    path = fixture_db.build(tmp_path / "t.db")
    readers = Readers(path)
    forest = OpenTrace(fixture_db.trace_id(4)).load(
        readers.get("trace"), fixture_db.NOW, readers.get("spans")
    )
    conn = fixture_db.connect(path)
    conn.execute("DELETE FROM spans WHERE span_id = ?", (fixture_db.span_id(4, 2),))
    conn.close()
    node = forest.index_of[fixture_db.span_id(4, 2)]
    span = forest.spans[node]
    assert (span.span_id, span.started_at, span.duration_ms, span.status) == (
        fixture_db.span_id(4, 2), forest.starts[node], None, "running",
    )
    readers.close_all()


def test_a_span_drawn_before_it_changed_is_redrawn(tmp_path: Path) -> None:
    path = fixture_db.build(tmp_path / "t.db")
    readers = Readers(path)
    opened = OpenTrace(fixture_db.trace_id(4))
    forest = opened.load(readers.get("trace"), fixture_db.NOW, readers.get("spans"))
    node = forest.index_of[fixture_db.span_id(4, 2)]
    assert forest.spans[node].name != "renamed"  # drawn: read now
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
