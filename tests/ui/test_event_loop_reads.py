"""No database work on the event loop: every query runs in a worker thread. A big trace's
spans drawn beyond the first screen show as placeholders until a worker has read their rows."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from lens_tui.forest import SpanForest
from lens_tui.live import open_trace as open_trace_module
from lens_tui.store.connection import Database
from lens_tui.store.reader import TraceReader
from lens_tui.store.records import PendingSpan

from . import fixture_db
from .conftest import make_app, open_trace, wait_for

SPANS = 3_000


@pytest.fixture()
def on_the_loop(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the reader's calls that touched SQLite on the main thread (the event loop)."""
    seen: list[str] = []
    main = threading.main_thread()
    snapshot, changed, connect = Database.read, Database.changed, Database._connect

    def note(what: str) -> None:
        if threading.current_thread() is main:
            seen.append(what)

    @contextmanager
    def watched_snapshot(self: Database) -> Iterator[Any]:
        note("query")
        with snapshot(self) as conn:
            yield conn

    def watched_changed(self: Database) -> bool:
        note("changed")
        return changed(self)

    def watched_connect(self: Database, *args: Any, **kwargs: Any) -> Any:
        note("connect")
        return connect(self, *args, **kwargs)

    monkeypatch.setattr(Database, "read", watched_snapshot)
    monkeypatch.setattr(Database, "changed", watched_changed)
    monkeypatch.setattr(Database, "_connect", watched_connect)
    return seen


def _big_trace(db: Path) -> None:
    fixture_db.add_spans(db, 92, fixture_db.wide("GET /big", SPANS))


async def test_scrolling_a_big_trace_reads_its_spans_in_a_worker(
    db: Path, on_the_loop: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(open_trace_module, "FIRST_SCREEN_ROWS", 20)
    _big_trace(db)
    app = make_app(db)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_trace(pilot, "GET /big")
        waterfall = app.waterfall
        assert waterfall.row_count == SPANS
        waterfall.focus()
        for key in ("pagedown", "pagedown", "pagedown", "end", "pageup"):
            await pilot.press(key)
            forest = waterfall.forest
            assert forest is not None

            def drawn_in_full(forest: SpanForest = forest) -> bool:
                first = waterfall.first_visible
                shown = [
                    (waterfall.render_line(y).text, forest.spans[waterfall.rows[first + y - 1]])
                    for y in range(1, waterfall.size.height)
                    if first + y - 1 < waterfall.row_count
                ]
                return all(
                    type(span) is not PendingSpan and span.name in text for text, span in shown
                )

            await wait_for(pilot, drawn_in_full)
            # The selected span's detail is the span read in full, not its placeholder.
            await wait_for(
                pilot,
                lambda: (
                    app.detail.span is not None
                    and type(app.detail.span) is not PendingSpan
                    and app.detail.span.name in app.detail.copy_text()
                ),
            )
        # The log pane's title names the selected span, once its row was read.
        assert "step" in str(app.log_pane.border_title)
        await pilot.press("l", "space", "space", "escape")
        await pilot.pause(0.2)
    assert on_the_loop == []


async def test_a_placeholder_is_drawn_as_such_until_its_row_is_read(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a span's row is read it shows as "…" on the trace's time axis (its bar and
    duration come from the keys); the detail panel says it is reading."""
    monkeypatch.setattr(open_trace_module, "FIRST_SCREEN_ROWS", 0)
    gate = threading.Event()
    spans_at = TraceReader.spans_at

    def slow_spans_at(self: TraceReader, rowids: Any) -> Any:
        gate.wait(5)
        return spans_at(self, rowids)

    monkeypatch.setattr(TraceReader, "spans_at", slow_spans_at)
    _big_trace(db)
    app = make_app(db)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_trace(pilot, "GET /big")
        waterfall = app.waterfall
        waterfall.focus()
        await pilot.press("down")
        line = waterfall.render_line(1).text
        assert "…" in line and "GET /big" not in line and "3.00s" in line
        assert "reading this span" in app.detail.copy_text()
        gate.set()
        await wait_for(pilot, lambda: "GET /big" in waterfall.render_line(1).text)
        await wait_for(pilot, lambda: "reading this span" not in app.detail.copy_text())
        assert "GET /big" in app.detail.copy_text()
