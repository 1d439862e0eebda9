"""Case 4: the writer is killed (SIGKILL) mid-batch, again and again.

Each batch is one transaction that writes spans, the traces' running counts and the writers row
together; SQLite discards an uncommitted tail of the WAL on recovery. So at every moment a reader
sees whole batches only: every trace's span_count equals its spans rows, every writer's
spans_written equals its spans, and a trace whose root is stored has all its spans.
"""

from __future__ import annotations

import os
import random
import signal
import struct
import threading
import time
from pathlib import Path

import apsw

from lens_tui.store.reader import TraceReader

from .conftest import connect_ro, popen_python, query, signal_inside_transaction, write_script

SPANS_PER_TRACE = 20
KILLS = 5

WRITER = """
    import sys, time
    from lens_tui import tracing
    from lens_tui.tracing import span

    db, service, per_trace = sys.argv[1], sys.argv[2], int(sys.argv[3])
    # A long flush interval and a high rate: big batches, so a kill often lands inside one.
    store = tracing.configure(db, service=service, flush_interval=0.2, retention_days=None)
    rate = 40_000.0
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

# One statement, so one snapshot: any partial batch would show as a nonzero count.
INVARIANTS_SQL = f"""
SELECT
  (SELECT count(*) FROM traces t WHERE coalesce(t.span_count, 0) !=
      (SELECT count(*) FROM spans s WHERE s.trace_id = t.trace_id)),
  (SELECT count(*) FROM traces WHERE root_span_id IS NOT NULL AND span_count != {SPANS_PER_TRACE}),
  (SELECT count(*) FROM writers w WHERE
      w.spans_written != (SELECT count(*) FROM spans s
                          WHERE s.service = w.service AND s.status != 'running')
      OR w.logs_written != (SELECT count(*) FROM logs l WHERE l.service = w.service)),
  (SELECT count(*) FROM spans),
  (SELECT count(*) FROM traces WHERE root_span_id IS NOT NULL)
"""


def uncommitted_frames(wal: Path) -> int:
    """Frames of the current WAL generation after its last commit frame (a batch cut short)."""
    try:
        data = wal.read_bytes()
    except FileNotFoundError:
        return 0
    if len(data) < 32:
        return 0
    page_size = struct.unpack(">I", data[8:12])[0]
    salts = data[16:24]
    frame = 24 + page_size
    after_commit = 0
    offset = 32
    while offset + frame <= len(data) and data[offset + 8 : offset + 16] == salts:
        commit_size = struct.unpack(">I", data[offset + 4 : offset + 8])[0]
        after_commit = 0 if commit_size else after_commit + 1
        offset += frame
    return after_commit


class ConcurrentChecker:
    """A thread that checks the invariants on its own read-only connection, over and over."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.stop = threading.Event()
        self.checks = 0
        self.violations: list[tuple[int, ...]] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        conn: apsw.Connection | None = None
        while not self.stop.is_set():
            try:
                if conn is None:
                    conn = connect_ro(self.db)
                row = conn.execute(INVARIANTS_SQL).fetchall()[0]
            except apsw.Error:  # not created yet, or busy during recovery: try again
                time.sleep(0.01)
                continue
            self.checks += 1
            if row[0] or row[1] or row[2]:
                self.violations.append(tuple(row))
            time.sleep(0.005)
        if conn is not None:
            conn.close()


def test_04_writer_killed_mid_batch(tmp_path: Path) -> None:
    """SIGKILL a busy writer 5 times: committed batches survive whole, a concurrent reader never
    sees a partial one, and the dead writer's last_write_at goes stale in the reader's stats."""
    db = tmp_path / "traces.db"
    script = write_script(tmp_path, "writer.py", WRITER)
    rng = random.Random(4)
    checker = ConcurrentChecker(db)
    checker.thread.start()
    reader = TraceReader(db)
    in_tx = 0  # kills that landed while the writer held the write lock
    torn = 0  # kills that left uncommitted frames in the WAL
    proc = None
    try:
        for round_ in range(KILLS):
            proc = popen_python(script, str(db), f"w{round_}", str(SPANS_PER_TRACE))
            assert proc.stdout.readline().strip() == "go", proc.stderr.read()
            # Wait for its first commit (a loaded machine starts it slowly), then a bit more.
            deadline = time.monotonic() + 20
            while not (reader.changed() and any(w.pid == proc.pid for w in reader.stats().writers)):
                assert time.monotonic() < deadline, "the writer never committed"
                time.sleep(0.02)
            time.sleep(rng.uniform(0.1, 0.4))
            if round_ % 2 == 0:  # inside a transaction, for sure
                in_tx += signal_inside_transaction(db, proc.pid, signal.SIGKILL)
            else:  # wherever it is
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
            torn += uncommitted_frames(Path(f"{db}-wal")) > 0
            reader.changed()
            before = {w.pid: w for w in reader.stats().writers}
            assert proc.pid in before, f"round {round_}: the killed writer committed nothing"
            time.sleep(0.3)
            reader.changed()
            after = {w.pid: w for w in reader.stats().writers}
            dead = after[proc.pid]
            # Stale: it has not moved, and the reader can tell how long it has been quiet.
            assert dead.last_write_at == before[proc.pid].last_write_at
            assert time.time() * 1000.0 - dead.last_write_at >= 300.0
    finally:
        if proc is not None and proc.poll() is None:  # a failed round must not leave it running
            proc.kill()
            proc.wait(10)
        checker.stop.set()
        checker.thread.join(10)
        reader.close()

    mismatched, incomplete, writer_mismatch, spans, complete = query(db, INVARIANTS_SQL)[0]
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    assert (mismatched, incomplete, writer_mismatch) == (0, 0, 0)
    assert not checker.violations, f"partial batches seen: {checker.violations[:5]}"
    assert checker.checks > 20
    assert in_tx >= 2, "the kills never landed inside a batch: the test proved nothing"
    # Complete traces read through the dashboard's reader have all their spans.
    with TraceReader(db) as fresh:
        for summary in fresh.recent_traces(50):
            detail = fresh.trace(summary.trace_id)
            if summary.root_span_name:
                assert len(detail.spans) == SPANS_PER_TRACE == summary.span_count
            assert summary.span_count == len(detail.spans)
        assert len(fresh.stats().writers) == KILLS
    print(
        f"case 4: {KILLS} kills ({in_tx} inside a write transaction, {torn} left uncommitted "
        f"WAL frames), "
        f"{spans} spans kept, {complete} complete traces, {checker.checks} concurrent checks"
    )
