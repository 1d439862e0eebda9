"""Client spans for outgoing HTTP calls: `instrument_httpx()` (sync and async) and `instrument_requests()`.

Each call becomes a span of kind `client`, named `METHOD host/path` (or `METHOD host/template`
when an httpx request carries `extensions={"url_template": "/users/{id}"}`), with
OpenTelemetry's HTTP client attributes, failed on an exception or a 5xx answer, and the call
carries `traceparent` (and the `tracestate` being continued) so the service called continues
the trace. Neither library is imported until it is instrumented; instrumenting one that is not
installed does nothing. Never raises into the application: a problem of ours leaves the call
as it would have been.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from lens_tui.tracing import api
from lens_tui.tracing.context import SpanRecord, current
from lens_tui.tracing.propagation import inject

if TYPE_CHECKING:
    from lens_tui.tracing.writer import TraceWriter

_DEFAULT_PORTS = {"http": 80, "https": 443}
_lock = threading.Lock()
_undo: dict[str, Callable[[], None]] = {}
"""Per library, the undo of its instrumentation while it is in place."""


def _nothing() -> None:
    """The undo of an instrumentation that did not happen."""


def _where(url: str) -> tuple[dict[str, Any], str, str]:
    """OpenTelemetry's URL attributes of a call, its `host[:port]` and its path.

    Credentials in the URL are never stored (`REDACTED`, as the conventions ask).
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    scheme = parts.scheme.lower()
    port = parts.port or _DEFAULT_PORTS.get(scheme)
    netloc = parts.netloc.rpartition("@")[2]
    full = url
    if "@" in parts.netloc:
        full = urlunsplit(
            (parts.scheme, "REDACTED:REDACTED@" + netloc, parts.path, parts.query, parts.fragment)
        )
    attributes: dict[str, Any] = {"url.full": full, "server.address": host}
    if port is not None:
        attributes["server.port"] = port
    return attributes, netloc.lower(), parts.path or "/"


def _start(
    method: str, url: str, headers: Any, template: str | None = None
) -> tuple[SpanRecord, TraceWriter] | None:
    """Open the client span of a call and put its context into the call's headers.

    Without a configured writer no span is made, but a trace being continued still goes on.
    """
    try:
        writer = api.get_store()
        if writer is None:
            inject(headers)
            return None
        method = method.upper()
        attributes, host, path = _where(url)
        attributes["http.request.method"] = method
        if template:
            attributes["url.template"] = template
        record = SpanRecord(f"{method} {host}{template or path}", current.get(), attributes)
        record.kind = "client"
        writer.begin(record)
        inject(headers, record)
        return record, writer
    except Exception:
        return None


def _finish(
    call: tuple[SpanRecord, TraceWriter], status_code: int | None, exc: BaseException | None = None
) -> None:
    """End the client span with the answer's status code, or the exception the call raised."""
    record, writer = call
    try:
        if exc is not None:
            record.fail(exc)
            record.set_attribute("error.type", type(exc).__qualname__)
        elif status_code is not None:
            record.set_attribute("http.response.status_code", status_code)
            if status_code >= 500:
                record.status = "error"
                record.error_message = f"HTTP {status_code}"
                record.set_attribute("error.type", str(status_code))
        writer.end(record)
    except Exception:
        pass


def _template(request: Any) -> str | None:
    try:
        value = request.extensions.get("url_template")
    except Exception:
        return None
    return value if isinstance(value, str) and value else None


def _install(name: str, patch: Callable[[], Callable[[], None] | None]) -> Callable[[], None]:
    """Run `patch` once per library; the undo it returns is handed to every caller."""
    with _lock:
        undo = _undo.get(name)
        if undo is not None:
            return undo
        try:
            restore = patch()
        except ImportError:
            return _nothing
        if restore is None:
            return _nothing

        def undo() -> None:
            with _lock:
                if _undo.get(name) is undo:
                    del _undo[name]
                    restore()

        _undo[name] = undo
        return undo


def _swap(owner: type, attr: str, wrapper: Any) -> Callable[[], None]:
    """Put `wrapper` in place of `owner.attr`; the returned function puts the original back."""
    original = owner.__dict__[attr]
    setattr(owner, attr, wrapper)

    def restore() -> None:
        if owner.__dict__.get(attr) is wrapper:
            setattr(owner, attr, original)

    return restore


def instrument_httpx() -> Callable[[], None]:
    """Make a client span of every `httpx.Client` and `httpx.AsyncClient` request (idempotent).

    Returns the function that undoes it. Redirects and auth retries of one `send` are one span.
    """

    def patch() -> Callable[[], None]:
        import httpx

        sync_send = httpx.Client.send
        async_send = httpx.AsyncClient.send

        @functools.wraps(sync_send)
        def send(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
            call = _start(request.method, str(request.url), request.headers, _template(request))
            if call is None:
                return sync_send(self, request, *args, **kwargs)
            try:
                response = sync_send(self, request, *args, **kwargs)
            except BaseException as exc:
                _finish(call, None, exc)
                raise
            _finish(call, response.status_code)
            return response

        @functools.wraps(async_send)
        async def send_async(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
            call = _start(request.method, str(request.url), request.headers, _template(request))
            if call is None:
                return await async_send(self, request, *args, **kwargs)
            try:
                response = await async_send(self, request, *args, **kwargs)
            except BaseException as exc:
                _finish(call, None, exc)
                raise
            _finish(call, response.status_code)
            return response

        restores = (_swap(httpx.Client, "send", send), _swap(httpx.AsyncClient, "send", send_async))

        def restore_both() -> None:
            for restore in restores:
                restore()

        return restore_both

    return _install("httpx", patch)


def instrument_requests() -> Callable[[], None]:
    """Make a client span of every `requests` call (each redirect hop its own), idempotently.

    Returns the function that undoes it.
    """

    def patch() -> Callable[[], None]:
        import requests

        original = requests.Session.send

        @functools.wraps(original)
        def send(self: Any, request: Any, **kwargs: Any) -> Any:
            call = _start(request.method or "GET", request.url or "", request.headers)
            if call is None:
                return original(self, request, **kwargs)
            try:
                response = original(self, request, **kwargs)
            except BaseException as exc:
                _finish(call, None, exc)
                raise
            _finish(call, response.status_code)
            return response

        return _swap(requests.Session, "send", send)

    return _install("requests", patch)
