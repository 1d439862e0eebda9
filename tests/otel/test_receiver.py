"""The OTLP/HTTP receiver with the real OTLP exporters, hand-posted JSON, and misbehaving senders."""

from __future__ import annotations

import base64
import gzip
import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from google.rpc import status_pb2
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.trace import SpanKind

from lens_tui.otel.receiver import OTLPReceiver
from lens_tui.tracing.writer import TraceWriter

from .conftest import flush, post, post_json, read, spans_by_name

PB = {"Content-Type": "application/x-protobuf"}
TRACE_HEX = "5b8efff798038103d269b633813fc60c"
ROOT_HEX = "eee19b7ec3c1b174"
CHILD_HEX = "eee19b7ec3c1b175"
# Recent whole seconds (retention would prune anything older than 7 days), as OTLP JSON strings.
BASE_NS = time.time_ns() // 10**9 * 10**9 - 60 * 10**9
BASE_MS = BASE_NS // 10**6


def ns(offset_ms: int) -> str:
    """BASE plus `offset_ms`, as an OTLP JSON nanosecond string."""
    return str(BASE_NS + offset_ms * 10**6)


def _resource(service: str) -> dict[str, Any]:
    return {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]}


def _span(span_id: str, name: str, **extra: Any) -> dict[str, Any]:
    return {
        "traceId": TRACE_HEX,
        "spanId": span_id,
        "name": name,
        "kind": 1,
        "startTimeUnixNano": ns(0),
        "endTimeUnixNano": ns(1000),
        **extra,
    }


def _traces_doc(*spans: dict[str, Any], service: str = "json-svc") -> dict[str, Any]:
    return {
        "resourceSpans": [
            {
                "resource": _resource(service),
                "scopeSpans": [{"scope": {"name": "s"}, "spans": list(spans)}],
            }
        ]
    }


# -- the real exporters ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "compression", [Compression.NoCompression, Compression.Gzip, Compression.Deflate]
)
def test_real_otlp_exporters_protobuf(
    receiver: OTLPReceiver, db_path: Path, compression: Compression
) -> None:
    resource = Resource.create({"service.name": "remote-api"})
    span_exporter = OTLPSpanExporter(endpoint=f"{receiver.url}/v1/traces", compression=compression)
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(
        SimpleLogRecordProcessor(
            OTLPLogExporter(endpoint=f"{receiver.url}/v1/logs", compression=compression)
        )
    )
    tracer = tracer_provider.get_tracer("remote")
    logger = logger_provider.get_logger("remote.handlers")
    with tracer.start_as_current_span(
        "GET /items", kind=SpanKind.SERVER, attributes={"http.route": "/items"}
    ):
        with tracer.start_as_current_span(
            "query", attributes={"db.rows": 7, "ratio": 0.5, "ok": True}
        ):
            logger.emit(body="fetched", severity_number=SeverityNumber.INFO)
        with pytest.raises(ValueError):
            with tracer.start_as_current_span("parse"):
                raise ValueError("bad row")
    tracer_provider.shutdown()
    logger_provider.shutdown()
    flush(receiver)

    spans = spans_by_name(db_path)
    root, query, parse = spans["GET /items"], spans["query"], spans["parse"]
    assert root["parent_span_id"] is None
    assert query["parent_span_id"] == root["span_id"] == parse["parent_span_id"]
    assert {r["service"] for r in spans.values()} == {"remote-api"}
    assert root["kind"] == "server"
    assert json.loads(query["attributes"]) == {"db.rows": 7, "ratio": 0.5, "ok": True}
    assert parse["status"] == "error" and parse["exception_type"] == "ValueError"
    assert parse["error_message"] == "bad row" and "Traceback" in parse["traceback"]
    [trace] = read(db_path, "SELECT * FROM traces")
    assert (
        trace["span_count"] == 3 and trace["error_count"] == 1 and trace["service"] == "remote-api"
    )
    [log] = read(db_path, "SELECT * FROM logs")
    assert log["message"] == "fetched" and log["span_id"] == query["span_id"]
    assert log["trace_id"] == root["trace_id"] and log["service"] == "remote-api"
    assert log["logger"] == "remote.handlers"
    stats = receiver.stats
    assert stats.spans == 3 and stats.logs == 1 and not stats.refused


