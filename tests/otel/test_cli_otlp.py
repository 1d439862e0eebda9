"""`lens-tui otlp` as a user runs it: a real process, a real exporter, Ctrl+C, a summary."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from lens_tui import cli

from .conftest import read

ROOT = Path(__file__).resolve().parents[2]


def _start(db: Path, *extra: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "lens_tui.cli", "otlp", "--db", str(db), "--port", "0", *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    line = proc.stderr.readline()
    match = re.search(r"(http://127\.0\.0\.1:\d+)/v1/traces", line)
    if match is None:
        proc.kill()
        raise AssertionError(f"no URL in {line!r}: {proc.communicate()}")
    return proc, match.group(1)


def test_otlp_command_receives_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    proc, url = _start(db, "--token", "tok")
    try:
        provider = TracerProvider(resource=Resource.create({"service.name": "cli-test"}))
        provider.add_span_processor(
            SimpleSpanProcessor(
                OTLPSpanExporter(
                    endpoint=f"{url}/v1/traces", headers={"Authorization": "Bearer tok"}
                )
            )
        )
        tracer = provider.get_tracer("t")
        with tracer.start_as_current_span("outer"):
            with tracer.start_as_current_span("inner"):
                pass
        provider.shutdown()
    finally:
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "received 2 spans, 0 logs in 2 requests" in err
    assert "Traceback" not in err
    rows = read(db, "SELECT name, service FROM spans ORDER BY name")
    assert rows == [
        {"name": "inner", "service": "cli-test"},
        {"name": "outer", "service": "cli-test"},
    ]


def test_otlp_command_sigterm_also_flushes(tmp_path: Path) -> None:
    proc, _url = _start(tmp_path / "term.db")
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0 and "received 0 spans" in err


def test_otlp_command_port_in_use_is_one_line(tmp_path: Path, capsys: object) -> None:
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    try:
        port = busy.getsockname()[1]
        assert (
            cli.main(["otlp", "--db", str(tmp_path / "x.db"), "--port", str(port)])
            == cli.EXIT_USAGE
        )
    finally:
        busy.close()
    err = capsys.readouterr().err  # type: ignore[attr-defined]
    assert err.count("\n") == 1 and "cannot listen" in err
    assert cli.main(["otlp", "--port", "70000"]) == cli.EXIT_USAGE
