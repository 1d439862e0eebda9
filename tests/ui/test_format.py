"""Short human formats used across the dashboard."""

from __future__ import annotations

from lens_tui import humanize as fmt
from lens_tui.ui.widgets.waterfall import bar_cells

from . import fixture_db


def test_durations() -> None:
    assert fmt.duration(None) == "…"
    assert fmt.duration(0.85) == "850µs"
    assert fmt.duration(1.3) == "1.30ms"
    assert fmt.duration(48.5) == "48.5ms"
    assert fmt.duration(120) == "120ms"
    assert fmt.duration(1_250) == "1.25s"
    assert fmt.duration(56_250) == "56.2s"
    assert fmt.duration(187_000) == "3m07s"
    assert fmt.duration(2 * 3_600_000 + 60_000) == "2h01m"
    assert fmt.duration(100 * 3_600_000) == "4d04h"


def test_times_sizes_counts_rates() -> None:
    assert fmt.clock_time(fixture_db.T0 + 1_250) == "22:13:21.250"  # TZ is UTC in these tests
    assert fmt.size(512) == "512 B" and fmt.size(2048) == "2.0 KiB" and fmt.size(None) == "–"
    assert fmt.count(12_345) == "12,345" and fmt.count(100_000) == "100k"
    assert fmt.rate(None) == "–" and fmt.rate(2.25) == "2.2" and fmt.rate(25_000) == "25k"
    assert fmt.age(400) == "now" and fmt.age(48_000) == "48.0s ago"


def test_bars_have_eighth_cell_edges_and_never_vanish() -> None:
    assert bar_cells(0.0, 1.0, 10) == (0, "█" * 10)
    assert bar_cells(0.0, 0.55, 10) == (0, "█████▌")
    assert bar_cells(0.5, 0.5, 10) == (5, "▏")  # zero length still shows a sliver
    assert bar_cells(1.0, 1.0, 10) == (9, "█")  # clamped into the last cell


def test_absurd_times_are_shown_not_raised() -> None:
    # Finite but beyond time_t: localtime() raises OverflowError; a span stored with such a
    # start time must not crash the trace list, the waterfall or `show`.
    assert fmt.clock_time(1e300) == "?(1e+300)"
    assert fmt.clock_time(-1e300) == "?(-1e+300)"
    assert fmt.clock_time_or_date(0, with_date=True).endswith(".000")