def test_exporter_batch_and_protobuf_success_reply(receiver: OTLPReceiver) -> None:
    provider = TracerProvider()
    tracer = provider.get_tracer("t")
    spans = []
    for i in range(300):
        with tracer.start_as_current_span(f"s{i}") as s:
            pass
        spans.append(s)
    exporter = OTLPSpanExporter(endpoint=f"{receiver.url}/v1/traces")
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    exporter.shutdown()
    flush(receiver)
    assert receiver.stats.spans == 300
    # The success reply itself: an empty ExportTraceServiceResponse, protobuf in, protobuf out.
    status, headers, body = post(
        receiver, "/v1/traces", ExportTraceServiceRequest().SerializeToString(), PB
    )
    assert status == 200 and headers["content-type"] == "application/x-protobuf"
    assert not ExportTraceServiceResponse.FromString(body).HasField("partial_success")


# -- OTLP JSON posted by hand ----------------------------------------------------------------------


def test_json_posted_by_hand(receiver: OTLPReceiver, db_path: Path) -> None:
    attributes = [
        {"key": "s", "value": {"stringValue": "text"}},
        {"key": "i", "value": {"intValue": "9007199254740993"}},
        {"key": "d", "value": {"doubleValue": 2.5}},
        {"key": "b", "value": {"boolValue": True}},
        {
            "key": "arr",
            "value": {"arrayValue": {"values": [{"intValue": "1"}, {"stringValue": "two"}]}},
        },
        {
            "key": "kv",
            "value": {"kvlistValue": {"values": [{"key": "inner", "value": {"boolValue": False}}]}},
        },
        {"key": "raw", "value": {"bytesValue": base64.b64encode(b"\x00\xff").decode()}},
        {"key": "empty", "value": {}},
        {"key": "lens.source", "value": {"stringValue": "cli"}},
    ]
    doc = _traces_doc(
        _span(ROOT_HEX, "root", kind=2, attributes=attributes, unknownField={"ignored": 1}),
        _span(
            CHILD_HEX,
            "child",
            parentSpanId=ROOT_HEX,
            kind=3,
            startTimeUnixNano=ns(250),
            endTimeUnixNano=ns(750),
            status={"code": 2, "message": "timeout"},
            events=[
                {
                    "timeUnixNano": ns(500),
                    "name": "retry",
                    "attributes": [{"key": "n", "value": {"intValue": "2"}}],
                }
            ],
            links=[
                {
                    "traceId": "0af7651916cd43dd8448eb211c80319c",
                    "spanId": "b7ad6b7169203331",
                    "attributes": [],
                }
            ],
        ),
    )
    status, reply = post_json(receiver, "/v1/traces", doc)
    assert (status, reply) == (200, {})
    flush(receiver)
    spans = spans_by_name(db_path)
    root, child = spans["root"], spans["child"]
    assert root["trace_id"] == TRACE_HEX and root["span_id"] == ROOT_HEX
    assert child["parent_span_id"] == ROOT_HEX
    assert root["started_at"] == BASE_MS and root["duration_ms"] == 1000.0
    assert child["started_at"] == BASE_MS + 250 and child["duration_ms"] == 500.0
    assert root["kind"] == "server" and child["kind"] == "client" and root["service"] == "json-svc"
    assert json.loads(root["attributes"]) == {
        "s": "text",
        "i": 9007199254740993,
        "d": 2.5,
        "b": True,
        "arr": [1, "two"],
        "kv": {"inner": False},
        "raw": base64.b64encode(b"\x00\xff").decode(),
        "empty": None,
        "lens.source": "cli",
    }
    assert child["status"] == "error" and child["error_message"] == "timeout"
    assert json.loads(child["events"]) == [
        {"name": "retry", "time": BASE_MS + 500, "attributes": {"n": 2}}
    ]
    assert json.loads(child["links"]) == [
        {
            "trace_id": "0af7651916cd43dd8448eb211c80319c",
            "span_id": "b7ad6b7169203331",
            "attributes": {},
        }
    ]
    [trace] = read(db_path, "SELECT * FROM traces")
    assert (
        trace["root_span_name"] == "root"
        and trace["source"] == "cli"
        and trace["status"] == "error"
    )
    assert trace["started_at"] == BASE_MS and trace["duration_ms"] == 1000.0


