"""Two lens services in two uvicorn processes on loopback, one calling the other, one file.

Each request makes one trace across both: the front's server span, its client span, the back's
server span (whose parent is the front's client span) and the back's child span. The trace row
ends up right whichever service's writer commits first.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import Launch, read, wait_for

LIBRARIES = ("httpx", "httpx-async", "requests")
FAST, SLOW = 0.02, 0.8
"""Flush intervals: the service given FAST commits its spans of a request well before the other."""


def trace_spans(db: Path, trace_id: str) -> list[dict[str, Any]]:
    return read(db, "SELECT * FROM spans WHERE trace_id = ? ORDER BY started_at", (trace_id,))


def whole_trace(db: Path, path: str, count: int) -> tuple[str, list[dict[str, Any]]]:
    """The trace whose front server span served `path`, once all `count` spans are in."""

    def probe() -> tuple[str, list[dict[str, Any]]] | None:
        rows = read(
            db, "SELECT trace_id, attributes FROM spans WHERE kind = 'server' AND service = 'front'"
        )
        for row in rows:
            if json.loads(row["attributes"])["url.path"] == path:
                spans = trace_spans(db, row["trace_id"])
                finished = [s for s in spans if s["status"] != "running"]
                if len(finished) == count:
                    return row["trace_id"], spans
        return None

    return wait_for(probe, what=f"{count} spans of {path}")


def by_role(spans: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The spans of one call: front server and client, back server and child."""
    roles = {}
    for span in spans:
        role = {
            ("front", "server"): "front",
            ("front", "client"): "client",
            ("back", "server"): "back",
            ("back", None): "child",
        }[(span["service"], span["kind"])]
        assert role not in roles
        roles[role] = span
    return roles


def trace_row(db: Path, trace_id: str) -> dict[str, Any]:
    (row,) = read(db, "SELECT * FROM traces WHERE trace_id = ?", (trace_id,))
    return row


@pytest.mark.parametrize("first", ["front", "back"])
def test_a_call_across_services_is_one_trace(launch: Launch, tmp_path: Path, first: str) -> None:
    db = tmp_path / "shared.db"
    back = launch("back", db, flush=FAST if first == "back" else SLOW)
    front = launch("front", db, flush=FAST if first == "front" else SLOW, peer=back.url)

    for library in LIBRARIES:
        answer = httpx.get(f"{front.url}/via/{library}/7", timeout=20)
        assert answer.status_code == 200 and answer.text == "peer said 200"
        trace_id, spans = whole_trace(db, f"/via/{library}/7", 4)
        roles = by_role(spans)
        assert {s["trace_id"] for s in spans} == {trace_id}
        assert roles["front"]["parent_span_id"] is None
        assert roles["client"]["parent_span_id"] == roles["front"]["span_id"]
        assert roles["back"]["parent_span_id"] == roles["client"]["span_id"]
        assert roles["child"]["parent_span_id"] == roles["back"]["span_id"]
        assert roles["front"]["name"] == "GET /via/{library}/{item}"
        assert roles["client"]["name"] == f"GET {back.url.removeprefix('http://')}/items/7"
        assert (
            roles["back"]["name"] == "GET /items/{item}" and roles["child"]["name"] == "load_item"
        )
        assert all(s["status"] == "ok" for s in spans)

        # The writer named FAST committed its spans of this trace before the other one did.
        stamps = {
            side: [s["updated_at"] for s in spans if s["service"] == side]
            for side in ("front", "back")
        }
        other = "back" if first == "front" else "front"
        assert max(stamps[first]) < min(stamps[other])

        row = wait_for(
            lambda t=trace_id: (r := trace_row(db, t))["span_count"] == 4 and r,
            what="the trace row",
        )
        assert row["root_span_name"] == "GET /via/{library}/{item}"
        assert row["root_span_id"] == roles["front"]["span_id"]
        assert row["status"] == "ok" and row["error_count"] == 0
        assert row["service"] == "front"
        assert row["started_at"] == pytest.approx(roles["front"]["started_at"], abs=1)
        assert row["duration_ms"] == pytest.approx(roles["front"]["duration_ms"], abs=5)


