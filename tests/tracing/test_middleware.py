"""LensMiddleware in a real ASGI exchange: a raw ASGI app and, when installed, a Starlette app."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import apsw
import pytest

from lens_tui import bodies, tracing
from lens_tui.tracing import LensMiddleware, current_span, lens_fn
from lens_tui.tracing.writer import TraceWriter

from .conftest import read, spans_by_name, trace_row

Message = dict[str, Any]


async def exchange(
    app: Callable[..., Awaitable[None]],
    method: str,
    path: str,
    *,
    body: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
    chunk: int = 4096,
    query: bytes = b"",
) -> list[Message]:
    """Drive one HTTP request through an ASGI app as a server would; return what it sent."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query,
        "headers": [(b"host", b"testserver"), *(headers or [])],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    pieces = [body[i : i + chunk] for i in range(0, len(body), chunk)] or [b""]
    incoming = [
        {"type": "http.request", "body": piece, "more_body": i < len(pieces) - 1}
        for i, piece in enumerate(pieces)
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def status_of(sent: list[Message]) -> int:
    return next(m["status"] for m in sent if m["type"] == "http.response.start")


def body_of(sent: list[Message]) -> bytes:
    return b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


class Route:
    """What a router leaves in the scope for the route it matched (Starlette's has `path`)."""

    def __init__(self, path: str) -> None:
        self.path = path


async def raw_app(
    scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]
) -> None:
    """A tiny ASGI app: echoes the request body twice, fails on /boom, answers 503 on /down.

    It routes every path to itself as its own route, except those under /unrouted/.
    """
    if not scope["path"].startswith("/unrouted/"):
        scope["route"] = Route(scope["path"])
    request = b""
    while True:
        message = await receive()
        request += message.get("body", b"")
        if not message.get("more_body"):
            break
    if scope["path"] == "/boom":
        raise LookupError("no such thing")
    await inner_work()
    status = 503 if scope["path"] == "/down" else 200
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain")],
        }
    )
    await send({"type": "http.response.body", "body": request, "more_body": True})
    await send({"type": "http.response.body", "body": request, "more_body": False})


@lens_fn("inner_work")
async def inner_work() -> None:
    handle = current_span()
    assert handle is not None


async def test_raw_asgi_request_is_one_trace(store: TraceWriter, db_path: Path) -> None:
    app = LensMiddleware(raw_app)
    payload = b"hello=world&x=1"
    sent = await exchange(
        app, "POST", "/echo", body=payload, headers=[(b"X-Lens-Source", b"cli")], query=b"debug=1"
    )
    assert status_of(sent) == 200 and body_of(sent) == payload * 2
    assert tracing.flush()

    rows = spans_by_name(db_path)
    server = rows["POST /echo"]
    assert server["kind"] == "server" and server["parent_span_id"] is None
    assert server["status"] == "ok"
    assert server["input_size"] == len(payload)
    assert server["output_size"] == 2 * len(payload)
    assert server["input_body_hash"] is None and server["output_body_hash"] is None  # not asked
    attributes = json.loads(server["attributes"])
    assert attributes["http.response.status_code"] == 200
    assert attributes["http.request.method"] == "POST"
    assert attributes["url.path"] == "/echo" and attributes["url.query"] == "debug=1"
    assert attributes["http.route"] == "/echo"
    assert attributes["client.address"] == "127.0.0.1" and attributes["client.port"] == 50000
    assert rows["inner_work"]["parent_span_id"] == server["span_id"]
    trace = trace_row(db_path, server["trace_id"])
    assert trace["source"] == "cli"
    assert trace["root_span_name"] == "POST /echo"
    assert trace["span_count"] == 2 and trace["status"] == "ok"


