"""`OpenTrace.load` with a lookup reader: forest columns read now, each span read when drawn."""

from __future__ import annotations

from pathlib import Path

import pytest

from lens_tui.store.reader import TraceReader
from lens_tui.ui import feed
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


def test_the_first_screen_is_read_with_the_forest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rows a newly opened trace shows first come in one query in the worker; drawing them
    reads nothing more (one query per row used to run on the UI thread)."""
    path = fixture_db.build(tmp_path / "t.db")
    readers = Readers(path)
    full = OpenTrace(fixture_db.trace_id(1)).load(readers.get("trace"), fixture_db.NOW)
    monkeypatch.setattr(feed, "FIRST_SCREEN_ROWS", 3)
    lazy = OpenTrace(fixture_db.trace_id(1)).load(
        readers.get("trace"), fixture_db.NOW, readers.get("spans")
    )
    assert len(lazy) > 3
    reads: list[object] = []
    span_at = TraceReader.span_at

    def counting_span_at(self: TraceReader, rowid: int | str) -> object:
        reads.append(rowid)
        return span_at(self, rowid)

    monkeypatch.setattr(TraceReader, "span_at", counting_span_at)
    first = [lazy.order[k] for k in range(3)]
    assert [lazy.spans[i] for i in first] == [full.spans[i] for i in first]
    assert reads == []
    rest = [i for i in lazy.order if i not in first]
    assert [lazy.spans[i] for i in rest] == [full.spans[i] for i in rest]
    assert len(reads) == len(rest)  # the others, each when first drawn
    readers.close_all()


def test_a_span_read_after_it_changed_still_updates_the_forest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(feed, "FIRST_SCREEN_ROWS", 0)  # every span read when first drawn
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


def test_a_span_whose_row_is_gone_shows_what_the_forest_knows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(feed, "FIRST_SCREEN_ROWS", 0)  # every span read when first drawn
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