@pytest.mark.parametrize("first", ["front", "back"])
def test_a_failing_back_end_fails_the_whole_trace(
    launch: Launch, tmp_path: Path, first: str
) -> None:
    db = tmp_path / "shared.db"
    back = launch("back", db, flush=FAST if first == "back" else SLOW)
    front = launch("front", db, flush=FAST if first == "front" else SLOW, peer=back.url)

    for library in LIBRARIES:
        answer = httpx.get(f"{front.url}/via/{library}/boom", timeout=20)
        assert answer.status_code == 502
        trace_id, spans = whole_trace(db, f"/via/{library}/boom", 3)
        roles = {(s["service"], s["kind"]): s for s in spans}
        back_span = roles[("back", "server")]
        assert back_span["status"] == "error" and back_span["exception_type"] == "RuntimeError"
        client = roles[("front", "client")]
        assert client["status"] == "error" and client["error_message"] == "HTTP 500"
        assert back_span["parent_span_id"] == client["span_id"]
        assert roles[("front", "server")]["status"] == "error"  # it answered 502

        row = wait_for(
            lambda t=trace_id: (r := trace_row(db, t))["span_count"] == 3 and r,
            what="the trace row",
        )
        assert row["status"] == "error" and row["error_count"] == 3
        assert row["root_span_name"] == "GET /via/{library}/{item}"


def test_the_root_still_running_while_the_back_end_is_done(launch: Launch, tmp_path: Path) -> None:
    """The front's root stays open 1.5 s after the back end answered and committed."""
    db = tmp_path / "shared.db"
    back = launch("back", db, flush=FAST)
    front = launch("front", db, flush=FAST, peer=back.url)

    with httpx.Client(timeout=20) as client:
        import threading

        answers: list[int] = []
        caller = threading.Thread(
            target=lambda: answers.append(
                client.get(f"{front.url}/via/httpx/3?linger=1.5").status_code
            )
        )
        caller.start()
        try:

            def back_done() -> dict[str, Any] | None:
                rows = read(db, "SELECT * FROM spans WHERE service = 'back' AND kind = 'server'")
                return rows[0] if rows else None

            back_span = wait_for(back_done, what="the back end's span")
            # Once the front's client span is in too, the trace shows its open root, running.
            row = wait_for(
                lambda: (r := trace_row(db, back_span["trace_id"]))["span_count"] >= 3 and r,
                what="the front's client span",
            )
            assert caller.is_alive()  # still lingering
            assert row["root_span_name"] == "GET /via/{library}/{item}"
            assert row["status"] == "running" and row["duration_ms"] is None
            assert row["service"] == "front"
        finally:
            caller.join(20)
    assert answers == [200]
    row = wait_for(
        lambda: (r := trace_row(db, back_span["trace_id"]))["status"] != "running" and r,
        what="the end",
    )
    assert row["status"] == "ok" and row["span_count"] == 4 and row["duration_ms"] >= 1500


def test_a_caller_that_records_nothing_still_leaves_a_named_finished_trace(
    launch: Launch, tmp_path: Path
) -> None:
    """A traceparent from a caller that writes no spans here (curl, a service exporting
    elsewhere): the back end's server span stands for the trace, which must not stay running."""
    db = tmp_path / "shared.db"
    back = launch("back", db, flush=FAST)
    trace_id, caller_span = "5b8aa5a2d2c872e8321cf37308d69df2", "051581bf3cb55c13"
    answer = httpx.get(
        f"{back.url}/items/9",
        headers={"traceparent": f"00-{trace_id}-{caller_span}-01"},
        timeout=20,
    )
    assert answer.status_code == 200

    spans = wait_for(lambda: len(rows := trace_spans(db, trace_id)) == 2 and rows, what="the spans")
    server = next(s for s in spans if s["kind"] == "server")
    assert server["parent_span_id"] == caller_span
    row = trace_row(db, trace_id)
    assert row["root_span_name"] == "GET /items/{item}" and row["root_span_id"] == server["span_id"]
    assert row["status"] == "ok" and row["duration_ms"] == pytest.approx(
        server["duration_ms"], abs=1
    )
    assert row["span_count"] == 2 and row["service"] == "back"
