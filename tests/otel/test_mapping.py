"""The pure mapping rules shared by the SDK exporters and the receiver, and payload limits."""

from __future__ import annotations

import gzip
import zlib

import pytest

from lens_tui.otel import mapping, otlp_decode
from lens_tui.otel.otlp_export import any_value


def _exception_event(**attrs: object) -> dict[str, object]:
    return {"name": "exception", "time": 1.0, "attributes": dict(attrs)}


@pytest.mark.parametrize(
    ("code", "message", "events", "expected"),
    [
        (0, "", None, ("ok", None, None, None)),
        (1, "", None, ("ok", None, None, None)),
        (2, "boom", None, ("error", "boom", None, None)),
        (2, "", None, ("error", None, None, None)),
        (
            2,
            "ValueError: x",
            [
                _exception_event(
                    **{
                        "exception.type": "ValueError",
                        "exception.message": "x",
                        "exception.stacktrace": "tb",
                    }
                )
            ],
            ("error", "x", "ValueError", "tb"),
        ),
        (
            0,
            "",
            [_exception_event(**{"exception.type": "KeyError"})],
            ("error", "KeyError", "KeyError", None),
        ),
        (1, "", [_exception_event(**{"exception.type": "KeyError"})], ("ok", None, None, None)),
        (0, "", [{"name": "retry", "time": 1.0, "attributes": {}}], ("ok", None, None, None)),
    ],
)
def test_resolve_status(
    code: int, message: str, events: list[dict[str, object]] | None, expected: tuple[object, ...]
) -> None:
    assert mapping.resolve_status(code, message, events) == expected


def test_last_exception_event_wins_and_its_stacktrace_moves_out() -> None:
    first = _exception_event(**{"exception.type": "A", "exception.stacktrace": "tb-a"})
    last = _exception_event(**{"exception.type": "B", "exception.stacktrace": "tb-b"})
    assert mapping.resolve_status(2, "", [first, last])[2:] == ("B", "tb-b")
    assert "exception.stacktrace" in first["attributes"]  # type: ignore[operator]
    assert last["attributes"] == {"exception.type": "B"}


def test_new_span_times_kinds_running_and_source() -> None:
    start = 1_700_000_000_123_456_789
    span = mapping.build_span(
        trace_id="a" * 32,
        span_id="b" * 16,
        parent_span_id=None,
        name="n",
        start_ns=start,
        end_ns=start + 1_500_000,
        kind="server",
        attributes={"lens.source": "mcp"},
        events=None,
        links=None,
        status_code=0,
        status_message=None,
        service="s",
    )
    assert span.started_at == 1_700_000_000_123.456789 and span.duration_ms == 1.5
    assert span.status == "ok" and span.source == "mcp" and span.kind == "server"
    running = mapping.build_span(
        trace_id="a" * 32,
        span_id="c" * 16,
        parent_span_id="b" * 16,
        name="r",
        start_ns=start,
        end_ns=0,
        kind=None,
        attributes=None,
        events=None,
        links=None,
        status_code=0,
        status_message=None,
        service=None,
    )
    assert running.duration_ms is None and running.status == "running"
    assert mapping.KIND_NAMES[2] == "server" and mapping.KIND_NUMBERS["consumer"] == 5
    assert mapping._FAST, "ExternalSpan gained a slot: update mapping.new_span"


def test_levels_services_and_log_fields() -> None:
    assert [mapping.level_of(n, None) for n in (1, 5, 9, 13, 17, 21, 24)] == [
        "debug",
        "debug",
        "info",
        "warn",
        "error",
        "error",
        "error",
    ]
    assert mapping.level_of(0, "WARNING") == "warn" and mapping.level_of(None, "fatal") == "error"
    assert mapping.level_of(0, None) == "info" and mapping.level_of(99, "debug") == "debug"
    assert mapping.service_of({"service.name": "api"}) == "api"
    assert mapping.service_of({"service.name": "unknown_service:python"}, "mine") == "mine"
    assert (
        mapping.service_of({"service.name": "unknown_service:python"}) == "unknown_service:python"
    )
    assert mapping.service_of(None) is None
    fields = mapping.LogFields(
        {
            "exception.type": "E",
            "exception.message": "m",
            "exception.stacktrace": "tb",
            "code.filepath": "old.py",
            "code.file.path": "new.py",
            "code.lineno": 3,
            "k": 1,
        },
        "",
    )
    assert (fields.message, fields.exception_type, fields.traceback) == ("m", "E", "tb")
    assert fields.source_location == "new.py:3" and fields.attributes == {"k": 1}
    assert mapping.body_text({"a": [1]}) == '{"a": [1]}' and mapping.body_text(None) == ""


def test_decompress_limits() -> None:
    data = b"x" * 10_000
    assert otlp_decode.decompress(gzip.compress(data), "gzip", 10_000) == data
    assert otlp_decode.decompress(zlib.compress(data), "deflate", 10_000) == data
    assert (
        otlp_decode.decompress(gzip.compress(data[:10]) + gzip.compress(data[10:]), "gzip", 10_000)
        == data
    )
    assert (
        otlp_decode.decompress(data, None, 1) == data
    )  # identity: the raw limit applies elsewhere
    with pytest.raises(otlp_decode.PayloadError) as too_big:
        otlp_decode.decompress(gzip.compress(data), "gzip", 9_999)
    assert too_big.value.status == 413
    with pytest.raises(otlp_decode.PayloadError) as two_members:
        otlp_decode.decompress(gzip.compress(data) + gzip.compress(data), "gzip", 15_000)
    assert two_members.value.status == 413
    with pytest.raises(otlp_decode.PayloadError) as bad:
        otlp_decode.decompress(b"\x1f\x8b garbage", "gzip", 100)
    assert bad.value.status == 400


def test_otlp_json_any_value() -> None:
    assert any_value(None) == {}
    assert any_value(True) == {"boolValue": True}
    assert any_value(2**63) == {"stringValue": str(2**63)}  # beyond int64
    assert any_value(-(2**63)) == {"intValue": str(-(2**63))}
    assert any_value(float("nan")) == {"doubleValue": "NaN"}
    assert any_value(float("-inf")) == {"doubleValue": "-Infinity"}
    assert any_value({"a": [1, "x"]}) == {
        "kvlistValue": {
            "values": [
                {
                    "key": "a",
                    "value": {"arrayValue": {"values": [{"intValue": "1"}, {"stringValue": "x"}]}},
                }
            ]
        }
    }
