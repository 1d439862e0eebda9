"""Fixtures for the dashboard tests: a fixture database, UTC local time, a waiting helper."""

from __future__ import annotations

import html
import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from lens_tui.ui.app import LensApp

from . import fixture_db


@pytest.fixture(autouse=True)
def utc() -> Iterator[None]:
    """Times on screen are local: make local mean UTC so screens are the same everywhere."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The fixture database as `traces.db` in the current (temporary) directory."""
    monkeypatch.chdir(tmp_path)
    fixture_db.build(tmp_path / "traces.db")
    return Path("traces.db")


@pytest.fixture
def routes_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The overview's fixture database (overview_db.py) as `routes.db` in the current
    (temporary) directory."""
    from . import overview_db

    monkeypatch.chdir(tmp_path)
    overview_db.build(tmp_path / "routes.db")
    return Path("routes.db")


def make_app(db: Path, **options: object) -> LensApp:
    """The dashboard on `db` with the frozen clock and a quick fallback poll."""
    options.setdefault("clock", lambda: fixture_db.NOW)
    options.setdefault("poll", 0.1)
    return LensApp(db, **options)  # type: ignore[arg-type]


async def wait_for(
    pilot: Pilot[Any], condition: Callable[[], object], timeout: float = 5.0
) -> None:
    """Let the app run until `condition()` holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {condition}")
        await pilot.pause(0.02)


def trace_names(app: LensApp) -> list[str]:
    """The root span names listed, top to bottom."""
    rows = app.trace_list.rows
    return [rows[i].root_span_name for i in range(len(rows))]


def messages(app: LensApp) -> list[str]:
    """The log pane's messages, oldest first."""
    return [row.message for row in app.log_pane.rows]


async def loaded(pilot: Pilot[Any]) -> LensApp:
    """Wait for the first picture: traces listed and logs loaded."""
    app = pilot.app
    assert isinstance(app, LensApp)
    await wait_for(pilot, lambda: app.trace_list.row_count > 0 and app.log_pane.row_count > 0)
    return app


async def open_trace(pilot: Pilot[Any], name: str) -> LensApp:
    """Highlight the trace whose root is `name`, press enter, wait for its waterfall."""
    app = await loaded(pilot)
    rows = app.trace_list.rows
    index = next(i for i in range(len(rows)) if rows[i].root_span_name == name)
    app.trace_list.focus()
    app.trace_list.move_cursor(index, user=True)
    await pilot.press("enter")
    await wait_for(pilot, lambda: app.waterfall.row_count > 0)
    await wait_for(pilot, lambda: app.log_pane.scope.trace_id == rows[index].trace_id)
    return app


_TEXT = re.compile(r'<text class="[^"]*-r\d+" x="([\d.]+)" y="([\d.]+)"[^>]*>(.*?)</text>', re.S)
_CELL_WIDTH = 12.2
"""Width of one terminal cell in Rich's SVG export (x positions are multiples of it)."""


def screen_text(app: LensApp) -> str:
    """What the terminal shows, as plain text lines, read back from the SVG screenshot."""
    svg = app.export_screenshot()
    assert "\x1b" not in svg, "an escape character reached the screen"
    rows: dict[float, list[str]] = {}
    for x, y, content in _TEXT.findall(svg):
        line = rows.setdefault(float(y), [])
        column = round(float(x) / _CELL_WIDTH)
        text = html.unescape(content).replace("\xa0", " ")
        if len(line) < column:
            line.extend(" " * (column - len(line)))
        line[column : column + len(text)] = list(text)
    return "\n".join("".join(line).rstrip() for _, line in sorted(rows.items()))
