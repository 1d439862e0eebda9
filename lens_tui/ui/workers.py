"""The dashboard's thread workers: every kind of job as an enum, the decorator that runs a method
as one, the one counter that tells a stale result from a current one, and how a failure
travels up to the screen."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from textual import work
from textual.message import Message
from textual.widget import Widget
from textual.worker import Worker, WorkerState

FINISHED = (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED)
"""A worker in one of these states runs no more."""


class Job(StrEnum):
    """Every kind of thread worker the dashboard runs: the value is its group and its name, and
    the key of the reader it queries with (`lens_tui.live.readers.Readers`)."""

    WATCH = "watch"
    """The file watcher: runs until the app stops, posting a hint on each change."""
    SNAPSHOT = "snapshot"
    """Waits for the file to be a trace database, then reads the first picture."""
    REFRESH = "refresh"
    """The live tail: what was written since the last refresh (one at a time)."""
    LIST = "list"
    """The trace list for a new filter."""
    OLDER = "older"
    """A page of traces older than the oldest listed."""
    TRACE = "trace"
    """A newly opened trace's forest."""
    SPANS = "spans"
    """Rows of spans drawn before they were read."""
    ANALYSE = "analyse"
    """Self times and the critical path of a huge trace."""
    TRACE_UPDATE = "trace-update"
    """Spans of the open trace written since the last look."""
    FIND = "find"
    """The span search in the open trace."""
    LOGS = "logs"
    """The log pane's rows and counts for a new scope."""
    OLDER_LOGS = "older-logs"
    """A page of log lines older than the oldest held."""
    LOG_COUNTS = "log-counts"
    """The log pane's per-level counts, read again."""
    BODY = "body"
    """A captured body."""
    COPY = "copy"
    """A trace rendered as a text tree for the clipboard."""
    ROUTES = "routes"
    """The overview's seed: a window of route statistics read once, then kept live."""
    JUDGE = "judge"
    """Which arriving traces a list scoped by a query about spans keeps, asked of the store."""
    LATENCY = "latency"
    """One route's latency chart: its points or its heatmap."""
    PALETTE = "palette"
    """The command palette's trace-id look-up (its reader; the palette runs it itself)."""


def in_thread(job: Job, *, exclusive: bool = True) -> Any:
    """`@work` for a thread worker of `job`, named after it.

    Without a `description` Textual `repr()`s every argument on the event loop to make one: for a
    100,000-span forest or the span ids under a root that froze the UI for a quarter second."""
    return work(thread=True, exclusive=exclusive, group=job, description=job, exit_on_error=False)


class Generation:
    """Counts what a pane asked for; a result carries the count it was asked under and is stale
    once something newer was asked (a thread worker cannot be stopped, only ignored)."""

    __slots__ = ("current",)

    def __init__(self) -> None:
        self.current = 0

    def next(self) -> int:
        """Ask for something new: every result asked for before is stale from now on."""
        self.current += 1
        return self.current

    def stale(self, stamp: int) -> bool:
        """Whether a result asked for under `stamp` was overtaken."""
        return stamp != self.current


class JobFailed(Message):
    """A thread worker raised: the screen shows it (`DashboardScreen`, once per repeat)."""

    def __init__(self, job: str, error: BaseException | None) -> None:
        super().__init__()
        self.job = job
        self.error = error


def job_ended(node: Widget, event: Worker.StateChanged) -> Job | None:
    """The job of a worker of `node` that stopped running (None while it runs); a failure is
    posted up as `JobFailed`. Each pane calls it from `on_worker_state_changed`."""
    if event.state not in FINISHED:
        return None
    worker = event.worker
    if event.state == WorkerState.ERROR:
        node.post_message(JobFailed(worker.group, worker.error))
    return Job(worker.group)
