"""The waterfall on huge and pathological traces: 100,000 spans, a chain 10,000 deep."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.dom import DOMNode

from lens_tui.forest import build_forest
from lens_tui.store.records import SpanRow

from .conftest import make_app, open_trace


def span(span_id: str, parent: str | None, start: float, duration: float) -> SpanRow:
    return SpanRow(
        span_id=span_id,
        trace_id="f" * 32,
        parent_span_id=parent,
        name=f"op {span_id}",
        started_at=start,
        duration_ms=duration,
        status="ok",
    )


async def test_hundred_thousand_spans_open_fast_and_collapse(db: Path) -> None:
    spans = [span("root", None, 0, 300_000)]
    spans += [span(f"p{i}", "root", i * 3, 2) for i in range(1_000)]
    spans += [span(f"k{i}", f"p{i % 1000}", (i % 1000) * 3 + 0.5, 1) for i in range(98_999)]
    forest = build_forest(spans)  # done by a worker thread in the app
    app = make_app(db)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_trace(pilot, "GET /orders")
        waterfall = app.waterfall
        drawn: list[int] = []
        render_row = waterfall.render_row

        def counting_render_row(index: int, width: int) -> Any:
            drawn.append(index)
            return render_row(index, width)

        waterfall.render_row = counting_render_row  # type: ignore[method-assign]
        waterfall.set_forest(forest, fresh=True)
        await pilot.pause()
        assert waterfall.row_count == 100_000
        assert "100k spans" in waterfall.render_line(0).text
        # Only what is on screen is drawn (speed is measured in bench/, not here).
        height = waterfall.size.height
        assert drawn and set(drawn) <= set(range(height))
        drawn.clear()
        await pilot.press("end")
        await pilot.pause()
        assert waterfall.selected_span is not None
        assert drawn and set(drawn) <= set(range(100_000 - height, 100_000))
        await pilot.press("a")  # collapse all
        assert waterfall.row_count == 1
        await pilot.press("a")
        assert waterfall.row_count == 100_000


async def test_ten_thousand_deep_chain_renders_without_recursion(db: Path) -> None:
    depth = 10_000
    spans = [span(f"s{i}", f"s{i - 1}" if i else None, i, depth - i) for i in range(depth)]
    forest = build_forest(spans)
    app = make_app(db)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_trace(pilot, "GET /orders")
        waterfall = app.waterfall
        waterfall.set_forest(forest, fresh=True)
        await pilot.press("down", "end")
        await pilot.pause()
        assert waterfall.selected_span is not None
        assert waterfall.selected_span.span_id == "s9999"
        last = waterfall.render_line(waterfall.cursor - waterfall.first_visible + 1).text
        assert "…9999" in last and "op s9999" in last
        await pilot.press("left")  # a leaf: goes to its parent
        assert waterfall.selected_span.span_id == "s9998"
        await pilot.press("home", "enter")  # collapse the root: 9,999 rows hidden
        assert waterfall.row_count == 1


async def test_huge_trace_shows_first_then_gets_its_critical_path(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From ANALYSE_LATER_SPANS spans the waterfall is drawn before self times and the critical
    path are computed; they arrive afterwards and the panes redraw with them."""
    from lens_tui.live.open_trace import ANALYSE_LATER_SPANS

    from . import fixture_db
    from .conftest import wait_for

    n = ANALYSE_LATER_SPANS + 500
    fixture_db.add_spans(db, 91, fixture_db.wide("GET /huge", n), start=fixture_db.NOW - 60_000)
    app = make_app(db)
    descriptions: list[str] = []
    run_worker = DOMNode.run_worker

    def recording_run_worker(node: DOMNode, *args: Any, **kwargs: Any) -> Any:
        descriptions.append(kwargs.get("description", ""))
        return run_worker(node, *args, **kwargs)

    monkeypatch.setattr(DOMNode, "run_worker", recording_run_worker)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_trace(pilot, "GET /huge")
        waterfall = app.waterfall
        assert waterfall.row_count == n
        await wait_for(
            pilot, lambda: waterfall.forest is not None and bool(waterfall.forest.critical)
        )
        forest = waterfall.forest
        assert forest is not None
        assert 0 in forest.critical  # the root is on the critical path
        assert forest.self_ms[0] is not None
        assert "┃" in waterfall.render_line(1).text  # the gutter mark is drawn after the redraw
        await pilot.press("home")  # the root: its logs scope covers every span id
        await pilot.pause(0.2)
    # Workers are described by name: Textual would otherwise repr() the forest or the span ids
    # of the scope on the event loop (a quarter second for 100,000 spans).
    assert {"trace", "analyse", "logs"} <= set(descriptions)
    assert max(map(len, descriptions)) < 40, descriptions
