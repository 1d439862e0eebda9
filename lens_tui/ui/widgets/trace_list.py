"""`TraceList`: the live list of traces, newest first, that holds still while the user reads."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Iterable
from typing import ClassVar

from rich.style import Style
from textual.binding import BindingType
from textual.message import Message
from textual.strip import Strip

from lens_tui import humanize as fmt
from lens_tui.live.limits import TRACE_CAP
from lens_tui.live.trace_rows import TraceRows
from lens_tui.store.filters import TraceFilter, is_error
from lens_tui.store.presence import Presence
from lens_tui.store.records import TraceSummary
from lens_tui.text import visible
from lens_tui.ui.cells import Piece, fit, strip
from lens_tui.ui.keys import TRACE_LIST_KEYS, bindings
from lens_tui.ui.widgets.line_list import LineList

_TIME_W, _DATED_TIME_W, _SERVICE_W, _DURATION_W, _COUNT_W = 12, 14, 12, 9, 6
RUNNING_TICK_MS = 200.0
"""A running trace's duration is drawn anew this often while it is on screen."""
_NARROW_SERVICE_W = 8
"""At 80 columns the service column narrows rather than goes: two services stay apart."""


def _local_day(epoch_ms: float) -> tuple[int, int] | None:
    """(year, day of the year) of a time, local; None for one no clock can show."""
    try:
        local = time.localtime(epoch_ms / 1000.0)
    except (OverflowError, OSError, ValueError):
        return None
    return (local.tm_year, local.tm_yday)


def _dated_time(epoch_ms: float) -> str:
    """`MM-DD HH:MM:SS`, local, for a list that spans more than one day."""
    try:
        return time.strftime("%m-%d %H:%M:%S", time.localtime(epoch_ms / 1000.0))
    except (OverflowError, OSError, ValueError):
        return fmt.clock_time(epoch_ms)  # says why it cannot


