"""End to end: a separate writer process traces requests while the dashboard runs."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from lens_tui.ui.app import LensApp

from .conftest import screen_text, wait_for

ROOT = Path(__file__).resolve().parents[2]
TRACES = 5

# The writer is a real application process: lens_tui.tracing's spans plus the logging handler,
# one request every 0.3 s, each committed (flush) before the next starts.
WRITER = textwrap.dedent(
    """
    import logging, sys, time
    from lens_tui import tracing

    tracing.configure(sys.argv[1], service="e2e-writer")
    log = logging.getLogger("e2e")
    log.propagate = False
    log.setLevel(logging.INFO)
    log.addHandler(tracing.LogHandler())
    for i in range(int(sys.argv[2])):
        with tracing.span(f"GET /e2e/{i}", request=i):
            with tracing.span("db.query"):
                log.info("e2e request %d handled", i)
            if i % 2:
                log.warning("e2e request %d was slow", i)
        tracing.flush()
        time.sleep(0.3)
    tracing.shutdown()
    """
)


async def test_traces_from_another_process_appear_live(tmp_path: Path) -> None:
    db = tmp_path / "traces.db"  # does not exist yet: the writer creates it
    app = LensApp(db, poll=0.5)
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.trace_list.empty_message.startswith("waiting for"))
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db), str(TRACES)],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            names = [f"GET /e2e/{i}" for i in range(TRACES)]

            def listed() -> set[str]:
                rows = app.trace_list.rows
                return {rows[i].root_span_name for i in range(len(rows))}

            # The first trace shows while the writer is still writing the others.
            await wait_for(pilot, lambda: names[0] in listed(), timeout=10)
            assert writer.poll() is None, "the writer finished before anything was shown"
            await wait_for(pilot, lambda: set(names) <= listed(), timeout=10)
            rows = app.trace_list.rows
            assert rows[0].root_span_name == names[-1]  # newest first
            assert rows[0].span_count == 2 and rows[0].service == "e2e-writer"

            def messages() -> list[str]:
                return [log.message for log in app.log_pane.rows]

            await wait_for(pilot, lambda: f"e2e request {TRACES - 1} handled" in messages())
            handled = [m for m in messages() if m.endswith("handled")]
            assert handled == [f"e2e request {i} handled" for i in range(TRACES)]
            last = next(log for log in app.log_pane.rows if log.message == handled[-1])
            assert last.trace_id == rows[0].trace_id and last.level == "info"
            assert app.log_pane.counts["warn"] == TRACES // 2

            text = screen_text(app)
            assert names[-1] in text and handled[-1] in text
        finally:
            try:
                _, err = writer.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                writer.kill()
                raise
    assert writer.returncode == 0, err.decode(errors="replace")
