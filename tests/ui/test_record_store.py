"""The dashboard on a record-store file (the dispatch trace store's layout), driven through
Pilot: its turns listed, waterfall, bodies, log pane and level filter, hostile text kept as
data; the file is never written; a writer process appending records shows them live."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.store import record_sample
from tests.store.record_sample import T0
from tests.store.record_store import file_sha256, log, span_close, span_open

from .conftest import loaded, make_app, open_trace, screen_text, wait_for

SIZE = (130, 40)
ROOT = Path(__file__).resolve().parents[2]


def sample(tmp_path: Path) -> Path:
    """The sample record store, written and closed."""
    path = tmp_path / "dispatch.db"
    record_sample.build(path).close()
    return path


def listed(app: Any) -> list[Any]:
    """The trace list's rows, top to bottom."""
    rows = app.trace_list.rows
    return [rows[i] for i in range(len(rows))]


async def test_a_whole_session_reads_the_record_store_and_never_writes_it(
    tmp_path: Path,
) -> None:
    db = sample(tmp_path)
    before = file_sha256(db)
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        assert [t.trace_id for t in listed(app)] == list(record_sample.TRACE_IDS)
        text = screen_text(app)
        for shown in ("handle message", "stream reply", "background sync", "ext.alpha"):
            assert shown in text
        assert record_sample.MARKUP_NAME in text  # markup from the file is shown as text

        # The log pane: all logs, then louder ones only, counts per level.
        pane = app.log_pane
        await wait_for(pilot, lambda: len(pane.rows) == 13)
        assert pane.counts == {"debug": 1, "info": 7, "warn": 3, "error": 2}
        await pilot.press("l", "l")
        await wait_for(pilot, lambda: {r.level for r in pane.rows} == {"warn", "error"})
        assert len(pane.rows) == 5 and pane.scope.min_level == "warn"
        await pilot.press("l", "l")
        await wait_for(pilot, lambda: len(pane.rows) == 13)

        # A turn's waterfall, its logs, and the tool span's gzipped body, inflated.
        await open_trace(pilot, "handle message")
        waterfall = app.waterfall
        assert waterfall.row_count == 2
        await wait_for(pilot, lambda: len(pane.rows) == 5)
        assert [r.message for r in pane.rows][-1] == "answered"
        await pilot.press("down", "down")
        span = waterfall.selected_span
        assert span is not None and span.name == "tool: weather" and span.status == "error"
        await wait_for(pilot, lambda: '"rain_mm"' in (app.detail.copy_text() or ""))
        detail = app.detail.copy_text() or ""
        assert "service    ext.alpha" in detail and "conversationId = conv-1" in detail
        assert "model = tool-override" in detail and "sizes      in – · out 3.3 KiB" in detail
        text = screen_text(app)
        assert "tool: weather" in text and "status     error" in text

        # A running turn: its open root grows with the clock.
        await pilot.press("escape", "escape")
        await open_trace(pilot, "stream reply")
        forest = app.waterfall.forest
        assert forest is not None and forest.running
        root = forest.index_of["s2-root"]
        assert forest.spans[root].status == "running"
        now = float(T0 + 60_000)  # the frozen clock make_app gives the app
        assert forest.end_of(root, now) == now

        # Hostile text: names and messages are data, control characters never reach the screen.
        await pilot.press("escape", "escape")
        await open_trace(pilot, record_sample.MARKUP_NAME)
        await wait_for(pilot, lambda: len(pane.rows) == 3)
        text = screen_text(app)  # fails on any escape character in the output
        assert record_sample.MARKUP_NAME in text and "␛]0;pwned␇title" in text
        assert "␛[2J cleared [b]bold[/b]" in text
    assert file_sha256(db) == before


def _feed(writer: subprocess.Popen[str], records: list[dict[str, Any]]) -> None:
    """One transaction of records for the writer process; returns once it is committed."""
    assert writer.stdin is not None and writer.stdout is not None
    writer.stdin.write(json.dumps(records) + "\n")
    writer.stdin.flush()
    assert writer.stdout.readline().strip() == "ok"


async def test_a_writer_process_appending_records_shows_live(tmp_path: Path) -> None:
    db = sample(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    writer = subprocess.Popen(
        [sys.executable, "-m", "tests.store.record_store", str(db)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=env, cwd=ROOT,
    )  # fmt: skip
    app = make_app(db)
    live = {"turnId": "turn-0100", "conversationId": "conv-live", "extensionId": "ext.live"}
    try:
        async with app.run_test(size=SIZE) as pilot:
            await loaded(pilot)
            _feed(writer, [span_open("s100-root", "live request", T0 + 50_000, **live)])
            await wait_for(pilot, lambda: listed(app)[0].trace_id == "turn-0100")
            row = listed(app)[0]
            assert (row.root_span_name, row.status, row.service) == (
                "live request", "running", "ext.live"
            )  # fmt: skip
            await open_trace(pilot, "live request")
            forest = app.waterfall.forest
            assert forest is not None and forest.spans[0].status == "running"

            _feed(writer, [
                span_open("s100-step", "live step", T0 + 50_010, parentSpanId="s100-root", **live),
                log("warn", "live warning", T0 + 50_020, spanId="s100-step", **live),
            ])  # fmt: skip
            await wait_for(pilot, lambda: app.waterfall.row_count == 2)
            await wait_for(pilot, lambda: "live warning" in [r.message for r in app.log_pane.rows])

            # The closes complete the running spans: the row and the waterfall follow.
            _feed(writer, [
                span_close("s100-step", "live step", T0 + 50_040, 30, parentSpanId="s100-root",
                           **live),
                span_close("s100-root", "live request", T0 + 50_100, 100, **live),
            ])  # fmt: skip
            await wait_for(pilot, lambda: listed(app)[0].status == "ok")
            row = listed(app)[0]
            assert (row.duration_ms, row.span_count) == (100.0, 2)

            def durations() -> list[float | None]:
                forest = app.waterfall.forest
                return [] if forest is None else [s.duration_ms for s in forest.spans]

            await wait_for(pilot, lambda: durations() == [100.0, 30.0])
            assert app.waterfall.forest is not None and not app.waterfall.forest.running
            assert "live request" in screen_text(app)
    finally:
        assert writer.stdin is not None
        writer.stdin.close()
        try:
            writer.wait(timeout=15)
        except subprocess.TimeoutExpired:
            writer.kill()
            raise
    assert writer.returncode == 0, writer.stderr.read() if writer.stderr else ""
