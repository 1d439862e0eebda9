"""Several processes writing one file: nothing lost, nothing locked; fork children write too."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from lens_tui import tracing
from lens_tui.tracing import lens_fn, span
from lens_tui.tracing.writer import TraceWriter

from .conftest import read, scalar

WRITER_SCRIPT = textwrap.dedent(
    """
    import sys
    from lens_tui import tracing
    from lens_tui.tracing import lens_fn, span

    db, worker, traces = sys.argv[1], sys.argv[2], int(sys.argv[3])
    store = tracing.configure(db, service=f"worker-{worker}", flush_interval=0.02)

    @lens_fn("child")
    def child(i):
        return i

    for t in range(traces):
        with span(f"root-{worker}"):
            for i in range(4):
                child(i)
    assert tracing.flush(30)
    print(f"dropped={store.dropped} errors={store.errors}", file=sys.stderr)
    tracing.shutdown()
    """
)


def test_four_processes_lose_nothing(tmp_path: Path, db_path: Path) -> None:
    script = tmp_path / "writer.py"
    script.write_text(WRITER_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    workers = [
        subprocess.Popen(
            [sys.executable, str(script), str(db_path), str(n), "1000"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for n in range(4)
    ]
    outputs = [w.communicate(timeout=120) for w in workers]
    for worker, (out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err
        assert out == ""  # stdout is never written
        assert "locked" not in err.lower() and "lens_tui:" not in err, err
        assert "dropped=0 errors=0" in err

    assert scalar(db_path, "SELECT count(*) FROM spans") == 20_000
    assert scalar(db_path, "SELECT count(*) FROM traces") == 4_000
    assert scalar(db_path, "SELECT count(DISTINCT span_id) FROM spans") == 20_000
    assert scalar(db_path, "SELECT sum(span_count) FROM traces") == 20_000
    assert (
        scalar(
            db_path,
            "SELECT count(*) FROM spans WHERE trace_id NOT IN (SELECT trace_id FROM traces)",
        )
        == 0
    )
    per_service = read(
        db_path, "SELECT service, count(*) AS n, sum(span_count) AS s FROM traces GROUP BY service"
    )
    assert sorted((r["service"], r["n"], r["s"]) for r in per_service) == [
        (f"worker-{n}", 1000, 5000) for n in range(4)
    ]
    assert (
        scalar(db_path, "SELECT count(*) FROM traces WHERE status != 'ok' OR span_count != 5") == 0
    )
    writers = read(db_path, "SELECT * FROM writers")
    assert len(writers) == 4 and sum(w["spans_written"] for w in writers) == 20_000
    assert all(w["dropped"] == 0 and w["errors"] == 0 for w in writers)
    assert scalar(db_path, "PRAGMA integrity_check") == "ok"


def test_os_fork_child_writes_its_own_spans(store: TraceWriter, db_path: Path) -> None:
    @lens_fn("parent-before")
    def parent_work() -> None:
        pass

    for _ in range(200):  # keep the writer busy around the fork
        parent_work()
    with span("around-fork") as outer:
        assert outer is not None
        pid = os.fork()
        if pid == 0:  # child: record, flush, leave without running the parent's cleanups
            code = 1
            try:
                for _ in range(50):
                    with span("child-span"):
                        pass
                code = 0 if tracing.flush(10) else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    parent_work()
    assert tracing.flush()

    children = read(db_path, "SELECT * FROM spans WHERE name = 'child-span'")
    assert len(children) == 50
    # The child inherited the context: its spans hang under the span open at the fork.
    assert {c["parent_span_id"] for c in children} == {outer.span_id}
    assert scalar(db_path, "SELECT count(*) FROM spans WHERE name = 'parent-before'") == 201
    assert scalar(db_path, "SELECT count(DISTINCT span_id) FROM spans") == scalar(
        db_path, "SELECT count(*) FROM spans"
    )
    assert len(read(db_path, "SELECT * FROM writers")) == 2


THIRD_WRITER = textwrap.dedent(
    """
    import sys
    from lens_tui import tracing
    from lens_tui.tracing import span
    tracing.configure(sys.argv[1], flush_interval=0.01)
    for _ in range(5):
        with span("third"):
            pass
        assert tracing.flush()
    tracing.shutdown()
    """
)


def test_fork_child_keeps_its_rows_after_the_parent_closes(
    store: TraceWriter, db_path: Path
) -> None:
    """A child must hold its own OS-level locks on the file: when the parent's connection closes
    and a third process opens and closes the file, that process must not take itself for the
    last connection (checkpointing and deleting the WAL under the child, losing its rows)."""
    with span("parent"):
        pass
    assert tracing.flush()  # the parent's writer has its connection open
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            for _ in range(150):
                with span("child"):
                    pass
                time.sleep(0.003)
            code = 0 if tracing.flush(10) else 2
        finally:
            os._exit(code)
    tracing.shutdown()  # the parent's connection closes while the child writes
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    for _ in range(3):
        subprocess.run(
            [sys.executable, "-c", THIRD_WRITER, str(db_path)], check=True, env=env, timeout=60
        )
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert scalar(db_path, "SELECT count(*) FROM spans WHERE name = 'child'") == 150
    assert scalar(db_path, "SELECT count(*) FROM spans WHERE name = 'third'") == 15
    assert scalar(db_path, "PRAGMA integrity_check") == "ok"


def _mp_child(n: int) -> None:
    for _ in range(n):
        with span("mp-child"):
            pass
    # No explicit flush: the multiprocessing finalizer registered at fork flushes on exit.


def test_multiprocessing_fork_children(store: TraceWriter, db_path: Path) -> None:
    with span("mp-parent"):
        pass
    assert tracing.flush()
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_mp_child, args=(100,)) for _ in range(3)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(30)
        assert proc.exitcode == 0
    assert tracing.flush()
    assert scalar(db_path, "SELECT count(*) FROM spans WHERE name = 'mp-child'") == 300
    assert scalar(db_path, "SELECT count(*) FROM traces") == 301
