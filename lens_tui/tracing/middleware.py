"""LensMiddleware: one trace per HTTP request for any ASGI app (the successor of lensRoute)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from lens_tui.tracing import api
from lens_tui.tracing.context import SpanRecord, current

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _route_template(scope: Scope) -> str:
    """The matched route's template (`/users/{id}`) when the framework tells, else the path."""
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    if isinstance(template, str):
        return template
    path = scope.get("path") or "/"
    params = scope.get("path_params") or {}
    if params:
        # Parameters come in path order; matched from the end, so that a literal segment
        # equal to a value (`/api/2/items/2`) stays, and two equal values keep their names.
        parts = path.split("/")
        at = len(parts)
        for name, value in reversed(list(params.items())):
            text = str(value)
            for k in range(at - 1, 0, -1):
                if parts[k] == text:
                    parts[k], at = f"{{{name}}}", k
                    break
        path = "/".join(parts)
    return path


class LensMiddleware:
    """ASGI middleware: `app.add_middleware(LensMiddleware)` in Starlette/FastAPI, or wrap any app.

    Records `METHOD /route`, the status code, the `x-lens-source` header as the trace source,
    request and response sizes and, with `capture_bodies=True`, the first `max_body_bytes` of
    each body. Server errors (5xx) and exceptions mark the span failed; exceptions propagate.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        capture_bodies: bool = False,
        max_body_bytes: int = 64 * 1024,
        source_header: str = "x-lens-source",
    ) -> None:
        self.app = app
        self.capture_bodies = capture_bodies
        self.max_body_bytes = max_body_bytes
        self.source_header = source_header.lower().encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        store = api.get_store()
        if scope.get("type") != "http" or store is None:
            await self.app(scope, receive, send)
            return
        method = scope.get("method", "GET")
        record = SpanRecord(f"{method} {scope.get('path') or '/'}", current.get(), None)
        record.kind = "server"
        record.source = _header(scope, self.source_header)
        query = scope.get("query_string") or b""
        target = (scope.get("path") or "/") + (f"?{query.decode('latin-1')}" if query else "")
        record.attributes = {"http.method": method, "http.target": target}
        client = scope.get("client")
        if client:
            record.attributes["client.address"] = f"{client[0]}:{client[1]}"
        store.begin(record)
        request_size = 0
        response_size = 0
        status_code: int | None = None
        request_body = bytearray()
        response_body = bytearray()
        capture, limit = self.capture_bodies, self.max_body_bytes

        async def counting_receive() -> Message:
            nonlocal request_size
            message = await receive()
            if message.get("type") == "http.request":
                chunk = message.get("body") or b""
                request_size += len(chunk)
                if capture and len(request_body) < limit:
                    request_body.extend(chunk[: limit - len(request_body)])
            return message

        async def counting_send(message: Message) -> None:
            nonlocal response_size, status_code
            kind = message.get("type")
            if kind == "http.response.start":
                status_code = int(message.get("status", 0))
            elif kind == "http.response.body":
                chunk = message.get("body") or b""
                response_size += len(chunk)
                if capture and len(response_body) < limit:
                    response_body.extend(chunk[: limit - len(response_body)])
            await send(message)

        token = current.set(record)
        try:
            await self.app(scope, counting_receive, counting_send)
        except BaseException as exc:
            record.fail(exc)
            if status_code is None:
                status_code = 500
            raise
        finally:
            try:
                current.reset(token)
            except ValueError:
                pass
            route = _route_template(scope)
            record.name = f"{method} {route}"
            record.attributes["http.route"] = route
            if status_code is not None:
                record.attributes["http.status_code"] = status_code
                if status_code >= 500 and record.status != "error":
                    record.status = "error"
                    record.error_message = f"HTTP {status_code}"
            record.input_size = request_size
            record.output_size = response_size
            if capture:
                record.input_body = bytes(request_body) if request_body else None
                record.output_body = bytes(response_body) if response_body else None
            store.end(record)
