"""`SpanRows` under a busy or failing file, a live update racing a read, and a closed trace."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from ui import fixture_db

from lens_tui.live import open_trace as open_trace_module
from lens_tui.live.open_trace import OpenTrace
from lens_tui.live.readers import Readers
from lens_tui.live.span_rows import SpanRows
from lens_tui.store.reader import OpenError, TraceReader
from lens_tui.store.records import PendingSpan


def _opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, n: int, asked: list[int]
) -> tuple[Path, Readers, OpenTrace, SpanRows]:
    """Fixture trace `n` opened from its keys, no span read yet; `asked` counts workers."""
    monkeypatch.setattr(open_trace_module, "FIRST_SCREEN_ROWS", 0)
    path = fixture_db.build(tmp_path / "t.db")
    readers = Readers(path)
    opened = OpenTrace(fixture_db.trace_id(n))
    opened.load(
        readers.get("trace"), fixture_db.NOW, keys_only=True, on_missing=lambda: asked.append(1)
    )
    assert opened.rows is not None
    return path, readers, opened, opened.rows


def test_a_busy_file_leaves_spans_queued_for_the_retry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An `OpenError` (busy past the timeout, or being replaced) neither blanks the batch nor
    lets a second worker start: the batch goes back in the queue, the retry reads it."""
    asked: list[int] = []
    _path, readers, _opened_trace, rows = _opened(tmp_path, monkeypatch, 2, asked)
    node = 1  # payments.charge, the failing span
    assert type(rows.get(node)) is PendingSpan and asked == [1]
    spans_at = TraceReader.spans_at
    calls: list[int] = []

    def busy_once(self: TraceReader, rowids: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise OpenError("t.db is locked by another process")
        return spans_at(self, rowids)

    monkeypatch.setattr(TraceReader, "spans_at", busy_once)
    with pytest.raises(OpenError):
        rows.read(readers.get("spans"))
    assert type(rows.get(node)) is PendingSpan and asked == [1]  # still one reader at work
    assert rows.read(readers.get("spans")) is True  # the retry
    span = rows.get(node)
    assert (span.name, span.status) == ("payments.charge", "error")
    assert rows.read(readers.get("spans")) is False
    readers.close_all()


def test_after_giving_up_or_failing_the_next_draw_asks_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[int] = []
    _path, readers, _opened_trace, rows = _opened(tmp_path, monkeypatch, 1, asked)
    rows.get(1)
    assert asked == [1]

    def broken(self: TraceReader, rowids: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(TraceReader, "spans_at", broken)
    with pytest.raises(RuntimeError):
        rows.read(readers.get("spans"))  # the worker dies with it
    rows.get(2)
    assert asked == [1, 1]  # a new worker is asked for
    monkeypatch.setattr(
        TraceReader, "spans_at", lambda self, r: (_ for _ in ()).throw(OpenError("x"))
    )
    with pytest.raises(OpenError):
        rows.read(readers.get("spans"))
    rows.release()  # the worker gave up retrying
    rows.get(3)
    assert asked == [1, 1, 1]
    readers.close_all()


def test_a_live_update_during_a_read_is_not_overwritten_by_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, readers, opened, rows = _opened(tmp_path, monkeypatch, 4, [])
    assert opened.summary is not None
    sid = fixture_db.span_id(4, 2)
    node = rows.keys.span_ids.index(sid)  # payloads index the keys
    rows.get(node)
    spans_at = TraceReader.spans_at

    def racing(self: TraceReader, rowids: Any) -> Any:
        found = spans_at(self, rowids)  # the worker's snapshot: the old version
        conn = fixture_db.connect(path)
        conn.execute(
            "UPDATE spans SET name = 'renamed', updated_at = ? WHERE span_id = ?",
            (fixture_db.NOW + 1, sid),
        )
        conn.close()
        summary = dataclasses.replace(opened.summary, updated_at=fixture_db.NOW + 1)
        assert opened.update(readers.get("trace"), summary, fixture_db.NOW) is None
        return found

    monkeypatch.setattr(TraceReader, "spans_at", racing)
    assert rows.read(readers.get("spans")) is True
    assert rows.get(node).name == "renamed"
    readers.close_all()


def test_a_closed_trace_reads_nothing_more(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[int] = []
    _path, readers, _opened_trace, rows = _opened(tmp_path, monkeypatch, 1, asked)
    rows.get(1)
    rows.close()
    assert rows.read(readers.get("spans")) is False
    assert type(rows.get(2)) is PendingSpan and asked == [1]
    readers.close_all()
