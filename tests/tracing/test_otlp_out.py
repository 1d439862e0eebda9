"""OTLP out of the library: the encoding checked by the real opentelemetry-proto, the same
batches arriving in a real receiver's file as in the local one, and the sender's retries,
drops and headers against real HTTP servers on loopback."""

from __future__ import annotations

import gzip
import io
import json
import logging
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from lens_tui import tracing
from lens_tui.tracing import LogHandler, lens_fn, span
from lens_tui.tracing.otlp_sender import OTLPSender, parse_endpoint
from lens_tui.tracing.writer import TraceWriter

from .conftest import FLUSH_INTERVAL, read, serving

trace_pb2 = pytest.importorskip("opentelemetry.proto.collector.trace.v1.trace_service_pb2")
logs_pb2 = pytest.importorskip("opentelemetry.proto.collector.logs.v1.logs_service_pb2")
from lens_tui.otel.receiver import OTLPReceiver  # noqa: E402  (needs opentelemetry-proto)

REMOTE = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


class Recorder(BaseHTTPRequestHandler):
    """An OTLP/HTTP endpoint that keeps every request and answers from a script of statuses."""

    protocol_version = "HTTP/1.1"
    script: list[int] = []
    seen: list[dict[str, Any]] = []
    delay = 0.0
    retry_after = "0"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).seen.append({"path": self.path, "headers": dict(self.headers), "body": body})
        if self.delay:
            time.sleep(self.delay)
        status = self.script.pop(0) if self.script else 200
        self.send_response(status)
        if status in (429, 503):
            self.send_header("Retry-After", self.retry_after)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[str, type[Recorder]]]:
    handler = type("Handler", (Recorder,), {"script": [], "seen": []})
    with serving(handler) as url:
        yield url, handler


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[OTLPReceiver]:
    """A real OTLP receiver writing into its own file."""
    started = OTLPReceiver(tmp_path / "received.db", port=0, flush_interval=FLUSH_INTERVAL).start()
    try:
        yield started
    finally:
        started.stop()


def parse_traces(body: bytes, gzipped: bool = True) -> Any:
    request = trace_pb2.ExportTraceServiceRequest()
    request.ParseFromString(gzip.decompress(body) if gzipped else body)
    return request


def record_some_work() -> None:
    """A trace with a failing child, a remote-parented span, and logs (one with a traceback)."""
    logger = logging.getLogger("shop.orders")

    @lens_fn("charge card", amount=12.5)
    def charge() -> None:
        raise ValueError("card declined")

    with span("checkout", user=7, tags=["a", "b"], nested={"k": [1, 2.5, True, None]}) as handle:
        assert handle is not None
        logger.info("checking out %s", "basket-1")
        try:
            charge()
        except ValueError:
            logger.exception("charge failed")
    with span("continued", parent=tracing.extract({"traceparent": REMOTE})):
        logger.warning("in a remote trace")


@pytest.fixture
def logging_to_lens() -> Iterator[None]:
    logger = logging.getLogger("shop.orders")
    handler = LogHandler()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)


