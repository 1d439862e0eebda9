"""The traces row of a trace that crossed processes: two writers (the caller's and the
callee's) committing to one file in either order, roots still open, callers that record
nothing, and spans received over OTLP whose parent is remote."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lens_tui.tracing.context import SpanRecord
from lens_tui.tracing.external import ExternalSpan
from lens_tui.tracing.propagation import SpanContext
from lens_tui.tracing.writer import TraceWriter

from .conftest import read, trace_row

HOLD = 600.0
"""A flush interval no test waits for."""


@pytest.fixture
def writers(db_path: Path) -> Iterator[tuple[TraceWriter, TraceWriter]]:
    """The caller's writer (service `front`) and the callee's (`back`), one file. They commit
    only when flushed, so each test decides which commits first."""
    front = TraceWriter(db_path, service="front", flush_interval=HOLD)
    back = TraceWriter(db_path, service="back", flush_interval=HOLD)
    try:
        yield front, back
    finally:
        front.shutdown()
        back.shutdown()


def start(
    writer: TraceWriter, name: str, parent: SpanRecord | SpanContext | None, kind: str | None = None
) -> SpanRecord:
    record = SpanRecord(name, parent, None)
    if kind:
        record.kind = kind
    writer.begin(record)
    return record


def end(writer: TraceWriter, *records: SpanRecord, error: bool = False) -> None:
    for record in records:
        if error:
            record.status = "error"
            record.error_message = "HTTP 500"
        writer.end(record)


class Call:
    """front: root -> client span; back: server span (parent: the client span, remote) -> child."""

    def __init__(self, front: TraceWriter, back: TraceWriter) -> None:
        self.front_w, self.back_w = front, back
        self.root = start(front, "GET /front", None, "server")
        self.client = start(front, "GET back/items", self.root, "client")
        remote = SpanContext(self.client.trace_id, self.client.span_id)
        self.server = start(back, "GET /items/{id}", remote, "server")
        self.child = start(back, "load_item", self.server)

    @property
    def trace_id(self) -> str:
        return f"{self.root.trace_id:032x}"

    def back_done(self, error: bool = False) -> None:
        end(self.back_w, self.child)
        end(self.back_w, self.server, error=error)
        assert self.back_w.flush()

    def front_done(self, error: bool = False) -> None:
        end(self.front_w, self.client, error=error)
        end(self.front_w, self.root)
        assert self.front_w.flush()


def assert_whole(db_path: Path, call: Call, status: str = "ok", errors: int = 0) -> None:
    row = trace_row(db_path, call.trace_id)
    assert row["root_span_name"] == "GET /front"
    assert row["root_span_id"] == f"{call.root.span_id:016x}"
    assert row["service"] == "front"
    assert (row["span_count"], row["status"], row["error_count"]) == (4, status, errors)
    root = read(
        db_path,
        "SELECT started_at, duration_ms FROM spans WHERE span_id = ?",
        (f"{call.root.span_id:016x}",),
    )[0]
    assert row["started_at"] == pytest.approx(root["started_at"], abs=0.5)
    assert row["duration_ms"] == pytest.approx(root["duration_ms"], abs=0.5)


def test_the_callee_commits_first(writers: tuple[TraceWriter, TraceWriter], db_path: Path) -> None:
    call = Call(*writers)
    call.back_done()
    # Until the caller's spans come, the callee's server span stands in for the root.
    row = trace_row(db_path, call.trace_id)
    assert (
        row["root_span_name"] == "GET /items/{id}"
        and row["root_span_id"] == f"{call.server.span_id:016x}"
    )
    assert row["status"] == "ok" and row["span_count"] == 2 and row["service"] == "back"
    call.front_done()
    assert_whole(db_path, call)


def test_the_caller_commits_first(writers: tuple[TraceWriter, TraceWriter], db_path: Path) -> None:
    call = Call(*writers)
    end(call.back_w, call.child, call.server)  # ended, but its writer has not committed yet
    call.front_done()
    row = trace_row(db_path, call.trace_id)
    assert (row["root_span_name"], row["span_count"], row["status"]) == ("GET /front", 2, "ok")
    assert call.back_w.flush()
    assert_whole(db_path, call)  # the stand-in does not replace the root


def test_the_callers_root_still_running(
    writers: tuple[TraceWriter, TraceWriter], db_path: Path
) -> None:
    call = Call(*writers)
    call.back_done()
    end(call.front_w, call.client)
    assert call.front_w.flush()  # the client span is in; its root is still open
    row = trace_row(db_path, call.trace_id)
    assert row["root_span_name"] == "GET /front" and row["service"] == "front"
    assert row["status"] == "running" and row["duration_ms"] is None and row["span_count"] == 3
    end(call.front_w, call.root)
    assert call.front_w.flush()
    assert_whole(db_path, call)


def test_a_root_open_before_the_callee_commits(
    writers: tuple[TraceWriter, TraceWriter], db_path: Path
) -> None:
    """The caller's open root named the trace first; the callee's batch must not rename it."""
    call = Call(*writers)
    end(call.front_w, call.client)
    assert call.front_w.flush()
    call.back_done()
    row = trace_row(db_path, call.trace_id)
    assert (row["root_span_name"], row["status"], row["span_count"]) == ("GET /front", "running", 3)
    end(call.front_w, call.root)
    assert call.front_w.flush()
    assert_whole(db_path, call)


@pytest.mark.parametrize("first", ["front", "back"])
def test_a_failure_in_the_callee_fails_the_trace(
    writers: tuple[TraceWriter, TraceWriter], db_path: Path, first: str
) -> None:
    call = Call(*writers)
    if first == "front":
        end(call.back_w, call.child)
        end(call.back_w, call.server, error=True)  # ended, but its writer has not committed yet
        call.front_done(error=True)
        assert call.back_w.flush()
    else:
        call.back_done(error=True)
        call.front_done(error=True)
    assert_whole(db_path, call, status="error", errors=2)


def test_a_caller_that_records_nothing(
    writers: tuple[TraceWriter, TraceWriter], db_path: Path
) -> None:
    """A traceparent from curl or from a service exporting elsewhere: the trace has no root
    here, and must still be named and finish."""
    _front, back = writers
    remote = SpanContext(0x5B8AA5A2D2C872E8321CF37308D69DF2, 0x051581BF3CB55C13)
    server = start(back, "GET /items/{id}", remote, "server")
    child = start(back, "load_item", server)
    end(back, child)
    assert back.flush()  # the server span still open: it names the running trace
    row = trace_row(db_path, f"{remote.trace_id:032x}")
    assert (row["root_span_name"], row["status"], row["span_count"]) == (
        "GET /items/{id}",
        "running",
        1,
    )
    end(back, server)
    assert back.flush()
    row = trace_row(db_path, f"{remote.trace_id:032x}")
    assert (row["root_span_name"], row["status"], row["span_count"]) == ("GET /items/{id}", "ok", 2)
    assert row["root_span_id"] == f"{server.span_id:016x}" and row["duration_ms"] is not None


def test_two_calls_to_the_callee_keep_the_first_stand_in_until_the_root(
    writers: tuple[TraceWriter, TraceWriter], db_path: Path
) -> None:
    front, back = writers
    root = start(front, "GET /front", None, "server")
    clients = [start(front, f"call {i}", root, "client") for i in (1, 2)]
    servers = [
        start(back, f"serve {i}", SpanContext(root.trace_id, c.span_id), "server")
        for i, c in enumerate(clients, 1)
    ]
    end(back, servers[0])
    assert back.flush()
    end(back, servers[1])  # a later batch: another stand-in, which must not take over
    assert back.flush()
    trace_id = f"{root.trace_id:032x}"
    assert trace_row(db_path, trace_id)["root_span_name"] == "serve 1"
    end(front, *clients, root)
    assert front.flush()
    row = trace_row(db_path, trace_id)
    assert (row["root_span_name"], row["span_count"], row["status"]) == ("GET /front", 5, "ok")


def test_spans_received_with_a_remote_parent_stand_in_too(
    writers: tuple[TraceWriter, TraceWriter], db_path: Path
) -> None:
    """What the OTLP receiver writes: spans of another SDK whose parent is remote (span flags)."""
    front, back = writers
    trace_id, now = "6e0c63257de34c926f9efcd03899deb4", time.time() * 1000.0
    back.record_span(
        ExternalSpan(
            span_id="00000000000000a1",
            trace_id=trace_id,
            parent_span_id="00000000000000c1",
            name="otel server",
            started_at=now + 1,
            duration_ms=5.0,
            service="otel-back",
            kind="server",
            remote_parent=True,
        )
    )
    back.record_span(
        ExternalSpan(
            span_id="00000000000000a2",
            trace_id=trace_id,
            parent_span_id="00000000000000a1",
            name="otel child",
            started_at=now + 2,
            duration_ms=1.0,
            service="otel-back",
        )
    )
    assert back.flush()
    row = trace_row(db_path, trace_id)
    assert (row["root_span_name"], row["status"], row["span_count"]) == ("otel server", "ok", 2)
    front.record_span(
        ExternalSpan(
            span_id="00000000000000c0",
            trace_id=trace_id,
            name="caller root",
            started_at=now,
            duration_ms=10.0,
            service="caller",
        )
    )
    front.record_span(
        ExternalSpan(
            span_id="00000000000000c1",
            trace_id=trace_id,
            parent_span_id="00000000000000c0",
            name="caller client",
            started_at=now + 0.5,
            duration_ms=7.0,
            service="caller",
            kind="client",
        )
    )
    assert front.flush()
    row = trace_row(db_path, trace_id)
    assert (row["root_span_name"], row["span_count"], row["service"]) == (
        "caller root",
        4,
        "caller",
    )
    assert row["started_at"] == now and row["duration_ms"] == pytest.approx(10.0)


def test_one_process_calling_itself(
    writers: tuple[TraceWriter, TraceWriter], db_path: Path
) -> None:
    """The root and a span whose parent is remote in one batch: the root names the trace."""
    front, _back = writers
    root = start(front, "GET /outer", None, "server")
    client = start(front, "GET self/inner", root, "client")
    inner = start(front, "GET /inner", SpanContext(root.trace_id, client.span_id), "server")
    end(front, inner, client, root)
    assert front.flush()
    row = trace_row(db_path, f"{root.trace_id:032x}")
    assert (row["root_span_name"], row["span_count"], row["status"]) == ("GET /outer", 3, "ok")