def test_json_logs_and_partial_success(receiver: OTLPReceiver, db_path: Path) -> None:
    doc = {
        "resourceLogs": [
            {
                "resource": _resource("logger-svc"),
                "scopeLogs": [
                    {
                        "scope": {"name": "app.db"},
                        "logRecords": [
                            {
                                "timeUnixNano": ns(300),
                                "severityNumber": 17,
                                "severityText": "ERROR",
                                "body": {"stringValue": "query failed"},
                                "traceId": TRACE_HEX,
                                "spanId": ROOT_HEX,
                                "attributes": [
                                    {
                                        "key": "exception.type",
                                        "value": {"stringValue": "OperationalError"},
                                    },
                                    {
                                        "key": "exception.stacktrace",
                                        "value": {"stringValue": "Traceback: ..."},
                                    },
                                    {"key": "db", "value": {"stringValue": "main"}},
                                ],
                            },
                            {
                                "observedTimeUnixNano": ns(400),
                                "severityText": "Warning",
                                "body": {
                                    "kvlistValue": {
                                        "values": [{"key": "k", "value": {"intValue": "1"}}]
                                    }
                                },
                            },
                            {
                                "timeUnixNano": ns(500),
                                "body": {"stringValue": "bad ids"},
                                "spanId": "abcd",
                            },
                        ],
                    }
                ],
            }
        ]
    }
    status, reply = post_json(receiver, "/v1/logs", doc)
    assert status == 200
    assert reply["partialSuccess"]["rejectedLogRecords"] == "1"
    assert "span_id" in reply["partialSuccess"]["errorMessage"]
    flush(receiver)
    rows = read(db_path, "SELECT * FROM logs ORDER BY id")
    assert len(rows) == 2
    first, second = rows
    assert first["level"] == "error" and first["message"] == "query failed"
    assert first["timestamp"] == BASE_MS + 300 and first["logger"] == "app.db"
    assert first["trace_id"] == TRACE_HEX and first["span_id"] == ROOT_HEX
    assert first["exception_type"] == "OperationalError" and first["traceback"] == "Traceback: ..."
    assert json.loads(first["attributes"]) == {"db": "main"} and first["service"] == "logger-svc"
    assert second["level"] == "warn" and json.loads(second["message"]) == {"k": 1}
    assert second["timestamp"] == BASE_MS + 400 and second["trace_id"] is None
    assert receiver.stats.rejected_logs == 1


def test_partial_success_for_invalid_span_ids_json_and_protobuf(
    receiver: OTLPReceiver, db_path: Path
) -> None:
    doc = _traces_doc(
        _span(ROOT_HEX, "good"),
        {**_span(CHILD_HEX, "short-trace-id"), "traceId": "5b8e"},
        {**_span("0000000000000000", "zero-span-id")},
        {**_span("eee19b7ec3c1b176", "not-hex"), "parentSpanId": "zz"},
    )
    status, reply = post_json(receiver, "/v1/traces", doc)
    assert status == 200 and reply["partialSuccess"]["rejectedSpans"] == "3"
    assert "invalid" in reply["partialSuccess"]["errorMessage"]

    request = ExportTraceServiceRequest()
    scope = request.resource_spans.add().scope_spans.add()
    good = scope.spans.add(
        trace_id=bytes.fromhex(TRACE_HEX),
        span_id=b"\x01" * 8,
        name="pb-good",
        start_time_unix_nano=BASE_NS,
        end_time_unix_nano=BASE_NS + 5,
    )
    assert good.name == "pb-good"
    scope.spans.add(trace_id=b"\x01" * 15, span_id=b"\x02" * 8, name="pb-bad")
    scope.spans.add(
        trace_id=b"\x01" * 16, span_id=b"\x03" * 8, parent_span_id=b"\x04" * 3, name="pb-bad-parent"
    )
    status, headers, body = post(receiver, "/v1/traces", request.SerializeToString(), PB)
    assert status == 200 and headers["content-type"] == "application/x-protobuf"
    response = ExportTraceServiceResponse.FromString(body)
    assert response.partial_success.rejected_spans == 2 and response.partial_success.error_message

    logs = ExportLogsServiceRequest()
    records = logs.resource_logs.add().scope_logs.add()
    records.log_records.add(trace_id=b"\x01" * 3, body={"string_value": "x"})
    status, _headers, body = post(receiver, "/v1/logs", logs.SerializeToString(), PB)
    assert (
        status == 200
        and ExportLogsServiceResponse.FromString(body).partial_success.rejected_log_records == 1
    )
    flush(receiver)
    assert sorted(spans_by_name(db_path)) == ["good", "pb-good"]


