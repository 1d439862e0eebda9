"""`LiveFeed`: the header line and the live tail it reports on: the file watcher, the first
picture of the database, each refresh after it, and the rows held back while paused."""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection
from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.message import Message
from textual.widget import Widget
from textual.worker import Worker, WorkerState, get_current_worker

from lens_tui.live.feed import Delta, Feed, Snapshot
from lens_tui.live.jobs import SingleFlight
from lens_tui.live.paused import PausedQueue, held_text
from lens_tui.store.filters import TraceFilter
from lens_tui.store.reader import TraceReader
from lens_tui.store.tail import ChangeWatcher
from lens_tui.ui.widgets.header_bar import HeaderBar
from lens_tui.ui.workers import Job, in_thread, job_ended

OnScreen = tuple[Collection[str], Collection[int]]
"""The trace ids and log ids on screen."""

SNAPSHOT_RETRY_S = 1.0
"""A failed first load is retried after this long."""
WATCH_STEP_MS = 3
"""watchfiles' grouping step: a commit is noticed within about this long (10 ms made commit
to applied 19 ms at the median, 3 ms made it 8 ms; idle CPU stayed at ~1 %,
bench/bench_dashboard.py part a)."""


class LiveFeed(Widget):
    """Tails the database in thread workers and posts what it read; shows LIVE or PAUSED, rates
    and totals in its header. Paused, it holds new rows back (merged, bounded) until resumed."""

    DEFAULT_CSS: ClassVar[str] = """
    LiveFeed {
        height: 1;
    }
    """

    class Waiting(Message):
        """The file is not there (or not a trace database) yet."""

        def __init__(self, reason: str) -> None:
            super().__init__()
            self.reason = reason

    class Loaded(Message):
        """The first picture of the database: the tail starts from its marks."""

        def __init__(self, snapshot: Snapshot) -> None:
            super().__init__()
            self.snapshot = snapshot

    class Changed(Message):
        """New rows to show now (held back while paused; `delta.replaced`: a new file)."""

        def __init__(self, delta: Delta) -> None:
            super().__init__()
            self.delta = delta

    class Hint(Message, bubble=False):
        """The watcher saw the database or its WAL change (a refresh confirms it)."""

        def can_replace(self, message: Message) -> bool:
            """A queued hint says nothing a newer one does not."""
            return isinstance(message, LiveFeed.Hint)

    def __init__(
        self,
        path: Path,
        clock: Callable[[], float],
        keep: Callable[[], TraceFilter],
        *,
        cap: int,
        poll: float,
        watch: bool,
        on_screen: Callable[[], OnScreen] = lambda: ((), ()),
        listed: Callable[[str], bool] = lambda _id: False,
        receiving: str | None = None,
        id: str | None = None,
    ) -> None:
        """`keep` gives the trace list's filter and `cap` its size (the first picture is the
        list's); `poll` is the fallback poll period in seconds; `watch=False` polls only;
        `on_screen` the trace and log ids shown, which each refresh checks are still there;
        `listed` whether the trace list shows a trace (held while paused: new or updated);
        `receiving` where an OTLP receiver in this process listens, for the header."""
        super().__init__(id=id)
        self.path = path
        self.clock = clock
        self.keep = keep
        self.on_screen = on_screen
        self.listed = listed
        self.cap = cap
        self.poll_seconds = poll
        self.watch_files = watch
        self.header = HeaderBar(str(path), clock, receiving=receiving, id="header")
        self._feed = Feed(TraceReader(path))
        self._stopping = threading.Event()
        self.watcher: ChangeWatcher | None = None
        """The file watcher, once its worker runs."""
        self.live = False
        """The first picture is shown and the tail follows it."""
        self.paused = False
        self.queue = PausedQueue()
        """Rows held back while paused."""
        self._flight = SingleFlight(self._start_refresh)

    @property
    def reader(self) -> TraceReader:
        """The tail's own reader (no other job queries on it)."""
        return self._feed.reader

    def compose(self) -> ComposeResult:
        """The header line."""
        yield self.header

    def start(self) -> None:
        """Start watching and loading; nothing here touches the file."""
        self.header.waiting = f"opening {self.path.name}…"
        if self.watch_files:
            self._watch()
        self._load_snapshot()
        self.set_interval(self.poll_seconds, self._on_poll_timer)

    def reload(self) -> None:
        """The file was replaced: read a first picture again (marks start over)."""
        self._load_snapshot()

    def on_unmount(self) -> None:
        """Stop the watcher thread and the snapshot's wait; close the tail's connection."""
        self._stopping.set()
        if self.watcher is not None:
            self.watcher.stop()
        self._feed.reader.close()

    # ------------------------------------------------------------------ workers

    @in_thread(Job.WATCH)
    def _watch(self) -> None:
        """Run the file watcher; it posts a hint on every change of the db or its WAL."""
        watcher = ChangeWatcher(
            self.path, self._hint, fallback_s=self.poll_seconds, step_ms=WATCH_STEP_MS
        )
        self.watcher = watcher
        if not self._stopping.is_set():
            watcher.run()

    def _hint(self) -> None:
        """Called on the watcher's thread: post_message is thread safe."""
        self.post_message(self.Hint())

    @in_thread(Job.SNAPSHOT)
    def _load_snapshot(self) -> None:
        """Wait for the file to be a trace database, then read the first picture."""
        worker = get_current_worker()
        said: str | None = None
        while True:
            if worker.is_cancelled or self._stopping.is_set():
                return
            reason = self._feed.try_open()
            if reason is None:
                break
            if reason != said:
                self.post_message(self.Waiting(reason))
                said = reason
            self._stopping.wait(0.1)
        snapshot = self._feed.snapshot(self.cap, **self.keep().query(self.clock()))
        if not worker.is_cancelled:
            self.post_message(self.Loaded(snapshot))

    def _start_refresh(self, force: bool) -> None:
        if not self.live or self._stopping.is_set():
            self._flight.abandon()  # the next snapshot starts tailing again
            return
        trace_ids, log_ids = self.on_screen()
        self._refresh(force, trace_ids, log_ids)

    @in_thread(Job.REFRESH)
    def _refresh(self, force: bool, trace_ids: Collection[str], log_ids: Collection[int]) -> None:
        """Confirm a change and read everything past the marks as one delta, with which rows
        held are gone (`Feed.poll`)."""
        delta = self._feed.poll(force, trace_ids, log_ids)
        if delta is not None:
            self.post_message(self.Changed(delta))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A refresh that ended lets the next one start; a failed first load is tried again."""
        job = job_ended(self, event)
        if job is Job.REFRESH:
            self._flight.done()
        elif job is Job.SNAPSHOT and event.state == WorkerState.ERROR:
            if not self._stopping.is_set():
                # E.g. the file was swapped while being read: try again shortly.
                self.set_timer(SNAPSHOT_RETRY_S, self._load_snapshot)

    # ------------------------------------------------------------------ what the workers found

    def on_live_feed_hint(self, _message: LiveFeed.Hint) -> None:
        """The file changed: refresh (folded into the running one if any)."""
        if self.live:
            self._flight.request()

    def _on_poll_timer(self) -> None:
        if self.live:
            self._flight.request()

    def on_live_feed_waiting(self, message: LiveFeed.Waiting) -> None:
        """Say why nothing is shown yet (the screen says it in the trace list too)."""
        self.header.waiting = message.reason

    def on_live_feed_loaded(self, message: LiveFeed.Loaded) -> None:
        """The first picture: its totals here; the screen fills the panes, then the tail goes."""
        self.header.waiting = None
        self.header.set_stats(message.snapshot.stats)
        self.live = True
        self.call_later(self._flight.request)

    def on_live_feed_changed(self, message: LiveFeed.Changed) -> None:
        """New totals; new rows go on to the screen, or are held back while paused."""
        delta = message.delta
        if delta.replaced:
            self.live = False
            self.queue = PausedQueue()
            self.header.reset()
            self.header.queued = 0
            return
        if delta.stats is not None:
            self.header.set_stats(delta.stats)
        if self.paused:
            message.stop()
            self.queue.add(delta, self.listed)
            self.header.held = held_text(self.queue)
            self.header.queued = self.queue.count
        if delta.more:
            self._flight.request(force=True)

    # ------------------------------------------------------------------ pause

    def toggle_pause(self) -> tuple[Delta | None, bool]:
        """Pause, or resume: then the rows held back as one delta (None if none), and whether
        more logs came than the log pane keeps (its counts must be read again)."""
        self.paused = not self.paused
        self.header.paused = self.paused
        held: Delta | None = None
        overflowed = False
        if not self.paused and self.queue:
            overflowed = self.queue.logs_overflowed > 0
            held = self.queue.take()
        self.header.queued = self.queue.count
        self.header.held = held_text(self.queue)
        return held, overflowed

    def show_new(self, count: int) -> None:
        """Traces that arrived above the trace list's cursor."""
        self.header.new_count = count

    def tick(self) -> None:
        """Ages and rates move on even when nothing is written."""
        self.header.refresh()
