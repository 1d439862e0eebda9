"""Short human formats for times, durations, sizes and rates (shared by the CLI and the UI)."""

from __future__ import annotations

import time

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def clock_time(epoch_ms: float | None) -> str:
    """Local wall-clock time `HH:MM:SS.mmm` of an epoch-millisecond instant."""
    return clock_time_or_date(epoch_ms)


def clock_time_or_date(epoch_ms: float | None, *, with_date: bool = False) -> str:
    """Local `HH:MM:SS.mmm` (with the date when asked); `?(value)` for a time no clock can show."""
    if epoch_ms is None:
        return "--:--:--.---"
    try:
        seconds, millis = divmod(int(epoch_ms), 1000)
        local = time.localtime(seconds)
    except (OverflowError, OSError, ValueError):  # absurd timestamps are data, not a crash
        return f"?({epoch_ms:g})"
    return time.strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S", local) + f".{millis:03d}"


def duration(ms: float | None) -> str:
    """A duration in at most about five characters of precision: 850µs, 12.3ms, 1.25s, 3m07s."""
    if ms is None:
        return "…"
    if ms < 0:
        ms = 0.0
    if ms < 1:
        return f"{ms * 1000:.0f}µs"
    if ms < 10:
        return f"{ms:.2f}ms"
    if ms < 1000:
        return f"{ms:.1f}ms" if ms < 100 else f"{ms:.0f}ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.2f}s" if seconds < 10 else f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m"
    return f"{hours // 24}d{hours % 24:02d}h"


def size(count: int | None) -> str:
    """A byte count in binary units."""
    if count is None:
        return "–"
    value = float(count)
    for unit in _UNITS:
        if value < 1024 or unit == _UNITS[-1]:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{count} B"  # unreachable; keeps type checkers content


def age(ms: float | None) -> str:
    """How long ago, from a non-negative millisecond difference."""
    if ms is None:
        return "never"
    if ms < 1000:
        return "now"
    return duration(ms) + " ago"


def rate(per_second: float | None) -> str:
    """A per-second rate with a sensible number of digits."""
    if per_second is None:
        return "–"
    if per_second < 10:
        return f"{per_second:.1f}"
    if per_second < 10_000:
        return f"{per_second:.0f}"
    return f"{per_second / 1000:.0f}k"


def count(value: int) -> str:
    """A count with thin grouping: 12,345 -> 12.3k above 99,999."""
    if value < 100_000:
        return f"{value:,}"
    if value < 10_000_000:
        return f"{value / 1000:.0f}k"
    return f"{value / 1_000_000:.1f}M"
