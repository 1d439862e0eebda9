"""Case 1: checkpoint starvation on the read side.

A writer process inserts spans while a TraceReader is used the way the dashboard uses it (poll
`changed()`, tail, open a trace, filter logs and traces, header stats). If any reader call left a
read transaction (or a half-read cursor) open, the writer's automatic checkpoints could not reset
the WAL, which then grows without bound (docs/findings.md: 575 MB per 200k rows).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from lens_tui.store.reader import TraceMark, TraceReader

from .conftest import file_size, popen_python, probe_checkpoint, query, write_script

AUTOCHECKPOINT_PAGES = 1000
"""What the writer sets (`PRAGMA wal_autocheckpoint`, lens_tui/tracing/sql.py)."""
SLACK_PAGES = 500
"""A checkpoint runs only after the commit that crossed the threshold, so the WAL may exceed
2 x 1000 pages by one commit. At the paced 10k spans/s and a 50 ms flush a batch is ~500 spans
(~150 pages with the two span indexes); 500 pages is that with a 3x margin for scheduling jitter
on a shared machine. A reader that pins a snapshot grows the WAL by thousands of pages instead."""

WRITER = """
    import sys, time
    from lens_tui import tracing
    from lens_tui.tracing import span

    db, total, rate = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    store = tracing.configure(db, service="starve", flush_interval=0.05, retention_days=None)
    log = store.log
    start = time.perf_counter()
    written = 0
    while written < total:
        # Paced: a steady rate like a busy service, not one giant batch.
        target = min(total, int((time.perf_counter() - start) * rate) + 100)
        while written < target:
            with span("GET /orders" if written % 20 else "POST /pay"):
                for i in range(9):
                    with span("db.query"):
                        pass
                log("warn" if written % 7 == 0 else "info", "handled")
            written += 10
        time.sleep(0.005)
    assert tracing.flush(60)
    print(f"done {store.dropped} {store.errors}", flush=True)
    sys.stdin.readline()  # stay open (an idle writer connection) until the test has probed
    tracing.shutdown()
"""


def _in_transaction(reader: TraceReader) -> bool:
    # White-box on purpose: the invariant is "no read transaction outlives a call".
    conn = reader._conn
    return conn is not None and conn.in_transaction


def _dashboard_loop(
    db: Path, writer_done: Callable[[], bool], max_wal: list[int]
) -> dict[str, int]:
    """Poll like the dashboard until the writer is done; returns how much work was done."""
    reader = TraceReader(db)
    mark = TraceMark()
    counts = {"polls": 0, "refreshes": 0, "traces_seen": 0}
    selected: str | None = None
    try:
        while not writer_done():
            counts["polls"] += 1
            changed = reader.changed()
            assert not _in_transaction(reader)
            if changed:
                counts["refreshes"] += 1
                traces, mark = reader.traces_since(mark)  # live tail
                assert not _in_transaction(reader)
                counts["traces_seen"] += len(traces)
                if traces and (selected is None or counts["refreshes"] % 10 == 0):
                    selected = traces[0].trace_id  # the user opens another trace now and then
                if selected is not None:
                    detail = reader.trace(selected)  # the detail pane stays open
                    assert not _in_transaction(reader)
                    assert detail.spans
                    reader.logs(trace_id=selected, min_level="info", limit=500)
                    assert not _in_transaction(reader)
                reader.logs(min_level="warn", limit=200)  # log pane, filtered by level
                assert not _in_transaction(reader)
                if counts["refreshes"] % 5 == 0:  # the user filters and scrolls the list
                    page = reader.recent_traces(200, name_filter="POST")
                    if page:
                        reader.recent_traces(200, before=page[-1].started_at)
                    reader.recent_traces(100, errors_only=True)
                    assert not _in_transaction(reader)
                reader.stats()
                reader.level_counts()
                assert not _in_transaction(reader)
            max_wal[0] = max(max_wal[0], file_size(f"{db}-wal"))
            time.sleep(0.01)  # the dashboard's poll tick
        # One last refresh after the writer's final commit, then idle (as between ticks).
        reader.changed()
        reader.traces_since(mark)
        reader.stats()
        assert not _in_transaction(reader)
        busy, log_frames, checkpointed = probe_checkpoint(db)
        counts.update(busy=busy, log=log_frames, checkpointed=checkpointed)
    finally:
        reader.close()
    return counts


def _run(tmp_path: Path, spans: int) -> None:
    db = tmp_path / "traces.db"
    script = write_script(tmp_path, "writer.py", WRITER)
    writer = popen_python(script, str(db), str(spans), "10000")
    done_line: list[str] = []

    def writer_done() -> bool:
        if done_line:
            return True
        if writer.poll() is not None:
            pytest.fail(f"writer died: {writer.stderr.read()}")
        return False

    def wait_done() -> None:
        line = writer.stdout.readline()
        done_line.append(line)

    threading.Thread(target=wait_done, daemon=True).start()
    max_wal = [0]
    try:
        counts = _dashboard_loop(db, writer_done, max_wal)
        page_size = int(query(db, "PRAGMA page_size")[0][0])
    finally:
        try:
            writer.stdin.write("\n")
            writer.stdin.flush()
            writer.communicate(timeout=120)
        finally:
            if writer.poll() is None:  # never leave a writer running after a failure
                writer.kill()
                writer.wait(10)
    assert done_line[0].startswith("done 0 0"), done_line
    assert writer.returncode == 0
    limit = (2 * AUTOCHECKPOINT_PAGES + SLACK_PAGES) * page_size
    print(f"case 1: {spans} spans, max -wal {max_wal[0]} bytes (limit {limit}), {counts}")
    assert max_wal[0] <= limit, f"-wal grew to {max_wal[0]} bytes (> {limit}): checkpoint starved"
    assert counts["busy"] == 0 and counts["log"] == counts["checkpointed"], counts
    assert counts["refreshes"] > 20, counts  # the reader really was used during the writes
    assert query(db, "SELECT count(*) FROM spans")[0][0] == spans


def test_01_checkpoint_starvation_short(tmp_path: Path) -> None:
    """30,000 spans at 10k/s while the reader is polled like the dashboard: the -wal stays
    within 2 x the auto-checkpoint size and a probe's passive checkpoint completes."""
    _run(tmp_path, 30_000)


@pytest.mark.soak
def test_01_checkpoint_starvation_soak(tmp_path: Path) -> None:
    """The same with 200,000 spans (about 20 s of writing)."""
    _run(tmp_path, 200_000)
