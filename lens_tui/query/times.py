"""Durations (`250ms`, `5 s`) and time points (`15m` ago, `10:30` today, `2026-12-07T10:00`)
of the query language, as milliseconds; local time unless the text names a zone."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time

from lens_tui.query.errors import QueryError

UNIT_MS: dict[str, float] = {
    "us": 0.001,
    "µs": 0.001,
    "μs": 0.001,
    "ms": 1.0,
    "s": 1_000.0,
    "m": 60_000.0,
    "h": 3_600_000.0,
}
"""Milliseconds per unit (µ as the micro sign or the Greek letter)."""
UNIT_HINT = "use us, ms, s, m, h"

_DURATION = re.compile(
    r"(?P<number>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)(?P<space>\s*)(?P<unit>\S*)"
)
_DATE = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:[Zz]|[+-]\d{2}(?::?\d{2})?)?"
)
_CLOCK = re.compile(r"(?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2})(?P<f>\.\d+)?)?")


def duration_ms(text: str, column: int) -> float:
    """`250ms`, `1.5 s`, `-2h` as milliseconds; QueryError naming the unit's column."""
    match = _DURATION.fullmatch(text)
    if match is None:
        raise QueryError(f"not a duration: {text!r}", column, "try 250ms, 1.5s or 2m")
    unit = match.group("unit")
    unit_column = column + match.start("unit")
    if not unit:
        raise QueryError(f"missing unit after {match.group('number')}", unit_column, UNIT_HINT)
    scale = UNIT_MS.get(unit.lower())
    if scale is None:
        raise QueryError(f"unknown unit {unit!r}", unit_column, UNIT_HINT)
    return float(match.group("number")) * scale


def time_point_ms(text: str, column: int, now_ms: float) -> float:
    """A `since`/`until` operand as epoch milliseconds: a duration before `now_ms`, a clock time
    today (local), or an ISO date and time (local unless it ends in Z or an offset)."""
    try:
        if _DATE.fullmatch(text):
            return _iso_ms(text)
        clock = _CLOCK.fullmatch(text)
        if clock:
            return _today_at_ms(clock, now_ms)
    except (ValueError, OverflowError, OSError):
        raise QueryError(
            f"not a valid time: {text!r}", column, "try 10:30 or 2026-12-07T10:00"
        ) from None
    return now_ms - duration_ms(text, column)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def epoch_ms(stamp: datetime) -> float:
    """A datetime as epoch milliseconds, exactly (naive: local time, as the user's clock
    shows it)."""
    return (stamp.astimezone(UTC) - _EPOCH) / _MS


def iso_utc(ms: float) -> str:
    """Epoch milliseconds as an ISO time in UTC that `time_point_ms` reads back."""
    return (_EPOCH + timedelta(milliseconds=ms)).isoformat(timespec="microseconds")


def _iso_ms(text: str) -> float:
    return epoch_ms(datetime.fromisoformat(text[:-1] + "+00:00" if text[-1] in "Zz" else text))


def _today_at_ms(clock: re.Match[str], now_ms: float) -> float:
    fraction = clock.group("f") or ""
    at = clock_time(
        int(clock.group("h")),
        int(clock.group("m")),
        int(clock.group("s") or 0),
        int(fraction[1:7].ljust(6, "0")) if fraction else 0,
    )
    today = datetime.fromtimestamp(now_ms / 1000.0).date()
    return epoch_ms(datetime.combine(today, at))
