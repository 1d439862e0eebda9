"""SIGTERM in a traced program flushes what was recorded, then ends the process as SIGTERM does."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from .conftest import scalar

CHILD = """
import signal, sys, time
from lens_tui import tracing
from lens_tui.tracing import lens_fn
handler = sys.argv[2]
if handler == "own":
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(3))
# A long flush interval: nothing reaches the file before the signal unless it is flushed.
tracing.configure(sys.argv[1], service="sig", flush_interval=60)
@lens_fn("work")
def work(i): return i
for i in range(500):
    work(i)
print("ready", flush=True)
time.sleep(60)
"""


def run_and_terminate(db: Path, handler: str) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db), handler], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    child.send_signal(signal.SIGTERM)
    started = time.monotonic()
    child.wait(timeout=10)
    assert time.monotonic() - started < 5
    return child


def test_sigterm_flushes_then_terminates(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    child = run_and_terminate(db, "default")
    assert child.returncode == -signal.SIGTERM  # still "killed by SIGTERM" for supervisors
    assert scalar(db, "SELECT count(*) FROM spans") == 500


def test_an_application_sigterm_handler_is_left_alone(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    child = run_and_terminate(db, "own")
    assert child.returncode == 3  # the app's own handler ran; atexit then flushed
    assert scalar(db, "SELECT count(*) FROM spans") == 500