async def test_server_error_and_exception_mark_the_span_failed(
    store: TraceWriter, db_path: Path
) -> None:
    app = LensMiddleware(raw_app)
    assert status_of(await exchange(app, "GET", "/down")) == 503
    with pytest.raises(LookupError, match="no such thing"):
        await exchange(app, "GET", "/boom")
    assert tracing.flush()

    rows = spans_by_name(db_path)
    down = rows["GET /down"]
    assert down["status"] == "error" and down["error_message"] == "HTTP 503"
    assert json.loads(down["attributes"])["http.response.status_code"] == 503
    boom = rows["GET /boom"]
    assert boom["status"] == "error"
    assert boom["exception_type"] == "LookupError"
    assert boom["error_message"] == "no such thing"
    assert "LookupError" in boom["traceback"]
    assert json.loads(boom["attributes"])["http.response.status_code"] == 500
    for row in (down, boom):
        trace = trace_row(db_path, row["trace_id"])
        assert trace["status"] == "error" and trace["error_count"] == 1


async def test_bodies_captured_bounded(store: TraceWriter, db_path: Path) -> None:
    app = LensMiddleware(raw_app, capture_bodies=True, max_body_bytes=100)
    payload = bytes(range(256)) * 40  # 10,240 bytes in 3 receive() chunks
    sent = await exchange(app, "PUT", "/upload", body=payload, chunk=4096)
    assert body_of(sent) == payload * 2
    assert tracing.flush()

    row = spans_by_name(db_path)["PUT /upload"]
    assert row["input_size"] == len(payload) and row["output_size"] == 2 * len(payload)
    # Both bodies start with the same 100 bytes: one content-addressed row serves both.
    digest = bodies.body_hash(payload[:100])
    assert row["input_body_hash"] == digest and row["output_body_hash"] == digest
    stored = read(db_path, "SELECT * FROM bodies")
    assert len(stored) == 1
    assert stored[0]["original_size"] == 100 and bytes(stored[0]["body"]) == payload[:100]


async def test_non_http_scopes_pass_through(store: TraceWriter, db_path: Path) -> None:
    calls: list[str] = []

    async def lifespan_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        calls.append(scope["type"])

    await LensMiddleware(lifespan_app)({"type": "lifespan"}, None, None)  # type: ignore[arg-type]
    assert calls == ["lifespan"]
    assert tracing.flush()
    # Nothing was recorded, so the writer had no reason to even create the file.
    assert not db_path.exists() or read(db_path, "SELECT * FROM spans") == []


async def test_starlette_route_template_names_the_span(store: TraceWriter, db_path: Path) -> None:
    pytest.importorskip("starlette")
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse
    from starlette.routing import Route

    async def get_item(request: Request) -> JSONResponse:
        await inner_work()
        return JSONResponse({"item": request.path_params["item_id"]})

    async def create(request: Request) -> PlainTextResponse:
        data = await request.body()
        return PlainTextResponse(data.decode().upper(), status_code=201)

    async def crash(request: Request) -> PlainTextResponse:
        raise ZeroDivisionError("division by zero")

    app = Starlette(
        routes=[
            Route("/items/{item_id:int}", get_item),
            Route("/items", create, methods=["POST"]),
            Route("/crash", crash),
        ]
    )
    app.add_middleware(LensMiddleware, capture_bodies=True)

    sent = await exchange(app, "GET", "/items/42", headers=[(b"x-lens-source", b"web")])
    assert status_of(sent) == 200 and json.loads(body_of(sent)) == {"item": 42}
    sent = await exchange(app, "POST", "/items", body=b"new thing")
    assert status_of(sent) == 201 and body_of(sent) == b"NEW THING"
    # Starlette's ServerErrorMiddleware (outside ours) answers 500 and re-raises.
    with pytest.raises(ZeroDivisionError):
        await exchange(app, "GET", "/crash")
    assert tracing.flush()

    rows = spans_by_name(db_path)
    get_row = rows["GET /items/{item_id}"]
    assert json.loads(get_row["attributes"])["http.route"] == "/items/{item_id}"
    assert json.loads(get_row["attributes"])["url.path"] == "/items/42"
    assert trace_row(db_path, get_row["trace_id"])["source"] == "web"
    assert rows["inner_work"]["parent_span_id"] == get_row["span_id"]
    post_row = rows["POST /items"]
    assert post_row["input_size"] == 9 and post_row["output_size"] == 9
    assert post_row["input_body_hash"] == bodies.body_hash(b"new thing")
    assert post_row["output_body_hash"] == bodies.body_hash(b"NEW THING")
    crash_row = rows["GET /crash"]
    assert crash_row["status"] == "error" and crash_row["exception_type"] == "ZeroDivisionError"


