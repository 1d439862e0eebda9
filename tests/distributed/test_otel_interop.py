"""Lens services and OpenTelemetry-instrumented ones in one trace, either calling the other.

The OpenTelemetry side is the real SDK and instrumentation packages exporting over OTLP/HTTP to
a `lens-tui otlp` process; the lens side writes the same file itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import ROOT, Launch, read, wait_for

pytest.importorskip("opentelemetry.instrumentation.httpx")
pytest.importorskip("opentelemetry.instrumentation.asgi")
pytest.importorskip("opentelemetry.exporter.otlp.proto.http")

OTEL_CLIENT = Path(__file__).with_name("otel_client.py")


def spans_of(db: Path, trace_id: str) -> list[dict[str, Any]]:
    return read(db, "SELECT * FROM spans WHERE trace_id = ? ORDER BY started_at", (trace_id,))


def test_an_opentelemetry_caller_and_a_lens_service_make_one_trace(
    launch: Launch, tmp_path: Path
) -> None:
    db = tmp_path / "mixed.db"
    receiver = launch("otlp", db)
    back = launch("back", db, flush=0.02)
    result = subprocess.run(
        [sys.executable, str(OTEL_CLIENT), receiver.url, f"{back.url}/items/5"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    trace_id, root_id, status = result.stdout.split()
    assert status == "200"

    spans = wait_for(lambda: len(rows := spans_of(db, trace_id)) == 4 and rows, what="four spans")
    by = {(s["service"], s["kind"]): s for s in spans}
    root = by[("otel-front", "internal")]
    client = by[("otel-front", "client")]
    server = by[("back", "server")]
    assert (
        root["span_id"] == root_id
        and root["parent_span_id"] is None
        and root["name"] == "otel checkout"
    )
    assert client["parent_span_id"] == root_id
    assert server["parent_span_id"] == client["span_id"]  # the lens service continued their trace
    assert by[("back", None)]["parent_span_id"] == server["span_id"]

    (row,) = read(db, "SELECT * FROM traces WHERE trace_id = ?", (trace_id,))
    assert (row["root_span_name"], row["root_span_id"], row["service"]) == (
        "otel checkout",
        root_id,
        "otel-front",
    )
    assert (row["span_count"], row["status"]) == (4, "ok")


def test_a_lens_caller_and_an_opentelemetry_service_make_one_trace(
    launch: Launch, tmp_path: Path
) -> None:
    db = tmp_path / "mixed.db"
    receiver = launch("otlp", db)
    otel_back = launch("otel-back", db, otlp=receiver.url)
    front = launch("front", db, flush=0.02, peer=otel_back.url)
    for library in ("httpx", "httpx-async", "requests"):
        answer = httpx.get(f"{front.url}/via/{library}/8", timeout=20)
        assert answer.status_code == 200 and answer.text == "peer said 200"

    def three_traces() -> list[dict[str, Any]] | None:
        roots = read(db, "SELECT * FROM spans WHERE service = 'front' AND kind = 'server'")
        if len(roots) < 3:
            return None
        # Each trace: the lens root and client span, OpenTelemetry's server span, its
        # handler's span and the ASGI middleware's own internal spans.
        complete = [
            r
            for r in roots
            if any(s["name"] == "otel_load_item" for s in spans_of(db, r["trace_id"]))
        ]
        return roots if len(complete) == 3 else None

    roots = wait_for(three_traces, what="three traces through the OpenTelemetry service")
    for root in roots:
        spans = spans_of(db, root["trace_id"])
        client = next(s for s in spans if s["service"] == "front" and s["kind"] == "client")
        server = next(s for s in spans if s["service"] == "otel-back" and s["kind"] == "server")
        assert client["parent_span_id"] == root["span_id"]
        assert server["parent_span_id"] == client["span_id"]  # OpenTelemetry continued ours
        handler = next(s for s in spans if s["name"] == "otel_load_item")
        assert handler["parent_span_id"] == server["span_id"]
        otel_ids = {s["span_id"] for s in spans if s["service"] == "otel-back"}
        assert all(
            s["parent_span_id"] in otel_ids | {client["span_id"]}
            for s in spans
            if s["span_id"] in otel_ids
        )
        row = wait_for(
            lambda r=root: (
                (t := read(db, "SELECT * FROM traces WHERE trace_id = ?", (r["trace_id"],))[0])[
                    "span_count"
                ]
                == len(spans_of(db, r["trace_id"]))
                and t
            ),
            what="the trace row",
        )
        assert (row["root_span_name"], row["service"], row["status"]) == (
            root["name"],
            "front",
            "ok",
        )
        assert row["root_span_id"] == root["span_id"]
