"""Placeholder rows in the dashboard: the detail and the log pane's title once a row is read,
and the log pane's counts when more logs came while paused than it keeps."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from lens_tui.live import open_trace as open_trace_module
from lens_tui.live.limits import LOG_CAP
from lens_tui.live.paused import PausedQueue
from lens_tui.store.reader import TraceReader
from lens_tui.store.records import PendingSpan
from lens_tui.ui.panes.trace_view import TraceView

from . import fixture_db
from .conftest import loaded, make_app, open_trace, wait_for

SIZE = (120, 40)


class _Gate:
    """Holds the "spans" worker's reads until opened."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.event = threading.Event()
        self.closed = False
        spans_at = TraceReader.spans_at

        def gated(reader: TraceReader, rowids: Any) -> Any:
            rowids = list(rowids)
            if self.closed and rowids:
                self.event.wait(5)
            return spans_at(reader, rowids)

        monkeypatch.setattr(TraceReader, "spans_at", gated)


async def test_the_detail_gets_its_body_whichever_redraw_brings_the_row(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The row of a span shown as a placeholder may reach the detail panel through the
    critical path's redraw (or a live update) before its own `SpansRead`: its captured body
    is read then too, and the log pane's title names it."""
    monkeypatch.setattr(open_trace_module, "FIRST_SCREEN_ROWS", 0)
    body = json.dumps({"k": 1}).encode()
    spans = [fixture_db.S(0, None, "GET /big", 0, 300.0)]
    spans += [
        fixture_db.S(i, 0, f"step {i}", float(i), 0.5, input_body=body if i == 1 else None)
        for i in range(1, 300)
    ]
    fixture_db.add_spans(db, 92, spans)
    held: list[Any] = []
    monkeypatch.setattr(
        TraceView, "on_trace_view_spans_read", lambda self, message: held.append(message)
    )
    gate = _Gate(monkeypatch)
    gate.closed = True
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await open_trace(pilot, "GET /big")
        waterfall = app.waterfall
        waterfall.focus()
        await pilot.press("down", "down")  # step 1 (it has a body), still a placeholder
        await wait_for(pilot, lambda: type(app.detail.span) is PendingSpan)
        await wait_for(pilot, lambda: "span “…” and below" in str(app.log_pane.border_title))
        gate.event.set()
        forest = waterfall.forest
        view = app.dashboard.trace_view
        assert forest is not None and view.opened is not None and view.opened.rows is not None
        node = forest.index_of[fixture_db.span_id(92, 1)]
        await wait_for(pilot, lambda: view.opened.rows.peek(node) is not None)
        view.forest_analysed(forest, view.generation)  # lands before SpansRead
        await wait_for(pilot, lambda: '"k": 1' in app.detail.copy_text())
        assert "span “step 1” and below" in str(app.log_pane.border_title)


async def test_the_log_title_names_only_the_span_it_was_chosen_for(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A log line selects its span without narrowing the scope: when that span's row comes,
    the title of the scope (another span's subtree) stays as it was."""
    monkeypatch.setattr(open_trace_module, "FIRST_SCREEN_ROWS", 5)
    spans = [fixture_db.S(0, None, "GET /big", 0, 300.0), fixture_db.S(1, 0, "mid", 0.5, 299.0)]
    spans += [fixture_db.S(i, 1, f"step {i}", float(i), 0.5) for i in range(2, 300)]
    fixture_db.add_spans(db, 92, spans)
    gate = _Gate(monkeypatch)
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await open_trace(pilot, "GET /big")
        waterfall = app.waterfall
        waterfall.focus()
        await pilot.press("down", "down")  # "mid", read with the first screen
        await wait_for(pilot, lambda: "span “mid” and below" in str(app.log_pane.border_title))
        scope = app.log_pane.scope.span_ids
        gate.closed = True
        assert waterfall.select_span(fixture_db.span_id(92, 250))  # what a chosen log line does
        await wait_for(pilot, lambda: type(app.detail.span) is PendingSpan)
        gate.event.set()
        await wait_for(pilot, lambda: type(app.detail.span) is not PendingSpan)
        await pilot.pause(0.1)
        assert app.log_pane.scope.span_ids == scope
        assert "span “mid” and below" in str(app.log_pane.border_title)


async def test_resuming_after_an_overflow_keeps_a_level_change_made_meanwhile(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await open_trace(pilot, "GET /orders")
        await wait_for(pilot, lambda: any(r.level == "debug" for r in app.log_pane.rows))
        await pilot.press("space")
        fixture_db.add_loose_logs(db, (("info", f"flood {k}") for k in range(LOG_CAP + 100)))
        await wait_for(pilot, lambda: app.dashboard.feed.queue.logs_overflowed > 0, timeout=15)
        app.dashboard.action_cycle_level()  # `l`: a full reload of the pane, debounced
        app.dashboard.action_toggle_pause()  # `space` before it lands: the counts are read again too
        await wait_for(pilot, lambda: app.log_pane.scope.min_level == "info")
        await wait_for(pilot, lambda: all(r.level != "debug" for r in app.log_pane.rows))


async def test_counts_read_again_miss_nothing_and_count_nothing_twice(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Logs committed while the counts are read are counted once: by the tail."""

    def write(n: int, tag: str) -> dict[str, int]:
        return fixture_db.add_loose_logs(db, (("warn", f"{tag} {k}") for k in range(n)), "w")

    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        app.dashboard.feed.queue = PausedQueue(log_cap=5)  # a small pane, for the test
        await pilot.press("space")
        write(20, "flood")
        await wait_for(pilot, lambda: app.dashboard.feed.queue.logs_overflowed > 0, timeout=10)
        counts_upto = TraceReader.level_counts_upto

        def late_writer(self: TraceReader, upto: int, **kwargs: Any) -> dict[str, int]:
            write(3, "late")  # the writer goes on while the counts are read
            return counts_upto(self, upto, **kwargs)

        monkeypatch.setattr(TraceReader, "level_counts_upto", late_writer)
        await pilot.press("space")
        in_file = write(0, "")
        await wait_for(
            pilot, lambda: {k: v for k, v in app.log_pane.counts.items() if v} == in_file
        )
        await pilot.pause(0.3)  # and it stays so once the tail has brought the late ones
        assert {k: v for k, v in app.log_pane.counts.items() if v} == in_file
