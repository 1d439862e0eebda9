"""`LogsPane`: the log pane and what it shows: its scope (all logs, a trace, a span subtree),
level and text, the reload a new scope starts once the cursor rests, pages of older lines, and
per-level counts read again."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.timer import Timer
from textual.worker import Worker, WorkerState

from lens_tui.levels import LEVELS
from lens_tui.live.limits import LOG_LOAD_LIMIT, OLDER_LOG_PAGE
from lens_tui.live.readers import Readers
from lens_tui.store.filters import LogScope, LogTally
from lens_tui.store.presence import Presence
from lens_tui.store.records import LogRow
from lens_tui.ui.focus import focus_now
from lens_tui.ui.widgets.log_detail import LogDetail
from lens_tui.ui.widgets.log_pane import LogPane
from lens_tui.ui.workers import Generation, Job, in_thread, job_ended

LOG_SCOPE_DEBOUNCE_S = 0.08
"""Moving through spans quickly reloads the log pane once, when the cursor rests."""


def next_level(level: str) -> str:
    """The level `l` moves to: debug → info → warn → error → debug."""
    return LEVELS[(LEVELS.index(level) + 1) % len(LEVELS)]


class LogsPane(Horizontal):
    """Owns the log pane's scope and its loads: a result for a scope asked for before the
    latest one is dropped."""

    class LogsRead(Message, bubble=False):
        """The log pane's rows and per-level counts for a scope."""

        def __init__(
            self,
            scope: LogScope,
            rows: tuple[LogRow, ...],
            counts: dict[str, int],
            generation: int,
            mark: int,
            older: bool = False,
        ) -> None:
            super().__init__()
            self.mark = mark
            """The highest log id the load saw: the live tail brings everything above it."""
            self.scope = scope
            self.rows = rows
            self.counts = counts
            self.generation = generation
            self.older = older
            """Older lines of the scope exist than these (paged in at the top)."""

    class OlderRead(Message, bubble=False):
        """A page of the scope older than the pane's oldest line."""

        def __init__(
            self, rows: tuple[LogRow, ...], before_id: int, older: bool, generation: int
        ) -> None:
            super().__init__()
            self.rows = rows
            self.before_id = before_id
            self.older = older
            self.generation = generation

    class Counted(Message, bubble=False):
        """The pane's per-level counts read again, up to `tally.upto`."""

        def __init__(self, counts: dict[str, int], generation: int, tally: LogTally) -> None:
            super().__init__()
            self.counts = counts
            self.generation = generation
            self.tally = tally

    def __init__(
        self, readers: Readers, clock: Callable[[], float], *, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.readers = readers
        self.log_pane = LogPane(clock, id="logs")
        self.detail = LogDetail(id="log-detail")
        """The highlighted line in full, beside the lines (hidden until asked for)."""
        self.live = False
        """The first picture is shown: loads may run."""
        self._generation = Generation()
        self._timer: Timer | None = None
        self._oldest_log = -math.inf
        """The oldest log time left in the file, as last checked (it rises as logs go)."""

    def compose(self) -> ComposeResult:
        """The log lines, and beside them the highlighted one in full."""
        yield self.log_pane
        yield self.detail

    # ------------------------------------------------------------------ the line in full

    def toggle_detail(self) -> None:
        """Show the highlighted line in full (the newest when none is), or hide it again."""
        if self.detail.shown:
            self._show_detail(False)
            return
        self._show_detail(True)
        pane = self.log_pane
        if pane.highlighted is None and pane.row_count:
            pane.move_cursor(pane.row_count - 1, user=True)
        self.detail.show(pane.highlighted)

    def _show_detail(self, shown: bool) -> None:
        self.detail.set_class(shown, "-shown")
        self.set_class(shown, "-detail")  # app.tcss: the pane takes more room
        if not shown and self.screen.focused is self.detail:
            focus_now(self.log_pane)

    def on_log_pane_log_chosen(self, message: LogPane.LogChosen) -> None:
        """The detail follows the highlighted line; enter on a line of no trace (no span to
        go to) shows it in full. The screen handles the message too."""
        if message.open and message.log.trace_id is None and not self.detail.shown:
            self._show_detail(True)
        if self.detail.shown:
            self.detail.show(message.log)

    @property
    def scope(self) -> LogScope:
        """What the pane shows (or is about to show, once loaded)."""
        return self.log_pane.scope

    # ------------------------------------------------------------------ set from above

    def clear(self, scope: LogScope) -> None:
        """Drop every line (a new database) and show `scope` from now on."""
        self._oldest_log = -math.inf
        self.log_pane.clear(scope)

    def show(self, trace_id: str | None, span_ids: frozenset[str] | None, label: str) -> None:
        """Logs of a trace, of a span subtree, or (both None) all recent ones; the level and
        text filters stay."""
        old = self.log_pane.scope
        self.log_pane.scope = LogScope(
            trace_id=trace_id,
            span_ids=span_ids,
            label=label,
            min_level=old.min_level,
            text=old.text,
        )
        self.reload()

    def filter_text(self, text: str) -> None:
        """Only lines containing `text` ("" for all)."""
        scope = self.log_pane.scope
        if scope.text != text:
            self.log_pane.scope = replace(scope, text=text)
            self.reload(now=True)

    def cycle_level(self) -> None:
        """The minimum level moves debug → info → warn → error → debug."""
        scope = self.log_pane.scope
        self.log_pane.scope = scope.with_level(next_level(scope.min_level))
        self.reload(now=True)

    def append(self, logs: tuple[LogRow, ...]) -> None:
        """New logs from the tail."""
        self.log_pane.append(logs)

    def drop_gone(self, presence: Presence) -> None:
        """Lines deleted from the file (prune, retention) leave the pane; its per-level counts
        are read again when logs older than any held went (they counted too)."""
        dropped = self.log_pane.drop_gone(presence)
        # The first check only sets where the file starts: the counts loaded are as recent.
        risen = self._oldest_log != -math.inf and presence.oldest_log > self._oldest_log
        self._oldest_log = presence.oldest_log
        if (dropped or risen) and self.live:
            self.recount()
        shown = self.detail.row
        if dropped and shown is not None and presence.log_gone(shown.id, shown.timestamp):
            self.detail.show(self.log_pane.highlighted)

    def visible_ids(self) -> list[int]:
        """The ids of the lines on screen (the one shown in full too)."""
        ids = self.log_pane.visible_ids()
        if self.detail.shown and self.detail.row is not None:
            ids.append(self.detail.row.id)
        return ids

    def grow_subtree(self, span_ids: frozenset[str]) -> None:
        """The chosen span's subtree gained spans: their live logs count as its own."""
        self.log_pane.set_span_ids(span_ids)

    def name_span(self, label: str) -> None:
        """The chosen span's row was read: the title names it (if a span is still shown)."""
        if self.log_pane.scope.span_ids is not None:
            self.log_pane.relabel(label)

    def name_trace(self, trace_id: str, label: str) -> None:
        """The open trace was read: the title names it (if the whole trace is still shown)."""
        scope = self.log_pane.scope
        if scope.trace_id == trace_id and scope.span_ids is None:
            self.log_pane.relabel(label)

    # ------------------------------------------------------------------ loads

    def reload(self, now: bool = False) -> None:
        """Reload the pane for its scope, once the cursor rests (`now`: at once)."""
        generation = self._generation.next()
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if not self.live:
            return
        if now:
            self._load_logs(self.log_pane.scope, generation)
        else:
            self._timer = self.set_timer(
                LOG_SCOPE_DEBOUNCE_S, lambda: self._load_logs(self.log_pane.scope, generation)
            )

    def recount(self) -> None:
        """Read the per-level counts again (more lines came than the pane keeps)."""
        pane = self.log_pane
        self._count_logs(pane.scope, self._generation.current, pane.tally())

    @in_thread(Job.LOGS)
    def _load_logs(self, scope: LogScope, generation: int) -> None:
        """The pane's rows and level counts for a scope."""
        reader = self.readers.get(Job.LOGS)
        mark = reader.max_log_id()  # rows above it arrive through the live tail
        rows = reader.logs(scope=scope, limit=LOG_LOAD_LIMIT)
        counts = reader.level_counts_of(scope, mark)
        older = len(rows) >= LOG_LOAD_LIMIT
        rows = [row for row in rows if row.id <= mark]
        self.post_message(self.LogsRead(scope, tuple(rows), counts, generation, mark, older))

    @in_thread(Job.OLDER_LOGS)
    def _load_older_logs(
        self, scope: LogScope, before_id: int, limit: int, generation: int
    ) -> None:
        """The page of the scope before the pane's oldest line (its own reader: a span scope
        may scan a long trace, and must not hold up the next scope's load)."""
        rows = self.readers.get(Job.OLDER_LOGS).logs(scope=scope, before_id=before_id, limit=limit)
        older = len(rows) >= limit
        self.post_message(self.OlderRead(tuple(rows), before_id, older, generation))

    @in_thread(Job.LOG_COUNTS)
    def _count_logs(self, scope: LogScope, generation: int, tally: LogTally) -> None:
        """Exact per-level counts of a scope up to the last log the pane took."""
        counts = self.readers.get(Job.LOGS).level_counts_of(scope, tally.upto, exact=True)
        self.post_message(self.Counted(counts, generation, tally))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A page of older lines that was not read is asked for again on the next visit."""
        job = job_ended(self, event)
        if job is Job.OLDER_LOGS and event.state != WorkerState.SUCCESS:
            self.log_pane.page_failed()

    def on_log_pane_need_older(self, message: LogPane.NeedOlder) -> None:
        """The user reached the oldest line held: the page before it."""
        message.stop()
        if not self.live:
            self.log_pane.page_failed()
            return
        limit = min(OLDER_LOG_PAGE, message.room)
        self._load_older_logs(
            self.log_pane.scope, message.before_id, limit, self._generation.current
        )

    def on_logs_pane_logs_read(self, message: LogsPane.LogsRead) -> None:
        """Fresh rows for the pane's scope."""
        if self._generation.stale(message.generation):
            return
        self.log_pane.reset(
            message.scope, message.rows, message.counts, message.mark, message.older
        )

    def on_logs_pane_older_read(self, message: LogsPane.OlderRead) -> None:
        """Older lines of the scope shown, above its oldest."""
        if not self._generation.stale(message.generation):
            self.log_pane.prepend(message.rows, message.before_id, message.older)

    def on_logs_pane_counted(self, message: LogsPane.Counted) -> None:
        """Per-level counts read again for the pane's scope."""
        if not self._generation.stale(message.generation):
            self.log_pane.recount(message.counts, message.tally)
