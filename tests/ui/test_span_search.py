"""`/` in the waterfall finds spans by name: matches underlined, counted in the border, `n` /
`N` go through them (expanding what hides them), new spans that match join; and the filter
bar is on screen while the user types in it."""

from __future__ import annotations

from pathlib import Path

import pytest

from lens_tui.live import open_trace as open_trace_module
from lens_tui.store.records import PendingSpan

from . import fixture_db
from .conftest import loaded, make_app, open_trace, screen_text, wait_for

SIZE = (120, 40)


async def test_the_filter_bar_is_on_screen_while_typing(db: Path) -> None:
    """It sat under the footer (both docked at the bottom): filters were typed blind."""
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("slash", *"chec")
        await wait_for(pilot, lambda: "filter root span names: chec" in screen_text(app))
        footer = app.query_one("Footer")
        assert not app.filter_bar.region.overlaps(footer.region)


async def test_slash_in_the_waterfall_finds_spans_by_name(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await open_trace(pilot, "GET /orders")
        waterfall = app.waterfall
        assert app.focused is waterfall
        await pilot.press("slash")
        await wait_for(pilot, lambda: "find spans named:" in screen_text(app))
        await pilot.press(*"DB.QUERY", "enter")  # case ignored, the Unicode way
        await wait_for(pilot, lambda: len(waterfall.matches) == 2)
        names = {
            waterfall.forest.spans[waterfall.forest.index_of[i]].name for i in waterfall.matches
        }
        assert names == {"db.query SELECT orders", "db.query SELECT items"}
        # The cursor went to the first match, the logs followed it, the border counts.
        await wait_for(pilot, lambda: "1/2 “DB.QUERY”" in screen_text(app))
        assert waterfall.selected_span is not None
        assert waterfall.selected_span.name == "db.query SELECT orders"
        assert app.focused is waterfall
        await wait_for(pilot, lambda: "db.query SELECT orders" in str(app.log_pane.border_title))

        # Matches are drawn underlined, other names not.
        def name_style(span_id: str) -> object:
            row = waterfall.rows.index(waterfall.forest.index_of[span_id])
            line = waterfall.render_line(1 + row - waterfall.first_visible)
            name = waterfall.forest.spans[waterfall.forest.index_of[span_id]].name
            return next(seg.style for seg in line if seg.text.strip() == name)

        assert name_style(fixture_db.span_id(1, 4)).underline  # a match
        assert not name_style(fixture_db.span_id(1, 3)).underline  # orders.list: not one
        await pilot.press("n")
        assert waterfall.selected_span.name == "db.query SELECT items"
        await wait_for(pilot, lambda: "2/2 “DB.QUERY”" in screen_text(app))
        await pilot.press("n")  # around to the first
        assert waterfall.selected_span.name == "db.query SELECT orders"
        await pilot.press("N")  # and back, around to the last
        assert waterfall.selected_span.name == "db.query SELECT items"
        # An empty search (escape in the bar) ends it.
        await pilot.press("slash", "escape")
        await wait_for(pilot, lambda: not waterfall.matches and not waterfall.match_query)
        assert "DB.QUERY" not in screen_text(app) and app.focused is waterfall
        await pilot.press("slash", *"nothing like it", "enter")
        await wait_for(pilot, lambda: "no span “nothing like it”" in screen_text(app))


async def test_the_search_reaches_hidden_and_unread_spans(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Names are matched in the file, so spans not read yet (a big trace) and spans inside
    collapsed subtrees are found; going to one expands what hides it."""
    monkeypatch.setattr(open_trace_module, "FIRST_SCREEN_ROWS", 10)
    count = 3_000
    fixture_db.add_spans(db, 93, fixture_db.wide("GET /big", count))
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await open_trace(pilot, "GET /big")
        waterfall = app.waterfall
        await pilot.press("a")  # collapse all: one row
        assert waterfall.row_count == 1
        await pilot.press("slash", *"step 29", "enter")  # step 29, 290-299, 2900-2999
        await wait_for(pilot, lambda: len(waterfall.matches) == 111)
        assert waterfall.selected_span is not None
        assert waterfall.selected_span.span_id == fixture_db.span_id(93, 29)
        assert waterfall.row_count == count  # the root was expanded to show it
        await pilot.press("N")  # back around to the last
        node = waterfall.selected_node
        assert node is not None and waterfall.forest.span_ids[node] == fixture_db.span_id(93, 2999)
        await wait_for(pilot, lambda: type(waterfall.selected_span) is not PendingSpan)
        await wait_for(
            pilot,
            lambda: (
                "step 2999"
                in waterfall.render_line(1 + waterfall.cursor - waterfall.first_visible).text
            ),
        )
        await wait_for(pilot, lambda: "111/111 “step 29”" in screen_text(app))


async def test_new_spans_that_match_join_the_search(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await open_trace(pilot, "GET /reports/export")  # still running
        waterfall = app.waterfall
        await pilot.press("slash", *"upload", "enter")
        await wait_for(pilot, lambda: "no span “upload”" in screen_text(app))
        new_span = fixture_db.grow_running_trace(db)
        await wait_for(pilot, lambda: waterfall.matches == {new_span}, timeout=10)
        await wait_for(pilot, lambda: "1 “upload”" in screen_text(app))


@pytest.mark.parametrize("query", ["[b]bold", "[/]", "[@click=app.quit]x", "$accent"])
async def test_the_query_in_the_border_is_text_not_markup(db: Path, query: str) -> None:
    """`[/]` used to raise (the app quit), `[@click=app.quit]` made a link."""
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await open_trace(pilot, "GET /orders")
        await pilot.press("slash", *query, "enter")
        await wait_for(pilot, lambda: f"no span “{query}”" in screen_text(app))
        assert app.is_running and app.return_code is None


async def test_only_the_latest_search_counts(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A slow search answered after a newer one (or after the search ended) is dropped."""
    import threading

    from lens_tui.store.reader import TraceReader

    release = threading.Event()
    find = TraceReader.find_spans

    def slow_for_db(self: TraceReader, trace_id: str, text: str) -> list[str]:
        if text == "db.query":
            release.wait(5)
        return find(self, trace_id, text)

    monkeypatch.setattr(TraceReader, "find_spans", slow_for_db)
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await open_trace(pilot, "GET /orders")
        waterfall = app.waterfall
        app.dashboard.trace_view.search_spans("db.query")
        app.dashboard.trace_view.search_spans("render")
        await wait_for(pilot, lambda: waterfall.match_query == "render")
        release.set()
        await pilot.pause(0.3)
        assert waterfall.match_query == "render" and len(waterfall.matches) == 1
        release.clear()
        app.dashboard.trace_view.search_spans("db.query")
        app.dashboard.trace_view.search_spans("")  # ended before the answer came
        release.set()
        await pilot.pause(0.3)
        assert waterfall.match_query == "" and not waterfall.matches


async def test_a_search_asked_while_the_trace_loads_runs_once_it_is_shown(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        rows = app.trace_list.rows
        index = next(i for i in range(len(rows)) if rows[i].root_span_name == "GET /orders")
        app.trace_list.move_cursor(index, user=True)
        app.dashboard.open_trace(rows[index].trace_id)
        app.dashboard.trace_view.search_spans("cache")  # before the forest arrives
        await wait_for(pilot, lambda: len(app.waterfall.matches) == 1)
        assert app.waterfall.selected_span is not None
        assert app.waterfall.selected_span.name == "cache.get session"
