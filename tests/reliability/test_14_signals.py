"""Case 14: Ctrl+C (SIGINT) and SIGTERM in the traced program, mid-batch.

The program runs a traced loop at a steady rate and reports its progress; the signal arrives
while the writer is busy. Whatever the program recorded before the signal and flushed at exit
must be stored, as a gap-free prefix of the loop, and the process must exit within 5 s.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import (
    SPAN_COUNT_MISMATCH_SQL,
    child_env,
    query,
    signal_inside_transaction,
    write_script,
)

EXIT_WITHIN_S = 5.0

PROGRAM = """
    import atexit, json, signal, sys, time
    from lens_tui import tracing
    from lens_tui.tracing import span

    db, mode = sys.argv[1], sys.argv[2]
    started = 0
    # Registered before configure(): atexit runs last-in first-out, so this reports after the
    # library's own exit flush.
    atexit.register(lambda: print(json.dumps(
        {"started": started, "dropped": store.dropped, "errors": store.errors}
    ), file=sys.stderr, flush=True))
    store = tracing.configure(db, service="sig", flush_interval=0.05, retention_days=None)
    if mode == "term-handler":  # what most services do: turn SIGTERM into a normal exit
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    rate = 20_000.0
    start = time.perf_counter()
    while True:
        target = int((time.perf_counter() - start) * rate)
        while started < target:
            with span("step", i=started):
                pass
            started += 1
            if started % 5000 == 0:
                print(started, flush=True)
        time.sleep(0.001)
"""


def _run(tmp_path: Path, mode: str, sig: int) -> tuple[list[int], dict[str, int], float, int, int]:
    db = tmp_path / "traces.db"
    script = write_script(tmp_path, "program.py", PROGRAM)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(db), mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    reported = 0
    try:
        while reported < 15_000:  # about 0.75 s in: the writer has been committing batches
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            reported = int(line)
        in_batch = signal_inside_transaction(db, proc.pid, sig)
        sent = time.monotonic()
        out, err = proc.communicate(timeout=30)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    for line in out.split():
        reported = max(reported, int(line))
    stored = sorted(
        json.loads(a)["i"] for (a,) in query(db, "SELECT attributes FROM spans WHERE name = 'step'")
    )
    status: dict[str, int] = {}
    for line in err.splitlines():
        if line.startswith("{"):
            status = json.loads(line)
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    assert query(db, SPAN_COUNT_MISMATCH_SQL) == [(0,)]
    assert in_batch, "the signal was not sent while the writer was inside a batch"
    return stored, status, took, reported, proc.returncode


@pytest.mark.parametrize(
    ("mode", "sig"),
    [("plain", signal.SIGINT), ("term-handler", signal.SIGTERM)],
    ids=["sigint", "sigterm-with-handler"],
)
def test_14_signal_mid_batch_flushes_everything(tmp_path: Path, mode: str, sig: int) -> None:
    """SIGINT (KeyboardInterrupt) or SIGTERM turned into SystemExit: the exit flush stores every
    span the loop started (the interrupted one as an error or not at all), none twice."""
    stored, status, took, reported, code = _run(tmp_path, mode, sig)
    print(
        f"case 14 {mode}: exit {code} after {took:.2f}s, {len(stored)} stored, "
        f"{status.get('started')} started, dropped {status.get('dropped')}"
    )
    assert took < EXIT_WITHIN_S
    assert code != 0  # the program was interrupted, and says so
    assert status.get("dropped") == 0 and status.get("errors") == 0, status
    assert stored == list(range(len(stored))), "a gap: a span recorded before the signal is lost"
    assert len(stored) >= reported
    # All the loop started, except possibly the one the signal interrupted.
    assert status["started"] - 1 <= len(stored) <= status["started"] + 1


def test_14_sigterm_default_kills_without_flush(tmp_path: Path) -> None:
    """With SIGTERM's default action the process dies at once and no exit hook runs (the library
    installs no signal handler in someone else's program): what was committed is intact and a
    gap-free prefix; the loss is what was still queued (about one flush interval)."""
    stored, status, took, reported, code = _run(tmp_path, "plain", signal.SIGTERM)
    print(
        f"case 14 sigterm-default: exit {code} after {took:.2f}s, {len(stored)} stored, "
        f"{reported} reported before the signal"
    )
    assert code == -signal.SIGTERM and took < EXIT_WITHIN_S
    assert status == {}  # no exit hook ran
    assert stored == list(range(len(stored)))
    # Committed before the kill: at least what was reported one flush interval earlier.
    assert len(stored) >= reported - 5_000