class TraceList(LineList):
    """Traces newest first; rows are keyed by trace id and updated in place."""

    BINDINGS: ClassVar[list[BindingType]] = bindings(*TRACE_LIST_KEYS)

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "trace-list--error",
        "trace-list--running",
        "trace-list--muted",
        "trace-list--name",
    }

    DEFAULT_CSS = """
    TraceList {
        & > .trace-list--error { color: $error; }
        & > .trace-list--running { color: $warning; }
        & > .trace-list--muted { color: $text-muted; }
        & > .trace-list--name { color: $text; }
    }
    """

    header_lines: ClassVar[int] = 1

    class Opened(Message):
        """The user chose a trace (enter or double click)."""

        def __init__(self, trace_id: str) -> None:
            super().__init__()
            self.trace_id = trace_id

    class NeedOlder(Message):
        """The cursor reached the oldest row held: page in traces started before `before`."""

        def __init__(self, before: float) -> None:
            super().__init__()
            self.before = before

    class NewCount(Message):
        """The count of rows that arrived above the cursor changed."""

        def __init__(self, count: int) -> None:
            super().__init__()
            self.count = count

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        cap: int = TRACE_CAP,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self._clock = clock
        self.rows = TraceRows(cap)
        """The traces shown, newest first."""
        self.filter = TraceFilter()
        """Which traces are shown (set by the app, which also reloads)."""
        self.new_count = 0
        """Rows that arrived above the cursor since the user last went to the live top."""
        self.opened_id: str | None = None
        """The trace open in the waterfall (marked in the list)."""

    # ---- data in

    @property
    def row_count(self) -> int:
        """How many traces are listed."""
        return len(self.rows)

    @property
    def highlighted(self) -> TraceSummary | None:
        """The trace under the cursor."""
        return self.rows[self.cursor] if 0 <= self.cursor < len(self.rows) else None

    def replace(self, traces: Iterable[TraceSummary]) -> None:
        """Show exactly these traces (a first load or a new filter); back to the live top."""
        self.rows.clear()
        self.rows.upsert(traces, self.filter, self._clock())
        self.virtual_floor = 0
        self.cursor = 0 if self.rows else -1
        self._set_new_count(0)
        self.rows_changed()
        self.scroll_rows(0)

    def apply(self, traces: Iterable[TraceSummary]) -> None:
        """Add or update rows; unless at the live top, what the user looks at stays put."""
        rows = self.rows
        top = self.first_visible
        live = self.cursor <= 0 and top == 0
        anchor: str | None = None
        if not live and rows:
            anchor_index = self.cursor if self.cursor > 0 else min(top, len(rows) - 1)
            anchor = rows[anchor_index].trace_id
        old_index = rows.index(anchor) if anchor is not None else None
        added = rows.upsert(traces, self.filter, self._clock())
        if live or anchor is None or old_index is None:
            self.cursor = 0 if rows else -1
            self.rows_changed()
            return
        new_index = rows.index(anchor)
        if new_index is None:
            # The anchor row itself went (capped or filtered out): keep the cursor's screen line.
            self.rows_changed()
            return
        shift = new_index - old_index
        if self.cursor > 0:
            self.cursor = new_index
        if shift > 0:
            # A short list cannot scroll the new rows away: let it scroll past its end.
            height = self.scrollable_content_region.height
            self.virtual_floor = max(self.virtual_floor, top + shift + height)
        self.rows_changed()
        if shift:
            self.scroll_rows(top + shift)
        if shift > 0 and added:
            self._set_new_count(self.new_count + min(shift, added))

    def drop_gone(self, presence: Presence) -> int:
        """Remove the rows of traces deleted from the file (prune, retention); unless at the
        live top, what the user looks at stays put. Returns how many went."""
        rows = self.rows
        top = self.first_visible
        anchor = None if (self.cursor <= 0 and top == 0) or not rows else self.highlighted
        if anchor is None and rows and top > 0:
            anchor = rows[min(top, len(rows) - 1)]
        old_index = rows.index(anchor.trace_id) if anchor is not None else None
        gone = rows.drop_gone(presence)
        if not gone:
            return 0
        new_index = rows.index(anchor.trace_id) if anchor is not None else None
        if old_index is None or new_index is None:
            self.cursor = min(max(self.cursor, 0), len(rows) - 1)
            self.rows_changed()
            return len(gone)
        if self.cursor > 0:
            self.cursor = new_index
        self.rows_changed()
        self.scroll_rows(top + new_index - old_index)
        return len(gone)

    def action_live_top(self) -> None:
        """Jump to the newest trace and follow new arrivals again."""
        self._set_new_count(0)
        self.virtual_floor = 0
        self.move_cursor(0, user=True)
        self.rows_changed()
        self.scroll_rows(0)

    def action_select(self) -> None:
        """Open the highlighted trace."""
        trace = self.highlighted
        if trace is not None:
            self.post_message(self.Opened(trace.trace_id))

    def add_older(self, traces: list[TraceSummary]) -> None:
        """Older traces paged in at the bottom (the cap grows by what the user asked for)."""
        self.rows.cap += len(traces)
        self.rows.upsert(traces, self.filter, self._clock())
        self.rows_changed()

    def cursor_moved(self, user: bool) -> None:
        """At the bottom ask for older rows; reaching the top clears the new-rows indicator."""
        if user and self.rows and self.cursor == len(self.rows) - 1:
            self.post_message(self.NeedOlder(self.rows[self.cursor].started_at))
        if self.cursor == 0 and self.first_visible == 0:
            self._set_new_count(0)
            if self.virtual_floor:
                self.virtual_floor = 0
                self.rows_changed()

    def _set_new_count(self, count: int) -> None:
        if count != self.new_count:
            self.new_count = count
            self.post_message(self.NewCount(count))

    def running_on_screen(self) -> bool:
        """Whether a running trace is on screen (its duration moves on)."""
        top = self.first_visible
        rows = self.rows
        end = min(top + self.body_height, len(rows))
        return any(rows[i].duration_ms is None for i in range(top, end))

    def visible_ids(self) -> list[str]:
        """The ids of the traces on screen."""
        top = self.first_visible
        return [
            self.rows[i].trace_id for i in range(top, min(top + self.body_height, len(self.rows)))
        ]

    def copy_text(self) -> str | None:
        """What `c` copies here: the highlighted trace's id."""
        trace = self.highlighted
        return trace.trace_id if trace else None

    # ---- drawing

    @property
    def dated(self) -> bool:
        """The traces listed started on more than one (local) day: times show their date."""
        rows = self.rows
        if len(rows) < 2:
            return False
        return _local_day(rows[0].started_at) != _local_day(rows[len(rows) - 1].started_at)

    def _columns(self, width: int) -> tuple[int, int, int]:
        """(time width, name width, service width) for a row `width` cells wide."""
        time_w = _DATED_TIME_W if self.dated else _TIME_W
        fixed = 2 + time_w + 1 + 1 + _DURATION_W + 1 + _COUNT_W + 1 + _COUNT_W
        room = width - fixed
        if room >= 40:
            service = _SERVICE_W + 1
        elif room >= 20 + _NARROW_SERVICE_W:
            service = _NARROW_SERVICE_W + 1
        else:
            service = 0
        return time_w, max(room - service, 4), max(service - 1, 0)

    def render_header(self, line: int, width: int) -> Strip:
        """Column titles."""
        time_w, name_w, service_w = self._columns(width)
        style = self.style_of("line-list--header")
        text = (
            "  "
            + fit("start", time_w)
            + " "
            + fit("root span", name_w)
            + " "
            + (fit("service", service_w) + " " if service_w else "")
            + fit("duration", _DURATION_W, align="right")
            + " "
            + fit("spans", _COUNT_W, align="right")
            + " "
            + fit("errors", _COUNT_W, align="right")
        )
        return strip([(text, style)], width)

    def row_key(self, index: int) -> Hashable:
        """The record itself (immutable); running rows also change every `RUNNING_TICK_MS`."""
        trace = self.rows[index]
        tick = int(self._clock() // RUNNING_TICK_MS) if trace.duration_ms is None else 0
        return (trace, tick, trace.trace_id == self.opened_id, self.dated)

    def render_row(self, index: int, width: int) -> Strip:
        """One trace: status mark, start time, root name, service, duration, counts."""
        trace = self.rows[index]
        time_w, name_w, service_w = self._columns(width)
        error = is_error(trace)
        running = trace.duration_ms is None
        muted = self.style_of("trace-list--muted")
        main = self.style_of("trace-list--error" if error else "trace-list--name")
        if error:
            mark: Piece = ("✖ ", main)
        elif running:
            mark = ("● ", self.style_of("trace-list--running"))
        else:
            mark = ("  ", None)
        if trace.trace_id == self.opened_id:
            mark = ("▶ ", main + Style(bold=True))
        if running:
            elapsed = max(self._clock() - trace.started_at, 0.0)
            duration: Piece = (
                fit(fmt.duration(elapsed) + "…", _DURATION_W, align="right"),
                self.style_of("trace-list--running"),
            )
        else:
            duration = (fit(fmt.duration(trace.duration_ms), _DURATION_W, align="right"), main)
        dated = time_w == _DATED_TIME_W
        started = _dated_time(trace.started_at) if dated else fmt.clock_time(trace.started_at)
        name = visible(trace.root_span_name or "(no root span)", 300)
        service = visible(trace.service or trace.source or "", 60)
        spans = "–" if trace.span_count is None else fmt.count(trace.span_count)
        errors = trace.error_count or 0
        pieces: list[Piece] = [
            mark,
            (fit(started, time_w), muted),
            (" ", None),
            (fit(name, name_w), main if trace.root_span_name else muted),
            (" ", None),
        ]
        if service_w:
            pieces += [(fit(service, service_w), muted), (" ", None)]
        pieces += [
            duration,
            (" ", None),
            (fit(spans, _COUNT_W, align="right"), muted),
            (" ", None),
            (
                fit(fmt.count(errors) if errors else "·", _COUNT_W, align="right"),
                self.style_of("trace-list--error") if errors else muted,
            ),
        ]
        return strip(pieces, width)
