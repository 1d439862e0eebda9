"""Client spans of httpx (sync and async) and requests calls to a real loopback HTTP server."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from lens_tui import tracing
from lens_tui.tracing import span
from lens_tui.tracing.writer import TraceWriter

from .conftest import read, serving, spans_by_name

httpx = pytest.importorskip("httpx")
requests = pytest.importorskip("requests")

REMOTE_TRACE = "0af7651916cd43dd8448eb211c80319c"
REMOTE_SPAN = "b7ad6b7169203331"


class _Handler(BaseHTTPRequestHandler):
    """Answers `/status/N` with N (else 200), `/redirect` with a 302 to `/ok`; keeps the headers."""

    seen: list[dict[str, str]] = []

    def do_GET(self) -> None:
        type(self).seen.append({k.lower(): v for k, v in self.headers.items()})
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/ok")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        status = int(self.path.rsplit("/", 1)[1]) if self.path.startswith("/status/") else 200
        body = b"hello"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A real HTTP server on a loopback port: its base URL and the headers of each request."""
    seen: list[dict[str, str]] = []
    with serving(type("Handler", (_Handler,), {"seen": seen})) as url:
        yield url, seen


@pytest.fixture
def instrumented() -> Iterator[None]:
    undo = [tracing.instrument_httpx(), tracing.instrument_requests()]
    try:
        yield
    finally:
        for u in undo:
            u()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def client_spans(db_path: Path) -> list[dict[str, Any]]:
    rows = read(db_path, "SELECT * FROM spans WHERE kind = 'client' ORDER BY started_at")
    for row in rows:
        row["attributes"] = json.loads(row["attributes"])
    return rows


def call_httpx(url: str) -> int:
    with httpx.Client() as client:
        return int(client.get(url).status_code)


def call_httpx_async(url: str) -> int:
    import asyncio

    async def go() -> int:
        async with httpx.AsyncClient() as client:
            return int((await client.get(url)).status_code)

    return asyncio.run(go())


def call_requests(url: str) -> int:
    return int(requests.get(url, timeout=10).status_code)


CALLERS = {"httpx": call_httpx, "httpx-async": call_httpx_async, "requests": call_requests}


@pytest.mark.parametrize("library", sorted(CALLERS))
def test_a_call_is_a_client_span_that_the_server_sees(
    store: TraceWriter,
    db_path: Path,
    server: tuple[str, list[dict[str, str]]],
    instrumented: None,
    library: str,
) -> None:
    base, seen = server
    call = CALLERS[library]
    with span("caller") as caller:
        assert caller is not None
        assert call(f"{base}/items/7?x=1") == 200
    assert tracing.flush()

    (row,) = client_spans(db_path)
    port = int(base.rsplit(":", 1)[1])
    assert row["name"] == f"GET 127.0.0.1:{port}/items/7"
    assert row["status"] == "ok" and row["trace_id"] == caller.trace_id
    assert row["parent_span_id"] == caller.span_id
    assert row["attributes"] == {
        "http.request.method": "GET",
        "url.full": f"{base}/items/7?x=1",
        "server.address": "127.0.0.1",
        "server.port": port,
        "http.response.status_code": 200,
    }
    (headers,) = seen
    assert headers["traceparent"] == f"00-{caller.trace_id}-{row['span_id']}-01"
    assert "tracestate" not in headers


@pytest.mark.parametrize("library", sorted(CALLERS))
def test_5xx_fails_the_span_and_4xx_does_not(
    store: TraceWriter,
    db_path: Path,
    server: tuple[str, list[dict[str, str]]],
    instrumented: None,
    library: str,
) -> None:
    base, _seen = server
    assert CALLERS[library](f"{base}/status/503") == 503
    assert CALLERS[library](f"{base}/status/404") == 404
    assert tracing.flush()

    failed, missing = client_spans(db_path)
    assert failed["status"] == "error" and failed["error_message"] == "HTTP 503"
    assert failed["attributes"]["http.response.status_code"] == 503
    assert failed["attributes"]["error.type"] == "503"
    assert missing["status"] == "ok" and missing["attributes"]["http.response.status_code"] == 404
    assert "error.type" not in missing["attributes"]
    # A call is a trace of its own when no span is current: its root is the client span.
    assert read(db_path, "SELECT status FROM traces ORDER BY started_at") == [
        {"status": "error"},
        {"status": "ok"},
    ]


@pytest.mark.parametrize(
    ("library", "exception"),
    [("httpx", "ConnectError"), ("httpx-async", "ConnectError"), ("requests", "ConnectionError")],
)
def test_a_failed_connection_is_raised_unchanged_and_recorded(
    store: TraceWriter, db_path: Path, instrumented: None, library: str, exception: str
) -> None:
    url = f"http://127.0.0.1:{_free_port()}/nobody"
    with pytest.raises(Exception) as raised:
        CALLERS[library](url)
    assert type(raised.value).__name__ == exception
    assert tracing.flush()

    (row,) = client_spans(db_path)
    assert row["status"] == "error" and row["exception_type"].endswith(exception)
    assert row["attributes"]["error.type"].endswith(exception)
    assert "http.response.status_code" not in row["attributes"]


