"""The header line: traces and spans per second from successive totals."""

from __future__ import annotations

import re
import time
from pathlib import Path

from lens_tui.ui.app import LensApp

from . import fixture_db
from .conftest import loaded, make_app, screen_text, wait_for

SIZE = (120, 40)


_RATES = re.compile(r"(\S+) traces/s · (\S+) spans/s")


def header_rates(app: LensApp) -> tuple[str, str] | None:
    match = _RATES.search(screen_text(app).splitlines()[0])
    return (match.group(1), match.group(2)) if match else None


async def test_header_shows_traces_and_spans_per_second(db: Path) -> None:
    now = [fixture_db.NOW]
    app = make_app(db, clock=lambda: now[0])
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        assert header_rates(app) == ("–", "–")  # one sample: no time to measure over yet
        elapsed_ms = 2_000.0
        now[0] += elapsed_ms
        conn = fixture_db.connect(db)
        try:
            for k in range(2):
                fixture_db.insert_trace(
                    conn,
                    70 + k,
                    fixture_db.T0 + 200_000 + k,
                    updated_at=time.time() * 1000,
                    spans=[
                        fixture_db.S(0, None, f"GET /rate{k}", 0, 9),
                        fixture_db.S(1, 0, "step a", 1, 3),
                        fixture_db.S(2, 0, "step b", 4, 3),
                    ],
                )
        finally:
            conn.close()
        await wait_for(pilot, lambda: fixture_db.trace_id(71) in app.trace_list.rows)
        per_s = 1000.0 / elapsed_ms
        expected = (f"{2 * per_s:.1f}", f"{6 * per_s:.1f}")  # 2 traces and 6 spans in 2 s
        await wait_for(pilot, lambda: header_rates(app) == expected)
        # Nothing more is written and the clock moves past the window: the rates fall to zero.
        now[0] += 10_000.0
        await wait_for(pilot, lambda: header_rates(app) == ("0.0", "0.0"))
