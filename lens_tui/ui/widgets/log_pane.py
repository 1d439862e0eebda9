"""`LogPane`: live logs of the selected span, trace or everything, by minimum level and text."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Hashable, Iterable
from dataclasses import replace
from typing import ClassVar

from rich.style import Style
from textual import events
from textual.binding import BindingType
from textual.content import Content
from textual.message import Message
from textual.strip import Strip

from lens_tui import humanize as fmt
from lens_tui.levels import LEVELS, RANK
from lens_tui.live.limits import LOG_CAP
from lens_tui.live.log_lines import LogLines, kept_level
from lens_tui.store.filters import LogScope, LogTally
from lens_tui.store.presence import Presence
from lens_tui.store.records import LogRow
from lens_tui.text import visible
from lens_tui.ui.cells import Piece, fit, strip
from lens_tui.ui.keys import LOG_PANE_KEYS, bindings
from lens_tui.ui.widgets.line_list import LineList

_TIME_W, _SERVICE_W, _LOGGER_W = 12, 10, 16
_TITLE_STYLES = {"debug": "$text-muted", "info": "$success", "warn": "$warning", "error": "$error"}


class LogPane(LineList):
    """Log lines oldest to newest; follows new lines unless the user moved the cursor up."""

    BINDINGS: ClassVar[list[BindingType]] = bindings(*LOG_PANE_KEYS)

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "log-pane--debug",
        "log-pane--info",
        "log-pane--warn",
        "log-pane--error",
        "log-pane--muted",
        "log-pane--message",
    }

    DEFAULT_CSS = """
    LogPane {
        & > .log-pane--debug { color: $text-muted; }
        & > .log-pane--info { color: $success; }
        & > .log-pane--warn { color: $warning; text-style: bold; }
        & > .log-pane--error { color: $error; text-style: bold; }
        & > .log-pane--muted { color: $text-muted; }
        & > .log-pane--message { color: $text; }
    }
    """

    @property
    def empty_message(self) -> str:  # type: ignore[override]
        """What an empty pane says: no logs in its scope, or none matching its filters and
        which key clears them."""
        scope = self.scope
        parts: list[str] = []
        hints: list[str] = []
        if scope.text:
            parts.append(f"“{visible(scope.text, 40)}”")
            hints.append("/ then esc clears it")
        if scope.min_level != LEVELS[0]:
            parts.append(f"at ≥ {scope.min_level}")
            hints.append("l cycles the level")
        whose = "" if scope.trace_id is None else f" of {scope.label}"
        if not parts:
            return f"no logs{whose} yet"
        return f"no logs{whose} match {' '.join(parts)} ({'; '.join(hints)})"

    class NeedOlder(Message):
        """The user reached the oldest line held and older ones exist: page in up to `room`."""

        def __init__(self, before_id: int, room: int) -> None:
            super().__init__()
            self.before_id = before_id
            self.room = room

    class LogChosen(Message):
        """The user highlighted (`open` False) or chose with enter (`open` True) a log line."""

        def __init__(self, log: LogRow, open: bool) -> None:
            super().__init__()
            self.log = log
            self.open = open

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        cap: int = LOG_CAP,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self._clock = clock
        self.rows = LogLines(cap)
        """The lines shown, earliest first (by timestamp: `LogLines`)."""
        self.scope = LogScope()
        """What is shown (the app sets it and reloads)."""
        self.counts: dict[str, int] = dict.fromkeys(LEVELS, 0)
        """Logs per level in scope, whatever the level and text filters."""
        self._loads = 0
        """Scopes loaded (or cleared) so far: counts read for an older one do not apply."""
        self.older = False
        """Older lines of the scope exist in the file than the oldest held."""
        self._asked_before: int | None = None
        """The oldest id a page of older lines was asked before (one request at a time)."""
        self.following = True
        """Whether new lines scroll into view (until the user moves the cursor)."""
        self._last_id = 0

    @property
    def row_count(self) -> int:
        """How many lines are held."""
        return len(self.rows)

    @property
    def highlighted(self) -> LogRow | None:
        """The line under the cursor."""
        return self.rows[self.cursor] if 0 <= self.cursor < len(self.rows) else None

    # ---- data in

    def reset(
        self,
        scope: LogScope,
        rows: Iterable[LogRow],
        counts: dict[str, int],
        mark: int,
        older: bool = False,
    ) -> None:
        """Show a freshly loaded scope (rows up to log id `mark`); the cursor stays on the same
        log if it is still there. Lines the live tail brought past `mark` meanwhile are kept."""
        keep = self.highlighted
        self._loads += 1
        self.older, self._asked_before = older, None
        self.counts = {level: counts.get(level, 0) for level in LEVELS}
        newer = [log for log in self.rows if log.id > mark and scope.matches(log)]
        for log in newer:
            self.counts[log.level] = self.counts.get(log.level, 0) + 1
        self.scope = scope
        self.rows.replace([*rows, *newer])
        self._last_id = max(mark, self._last_id)
        self.cursor = -1
        if keep is not None and not self.following:
            index = self.rows.index_of(keep.id)
            self.cursor = -1 if index is None else index
        self.rows_changed()
        self._update_titles()
        if self.cursor >= 0:
            self.scroll_cursor_into_view()
        else:
            self.following = True
            self.scroll_rows(len(self.rows))

    def tally(self) -> LogTally:
        """Where the counts stand now, for `recount`."""
        return LogTally(self._last_id, dict(self.counts), self._loads)

    def recount(self, counts: dict[str, int], tally: LogTally) -> None:
        """Per-level counts read again up to `tally.upto` (more logs arrived while paused
        than the pane keeps), plus what the live tail counted since `tally` was taken. The
        lines shown stay; a scope loaded since then has counts of its own."""
        if tally.loads != self._loads:
            return
        self.counts = {
            level: counts.get(level, 0) + self.counts.get(level, 0) - tally.counts.get(level, 0)
            for level in LEVELS
        }
        self._update_titles()

    def clear(self, scope: LogScope | None = None) -> None:
        """Drop every line and count (a new database): the tail starts again from id 0."""
        if scope is not None:
            self.scope = scope
        self._loads += 1
        self.older, self._asked_before = False, None
        self.rows.clear()
        self.counts = dict.fromkeys(LEVELS, 0)
        self._last_id = 0
        self.cursor = -1
        self.following = True
        self.rows_changed()
        self._update_titles()

    def append(self, logs: Iterable[LogRow]) -> None:
        """New logs from the live tail (ids ascending); those out of scope are ignored. Each
        is slotted in by its time (another process may have logged it earlier than lines
        already shown); the line under the cursor and the lines on screen stay put."""
        scope = self.scope
        added = 0
        rows = self.rows
        top = self.first_visible
        above = 0
        for log in logs:
            if log.id <= self._last_id:
                continue  # already loaded by a scope reload that raced the tail
            self._last_id = log.id
            if not scope.in_scope(log):
                continue
            self.counts[log.level] = self.counts.get(log.level, 0) + 1
            if not scope.matches(log):
                continue
            at = rows.insert(log)
            added += 1
            if 0 <= at <= self.cursor:
                self.cursor += 1
            if at < top + above:
                above += 1
        dropped = rows.drop_overflow()
        self._update_titles()
        if not added:
            return
        if dropped:
            self.older = True  # the lines pushed out are in the file: pageable again
            if self.cursor >= 0:
                # The earliest lines fell off the top: the cursor stays on its line.
                self.cursor = max(self.cursor - dropped, 0)
        self.rows_changed()
        if self.following:
            self.scroll_rows(len(rows))
        elif above != dropped:
            self.scroll_rows(top + above - dropped)

    def drop_gone(self, presence: Presence) -> int:
        """Drop the lines deleted from the file (prune, retention); the cursor and the lines on
        screen stay put. Returns how many went (the per-level counts are then read again)."""
        gone = self.rows.drop_gone(presence)
        if not gone:
            return 0
        top = self.first_visible
        if self.cursor >= 0:
            self.cursor = max(self.cursor - bisect_left(gone, self.cursor), 0)
            self.cursor = min(self.cursor, len(self.rows) - 1)
        self.rows_changed()
        if self.following:
            self.scroll_rows(len(self.rows))
        else:
            self.scroll_rows(top - bisect_left(gone, top))
        return len(gone)

    def visible_ids(self) -> list[int]:
        """The ids of the lines on screen."""
        top = self.first_visible
        end = min(top + self.body_height, len(self.rows))
        return [self.rows[i].id for i in range(top, end)]

    def set_span_ids(self, span_ids: frozenset[str] | None) -> None:
        """The selected subtree grew (live spans arrived): match new logs against it."""
        if self.scope.span_ids is not None and span_ids is not None:
            self.scope = replace(self.scope, span_ids=span_ids)

    def relabel(self, label: str) -> None:
        """Name the same scope anew (its span's row was read after it was chosen)."""
        self.scope = replace(self.scope, label=label)
        self._update_titles()

    # ---- titles

    def _update_titles(self) -> None:
        scope = self.scope
        title = Content.assemble(
            ("Logs", "bold"),
            " · ",
            scope.label,
            f" · ≥ {scope.min_level}",
        )
        if scope.text:
            title = title + Content.assemble(" · “", scope.text, "”")
        self.border_title = title
        parts: list[str | tuple[str, str]] = []
        floor = RANK[scope.min_level]
        for level in LEVELS:
            if parts:
                parts.append(" · ")
            style = _TITLE_STYLES[level] if RANK[level] >= floor else "dim strike"
            parts.append((f"{level} {fmt.count(self.counts.get(level, 0))}", style))
        self.border_subtitle = Content.assemble(*parts)

    # ---- keys

    def action_cursor_up(self) -> None:
        """Up from following (no cursor) lands on the newest line."""
        if self.cursor < 0:
            self.move_cursor(len(self.rows) - 1, user=True)
        else:
            super().action_cursor_up()

    def action_follow(self) -> None:
        """Jump to the newest line and keep following."""
        self.following = True
        self.move_cursor(len(self.rows) - 1, user=False)
        self.scroll_rows(len(self.rows))

    def on_mouse_scroll_up(self, _event: events.MouseScrollUp) -> None:
        """The wheel up: the user reads older lines, new ones must not pull the view down;
        at the top, the page before comes in."""
        self.following = False
        self.call_after_refresh(self._older_at_the_top)

    def _older_at_the_top(self) -> None:
        if self.first_visible == 0:
            self._ask_older()

    def on_mouse_scroll_down(self, _event: events.MouseScrollDown) -> None:
        """The wheel down to the newest line follows new lines again."""
        self.call_after_refresh(self._follow_at_the_end)

    def _follow_at_the_end(self) -> None:
        if self.first_visible + self.body_height >= len(self.rows):
            self.following = True

    def action_select(self) -> None:
        """Go to the highlighted line's span (opening its trace when needed)."""
        log = self.highlighted
        if log is not None:
            self.post_message(self.LogChosen(log, open=True))

    def prepend(self, rows: Iterable[LogRow], before_id: int, older: bool) -> None:
        """A page of lines older than the oldest held, put above it; what the user reads
        stays where it is. Paging stops short of the pane's cap (`_paging_room`)."""
        if self._asked_before != before_id:
            return  # asked for another picture of the pane
        self._asked_before = None
        if self.rows.oldest_id() != before_id:
            return  # the oldest line held changed meanwhile: ask again from there
        page = list(rows)
        room = self._paging_room()
        taken = page[-room:] if room > 0 else []
        self.older = older and len(taken) == len(page)
        if not taken:
            return
        top = self.first_visible
        above = 0
        for log in taken:
            at = self.rows.insert(log)  # mostly at the top, but by time
            if 0 <= at <= self.cursor:
                self.cursor += 1
            if at <= top + above:
                above += 1
        self.rows_changed()
        self.scroll_rows(top + above)

    def _paging_room(self) -> int:
        """Lines older pages may still add: the pane keeps a fifth of its cap for live lines,
        which would otherwise push the paged-in ones out at once."""
        cap = self.rows.cap
        return max(cap - cap // 5 - len(self.rows), 0)

    def _ask_older(self) -> None:
        room = self._paging_room()
        oldest = self.rows.oldest_id()
        if self.older and oldest is not None and self._asked_before is None and room:
            self._asked_before = oldest
            self.post_message(self.NeedOlder(oldest, room))

    def page_failed(self) -> None:
        """The page asked for could not be read: the next visit to the top asks again."""
        self._asked_before = None

    def cursor_moved(self, user: bool) -> None:
        """A line highlighted by hand stops following and selects its span if its trace is open;
        the oldest line held asks for the page before it."""
        if not user:
            return
        if self.cursor == 0:
            self._ask_older()
        self.following = self.cursor == len(self.rows) - 1
        log = self.highlighted
        if log is not None:
            self.post_message(self.LogChosen(log, open=False))

    def copy_text(self) -> str | None:
        """What `c` copies here: the highlighted line's message (and traceback)."""
        log = self.highlighted
        if log is None:
            return None
        text = log.message
        if log.traceback:
            text += "\n" + log.traceback
        return text

    # ---- drawing

    def row_key(self, index: int) -> Hashable:
        """Log rows never change; the columns do, with the lines held."""
        return (self.rows[index].id, self.rows.level_width, self.rows.mixed_services)

    def _level_style(self, level: str) -> Style:
        return self.style_of(f"log-pane--{level}" if level in RANK else "log-pane--info")

    def render_row(self, index: int, width: int) -> Strip:
        """Time, level (as it was logged), service (when the lines held come from more than
        one), message, logger."""
        log = self.rows[index]
        muted = self.style_of("log-pane--muted")
        level_style = self._level_style(log.level)
        level_w = self.rows.level_width
        service_w = _SERVICE_W if self.rows.mixed_services and width >= 50 else 0
        logger_w = _LOGGER_W if width >= 70 else 0
        fixed = _TIME_W + 1 + level_w + 1 + (service_w + 1 if service_w else 0)
        message_w = max(width - fixed - (logger_w + 1 if logger_w else 0), 4)
        message = visible(log.message, 1000)
        if log.exception_type:
            message += " ⚠ " + visible(log.exception_type, 100)
        message_style = (
            level_style if log.level in ("warn", "error") else self.style_of("log-pane--message")
        )
        pieces: list[Piece] = [
            (fit(fmt.clock_time(log.timestamp), _TIME_W), muted),
            (" ", None),
            (fit(visible(kept_level(log), 40).upper(), level_w), level_style),
            (" ", None),
        ]
        if service_w:
            pieces += [(fit(visible(log.service or "", 100), service_w), muted), (" ", None)]
        pieces.append((fit(message, message_w), message_style))
        if logger_w:
            logger = fit(visible(log.logger or "", 100), logger_w, align="right")
            pieces += [(" ", None), (logger, muted)]
        return strip(pieces, width)
