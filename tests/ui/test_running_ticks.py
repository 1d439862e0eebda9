"""A running trace's duration moves on at least five times a second while it is on screen (the
trace list, the waterfall, the detail panel's "so far"), with no database read per tick."""

from __future__ import annotations

from pathlib import Path

import pytest

from lens_tui.store.reader import TraceReader

from . import fixture_db
from .conftest import make_app, open_trace, screen_text, wait_for

SIZE = (120, 40)
STEP_MS = 200.0
"""Five ticks a second: the clock moves this much between two looks."""


def line_of(app: object, name: str) -> str:
    return next(line for line in screen_text(app).splitlines() if name in line)  # type: ignore[arg-type]


READS = ("recent_traces", "traces_since", "trace_keys", "spans_since", "logs", "spans_at")


async def test_running_durations_tick_five_times_a_second_without_reads(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [fixture_db.NOW]
    app = make_app(db, clock=lambda: now[0])
    async with app.run_test(size=SIZE) as pilot:
        await open_trace(pilot, "GET /reports/export")
        app.trace_list.focus()
        await pilot.pause(0.3)
        reads: list[str] = []
        for name in READS:
            real = getattr(TraceReader, name)

            def counted(
                self: TraceReader, *args: object, _n: str = name, _f: object = real, **kw: object
            ) -> object:
                reads.append(_n)
                return _f(self, *args, **kw)  # type: ignore[operator]

            monkeypatch.setattr(TraceReader, name, counted)
        seen_list = [line_of(app, "GET /reports/export")]
        seen_waterfall = [line_of(app, "render csv")]
        for _ in range(5):
            now[0] += STEP_MS
            # Each step shows within a third of a second: a tick every 200 ms, not every 1 s.
            await wait_for(
                pilot, lambda: line_of(app, "GET /reports/export") != seen_list[-1], timeout=0.35
            )
            await wait_for(
                pilot, lambda: line_of(app, "render csv") != seen_waterfall[-1], timeout=0.35
            )
            seen_list.append(line_of(app, "GET /reports/export"))
            seen_waterfall.append(line_of(app, "render csv"))
        assert reads == []  # nothing was committed: no tick read the file
        assert "57.2s…" in seen_list[-1]  # 56.25 s at NOW, a second later