# -- refusals ------------------------------------------------------------------------------------


def _status(body: bytes, protobuf: bool) -> tuple[int, str]:
    if protobuf:
        message = status_pb2.Status.FromString(body)
        return message.code, message.message
    decoded = json.loads(body)
    return decoded["code"], decoded["message"]


def test_malformed_bodies_get_400_with_a_status(receiver: OTLPReceiver) -> None:
    status, headers, body = post(receiver, "/v1/traces", b"\xff\xff\xff garbage", PB)
    assert status == 400 and headers["content-type"] == "application/x-protobuf"
    code, message = _status(body, protobuf=True)
    assert code == 3 and "protobuf" in message
    for payload in (
        b"{not json",
        b"[1, 2]",
        b'{"resourceSpans": "nope"}',
        b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": "soon"}]}]}]}',
    ):
        status, headers, body = post(
            receiver, "/v1/traces", payload, {"Content-Type": "application/json"}
        )
        assert status == 400, payload
        assert headers["content-type"] == "application/json"
        assert _status(body, protobuf=False)[0] == 3
    status, _h, _b = post(receiver, "/v1/traces", b"not gzip", {**PB, "Content-Encoding": "gzip"})
    assert status == 400
    truncated = gzip.compress(ExportTraceServiceRequest().SerializeToString() + b"x" * 100)[:-8]
    status, _h, _b = post(receiver, "/v1/traces", truncated, {**PB, "Content-Encoding": "gzip"})
    assert status == 400
    status, _h, _b = post(receiver, "/v1/traces", b"", {**PB, "Content-Encoding": "br"})
    assert status == 415
    assert receiver.stats.refused[400] == 7


def test_wrong_content_type_path_and_method(receiver: OTLPReceiver) -> None:
    status, _h, body = post(receiver, "/v1/traces", b"hello", {"Content-Type": "text/plain"})
    assert status == 415 and "Content-Type" in _status(body, protobuf=False)[1]
    status, _h, _b = post(receiver, "/v1/metrics", b"", PB)
    assert status == 404
    status, _h, _b = post(receiver, "/", b"", PB)
    assert status == 404
    status, headers, _b = post(receiver, "/v1/traces", b"", method="GET")
    assert status == 405 and headers["allow"] == "POST"
    status, _h, _b = post(receiver, "/elsewhere", b"", method="GET")
    assert status == 404
    status, headers, _b = post(
        receiver, "/v1/traces", b"", {"Content-Type": "application/json; charset=utf-8"}
    )
    assert status == 400  # an empty body is not a JSON document: a proper refusal, not 415


def test_oversized_bodies_and_gzip_bombs_get_413(db_path: Path) -> None:
    with OTLPReceiver(db_path, port=0, max_body_bytes=64 * 1024) as receiver:
        status, headers, _b = post(receiver, "/v1/traces", b"\x00" * (64 * 1024 + 1), PB)
        assert status == 413 and headers["connection"] == "close"
        bomb = gzip.compress(b"\x00" * (50 * 1024 * 1024), compresslevel=9)
        assert len(bomb) < 64 * 1024
        status, _h, body = post(receiver, "/v1/traces", bomb, {**PB, "Content-Encoding": "gzip"})
        assert status == 413 and "decompressed" in _status(body, protobuf=True)[1]
        ok = gzip.compress(ExportTraceServiceRequest().SerializeToString())
        status, _h, _b = post(receiver, "/v1/traces", ok, {**PB, "Content-Encoding": "gzip"})
        assert status == 200
        assert receiver.stats.refused == {413: 2}


