"""`lens-tui show --format otlp-json`, POSTed back to the receiver, makes the same tree."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Link, SpanKind

from lens_tui import cli, tracing
from lens_tui.otel import LensSpanExporter
from lens_tui.otel.receiver import OTLPReceiver
from lens_tui.store.reader import TraceReader
from lens_tui.store.records import TraceDetail
from lens_tui.tracing import lens_fn, span
from lens_tui.tracing.writer import TraceWriter

from .conftest import flush, post_json


def _sdk_trace(db: Path) -> str:
    store = TraceWriter(db, flush_interval=0.02)
    provider = TracerProvider(resource=Resource.create({"service.name": "sdk-svc"}))
    provider.add_span_processor(SimpleSpanProcessor(LensSpanExporter(store=store)))
    tracer = provider.get_tracer("rt")
    with tracer.start_as_current_span("linked") as other:
        other_ctx = other.get_span_context()
    with tracer.start_as_current_span(
        "GET /cart",
        kind=SpanKind.SERVER,
        attributes={
            "lens.source": "web",
            "n": 3,
            "ratio": 0.25,
            "flag": False,
            "list": ("a", "b"),
            "big": 2**62,
        },
    ) as root:
        trace_id = f"{root.get_span_context().trace_id:032x}"
        with tracer.start_as_current_span(
            "db", kind=SpanKind.CLIENT, links=[Link(other_ctx, {"k": "v"})]
        ) as db_span:
            db_span.add_event("rows", {"count": 2})
            with tracer.start_as_current_span("decode"):
                pass
        with pytest.raises(KeyError):
            with tracer.start_as_current_span("lookup"):
                raise KeyError("sku-9")
    provider.shutdown()
    store.shutdown()
    return trace_id


def _lens_trace(db: Path) -> str:
    configured = tracing.configure(db, service="lens-svc", flush_interval=0.02)

    @lens_fn("child work", size=5)
    def child() -> None:
        with span("inner", mode="fast"):
            pass

    @lens_fn("failing")
    def failing() -> None:
        raise RuntimeError("no stock")

    @lens_fn("handler")
    def handler() -> str:
        child()
        try:
            failing()
        except RuntimeError:
            pass
        handle = tracing.current_span()
        assert handle is not None
        return handle.trace_id

    try:
        trace_id = handler()
        assert tracing.flush()
    finally:
        tracing.shutdown()
        configured.shutdown()
    return trace_id


def _detail(db: Path, trace_id: str) -> TraceDetail:
    reader = TraceReader(db)
    reader.open()
    try:
        return reader.trace(trace_id)
    finally:
        reader.close()


def _comparable(detail: TraceDetail) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    summary = detail.summary
    assert summary is not None
    head = {
        "root_span_name": summary.root_span_name,
        "service": summary.service,
        "source": summary.source,
        "span_count": summary.span_count,
        "error_count": summary.error_count,
        "status": summary.status,
        "started_at": pytest.approx(summary.started_at, abs=1e-3),
        "duration_ms": pytest.approx(summary.duration_ms, abs=1e-3),
    }
    spans = {
        s.span_id: {
            "name": s.name,
            "parent": s.parent_span_id,
            "status": s.status,
            "kind": s.kind,
            "service": s.service,
            "attributes": {k: json.loads(v) for k, v in s.attributes},
            "error_message": s.error_message,
            "exception_type": s.exception_type,
            "traceback": s.traceback,
            "started_at": pytest.approx(s.started_at, abs=1e-3),
            "duration_ms": pytest.approx(s.duration_ms, abs=1e-3),
        }
        for s in detail.spans
    }
    return head, spans


@pytest.mark.parametrize("make", [_sdk_trace, _lens_trace], ids=["sdk", "lens_fn"])
def test_otlp_json_round_trip_makes_the_same_tree(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: Any
) -> None:
    source_db = tmp_path / "source.db"
    trace_id = make(source_db)
    assert cli.main(["show", trace_id[:12], "--db", str(source_db), "--format", "otlp-json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert set(document) == {"resourceSpans"}

    copy_db = tmp_path / "copy.db"
    with OTLPReceiver(copy_db, port=0) as receiver:
        status, reply = post_json(receiver, "/v1/traces", document)
        assert (status, reply) == (200, {})
        flush(receiver)

    original = _comparable(_detail(source_db, trace_id))
    copied = _comparable(_detail(copy_db, trace_id))
    assert copied[0] == original[0]
    assert set(copied[1]) == set(original[1])
    for span_id, expected in original[1].items():
        assert copied[1][span_id] == expected, span_id
    if make is _sdk_trace:
        assert original[0]["source"] == "web" and original[0]["error_count"] == 1
        db_span = next(s for s in _detail(copy_db, trace_id).spans if s.name == "db")
        assert json.loads(db_span.events or "[]")[0]["name"] == "rows"
        assert json.loads(db_span.links or "[]")[0]["attributes"] == {"k": "v"}
    else:
        assert original[0]["error_count"] == 1 and original[0]["service"] == "lens-svc"


def test_otlp_json_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "shape.db"
    trace_id = _sdk_trace(db)
    assert cli.main(["show", trace_id, "--db", str(db), "--format", "otlp-json"]) == 0
    document = json.loads(capsys.readouterr().out)
    [resource] = document["resourceSpans"]
    assert resource["resource"]["attributes"] == [
        {"key": "service.name", "value": {"stringValue": "sdk-svc"}}
    ]
    spans = {s["name"]: s for s in resource["scopeSpans"][0]["spans"]}
    root = spans["GET /cart"]
    assert root["traceId"] == trace_id and len(root["spanId"]) == 16 and "parentSpanId" not in root
    assert root["kind"] == 2 and isinstance(root["startTimeUnixNano"], str)
    assert int(root["endTimeUnixNano"]) > int(root["startTimeUnixNano"])
    values = {a["key"]: a["value"] for a in root["attributes"]}
    assert values["n"] == {"intValue": "3"} and values["big"] == {"intValue": str(2**62)}
    assert values["ratio"] == {"doubleValue": 0.25} and values["flag"] == {"boolValue": False}
    assert values["list"] == {
        "arrayValue": {"values": [{"stringValue": "a"}, {"stringValue": "b"}]}
    }
    assert spans["lookup"]["status"]["code"] == 2
    assert spans["decode"]["parentSpanId"] == spans["db"]["spanId"]
