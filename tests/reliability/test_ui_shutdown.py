"""Case 14 (dashboard): quitting while the file watcher waits.

The real dashboard runs in a pseudo-terminal, as a user starts it (default poll and watcher),
over an idle database or one that does not exist yet (then it waits for the file as well). Once
its watcher sits inside watchfiles, `q` is typed on the terminal: the process must be gone
within 2 s, leave no non-daemon thread behind, and hand the terminal back as it found it
(alternate screen left, cursor shown, mouse and paste modes off, cooked mode again).
"""

from __future__ import annotations

import re
import termios
from pathlib import Path

import pytest

from .conftest import write_script
from .ui_support import T0, add_trace, run_in_pty, writer

EXIT_WITHIN_S = 2.0

CHILD = """
    import json, sys, threading, time
    from pathlib import Path
    from lens_tui.ui.app import LensApp

    db, report, ready = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    info = {}

    async def settle(pilot):
        app = pilot.app
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            shown = app.trace_list.row_count > 0 or "waiting" in (app.header.waiting or "")
            if shown and app.dashboard.feed.watcher is not None:
                break
            await pilot.pause(0.05)
        await pilot.pause(0.3)  # the watcher is blocked inside watchfiles by now
        info["threads_while_running"] = sorted(t.name for t in threading.enumerate())
        info["watching"] = any(
            w.group == "watch" and w.state.name == "RUNNING" for w in app.workers
        ) and not app.dashboard.feed.watcher.stopped
        info["rows"] = app.trace_list.row_count
        info["waiting"] = app.header.waiting
        ready.write_text("ready")  # the parent types q now

    app = LensApp(db)
    app.run(auto_pilot=settle)
    others = [t for t in threading.enumerate() if t is not threading.main_thread()]
    # Thread workers run on asyncio's executor, whose threads are not daemons: one stuck in
    # the watcher would keep the process alive after the screen is gone.
    info["non_daemon"] = sorted(t.name for t in others if not t.daemon)
    info["daemon"] = sorted(t.name for t in others if t.daemon)
    info["return_code"] = app.return_code
    report.write_text(json.dumps(info))
"""

# Modes Textual turns on at start (mouse, bracketed paste, focus events) and must turn off.
MODES = ("1000", "1003", "1006", "1015", "2004", "1004")


def _restored(out: bytes) -> list[str]:
    """What the program left switched on in the terminal (empty when all was undone)."""
    problems = []
    if out.rfind(b"\x1b[?1049l") < out.rfind(b"\x1b[?1049h"):
        problems.append("still on the alternate screen")
    if out.rfind(b"\x1b[?25h") < out.rfind(b"\x1b[?25l"):
        problems.append("cursor still hidden")
    for mode in MODES:
        prefix = b"\x1b[?" + mode.encode()
        on, off = out.rfind(prefix + b"h"), out.rfind(prefix + b"l")
        if on >= 0 and off < on:
            problems.append(f"mode ?{mode} still on")
    if out.rfind(b"\x1b[<u") < out.rfind(b"\x1b[>"):
        problems.append("kitty keyboard protocol still pushed")
    last_frame = max(m.end() for m in re.finditer(rb"\x1b\[[0-9]+;[0-9]+H", out))
    if out.rfind(b"\x1b[?1049l") < last_frame:
        problems.append("drew after leaving the alternate screen")
    return problems


@pytest.mark.parametrize("state", ["idle-database", "no-file-yet"])
def test_ui_14_quit_while_the_watcher_waits(tmp_path: Path, state: str) -> None:
    """`q` typed on the terminal ends the dashboard within 2 s; no non-daemon thread is left;
    the terminal is restored."""
    db = tmp_path / "traces.db"
    if state == "idle-database":
        conn = writer(db)
        add_trace(conn, "a" * 32, "GET /idle", T0, spans=3)
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
        keys=b"q",
        keys_when=ready,
        timeout=20,
    )
    info = run.report
    assert run.sent_at is not None, f"never ready: {run.output[-1500:]!r}"
    took = run.ended_at - run.sent_at
    assert took < EXIT_WITHIN_S, f"exit took {took:.2f} s after q (killed at the time limit?)"
    assert run.returncode == 0
    assert info, f"no report: {run.output[-1500:]!r}"
    if state == "idle-database":
        assert info["rows"] == 1
    else:
        assert "waiting for traces.db" in info["waiting"]
    assert info["watching"], "the watcher was not running when q was typed"
    assert info["non_daemon"] == [], f"threads left running: {info['non_daemon']}"
    assert _restored(run.output) == []
    cooked = termios.ICANON | termios.ECHO
    assert run.modes_after & cooked == run.modes_before & cooked, "terminal left in raw mode"
    print(
        f"case 14 ({state}): exit {took * 1000:.0f} ms after q; threads while running "
        f"{len(info['threads_while_running'])}, left after run(): non-daemon "
        f"{info['non_daemon']}, daemon {info['daemon']}"
    )
