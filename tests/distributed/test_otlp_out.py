"""A lens-traced process sending OTLP to a real `lens-tui otlp`, and to one that is down or
never answers: the process is never held up, and what cannot be sent is dropped and counted."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import ROOT, Launch, read, wait_for

pytest.importorskip("opentelemetry.proto")

TRACED_APP = Path(__file__).with_name("traced_app.py")


def run_app(*args: str, timeout: float = 120) -> dict[str, Any]:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, str(TRACED_APP), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    report["elapsed_s"] = time.monotonic() - started
    report["stderr"] = result.stderr
    return report


def test_a_traced_process_feeds_lens_tui_otlp(launch: Launch, tmp_path: Path) -> None:
    db = tmp_path / "central.db"
    receiver = launch("otlp", db)
    report = run_app("--otlp", receiver.url, "--traces", "200")
    assert report["after"]["sent_spans"] == 600 and report["after"]["sent_logs"] == 200
    assert report["after"]["dropped_spans"] == report["after"]["dropped_logs"] == 0
    assert report["stderr"] == ""

    def all_in() -> list[dict[str, Any]] | None:
        rows = read(db, "SELECT * FROM traces")
        return rows if len(rows) == 200 and all(r["span_count"] == 3 for r in rows) else None

    traces = wait_for(all_in, what="200 traces of 3 spans")
    assert {t["root_span_name"] for t in traces} == {f"order {i}" for i in range(5)}
    assert {t["service"] for t in traces} == {"traced-app"} and {t["status"] for t in traces} == {
        "ok"
    }
    assert wait_for(
        lambda: read(db, "SELECT count(*) AS n FROM logs")[0]["n"] == 200, what="the logs"
    )
    logs = read(
        db, "SELECT l.trace_id, l.span_id, s.name FROM logs l JOIN spans s ON s.span_id = l.span_id"
    )
    assert len(logs) == 200 and {row["name"] for row in logs} == {f"order {i}" for i in range(5)}

    # And through that file the dashboard's side: `lens-tui show` prints one of the trees.
    shown = subprocess.run(
        [sys.executable, "-m", "lens_tui.cli", "show", traces[0]["trace_id"], "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    assert "price lookup" in shown.stdout and "stock check" in shown.stdout


def test_a_receiver_that_is_down_costs_the_process_nothing_but_drops(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nobody listens there once closed
    db = tmp_path / "local.db"
    report = run_app(
        "--otlp", f"http://127.0.0.1:{port}", "--db", str(db), "--traces", "300", "--shutdown", "1"
    )
    after = report["after"]
    assert (after["sent_spans"], after["dropped_spans"], after["dropped_logs"]) == (0, 900, 300)
    assert after["queued"] == 0
    assert report["shutdown_s"] < 4.0  # it gave up on time, counted
    assert report["stderr"].count("\n") == 1 and "Connection refused" in report["stderr"]
    # The local file, written as well, has everything.
    assert read(db, "SELECT count(*) AS n FROM spans") == [{"n": 900}]


@pytest.fixture
def silent_receiver() -> Iterator[str]:
    """A port that accepts connections and reads requests but never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(2)
        for conn in held:
            conn.close()
        server.close()


def test_a_receiver_that_never_answers_never_holds_the_process(
    silent_receiver: str, tmp_path: Path
) -> None:
    report = run_app(
        "--otlp",
        silent_receiver,
        "--traces",
        "1000",
        "--timeout",
        "30",
        "--max-queue",
        "300",
        "--shutdown",
        "1",
    )
    during, after = report["during"], report["after"]
    # The work ended while the first request still hung (sent nothing, answered never), the
    # queue beyond its bound dropped and counted.
    assert during["requests"] >= 1 and during["sent_spans"] == 0
    assert during["dropped_spans"] + during["dropped_logs"] > 0
    assert after["sent_spans"] == after["sent_logs"] == 0
    assert after["dropped_spans"] + after["dropped_logs"] == 4000  # 3,000 spans, 1,000 logs
    assert report["shutdown_s"] < 4.0
