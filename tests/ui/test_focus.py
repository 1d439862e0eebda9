"""Focus between the panes, and keys that follow it: keys typed in one burst go where the focus
is when each is handled, not where it was when they arrived (see `lens_tui.ui.focus`;
tests/reliability/test_ui_typeahead.py types on a real terminal). Here a burst is routed as
Textual routes keys that arrive together: all to the widget focused at their arrival."""

from __future__ import annotations

from pathlib import Path

from textual import events
from textual.widget import Widget

from .conftest import loaded, make_app, open_trace, trace_names, wait_for

SIZE = (120, 40)


def burst(widget: Widget, *keys: tuple[str, str | None]) -> None:
    """Keys arriving together, all routed to `widget` (focused when they arrived)."""
    for key, character in keys:
        event = events.Key(key, character)
        event._set_forwarded()
        widget.post_message(event)


async def test_tab_and_shift_tab_move_between_the_panes(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        assert app.focused is app.trace_list
        await pilot.press("tab")  # no trace open: the waterfall and detail are hidden
        assert app.focused is app.log_pane
        await pilot.press("shift+tab")
        assert app.focused is app.trace_list

        await open_trace(pilot, "GET /orders")
        assert app.focused is app.waterfall
        await pilot.press("shift+tab")
        assert app.focused is app.trace_list
        order = [app.waterfall, app.detail, app.log_pane, app.trace_list]
        for pane in order:
            await pilot.press("tab")
            assert app.focused is pane, (app.focused, pane)
        for pane in [app.log_pane, app.detail, app.waterfall, app.trace_list]:
            await pilot.press("shift+tab")
            assert app.focused is pane, (app.focused, pane)
        # Keys go to the focused pane: down in the waterfall moves its cursor, not the list's.
        list_cursor = app.trace_list.cursor
        await pilot.press("tab", "down")
        assert app.waterfall.cursor == 0 and app.trace_list.cursor == list_cursor


async def test_a_filter_typed_in_one_burst(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        burst(app.trace_list, ("slash", "/"), *((c, c) for c in "check"), ("enter", "\r"))
        await wait_for(pilot, lambda: len(app.trace_list.rows) == 1)
        assert (
            app.dashboard.traces.filter.name == "check"
            and not app.dashboard.traces.filter.errors_only
        )
        assert app.trace_list.rows[0].root_span_name == "POST /checkout"
        assert app.focused is app.trace_list


async def test_escape_then_arrows_in_one_burst_move_in_the_trace_list(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await open_trace(pilot, "GET /orders")
        waterfall, trace_list = app.waterfall, app.trace_list
        assert app.focused is waterfall
        await pilot.press("down", "down")
        at, listed = waterfall.cursor, trace_list.cursor
        burst(waterfall, ("escape", None), ("up", None), ("up", None))
        await wait_for(pilot, lambda: trace_list.cursor == listed - 2)
        assert waterfall.cursor == at and app.focused is trace_list


async def test_escape_in_a_burst_closes_the_bar(db: Path) -> None:
    """Escape is a priority binding of the bar: looked up as the key is retyped, not lost."""
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        burst(app.trace_list, ("slash", "/"), ("a", "a"), ("b", "b"), ("escape", None))
        await wait_for(pilot, lambda: not app.filter_bar.has_class("-open"))
        await pilot.pause(0.2)
        assert app.focused is app.trace_list and app.dashboard.traces.filter.name == ""
        assert app.waterfall.forest is None  # escape did not also act on the list


async def test_a_key_after_enter_in_a_burst_goes_where_the_focus_went(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        burst(
            app.trace_list,
            ("slash", "/"),
            *((c, c) for c in "check"),
            ("enter", "\r"),
            ("e", "e"),
        )
        await wait_for(pilot, lambda: app.dashboard.traces.filter.errors_only)
        assert app.dashboard.traces.filter.name == "check"


async def test_a_paste_right_after_slash_lands_in_the_filter(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        burst(app.trace_list, ("slash", "/"))
        pasted = events.Paste("checkout")
        pasted._set_forwarded()
        app.trace_list.post_message(pasted)
        burst(app.trace_list, ("enter", "\r"))
        await wait_for(pilot, lambda: app.dashboard.traces.filter.name == "checkout")
        # The list for the new filter is read by a worker: it lands a moment later.
        await wait_for(pilot, lambda: trace_names(app) == ["POST /checkout"])
        assert trace_names(app) == ["POST /checkout"]