def test_route_template_from_path_params_when_the_framework_names_no_route() -> None:
    """The fallback for ASGI apps that set `path_params` but no `route`: each parameter takes
    its own segment, matched from the end (path order)."""
    from lens_tui.tracing.middleware import _route_template

    def template(path: str, **params: object) -> str | None:
        return _route_template({"type": "http", "path": path, "path_params": params})

    assert (
        template("/users/5/orders/5", user_id=5, order_id=5) == "/users/{user_id}/orders/{order_id}"
    )
    assert template("/api/2/items/2", item=2) == "/api/2/items/{item}"
    assert template("/users/7", user_id=7) == "/users/{user_id}"
    assert template("/health") is None  # no route and no parameters: no template to name it
    assert template("/a/x/b", missing="y") == "/a/x/b"


async def test_a_request_without_a_route_template_is_named_by_its_method(
    store: TraceWriter, db_path: Path
) -> None:
    """Three URLs of no route make one name, `GET`, each keeping its path in `url.path`."""
    app = LensMiddleware(raw_app)
    for i in (1, 2, 3):
        assert status_of(await exchange(app, "GET", f"/unrouted/no/such/route/{i}")) == 200
    assert tracing.flush()

    rows = read(db_path, "SELECT * FROM spans WHERE kind = 'server' ORDER BY started_at")
    assert [row["name"] for row in rows] == ["GET", "GET", "GET"]
    paths = [json.loads(row["attributes"])["url.path"] for row in rows]
    assert paths == [f"/unrouted/no/such/route/{i}" for i in (1, 2, 3)]
    assert all("http.route" not in json.loads(row["attributes"]) for row in rows)
    names = {trace_row(db_path, row["trace_id"])["root_span_name"] for row in rows}
    assert names == {"GET"}


async def test_starlette_not_found_is_named_by_its_method(
    store: TraceWriter, db_path: Path
) -> None:
    pytest.importorskip("starlette")
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route as StarletteRoute

    async def home(request: Any) -> PlainTextResponse:
        return PlainTextResponse("home")

    app = Starlette(routes=[StarletteRoute("/", home)])
    app.add_middleware(LensMiddleware)
    for i in (1, 2):
        assert status_of(await exchange(app, "DELETE", f"/nothing/here/{i}")) == 404
    assert tracing.flush()

    rows = read(db_path, "SELECT name, attributes FROM spans ORDER BY started_at")
    assert [row["name"] for row in rows] == ["DELETE", "DELETE"]
    assert [json.loads(row["attributes"])["http.response.status_code"] for row in rows] == [
        404,
        404,
    ]
    assert json.loads(rows[1]["attributes"])["url.path"] == "/nothing/here/2"


CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
CALLER_STATE = "rojo=00f067aa0ba902b7, congo=t61rcWkgMzE"


async def calling_app(
    scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]
) -> None:
    """Answers with the headers a call made while handling the request would carry."""
    await receive()
    scope["route"] = Route("/call")
    await inner_work()
    outgoing: dict[str, str] = {}
    tracing.inject(outgoing)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": json.dumps(outgoing).encode()})