def test_the_encoding_parses_with_opentelemetry_proto(
    db_path: Path, recorder: tuple[str, type[Recorder]], logging_to_lens: None
) -> None:
    url, handler = recorder
    tracing.configure(
        None, service="shop", otlp_endpoint=url, otlp_token="s3cret", flush_interval=FLUSH_INTERVAL
    )
    try:
        record_some_work()
        assert tracing.flush()
    finally:
        tracing.shutdown()

    traces = [r for r in handler.seen if r["path"] == "/v1/traces"]
    logs = [r for r in handler.seen if r["path"] == "/v1/logs"]
    assert traces and logs and not db_path.exists()  # OTLP only: no local file
    for request in handler.seen:
        headers = {k.lower(): v for k, v in request["headers"].items()}
        assert headers["authorization"] == "Bearer s3cret"
        assert headers["content-type"] == "application/x-protobuf"
        assert headers["content-encoding"] == "gzip"

    spans = {}
    for request in traces:
        for resource_spans in parse_traces(request["body"]).resource_spans:
            attrs = {kv.key: kv.value for kv in resource_spans.resource.attributes}
            assert attrs["service.name"].string_value == "shop"
            assert attrs["telemetry.sdk.name"].string_value == "lens_tui"
            for scope_spans in resource_spans.scope_spans:
                assert scope_spans.scope.name == "lens_tui"
                spans.update({s.name: s for s in scope_spans.spans})
    checkout, charge, continued = spans["checkout"], spans["charge card"], spans["continued"]
    assert charge.trace_id == checkout.trace_id and charge.parent_span_id == checkout.span_id
    assert not checkout.parent_span_id and checkout.kind == 1  # INTERNAL
    assert checkout.end_time_unix_nano > checkout.start_time_unix_nano > 1.7e18
    assert charge.start_time_unix_nano >= checkout.start_time_unix_nano
    attributes = {kv.key: kv.value for kv in checkout.attributes}
    assert attributes["user"].int_value == 7
    assert [v.string_value for v in attributes["tags"].array_value.values] == ["a", "b"]
    nested = attributes["nested"].kvlist_value.values[0]
    assert nested.key == "k"
    values = nested.value.array_value.values
    assert (values[0].int_value, values[1].double_value, values[2].bool_value) == (1, 2.5, True)
    assert values[3].WhichOneof("value") is None
    assert "code.file.path" in {kv.key for kv in charge.attributes}
    assert charge.status.code == 2 and charge.status.message == "card declined"
    (event,) = charge.events
    event_attrs = {kv.key: kv.value.string_value for kv in event.attributes}
    assert event.name == "exception" and event_attrs["exception.type"] == "ValueError"
    assert "raise ValueError" in event_attrs["exception.stacktrace"]
    assert checkout.flags & 0x300 == 0x100  # has-is-remote, not remote
    assert (
        continued.trace_id.hex() == REMOTE[3:35] and continued.parent_span_id.hex() == REMOTE[36:52]
    )
    assert continued.flags & 0x300 == 0x300  # its parent is remote

    records = []
    for request in logs:
        parsed = logs_pb2.ExportLogsServiceRequest()
        parsed.ParseFromString(gzip.decompress(request["body"]))
        for resource_logs in parsed.resource_logs:
            for scope_logs in resource_logs.scope_logs:
                assert scope_logs.scope.name == "shop.orders"
                records += list(scope_logs.log_records)
    by_body = {r.body.string_value: r for r in records}
    assert set(by_body) == {"checking out basket-1", "charge failed", "in a remote trace"}
    info = by_body["checking out basket-1"]
    assert (info.severity_number, info.severity_text) == (9, "INFO")
    assert info.trace_id == checkout.trace_id and info.span_id == checkout.span_id
    failed = {kv.key: kv.value.string_value for kv in by_body["charge failed"].attributes}
    assert by_body["charge failed"].severity_number == 17
    assert (
        failed["exception.type"] == "ValueError"
        and "card declined" in failed["exception.stacktrace"]
    )
    assert by_body["in a remote trace"].trace_id.hex() == REMOTE[3:35]


def test_the_receiver_stores_what_the_local_file_stores(
    db_path: Path, receiver: OTLPReceiver, logging_to_lens: None
) -> None:
    """File and OTLP at once: the receiver's database gets the same spans, traces and logs."""
    writer = tracing.configure(
        db_path, service="shop", otlp_endpoint=receiver.url, flush_interval=FLUSH_INTERVAL
    )
    try:
        record_some_work()
        assert tracing.flush()
        stats = writer.otlp.stats() if writer.otlp else None
    finally:
        tracing.shutdown()
    assert stats is not None and (stats.sent_spans, stats.sent_logs, stats.dropped_spans) == (
        3,
        3,
        0,
    )
    assert receiver.store is not None and receiver.store.flush()
    received = receiver.db_path
    assert received is not None

    columns = (
        "span_id, trace_id, parent_span_id, name, status, service, error_message, "
        "exception_type, duration_ms"
    )
    local = read(db_path, f"SELECT {columns} FROM spans ORDER BY span_id")
    remote = read(received, f"SELECT {columns} FROM spans ORDER BY span_id")
    assert len(local) == 3
    for mine, theirs in zip(local, remote, strict=True):
        assert mine["duration_ms"] == pytest.approx(theirs.pop("duration_ms"), abs=0.01)
        mine.pop("duration_ms")
        assert mine == theirs
    tracebacks = read(received, "SELECT traceback FROM spans WHERE name = 'charge card'")
    assert "raise ValueError" in tracebacks[0]["traceback"]

    trace_columns = (
        "trace_id, root_span_name, root_span_id, service, status, span_count, error_count"
    )
    assert read(db_path, f"SELECT {trace_columns} FROM traces ORDER BY trace_id") == read(
        received, f"SELECT {trace_columns} FROM traces ORDER BY trace_id"
    )
    # The remote-parented span stands in for its trace's root on both sides.
    assert {r["root_span_name"] for r in read(received, "SELECT root_span_name FROM traces")} == {
        "checkout",
        "continued",
    }

    log_columns = (
        "trace_id, span_id, level, message, logger, source_location, exception_type, service"
    )
    assert read(db_path, f"SELECT {log_columns} FROM logs ORDER BY timestamp") == read(
        received, f"SELECT {log_columns} FROM logs ORDER BY timestamp"
    )