def test_instrumenting_is_idempotent_and_undone(
    store: TraceWriter, db_path: Path, server: tuple[str, list[dict[str, str]]]
) -> None:
    base, seen = server
    original_sync, original_async = httpx.Client.send, httpx.AsyncClient.send
    original_requests = requests.Session.send
    first, second = tracing.instrument_httpx(), tracing.instrument_httpx()
    undo_requests = tracing.instrument_requests()
    assert tracing.instrument_requests() is undo_requests
    assert call_httpx(f"{base}/a") == 200 and call_requests(f"{base}/a") == 200
    first()
    second()  # undoing twice is harmless
    undo_requests()
    assert (httpx.Client.send, httpx.AsyncClient.send) == (original_sync, original_async)
    assert requests.Session.send is original_requests
    assert call_httpx(f"{base}/b") == 200 and call_httpx_async(f"{base}/b") == 200
    assert call_requests(f"{base}/b") == 200
    again = tracing.instrument_httpx()  # and it can be done again
    try:
        assert call_httpx(f"{base}/c") == 200
    finally:
        again()
    assert tracing.flush()

    names = [row["name"].rsplit("/", 1)[1] for row in client_spans(db_path)]
    assert names == ["a", "a", "c"]  # one span per call while instrumented, none after the undo
    assert ["traceparent" in h for h in seen] == [True, True, False, False, False, True]


def test_credentials_never_reach_the_database(
    store: TraceWriter, db_path: Path, server: tuple[str, list[dict[str, str]]], instrumented: None
) -> None:
    base, _seen = server
    url = base.replace("http://", "http://alice:s3cret@") + "/private"
    assert call_httpx(url) == 200 and call_requests(url) == 200
    assert tracing.flush()

    rows = client_spans(db_path)
    assert len(rows) == 2
    for row in rows:
        assert (
            row["attributes"]["url.full"]
            == base.replace("http://", "http://REDACTED:REDACTED@") + "/private"
        )
        assert "alice" not in row["name"] and "s3cret" not in json.dumps(row["attributes"])


def test_a_remote_trace_goes_on_through_a_call_with_its_tracestate(
    store: TraceWriter, db_path: Path, server: tuple[str, list[dict[str, str]]], instrumented: None
) -> None:
    base, seen = server
    ctx = tracing.extract(
        {"traceparent": f"00-{REMOTE_TRACE}-{REMOTE_SPAN}-01", "tracestate": "v=1"}
    )
    with tracing.use_context(ctx):
        assert call_httpx(f"{base}/x") == 200
    assert tracing.flush()

    (row,) = client_spans(db_path)
    assert row["trace_id"] == REMOTE_TRACE and row["parent_span_id"] == REMOTE_SPAN
    assert seen[0]["traceparent"] == f"00-{REMOTE_TRACE}-{row['span_id']}-01"
    assert seen[0]["tracestate"] == "v=1"


def test_without_a_store_no_span_but_the_trace_goes_on(
    server: tuple[str, list[dict[str, str]]], instrumented: None
) -> None:
    base, seen = server
    assert tracing.get_store() is None
    assert call_httpx(f"{base}/plain") == 200
    with tracing.use_context(
        tracing.extract({"traceparent": f"00-{REMOTE_TRACE}-{REMOTE_SPAN}-01"})
    ):
        assert call_requests(f"{base}/continued") == 200
    assert "traceparent" not in seen[0]
    assert seen[1]["traceparent"] == f"00-{REMOTE_TRACE}-{REMOTE_SPAN}-01"


def test_a_url_template_names_an_httpx_span(
    store: TraceWriter, db_path: Path, server: tuple[str, list[dict[str, str]]], instrumented: None
) -> None:
    base, _seen = server
    with httpx.Client() as client:
        for user in (1, 2):
            client.get(f"{base}/users/{user}", extensions={"url_template": "/users/{id}"})
    assert tracing.flush()

    port = int(base.rsplit(":", 1)[1])
    rows = client_spans(db_path)
    assert [row["name"] for row in rows] == [f"GET 127.0.0.1:{port}/users/{{id}}"] * 2
    assert rows[1]["attributes"]["url.template"] == "/users/{id}"
    assert rows[1]["attributes"]["url.full"] == f"{base}/users/2"


def test_redirects_of_one_httpx_send_are_one_span(
    store: TraceWriter, db_path: Path, server: tuple[str, list[dict[str, str]]], instrumented: None
) -> None:
    base, seen = server
    with httpx.Client(follow_redirects=True) as client:
        assert client.get(f"{base}/redirect").status_code == 200
    assert tracing.flush()

    (row,) = client_spans(db_path)
    assert row["attributes"]["http.response.status_code"] == 200
    assert [h["traceparent"] for h in seen] == [f"00-{row['trace_id']}-{row['span_id']}-01"] * 2


def _run(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_neither_library_is_imported_until_instrumented() -> None:
    out = _run(
        "import sys; import lens_tui.tracing as t; "
        "print(sorted(m for m in ('httpx', 'requests') if m in sys.modules))"
    )
    assert out == "[]"


def test_instrumenting_a_library_that_is_not_installed_does_nothing() -> None:
    out = _run(
        "import sys; sys.modules['httpx'] = None; sys.modules['requests'] = None\n"
        "import lens_tui.tracing as t\n"
        "undo = t.instrument_httpx(); undo(); t.instrument_requests()()\n"
        "print('fine')"
    )
    assert out == "fine"


def test_broken_request_objects_never_break_the_call(
    store: TraceWriter,
    db_path: Path,
    server: tuple[str, list[dict[str, str]]],
    instrumented: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Our own failure (here: the URL cannot be read) leaves the call as it would have been."""
    from lens_tui.tracing import http_clients

    def broken(url: str) -> Callable[..., Any]:
        raise RuntimeError("cannot read this URL")

    monkeypatch.setattr(http_clients, "_where", broken)
    base, seen = server
    with span("outer"):
        assert call_httpx(f"{base}/ok") == 200 and call_requests(f"{base}/ok") == 200
    assert tracing.flush()
    assert client_spans(db_path) == [] and len(seen) == 2
    assert list(spans_by_name(db_path)) == ["outer"]
