"""A filter that keeps nothing says so, and how to clear it, instead of "no traces yet"."""

from __future__ import annotations

from pathlib import Path

from .conftest import loaded, make_app, screen_text, wait_for

SIZE = (120, 40)


async def test_a_trace_filter_that_matches_nothing_says_how_to_clear_it(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("slash", *"no-such-route", "enter")
        await wait_for(pilot, lambda: app.trace_list.row_count == 0)
        await pilot.pause(0.2)
        text = screen_text(app)
        assert "no traces yet" not in text
        assert "no traces match “no-such-route”" in text
        assert "/ then esc clears it" in text
        await pilot.press("slash", "escape")
        await wait_for(pilot, lambda: app.trace_list.row_count == 8)


async def test_errors_and_durations_that_match_nothing_say_which_key_clears_them(
    db: Path,
) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("slash", *"health", "enter", "e")
        await wait_for(pilot, lambda: app.trace_list.row_count == 0)
        await pilot.pause(0.2)
        text = screen_text(app)
        assert "no traces match “health” · errors only" in text
        assert "e shows all" in text
        await pilot.press("e", "d", "d")  # health checks take about a millisecond
        await wait_for(pilot, lambda: app.trace_list.filter.min_duration_ms == 100.0)
        await pilot.pause(0.2)
        text = screen_text(app)
        assert "no traces match “health” · ≥ 100ms" in text
        assert "d steps to 1s, 10s, all" in text


async def test_a_log_filter_that_matches_nothing_says_how_to_clear_it(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        app.log_pane.focus()
        await pilot.press("slash", *"no such words", "enter")
        await wait_for(pilot, lambda: app.log_pane.row_count == 0)
        await pilot.pause(0.2)
        text = screen_text(app)
        assert "no logs match “no such words”" in text
        assert "/ then esc clears it" in text
        await pilot.press("slash", "escape", "l", "l", "l")  # at error
        await pilot.press("slash", *"health", "enter")
        await wait_for(pilot, lambda: app.log_pane.row_count == 0)
        await pilot.pause(0.2)
        text = screen_text(app)
        assert "no logs match “health” at ≥ error" in text and "l cycles the level" in text
