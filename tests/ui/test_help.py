"""`?`: the help screen lists every key, over the dashboard dimmed behind it."""

from __future__ import annotations

from pathlib import Path

from lens_tui.ui.screens.help import HelpScreen

from .conftest import loaded, make_app, screen_text, wait_for

SIZE = (120, 40)


async def test_question_mark_opens_help(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        assert "pause / resume live updates" in text and "minimum log level" in text
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_help_dims_the_dashboard_instead_of_hiding_it(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = screen_text(app)
        assert "lens · keys" in text and "escape closes" in text  # the help is drawn
        assert "◆ lens" in text and "─ Traces ─" in text  # the dashboard shows around it