def test_bearer_token(db_path: Path) -> None:
    with OTLPReceiver(db_path, port=0, token="s3cret") as receiver:
        empty = ExportTraceServiceRequest().SerializeToString()
        status, headers, body = post(receiver, "/v1/traces", empty, PB)
        assert status == 401 and headers["www-authenticate"].startswith("Bearer")
        assert _status(body, protobuf=True)[0] == 16
        assert (
            post(receiver, "/v1/traces", empty, {**PB, "Authorization": "Bearer wrong"})[0] == 401
        )
        assert (
            post(receiver, "/v1/traces", empty, {**PB, "Authorization": "Basic s3cret"})[0] == 401
        )
        assert (
            post(receiver, "/v1/traces", empty, {**PB, "Authorization": "bearer s3cret"})[0] == 200
        )

        provider = TracerProvider()
        with provider.get_tracer("t").start_as_current_span("authorised") as span:
            pass
        denied = OTLPSpanExporter(endpoint=f"{receiver.url}/v1/traces")
        assert denied.export([span]) is SpanExportResult.FAILURE
        allowed = OTLPSpanExporter(
            endpoint=f"{receiver.url}/v1/traces", headers={"Authorization": "Bearer s3cret"}
        )
        assert allowed.export([span]) is SpanExportResult.SUCCESS
        flush(receiver)
        assert [r["name"] for r in read(db_path, "SELECT name FROM spans")] == ["authorised"]


def test_back_pressure_answers_503_with_retry_after(db_path: Path) -> None:
    stalled = TraceWriter(db_path, max_queue=5, start=False)  # a writer that never drains
    try:
        with OTLPReceiver(store=stalled, port=0, backpressure_wait=0.05) as receiver:
            doc = _traces_doc(*(_span(f"{i + 1:016x}", f"s{i}") for i in range(10)))
            status, _h, body = post(
                receiver,
                "/v1/traces",
                json.dumps(doc).encode(),
                {"Content-Type": "application/json"},
            )
            assert status == 503
            assert _status(body, protobuf=False)[0] == 14
    finally:
        stalled.shutdown(0.1)


# -- misbehaving senders -------------------------------------------------------------------------


def _raw(receiver: OTLPReceiver) -> socket.socket:
    return socket.create_connection(("127.0.0.1", receiver.port), timeout=5)


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    """True if the server closes the connection within `seconds` (reading whatever it sends)."""
    sock.settimeout(seconds)
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            if not sock.recv(65536):
                return True
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    return False


def test_keeps_serving_under_garbage_disconnects_and_slow_loris(db_path: Path) -> None:
    with OTLPReceiver(db_path, port=0, io_timeout=0.5, request_timeout=1.0) as receiver:
        empty = ExportTraceServiceRequest().SerializeToString()
        # Slow loris: a request line, then one header byte now and then (each gap under the
        # read timeout, so only the request deadline can end it).
        loris = _raw(receiver)
        loris.sendall(b"POST /v1/traces HTTP/1.1\r\nX-Slow: ")
        # Garbage instead of HTTP.
        garbage = _raw(receiver)
        garbage.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http at all\r\n\r\n")
        assert _closed_within(garbage, 3)
        # A body cut short: the sender goes away after 10 of 1,000 bytes.
        cut = _raw(receiver)
        cut.sendall(
            b"POST /v1/traces HTTP/1.1\r\nContent-Type: application/x-protobuf\r\nContent-Length: 1000\r\n\r\n0123456789"
        )
        cut.close()
        # Meanwhile a well-behaved sender is served at once.
        started = time.monotonic()
        for _ in range(3):
            loris.sendall(b"a")
            assert post(receiver, "/v1/traces", empty, PB)[0] == 200
            time.sleep(0.3)
        assert time.monotonic() - started < 2.5
        assert _closed_within(loris, 3)
        assert post(receiver, "/v1/traces", empty, PB)[0] == 200
        time.sleep(0.2)
        stats = receiver.stats
        assert stats.refused.get(499, 0) >= 1  # the cut body
        assert stats.refused.get(408, 0) >= 1  # the slow loris
        assert stats.requests >= 4


