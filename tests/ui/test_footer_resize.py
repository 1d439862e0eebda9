"""The footer after the terminal is resized: the keys it shows fit, nothing is left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import loaded, make_app, screen_text, wait_for

KEYS_AT_80 = "home Live top ⏎ Open e Errors d Slow tab Pane q Quit ? Help o Overview / Filter"


def footer(text: str) -> str:
    """The last line of the screen."""
    return text.splitlines()[-1].rstrip()


@pytest.mark.parametrize("start", [160, 100])
async def test_narrowing_to_80_columns_leaves_no_characters_behind(db: Path, start: int) -> None:
    """From a width where the command palette key shows to one where it does not: the footer
    is laid out again, not the old one drawn over (`Filter▏^p palettea`)."""
    app = make_app(db)
    async with app.run_test(size=(start, 30)) as pilot:
        await loaded(pilot)
        await wait_for(pilot, lambda: footer(screen_text(app)).endswith("^p palette"))
        await pilot.resize_terminal(80, 30)
        await wait_for(pilot, lambda: app.size.width == 80)
        await pilot.pause(0.3)
        line = footer(screen_text(app))
        assert line.startswith(KEYS_AT_80), line
        assert "palette" not in line and "▏" not in line, line
        await pilot.resize_terminal(start, 30)
        await wait_for(pilot, lambda: footer(screen_text(app)).endswith("^p palette"))
        assert footer(screen_text(app)).count("palette") == 1
