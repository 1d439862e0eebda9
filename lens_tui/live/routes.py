"""What the overview's route table shows and how it orders it: its columns (each with a sort
value and a cell text), the windows it cycles through, and the order of its rows."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lens_tui import humanize as fmt
from lens_tui.store.stats import WINDOWS, RouteStats

WINDOW_NAMES: tuple[str, ...] = tuple(WINDOWS)
"""The windows `w` cycles through, in order: 5m, 15m, 1h, 24h, all."""
DEFAULT_WINDOW = "15m"


def next_window(name: str) -> str:
    """The window after `name` (after the last: the first)."""
    at = WINDOW_NAMES.index(name) if name in WINDOW_NAMES else -1
    return WINDOW_NAMES[(at + 1) % len(WINDOW_NAMES)]


def _ms(value: float | None) -> str:
    return "–" if value is None else fmt.duration(value)


def _rate(per_second: float) -> str:
    """A rate with two decimals below 1/s (a quiet route's 0.02/s is not 0.0)."""
    return f"{per_second:.2f}" if per_second < 1 else fmt.rate(per_second)


def _percent(value: float) -> str:
    if value <= 0:
        return "0%"
    if value < 0.1:
        return f"{value * 100:.1f}%"
    return f"{value * 100:.0f}%"


@dataclass(frozen=True, slots=True)
class Column:
    """One column of the route table."""

    name: str
    """Its name: what `sort_rows` and a click on its title sort by."""
    title: str
    width: int
    """Cells wide (the route's name takes what the others leave)."""
    numeric: bool
    """Numbers sort largest first and are right-aligned; text sorts A to Z."""
    value: Callable[[RouteStats], str | float | None]
    """What the column sorts by (None sorts last in either direction)."""
    text: Callable[[RouteStats], str]
    """The cell's text (not yet made visible: it may come from the database)."""


COLUMNS: tuple[Column, ...] = (
    Column(
        "service",
        "service",
        10,
        False,
        lambda r: r.key.service or "",
        lambda r: r.key.service or "–",
    ),
    Column("name", "route", 0, False, lambda r: r.key.name or "", lambda r: r.key.name or "–"),
    Column("count", "count", 7, True, lambda r: r.count, lambda r: fmt.count(r.count)),
    Column("rate", "rate/s", 6, True, lambda r: r.rate_per_s, lambda r: _rate(r.rate_per_s)),
    Column("errors", "errors", 6, True, lambda r: r.errors, lambda r: fmt.count(r.errors)),
    Column("error_rate", "err%", 5, True, lambda r: r.error_rate, lambda r: _percent(r.error_rate)),
    Column("p50", "p50", 6, True, lambda r: r.p50_ms, lambda r: _ms(r.p50_ms)),
    Column("p90", "p90", 6, True, lambda r: r.p90_ms, lambda r: _ms(r.p90_ms)),
    Column("p95", "p95", 6, True, lambda r: r.p95_ms, lambda r: _ms(r.p95_ms)),
    Column("p99", "p99", 6, True, lambda r: r.p99_ms, lambda r: _ms(r.p99_ms)),
    Column("max", "max", 6, True, lambda r: r.max_ms, lambda r: _ms(r.max_ms)),
    Column("running", "run", 4, True, lambda r: r.running, lambda r: fmt.count(r.running)),
)
"""The table's columns, left to right (the sparklines follow them)."""
COLUMN_NAMES: tuple[str, ...] = tuple(column.name for column in COLUMNS)
_BY_NAME = {column.name: column for column in COLUMNS}


def column(name: str) -> Column:
    """The column called `name` (KeyError for another name)."""
    return _BY_NAME[name]


def step_column(name: str, step: int) -> str:
    """The column `step` places right (negative: left) of `name`, wrapping around."""
    at = COLUMN_NAMES.index(name)
    return COLUMN_NAMES[(at + step) % len(COLUMN_NAMES)]


@dataclass(frozen=True, slots=True)
class SortOrder:
    """Which column the table is sorted by and which way."""

    column: str = "count"
    descending: bool = True
    """Largest (or, for text, Z) first."""

    @classmethod
    def by(cls, name: str) -> SortOrder:
        """Sorted by `name` its natural way: numbers largest first, text A to Z."""
        return cls(name, column(name).numeric)

    def clicked(self, name: str) -> SortOrder:
        """A click on column `name`'s title: sort by it, or the other way if it already is."""
        if name == self.column:
            return SortOrder(name, not self.descending)
        return SortOrder.by(name)

    def reversed(self) -> SortOrder:
        """The same column, the other way."""
        return SortOrder(self.column, not self.descending)


def sort_rows(rows: Sequence[RouteStats], order: SortOrder) -> list[RouteStats]:
    """`rows` in `order`; ties (and rows without a value, always last) by service and name."""
    value = column(order.column).value
    present = [row for row in rows if value(row) is not None]
    missing = [row for row in rows if value(row) is None]
    present.sort(key=lambda r: r.key.sort_key())
    present.sort(key=value, reverse=order.descending)  # type: ignore[arg-type, return-value]
    missing.sort(key=lambda r: r.key.sort_key())
    return present + missing