def test_busy_answers_are_retried_with_backoff(
    recorder: tuple[str, type[Recorder]], db_path: Path
) -> None:
    url, handler = recorder
    handler.script.extend([503, 429])
    writer = TraceWriter(None, service="s", flush_interval=FLUSH_INTERVAL, otlp_endpoint=url)
    try:
        record = _span(writer, "retried")
        writer.end(record)
        assert writer.flush()
        stats = writer.otlp.stats()  # type: ignore[union-attr]
    finally:
        writer.shutdown()
    assert (stats.sent_spans, stats.retries, stats.dropped_spans, stats.requests) == (1, 2, 0, 3)
    bodies = [r["body"] for r in handler.seen]
    assert len(bodies) == 3 and len(set(bodies)) == 1  # the same request each time


def test_a_refused_batch_is_dropped_and_counted_once_said(
    recorder: tuple[str, type[Recorder]], db_path: Path
) -> None:
    url, handler = recorder
    handler.script.append(400)
    err = io.StringIO()
    writer = TraceWriter(
        None, service="s", flush_interval=FLUSH_INTERVAL, otlp_endpoint=url, stderr=err
    )
    try:
        writer.end(_span(writer, "refused"))
        assert writer.flush()
        writer.end(_span(writer, "accepted"))
        assert writer.flush()
        stats = writer.otlp.stats()  # type: ignore[union-attr]
    finally:
        writer.shutdown()
    assert (stats.sent_spans, stats.dropped_spans, stats.retries) == (1, 1, 0)
    assert err.getvalue().count("\n") == 1 and "HTTP 400" in err.getvalue()


def test_a_receiver_that_is_down_costs_drops_only(db_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    err = io.StringIO()
    writer = TraceWriter(
        db_path,
        service="s",
        flush_interval=FLUSH_INTERVAL,
        otlp_endpoint=f"http://127.0.0.1:{port}",
        otlp_max_retry_s=1.5,
        stderr=err,
    )
    try:
        for i in range(50):
            writer.end(_span(writer, f"span {i}"))
        assert writer.flush(10)
    finally:
        writer.shutdown()
    stats = writer.otlp.stats()  # type: ignore[union-attr]
    assert (stats.sent_spans, stats.dropped_spans) == (0, 50)
    assert stats.retries >= 1 and "ConnectionRefusedError" in (stats.last_error or "")
    assert (
        err.getvalue().count("\n") == 1 and "ConnectionRefusedError" in err.getvalue()
    )  # said once
    assert read(db_path, "SELECT count(*) AS n FROM spans") == [{"n": 50}]  # the file has them all


def test_a_full_queue_drops_and_counts_without_waiting(
    recorder: tuple[str, type[Recorder]],
) -> None:
    url, handler = recorder
    handler.delay = 0.5  # a slow receiver
    sender = OTLPSender(url, service="s", max_queue=100, max_batch=10, timeout=5)
    try:
        items = [(i + 1, 1, None, f"s{i}", 0.0, 0.001, None, None, None) for i in range(1000)]
        started = time.monotonic()
        for start in range(0, 1000, 100):
            sender.submit(items[start : start + 100])
        handed_over = time.monotonic() - started
        assert sender.flush(30)
    finally:
        sender.shutdown()
    stats = sender.stats()
    assert stats.sent_spans + stats.dropped_spans == 1000 and stats.dropped_spans >= 800
    assert stats.queued == 0
    # Handing over never waited for the receiver, which took 0.5 s per request.
    assert handed_over < 0.5


def test_shutdown_gives_up_on_a_slow_receiver_in_time(recorder: tuple[str, type[Recorder]]) -> None:
    url, handler = recorder
    handler.script.extend([503] * 1000)
    handler.retry_after = "0.4"
    sender = OTLPSender(url, service="s", max_retry_s=300)
    sender.submit([(1, 1, None, "stuck", 0.0, 0.001, None, None, None)])
    time.sleep(0.2)
    started = time.monotonic()
    sender.shutdown(1.0)  # settled: given up on, and counted
    assert time.monotonic() - started < 3.0
    stats = sender.stats()
    assert (stats.dropped_spans, stats.sent_spans, stats.queued) == (1, 0, 0) and stats.retries >= 1


def test_endpoints() -> None:
    assert parse_endpoint("http://collector:4318") == ("http", "collector", 4318, "")
    assert parse_endpoint("https://otel.example.com/v1/traces") == (
        "https",
        "otel.example.com",
        443,
        "",
    )
    assert parse_endpoint("http://h:9/prefix/") == ("http", "h", 9, "/prefix")
    for bad in ("collector:4318", "ftp://h", "http://", "http://h:99999"):
        with pytest.raises(ValueError):
            parse_endpoint(bad)
    with pytest.raises(ValueError):
        tracing.configure(None)  # nowhere to write


def _span(writer: TraceWriter, name: str) -> Any:
    from lens_tui.tracing.context import SpanRecord

    record = SpanRecord(name, None, {"n": json.dumps(name)})
    writer.begin(record)
    return record
