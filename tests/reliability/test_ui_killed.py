"""Case 4 (dashboard): writers are killed (SIGKILL) mid-batch while the dashboard tails them.

Each batch is one transaction (spans, the traces' running counts, the writers row), and a root
span always ends after its children, so a trace whose root is stored has all its spans. The
dashboard must only ever hold whole batches: every delta it applies and every waterfall it
builds is checked as it arrives (a trace with its root has all 20 spans; a loaded trace has as
many spans as its row counts). After the kills it shows every committed trace, and its header
shows the writers went quiet: the last-write age grows.
"""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from ui.conftest import screen_text  # tests/ui's helper: the screen as text lines

from lens_tui.ui import app as app_module
from lens_tui.ui.app import LensApp
from lens_tui.ui.panes.live_feed import LiveFeed
from lens_tui.ui.panes.trace_view import TraceView

from .conftest import popen_python, query, signal_inside_transaction, write_script

SPANS_PER_TRACE = 20
ROUNDS = 2
RATE = 20_000
"""Spans per second: about 1,000 traces a second, well inside the list's 5,000 cap."""

WRITER = """
    import sys, time
    from lens_tui import tracing
    from lens_tui.tracing import span

    db, service, per_trace, rate = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    # A long flush interval: big batches, so a kill often lands inside one.
    store = tracing.configure(db, service=service, flush_interval=0.2, retention_days=None)
    start = time.perf_counter()
    n = 0
    print("go", flush=True)
    while True:
        target = int((time.perf_counter() - start) * rate)
        while n < target:
            with span("root"):
                for _ in range(per_trace - 1):
                    with span("child"):
                        pass
                store.log("info", "work")
            n += per_trace
        time.sleep(0.002)
"""


class CheckedApp(LensApp):
    """The dashboard, with every delta and every built waterfall checked as it arrives (a
    delta as it bubbles up from the live feed; a forest by `check_forests`)."""

    CSS_PATH = str(Path(app_module.__file__).with_name("app.tcss"))  # relative to LensApp

    def __init__(self, db: Path) -> None:
        super().__init__(db)
        self.partial: list[str] = []
        self.deltas = 0
        self.forests = 0

    def on_live_feed_changed(self, message: LiveFeed.Changed) -> None:
        """A trace with its root stored must have all its spans."""
        self.deltas += 1
        for trace in message.delta.traces:
            count = trace.span_count or 0
            if count > SPANS_PER_TRACE or (trace.root_span_name and count != SPANS_PER_TRACE):
                self.partial.append(f"delta: {trace.trace_id} {trace.root_span_name!r} {count}")

    def check_forest(self, message: TraceView.TraceRead) -> None:
        """A waterfall from one snapshot: its spans match its row, and a root means all."""
        self.forests += 1
        spans = message.forest.spans
        has_root = any(s.parent_span_id is None and s.name == "root" for s in spans)
        if has_root and len(spans) != SPANS_PER_TRACE:
            self.partial.append(f"waterfall: root with {len(spans)} spans")
        summary = message.summary
        if message.fresh and summary is not None and summary.span_count != len(spans):
            self.partial.append(f"load: row says {summary.span_count}, {len(spans)} spans")


def check_forests(app: CheckedApp, monkeypatch: pytest.MonkeyPatch) -> None:
    """Have the open trace's pane check each forest it was sent before it shows it."""
    handle = TraceView.on_trace_view_trace_read

    def checked(view: TraceView, message: TraceView.TraceRead) -> None:
        app.check_forest(message)
        handle(view, message)

    monkeypatch.setattr(TraceView, "on_trace_view_trace_read", checked)


def _write_age(app: LensApp) -> float:
    """The header's "write … ago" in seconds, read off the screen."""
    header = screen_text(app).splitlines()[0]
    if re.search(r"write now\b", header):
        return 0.0  # under a second
    match = re.search(r"write ([\d.]+)(ms|s) ago", header)
    assert match, f"no write age in the header: {header!r}"
    value = float(match.group(1))
    return value / 1000 if match.group(2) == "ms" else value


async def _until(pilot: Pilot[Any], condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        await pilot.pause(0.02)


async def test_ui_04_writers_killed_mid_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two writers SIGKILLed in turn while the dashboard tails them and opens their newest
    traces: no partial batch is ever applied; every committed trace is shown; the write age
    in the header grows once they are dead."""
    db = tmp_path / "traces.db"
    script = write_script(tmp_path, "writer.py", WRITER)
    in_tx = 0
    app = CheckedApp(db)
    check_forests(app, monkeypatch)
    async with app.run_test(size=(150, 40)) as pilot:
        for round_ in range(ROUNDS):
            proc = popen_python(script, str(db), f"w{round_}", str(SPANS_PER_TRACE), str(RATE))
            assert proc.stdout.readline().strip() == "go", proc.stderr.read()
            until = time.monotonic() + 1.2
            while time.monotonic() < until:
                if app.trace_list.row_count:  # the user opens the newest trace now and then
                    app.trace_list.focus()
                    await pilot.press("g", "enter")
                await pilot.pause(0.25)
            if round_ == 0:  # inside a transaction for sure, then wherever it is
                in_tx += signal_inside_transaction(db, proc.pid, signal.SIGKILL)
            else:
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
            proc.stdout.close()
            proc.stderr.close()
            proc.stdin.close()
        killed_at = time.monotonic()
        stored = query(db, "SELECT count(*) FROM spans")[0][0]
        traces = {row[0] for row in query(db, "SELECT trace_id FROM traces")}
        await _until(
            pilot,
            lambda: app.header.stats and app.header.stats.spans == stored,
            10,
            "the header counts every stored span",
        )
        await _until(
            pilot, lambda: app.trace_list.row_count == len(traces), 10, "every trace listed"
        )
        shown = {app.trace_list.rows[i].trace_id for i in range(app.trace_list.row_count)}
        assert shown == traces, "committed traces missing from the list"
        # The header ticks once a second: the age it shows moves past 1 s, then on.
        first_age = _write_age(app)
        await _until(pilot, lambda: _write_age(app) >= 1.0, 5, "the write age passes 1 s")
        grown = _write_age(app)
        await _until(pilot, lambda: _write_age(app) > grown, 3, "the write age keeps growing")
        second_age = _write_age(app)
    assert not app.partial, f"partial batches reached the screen: {app.partial[:5]}"
    assert in_tx == 1, "the first kill did not land inside a write transaction"
    assert app.deltas >= 5 and app.forests >= 2, (app.deltas, app.forests)
    assert second_age > grown >= 1.0, (first_age, grown, second_age)
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    print(
        f"case 4 (dashboard): {ROUNDS} writers killed, {stored:,} spans in {len(traces):,} "
        f"traces kept and all listed; {app.deltas} deltas and {app.forests} waterfalls checked, "
        f"none partial; write age {first_age:.1f} s -> {grown:.1f} s -> {second_age:.1f} s "
        f"({time.monotonic() - killed_at:.1f} s after the last kill)"
    )