async def test_an_incoming_traceparent_continues_the_callers_trace(
    store: TraceWriter, db_path: Path
) -> None:
    app = LensMiddleware(calling_app)
    headers = [
        (b"TraceParent", f"00-{CALLER_TRACE}-{CALLER_SPAN}-01".encode()),
        (b"tracestate", CALLER_STATE.encode()),
    ]
    sent = await exchange(app, "GET", "/call", headers=headers)
    outgoing = json.loads(body_of(sent))
    assert tracing.flush()

    rows = spans_by_name(db_path)
    server = rows["GET /call"]
    assert server["trace_id"] == CALLER_TRACE  # stored exactly as the caller sent it
    assert server["parent_span_id"] == CALLER_SPAN
    assert rows["inner_work"]["parent_span_id"] == server["span_id"]
    assert rows["inner_work"]["trace_id"] == CALLER_TRACE
    # A call out names this server span as its parent and passes the tracestate on unchanged.
    assert outgoing == {
        "traceparent": f"00-{CALLER_TRACE}-{server['span_id']}-01",
        "tracestate": CALLER_STATE,
    }


@pytest.mark.parametrize(
    "traceparent",
    [
        f"00-{'0' * 32}-{CALLER_SPAN}-01",  # all-zero trace id
        f"00-{CALLER_TRACE}-{'0' * 16}-01",  # all-zero span id
        f"00-{CALLER_TRACE.upper()}-{CALLER_SPAN}-01",  # uppercase hex
        f"ff-{CALLER_TRACE}-{CALLER_SPAN}-01",  # the forbidden version
        f"00-{CALLER_TRACE}-{CALLER_SPAN}-01-extra",  # version 00 has exactly four fields
        "garbage",
        "",
    ],
)
async def test_an_invalid_traceparent_starts_a_new_trace(
    store: TraceWriter, db_path: Path, traceparent: str
) -> None:
    app = LensMiddleware(calling_app)
    sent = await exchange(app, "GET", "/call", headers=[(b"traceparent", traceparent.encode())])
    assert status_of(sent) == 200
    assert tracing.flush()

    server = spans_by_name(db_path)["GET /call"]
    assert server["parent_span_id"] is None and server["trace_id"] != CALLER_TRACE
    assert "tracestate" not in json.loads(body_of(sent))
    assert trace_row(db_path, server["trace_id"])["root_span_name"] == "GET /call"


async def test_a_running_request_shows_its_route_once_the_router_matched_it(
    store: TraceWriter, db_path: Path
) -> None:
    pytest.importorskip("starlette")
    import asyncio

    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route as StarletteRoute

    release = asyncio.Event()

    async def slow(request: Any) -> PlainTextResponse:
        await release.wait()
        return PlainTextResponse("done")

    app = Starlette(routes=[StarletteRoute("/slow/{job}", slow)])
    app.add_middleware(LensMiddleware)
    request = asyncio.create_task(exchange(app, "GET", "/slow/12"))
    try:
        for _ in range(200):  # the writer shows a span running after one flush interval
            await asyncio.sleep(0.02)
            try:
                rows = read(db_path, "SELECT name, status FROM spans") if db_path.exists() else []
            except apsw.Error:  # the writer is creating the file right now
                rows = []
            if rows:
                break
        assert rows == [{"name": "GET /slow/{job}", "status": "running"}]
        (trace,) = read(db_path, "SELECT root_span_name, status FROM traces")
        assert trace == {"root_span_name": "GET /slow/{job}", "status": "running"}
    finally:
        release.set()
        sent = await request
    assert body_of(sent) == b"done"
    assert tracing.flush()
    assert read(db_path, "SELECT name, status FROM spans") == [
        {"name": "GET /slow/{job}", "status": "ok"}
    ]


async def test_a_span_renamed_by_the_application_keeps_its_name(
    store: TraceWriter, db_path: Path
) -> None:
    async def renaming_app(
        scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]
    ) -> None:
        scope["route"] = Route("/things/{id}")
        handle = current_span()
        assert handle is not None and handle.name == "PUT /things/{id}"
        handle.rename("store thing")
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    await exchange(LensMiddleware(renaming_app), "PUT", "/things/4")
    assert tracing.flush()
    (row,) = read(db_path, "SELECT name, attributes FROM spans")
    assert row["name"] == "store thing"
    assert json.loads(row["attributes"])["http.route"] == "/things/{id}"
