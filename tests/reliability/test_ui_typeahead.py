"""Keys typed ahead: `/checkout⏎` arriving in one read from the terminal (a paste, a fast
typist, keys bunched up by a slow SSH link) all reach the filter bar that `/` opens.

Textual's `Widget.focus()` moves the focus only after every event already queued, so the
keys behind `/` went to the trace list (`e` toggled errors only, `c` copied) and an empty
filter was applied. The real dashboard runs in a pseudo-terminal; the keys are one write.
"""

from __future__ import annotations

from pathlib import Path

from .conftest import write_script
from .ui_support import T0, add_trace, run_in_pty, writer

CHILD = """
    import json, sys, time
    from pathlib import Path
    from lens_tui.ui.app import LensApp

    db, report, ready = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])

    async def typed(pilot):
        app = pilot.app
        deadline = time.monotonic() + 15
        while app.trace_list.row_count < 2 and time.monotonic() < deadline:
            await pilot.pause(0.05)
        await pilot.pause(0.2)
        ready.write_text("ready")  # the parent types now
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and (
            app.dashboard.traces.filter.name != "checkout" or app.trace_list.row_count != 1
        ):
            await pilot.pause(0.05)
        await pilot.pause(0.3)
        rows = app.trace_list.rows
        report.write_text(json.dumps({
            "filter": app.dashboard.traces.filter.name,
            "errors_only": app.dashboard.traces.filter.errors_only,
            "level": app.log_pane.scope.min_level,
            "names": [rows[i].root_span_name for i in range(len(rows))],
            "clipboard": app.clipboard,
        }))
        app.exit(0)

    LensApp(db).run(auto_pilot=typed)
"""


def test_keys_typed_right_after_slash_reach_the_filter(tmp_path: Path) -> None:
    db = tmp_path / "traces.db"
    conn = writer(db)
    add_trace(conn, "a" * 32, "GET /idle", T0, spans=1)
    add_trace(conn, "b" * 32, "POST /checkout", T0 + 1_000, spans=1)
    conn.close()
    script = write_script(tmp_path, "dash.py", CHILD)
    report, ready = tmp_path / "report.json", tmp_path / "ready"
    run = run_in_pty(
        script,
        str(db),
        str(report),
        str(ready),
        report=report,
        size=(120, 30),
        keys=b"/checkout\r",
        keys_when=ready,
        timeout=30,
    )
    assert run.sent_at is not None, f"never ready: {run.output[-1500:]!r}"
    assert run.report, f"no report: {run.output[-1500:]!r}"
    assert run.report == {
        "filter": "checkout",
        "errors_only": False,
        "level": "debug",
        "names": ["POST /checkout"],
        "clipboard": "",
    }
