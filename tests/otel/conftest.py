"""Fixtures for the OpenTelemetry tests: a receiver on an ephemeral loopback port, a fresh
database, and helpers that read what was committed through a second, read-only connection."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Rows through a second, read-only connection: the tracing tests' helpers, re-exported.
from tracing.conftest import read as read
from tracing.conftest import spans_by_name as spans_by_name

from lens_tui.otel.receiver import OTLPReceiver


def post(
    receiver: OTLPReceiver,
    path: str,
    body: bytes,
    headers: dict[str, str] | None = None,
    method: str = "POST",
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request to the receiver: (status, headers lowercased, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", receiver.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def post_json(receiver: OTLPReceiver, path: str, document: Any, **headers: str) -> tuple[int, Any]:
    """POST an OTLP JSON document; (status, decoded JSON reply)."""
    status, _headers, body = post(
        receiver,
        path,
        json.dumps(document).encode(),
        {"Content-Type": "application/json", **headers},
    )
    return status, json.loads(body) if body else None


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Where the test's trace database lives."""
    return tmp_path / "otel.db"


@pytest.fixture
def receiver(db_path: Path) -> Iterator[OTLPReceiver]:
    """A running receiver on 127.0.0.1 and an ephemeral port, writing into db_path."""
    started = OTLPReceiver(db_path, port=0, io_timeout=2.0, request_timeout=5.0).start()
    try:
        yield started
    finally:
        started.stop()


def flush(receiver: OTLPReceiver) -> None:
    """Wait until everything the receiver accepted is committed."""
    assert receiver.store is not None
    assert receiver.store.flush(10)
