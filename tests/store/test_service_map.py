"""The service map's data side on files written by the real writers of three services, and
`lens-tui services` as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lens_tui import cli
from lens_tui.store.reader import TraceReader
from lens_tui.store.service_map import UNNAMED, Edge, edges_of, percentile, service_map
from lens_tui.tracing.external import ExternalSpan
from lens_tui.tracing.writer import TraceWriter

from .conftest import make_original_layout

ROOT = Path(__file__).resolve().parents[2]
_ids = iter(range(1, 1 << 30))


def _id(width: int) -> str:
    return f"{next(_ids):0{width}x}"


def call(
    writer_of: dict[str, TraceWriter],
    caller: str,
    callee: str,
    *,
    ms: float,
    started: float,
    failed: str | None = None,
    server_kind: str = "server",
) -> str:
    """One call caller -> callee as each side's writer records it: the caller's root and client
    span, the callee's server span (its parent the client span). Returns the trace id."""
    trace = _id(32)
    root, client, server = _id(16), _id(16), _id(16)
    spans = [
        (
            caller,
            ExternalSpan(
                span_id=root,
                trace_id=trace,
                name=f"{caller} work",
                started_at=started,
                duration_ms=ms + 2,
                service=caller,
                kind="server",
            ),
        ),
        (
            caller,
            ExternalSpan(
                span_id=client,
                trace_id=trace,
                parent_span_id=root,
                name=f"GET {callee}",
                started_at=started + 1,
                duration_ms=ms,
                service=caller,
                kind="client",
                status="error" if failed == "client" else "ok",
            ),
        ),
        (
            callee,
            ExternalSpan(
                span_id=server,
                trace_id=trace,
                parent_span_id=client,
                name="GET /x",
                started_at=started + 1.5,
                duration_ms=ms - 1,
                service=callee,
                kind=server_kind,
                status="error" if failed == "server" else "ok",
                remote_parent=True,
            ),
        ),
    ]
    for service, span in spans:
        writer_of[service].record_span(span)
    return trace


@pytest.fixture
def writers(tmp_path: Path) -> Iterator[dict[str, TraceWriter]]:
    path = tmp_path / "services.db"
    made = {
        name: TraceWriter(path, service=name, flush_interval=0.02) for name in ("web", "api", "db")
    }
    try:
        yield made
    finally:
        for writer in made.values():
            writer.shutdown()


def flushed(writers: dict[str, TraceWriter]) -> Path:
    for writer in writers.values():
        assert writer.flush()
    path = next(iter(writers.values())).path
    assert path is not None
    return path


def test_edges_count_errors_and_p95(writers: dict[str, TraceWriter]) -> None:
    now = time.time() * 1000.0
    for i in range(20):
        call(
            writers,
            "web",
            "api",
            ms=10.0 + i,
            started=now - 60_000 + i,
            failed="server" if i in (3, 7) else ("client" if i == 11 else None),
        )
    for i in range(4):
        call(writers, "api", "db", ms=2.0, started=now - 30_000 + i)
    call(
        writers, "api", "api", ms=5.0, started=now - 1000
    )  # a service calling itself is an edge too
    path = flushed(writers)

    with TraceReader(path) as reader:
        found = service_map(reader, now - 3_600_000, now + 1)
    assert found.services == ("api", "db", "web")
    web_api, api_db, api_api = found.edges
    assert (web_api.caller, web_api.callee, web_api.calls, web_api.errors) == ("web", "api", 20, 3)
    assert web_api.error_rate == pytest.approx(0.15)
    assert web_api.p95_ms == pytest.approx(28.0)  # nearest rank 19 of 10..29 ms
    assert (api_db.caller, api_db.callee, api_db.calls, api_db.errors, api_db.p95_ms) == (
        "api",
        "db",
        4,
        0,
        2.0,
    )
    assert (api_api.calls, api_api.p95_ms) == (1, 5.0)


def test_the_window_counts_traces_that_started_in_it(writers: dict[str, TraceWriter]) -> None:
    now = time.time() * 1000.0
    call(writers, "web", "api", ms=3.0, started=now - 2 * 3_600_000)  # two hours ago
    call(writers, "web", "api", ms=4.0, started=now - 60_000)
    call(writers, "web", "db", ms=4.0, started=now - 90_000)
    path = flushed(writers)
    with TraceReader(path) as reader:
        last_hour = service_map(reader, now - 3_600_000, now + 1)
        earlier = service_map(reader, now - 3 * 3_600_000, now - 3_600_000)
        everything = service_map(reader)
    assert [(e.callee, e.calls) for e in last_hour.edges] == [("api", 1), ("db", 1)]
    assert [(e.callee, e.calls, e.p95_ms) for e in earlier.edges] == [("api", 1, 3.0)]
    assert [(e.callee, e.calls) for e in everything.edges] == [("api", 2), ("db", 1)]


