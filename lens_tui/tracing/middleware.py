"""LensMiddleware: one trace per HTTP request for any ASGI app (the successor of lensRoute)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from lens_tui.tracing import api
from lens_tui.tracing.context import SpanRecord, current
from lens_tui.tracing.propagation import SpanContext, parse_traceparent, remote

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _route_template(scope: Scope) -> str | None:
    """The matched route's template (`/users/{id}`) when the framework tells, else None.

    Apps that set `path_params` but no `route` get a template made from the path: each
    parameter's value replaced by its name.
    """
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    if isinstance(template, str):
        return template
    params = scope.get("path_params") or {}
    if not params:
        return None
    # Parameters come in path order; matched from the end, so that a literal segment
    # equal to a value (`/api/2/items/2`) stays, and two equal values keep their names.
    parts = (scope.get("path") or "/").split("/")
    at = len(parts)
    for name, value in reversed(list(params.items())):
        text = str(value)
        for k in range(at - 1, 0, -1):
            if parts[k] == text:
                parts[k], at = f"{{{name}}}", k
                break
    return "/".join(parts)


def _scan_headers(scope: Scope, source_name: bytes) -> tuple[SpanContext | None, str | None]:
    """In one pass over the request's headers: the caller's span from `traceparent` /
    `tracestate` (if valid), and the first value of the `source_name` header."""
    parent = None
    states: list[bytes] = []
    count = 0
    source = None
    for key, value in scope.get("headers") or ():
        name = key.lower()
        if name == b"traceparent":
            parent, count = value, count + 1
        elif name == b"tracestate":
            states.append(value)
        elif name == source_name and source is None:
            source = value.decode("latin-1")
    if count != 1:
        return None, source
    caller = parse_traceparent(parent, [v.decode("latin-1") for v in states] if states else None)
    return caller, source


class _ServerSpan(SpanRecord):
    """A server span named after its route as soon as the router has matched one.

    The router writes the route into the scope before the endpoint runs, but tells nobody: a
    request still running when the writer shows it (a slow one, the kind people look for)
    is named from the scope at that moment, not by its method alone.
    """

    __slots__ = ("_scope", "_method")

    def __init__(self, method: str, parent: SpanRecord | SpanContext | None, scope: Scope) -> None:
        self._scope = scope
        self._method = method
        super().__init__(method, parent, None)

    @property  # type: ignore[override]
    def name(self) -> str:
        """`METHOD /route` once the route is known, else the name given."""
        given = _NAME_SLOT.__get__(self, SpanRecord)
        if given != self._method:
            return given  # renamed by the application (SpanHandle.rename)
        try:
            route = _route_template(self._scope)
        except Exception:  # a scope of unexpected shape: keep the method
            return given
        return given if route is None else f"{given} {route}"

    @name.setter
    def name(self, value: str) -> None:
        _NAME_SLOT.__set__(self, value)


_NAME_SLOT = SpanRecord.__dict__["name"]


class LensMiddleware:
    """ASGI middleware: `app.add_middleware(LensMiddleware)` in Starlette/FastAPI, or wrap any app.

    Records a server span named `METHOD /route` (just `METHOD` when no route template is
    known: a name per URL would flood the list), with OpenTelemetry's HTTP attributes, the
    `x-lens-source` header as the trace source, request and response sizes and, with
    `capture_bodies=True`, the first `max_body_bytes` of each body. A request carrying a valid
    `traceparent` continues the caller's trace (its `tracestate` goes on unchanged with calls
    made while handling it). Server errors (5xx) and exceptions mark the span failed;
    exceptions propagate.
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
        caller, source = _scan_headers(scope, self.source_header)
        record = _ServerSpan(method, current.get() if caller is None else caller, scope)
        extra = record.rare()
        extra.kind = "server"
        extra.source = source
        path = scope.get("path") or "/"
        attributes: dict[str, Any] = {
            "http.request.method": method,
            "url.path": path,
            "url.scheme": scope.get("scheme") or "http",
        }
        query = scope.get("query_string") or b""
        if query:
            attributes["url.query"] = query.decode("latin-1")
        client = scope.get("client")
        if client:
            attributes["client.address"] = client[0]
            attributes["client.port"] = client[1]
        record.attributes = attributes
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
        remote_token = None if caller is None else remote.set(caller)
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
            if remote_token is not None:
                try:
                    remote.reset(remote_token)
                except ValueError:
                    pass
            try:
                route = _route_template(scope)
            except Exception:  # a scope of unexpected shape: no route
                route = None
            if route is not None:
                attributes["http.route"] = route
                # The name fixed from here on (the scope may be reused), as the property says.
                if _NAME_SLOT.__get__(record, SpanRecord) == method:
                    _NAME_SLOT.__set__(record, f"{method} {route}")
            if status_code is not None:
                attributes["http.response.status_code"] = status_code
                if status_code >= 500 and extra.status != "error":
                    extra.status = "error"
                    extra.error_message = f"HTTP {status_code}"
            extra.input_size = request_size
            extra.output_size = response_size
            if capture:
                extra.input_body = bytes(request_body) if request_body else None
                extra.output_body = bytes(response_body) if response_body else None
            store.end(record)
