"""Text from the database is shown as text: markup and escape sequences reach the screen as
the characters they are."""

from __future__ import annotations

from pathlib import Path

from . import fixture_db
from .conftest import make_app, open_trace, screen_text

SIZE = (120, 40)


async def test_markup_and_escape_sequences_are_shown_literally(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await open_trace(pilot, fixture_db.MARKUP_NAME)
        await pilot.press("down")
        text = screen_text(app)  # also asserts no ESC character reached the screen
        assert "[bold red]x[/]" in text  # trace list, waterfall, detail title
        assert "child ␛[2J name" in text  # a span name's escape made visible
        assert "␛]0;pwned␇title" in text  # an attribute value
        assert "[link=x] = ␛[2Jclear" in text  # an attribute key that looks like markup
        assert "markup [bold red]x[/] and ␛]0;pwned␇ title" in text  # a log message
        lines = [app.waterfall.render_line(y).text for y in range(app.waterfall.size.height)]
        assert any("[bold red]x[/]" in line for line in lines)
        assert not any("\x1b" in line for line in lines)