def test_only_a_client_span_with_a_server_child_is_a_call(writers: dict[str, TraceWriter]) -> None:
    now = time.time() * 1000.0
    call(writers, "web", "api", ms=3.0, started=now - 1000, server_kind="internal")
    trace = _id(32)
    writers["web"].record_span(
        ExternalSpan(  # a call whose callee recorded nothing
            span_id=_id(16),
            trace_id=trace,
            name="GET elsewhere",
            started_at=now - 500,
            duration_ms=3.0,
            service="web",
            kind="client",
        )
    )
    writers["api"].record_span(
        ExternalSpan(  # a server span whose caller recorded nothing
            span_id=_id(16),
            trace_id=_id(32),
            parent_span_id="00000000000000aa",
            name="GET /y",
            started_at=now - 400,
            duration_ms=3.0,
            service="api",
            kind="server",
            remote_parent=True,
        )
    )
    path = flushed(writers)
    with TraceReader(path) as reader:
        assert service_map(reader).edges == ()


def test_a_database_without_kinds_has_no_edges(tmp_path: Path) -> None:
    path = tmp_path / "lens.db"
    make_original_layout(path, wal=False)
    with TraceReader(path) as reader:
        found = service_map(reader)
    assert found.edges == () and found.services == ()


def test_edges_of_rows() -> None:
    rows = [
        ("a", "b", "ok", "ok", 5.0, 4.0),
        ("a", "b", "ok", "error", None, 7.0),  # the client span still running: the server's time
        ("a", "b", "running", "running", None, None),
        (None, "b", "ok", "ok", 1.0, 1.0),
    ]
    assert edges_of(rows) == [Edge("a", "b", 3, 1, 7.0), Edge(UNNAMED, "b", 1, 0, 1.0)]
    assert edges_of([("x", "y", "running", "running", None, None)])[0].p95_ms is None


def test_percentile() -> None:
    assert percentile([], 95) is None
    assert percentile([4.0], 95) == 4.0
    assert percentile(list(range(1, 101)), 95) == 95.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    # 0.95 * 20 is 19 exactly: floating point would make it 19.000000000000004 and rank 20.
    assert percentile([float(v) for v in range(1, 21)], 95) == 19.0


def test_the_services_command(
    writers: dict[str, TraceWriter], capsys: pytest.CaptureFixture[str]
) -> None:
    now = time.time() * 1000.0
    for i in range(3):
        call(
            writers,
            "web",
            "api",
            ms=12.0,
            started=now - 5000 + i,
            failed="server" if i == 0 else None,
        )
    odd = {**writers, "web\x1b[31m": writers["web"]}  # a service name with an escape sequence
    call(odd, "web\x1b[31m", "db", ms=1.0, started=now - 4000)
    path = flushed(writers)

    assert cli.main(["services", "--db", str(path), "--since", "15m"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == ["CALLER", "CALLEE", "CALLS", "ERRORS", "ERROR", "%", "P95"]
    assert lines[1].split() == ["web", "api", "3", "1", "33.3", "12.0ms"]
    assert "\x1b" not in out and "web" in lines[2] and "db" in lines[2]
    assert lines[-1] == "2 calls between 4 services, traces of the last 15m00s"

    result = subprocess.run(
        [sys.executable, "-m", "lens_tui.cli", "services", "--db", str(path), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["edges"][0] == {
        "caller": "web",
        "callee": "api",
        "calls": 3,
        "errors": 1,
        "error_rate": pytest.approx(1 / 3),
        "p95_ms": 12.0,
    }
    assert (
        "api" in document["services"] and document["until_ms"] - document["since_ms"] == 3_600_000
    )


def test_the_services_command_without_calls_and_on_bad_input(
    tmp_path: Path, writers: dict[str, TraceWriter], capsys: pytest.CaptureFixture[str]
) -> None:
    writers["web"].record_span(
        ExternalSpan(
            span_id=_id(16),
            trace_id=_id(32),
            name="alone",
            started_at=time.time() * 1000.0,
            duration_ms=1.0,
            service="web",
        )
    )
    path = flushed(writers)
    assert cli.main(["services", "--db", str(path)]) == 0
    assert (
        capsys.readouterr().out
        == f"no calls between services in traces of the last 1h00m in {path}\n"
    )

    assert cli.main(["services", "--db", str(tmp_path / "missing.db")]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert cli.main(["services", "--db", str(path), "--since", "soon"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a duration" in err and "Traceback" not in err
    assert cli.main(["services", "--db", str(path), "--format", "yaml"]) == 2