def test_connection_cap_refuses_extra_connections(db_path: Path) -> None:
    with OTLPReceiver(db_path, port=0, max_connections=2, io_timeout=1.0) as receiver:
        idle = [_raw(receiver), _raw(receiver)]
        time.sleep(0.2)
        extra = _raw(receiver)
        assert _closed_within(extra, 2)
        for sock in idle:
            sock.close()
        time.sleep(0.2)
        assert (
            post(receiver, "/v1/traces", ExportTraceServiceRequest().SerializeToString(), PB)[0]
            == 200
        )
        assert receiver.stats.connections_refused == 1


def test_chunked_body_keep_alive_and_expect_continue(receiver: OTLPReceiver, db_path: Path) -> None:
    import http.client

    payload = json.dumps(_traces_doc(_span(ROOT_HEX, "chunked"))).encode()
    conn = http.client.HTTPConnection("127.0.0.1", receiver.port, timeout=5)
    try:
        conn.request(
            "POST",
            "/v1/traces",
            body=iter([payload[:10], payload[10:]]),
            headers={"Content-Type": "application/json"},
            encode_chunked=True,
        )
        response = conn.getresponse()
        assert response.status == 200 and json.loads(response.read()) == {}
        # Same connection, next request (keep-alive).
        conn.request("POST", "/v1/traces", body=b"{}", headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        assert response.status == 200
        response.read()
    finally:
        conn.close()
    sock = _raw(receiver)
    sock.sendall(
        b"POST /v1/traces HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
    )
    reply = sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 415")  # refused before the body was sent
    sock.close()
    flush(receiver)
    assert "chunked" in spans_by_name(db_path)


def test_stop_is_idempotent_and_describe(db_path: Path) -> None:
    receiver = OTLPReceiver(db_path, port=0).start()
    assert receiver.url.startswith("http://127.0.0.1:") and receiver.loopback
    assert post_json(receiver, "/v1/traces", _traces_doc(_span(ROOT_HEX, "one")))[0] == 200
    assert receiver.stop() is True
    assert receiver.stop() is True
    assert receiver.stats.describe() == "1 spans, 0 logs in 1 requests"
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", receiver.port), timeout=1).close()


def test_serve_forever_in_a_thread_of_ones_own_and_ipv6(db_path: Path) -> None:
    import threading

    receiver = OTLPReceiver(db_path, host="::1", port=0)
    try:
        receiver.bind()
    except OSError:
        pytest.skip("no IPv6 loopback here")
    thread = threading.Thread(target=receiver.serve_forever, daemon=True)
    thread.start()
    try:
        assert receiver.url == f"http://[::1]:{receiver.port}" and receiver.loopback
        with socket.create_connection(("::1", receiver.port), timeout=5) as sock:
            sock.sendall(b"GET /v1/traces HTTP/1.1\r\nHost: x\r\n\r\n")
            assert sock.recv(100).startswith(b"HTTP/1.1 405")
    finally:
        assert receiver.stop()
        thread.join(5)
    assert not thread.is_alive()
    with pytest.raises(RuntimeError):
        receiver.start()


def test_idle_keep_alive_connections_close_quietly(db_path: Path) -> None:
    import http.client

    with OTLPReceiver(db_path, port=0, io_timeout=0.3) as receiver:
        conn = http.client.HTTPConnection("127.0.0.1", receiver.port, timeout=5)
        conn.request("POST", "/v1/traces", body=b"{}", headers={"Content-Type": "application/json"})
        assert conn.getresponse().read() == b"{}"
        assert conn.sock is not None
        assert _closed_within(conn.sock, 3)  # idle past io_timeout: the receiver hangs up
        conn.close()
        assert receiver.stats.refused == {} and receiver.stats.requests == 1
