"""An OTLP/HTTP receiver (`POST /v1/traces`, `/v1/logs`) that writes into a lens trace database.

Built on the stdlib `ThreadingHTTPServer` (one thread per connection, HTTP/1.1 keep-alive): at
512 spans per request the per-request cost is small next to the parsing and writing, so a faster
server would buy nothing measurable. It defends itself against misbehaving senders: every read
has a socket timeout and every request a deadline (slow loris), connections are capped, bodies
are bounded before and after decompression (413), and a broken request only ends its own
connection. `start()`/`stop()` run it in a background thread (the dashboard's `--otlp`);
`serve_forever()` runs it in the caller's thread (`lens-tui otlp`).
"""

from __future__ import annotations

import hmac
import io
import os
import socket
import socketserver
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TextIO

from lens_tui.otel import otlp
from lens_tui.otel.otlp import JSON, PROTOBUF, PayloadError
from lens_tui.tracing.store import TraceStore, open_writable

DEFAULT_PORT = 4318
DEFAULT_MAX_BODY_BYTES = 20 * 1024 * 1024
"""The OpenTelemetry Collector's default request limit; applies to the body as sent and inflated."""

_PATHS = {"/v1/traces": "traces", "/v1/logs": "logs"}
_CONTENT_TYPES = {"application/x-protobuf": PROTOBUF, "application/protobuf": PROTOBUF, "application/json": JSON}
_LOOPBACK = ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True, slots=True)
class ReceiverStats:
    """What the receiver has taken in so far (a snapshot)."""

    requests: int = 0
    spans: int = 0
    logs: int = 0
    rejected_spans: int = 0
    rejected_logs: int = 0
    refused: dict[int, int] = field(default_factory=dict)
    """Requests answered with an error, by HTTP status (408 and 499 count timeouts and aborts)."""
    connections_refused: int = 0
    last_error: str | None = None

    def describe(self) -> str:
        """One line for a person: `1,024 spans, 12 logs in 3 requests (…)`."""
        text = f"{self.spans:,} spans, {self.logs:,} logs in {self.requests:,} requests"
        extra = []
        if self.rejected_spans or self.rejected_logs:
            extra.append(f"{self.rejected_spans:,} spans and {self.rejected_logs:,} logs rejected")
        if self.refused:
            codes = ", ".join(f"{n}×{code}" for code, n in sorted(self.refused.items()))
            extra.append(f"refused {codes}")
        if self.connections_refused:
            extra.append(f"{self.connections_refused:,} connections over the limit")
        return text + (f" ({'; '.join(extra)})" if extra else "")


class _Counters:
    """Mutable totals behind ReceiverStats, updated once per request under a lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = self.spans = self.logs = 0
        self.rejected_spans = self.rejected_logs = self.connections_refused = 0
        self.refused: dict[int, int] = {}
        self.last_error: str | None = None

    def snapshot(self) -> ReceiverStats:
        with self.lock:
            return ReceiverStats(
                self.requests, self.spans, self.logs, self.rejected_spans, self.rejected_logs,
                dict(self.refused), self.connections_refused, self.last_error,
            )


class OTLPReceiver:
    """Receives OTLP/HTTP traces and logs (protobuf or JSON, gzip or deflate) into a trace database.

    Give it a database path (it runs its own TraceStore there, batching every `flush_interval`
    seconds, and shuts it down on `stop()`) or a `store`. Loopback by default; with `token`,
    requests need `Authorization: Bearer <token>`. Limits: `max_body_bytes` (as sent and as
    inflated), `io_timeout` per read, `request_timeout` per request, `max_connections`; when the
    store's queue is full a request waits up to `backpressure_wait` seconds, then gets 503.
    """

    def __init__(
        self,
        db_path: str | os.PathLike[str] | None = None,
        *,
        store: TraceStore | None = None,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        token: str | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        io_timeout: float = 10.0,
        request_timeout: float = 60.0,
        max_connections: int = 32,
        backpressure_wait: float = 5.0,
        flush_interval: float = 0.1,
        stderr: TextIO | None = None,
    ) -> None:
        if store is None and db_path is None:
            raise ValueError("OTLPReceiver needs a db_path or a store")
        self.db_path = None if db_path is None else Path(db_path).expanduser()
        self.host = host
        self.requested_port = port
        self.token = token.encode() if token else None
        self.max_body_bytes = max_body_bytes
        self.io_timeout = io_timeout
        self.request_timeout = request_timeout
        self.max_connections = max_connections
        self.backpressure_wait = backpressure_wait
        self.flush_interval = flush_interval
        self._stderr = stderr
        self._given_store = store
        self.store: TraceStore | None = store
        self._counters = _Counters()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._serving_in: threading.Thread | None = None
        self._stopped = False

    # -- lifecycle -----------------------------------------------------------------------------

    def bind(self) -> None:
        """Open the store (creating the database) and listen; OSError if the port is taken."""
        if self._stopped:
            raise RuntimeError("this OTLPReceiver was stopped; make a new one")
        if self._server is not None:
            return
        if self.store is None:
            assert self.db_path is not None
            # Create and migrate the file now: errors show at start, and a dashboard in the same
            # process finds the database before the first span arrives.
            open_writable(self.db_path).close()
            self.store = TraceStore(self.db_path, flush_interval=self.flush_interval, stderr=self._stderr)
        self._server = _Server(self)

    def start(self) -> OTLPReceiver:
        """Bind and serve in a daemon thread; returns at once (the port is open by then)."""
        self.bind()
        assert self._server is not None
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                name="lens-otlp-receiver", daemon=True,
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Bind and serve in this thread until `stop()` (from another thread) or Ctrl+C."""
        self.bind()
        assert self._server is not None
        self._serving_in = threading.current_thread()
        try:
            self._server.serve_forever(poll_interval=0.2)
        finally:
            self._serving_in = None

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop listening, let running requests finish briefly, flush; True if all was written.

        A receiver runs once: after stop() it cannot be started again.
        """
        if self._stopped:
            return True
        self._stopped = True
        server = self._server
        if server is not None:
            serving_in = self._serving_in
            if self._thread is not None or (serving_in is not None and serving_in is not threading.current_thread()):
                # Safe even before serve_forever has begun: it sees the request and returns.
                server.shutdown()  # blocks until serve_forever returns
            if self._thread is not None:
                self._thread.join(timeout)
            server.server_close()
            server.close_idle_connections()
            server.wait_idle(min(timeout, 2.0))
        store = self.store
        if store is None:
            return True
        if self._given_store is None:
            return store.shutdown(timeout)
        return store.flush(timeout)

    def __enter__(self) -> OTLPReceiver:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port listened on (the real one when asked for port 0)."""
        return self._server.server_address[1] if self._server is not None else self.requested_port

    @property
    def url(self) -> str:
        """`http://host:port`, the base URL senders append `/v1/traces` to."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def stats(self) -> ReceiverStats:
        """Totals so far."""
        return self._counters.snapshot()

    @property
    def loopback(self) -> bool:
        """True when only this machine can connect."""
        return self.host in _LOOPBACK or self.host.startswith("127.")

    # -- called by request handlers ------------------------------------------------------------

    def authorised(self, header: str | None) -> bool:
        """Whether an Authorization header carries the token (constant-time compare)."""
        if self.token is None:
            return True
        if not header:
            return False
        scheme, _, credentials = header.strip().partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(credentials.strip().encode("utf-8", "replace"), self.token)

    def accept(self, signal: str, mapped: otlp.Mapped) -> None:
        """Queue a request's spans or logs in the store, waiting for the writer when it is behind."""
        store = self.store
        assert store is not None
        items = mapped.items
        if items:
            limit = store.max_queue
            if store.backlog + len(items) > limit:
                # Back-pressure: hold this reply (so the sender waits) until the writer catches
                # up; if it does not, ask the sender to retry later rather than drop silently.
                store.flush(self.backpressure_wait)
                if store.backlog + len(items) > limit:
                    raise PayloadError(503, "the trace store is behind; retry later")
            if signal == "traces":
                record = store.record_span
                for span in items:
                    record(span)
            else:
                log = store.log
                for e in items:
                    log(
                        e.level, e.message, timestamp_ms=e.timestamp_ms, trace_id=e.trace_id,
                        span_id=e.span_id, logger=e.logger, source_location=e.source_location,
                        attributes=e.attributes, exception_type=e.exception_type,
                        traceback=e.traceback, service=e.service,
                    )
        counters = self._counters
        with counters.lock:
            counters.requests += 1
            if signal == "traces":
                counters.spans += len(items)
                counters.rejected_spans += mapped.rejected
            else:
                counters.logs += len(items)
                counters.rejected_logs += mapped.rejected

    def count_refused(self, status: int, reason: str) -> None:
        """Count a request answered with an error (or dropped: 408 timeout, 499 aborted)."""
        counters = self._counters
        with counters.lock:
            counters.refused[status] = counters.refused.get(status, 0) + 1
            counters.last_error = f"{status} {reason}"[:300]

    def count_connection_refused(self) -> None:
        """Count a connection closed because max_connections were open."""
        with self._counters.lock:
            self._counters.connections_refused += 1


def start_in_background(
    db_path: str | os.PathLike[str],
    port: int = DEFAULT_PORT,
    *,
    host: str = "127.0.0.1",
    token: str | None = None,
) -> OTLPReceiver:
    """A started receiver for a process that owns the terminal (the dashboard's `--otlp`).

    Nothing is ever printed: problems show in `stats.last_error` and `store.last_error`.
    Raises OSError (port taken) or apsw.Error (database unusable) before returning; call
    `stop()` on exit to flush.
    """
    receiver = OTLPReceiver(db_path, host=host, port=port, token=token, stderr=io.StringIO())
    try:
        return receiver.start()
    except BaseException:
        receiver.stop()
        raise


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer with a connection cap, quiet errors, and no reverse DNS at bind."""

    daemon_threads = True
    block_on_close = False  # stop() must not wait for a slow sender
    request_queue_size = 128

    def __init__(self, receiver: OTLPReceiver) -> None:
        self.receiver = receiver
        self._active = 0
        self._active_lock = threading.Condition()
        self.handlers: set[_Handler] = set()
        self.address_family = socket.AF_INET6 if ":" in receiver.host else socket.AF_INET
        super().__init__((receiver.host, receiver.requested_port), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a reverse DNS lookup that can stall.
        socketserver.TCPServer.server_bind(self)
        self.server_name = self.receiver.host
        self.server_port = self.server_address[1]

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._active_lock:
            if self._active >= self.receiver.max_connections:
                refused = True
            else:
                refused = False
                self._active += 1
        if refused:
            self.receiver.count_connection_refused()
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._release()
            self.shutdown_request(request)
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._release()

    def _release(self) -> None:
        with self._active_lock:
            self._active -= 1
            self._active_lock.notify_all()

    def close_idle_connections(self) -> None:
        """End keep-alive connections waiting for a next request, so stop() need not wait for them."""
        with self._active_lock:
            handlers = list(self.handlers)
        for handler in handlers:
            if not handler.busy:
                try:
                    handler.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def wait_idle(self, timeout: float) -> None:
        """Wait (bounded) for running requests to finish, so their items reach the store."""
        deadline = time.monotonic() + timeout
        with self._active_lock:
            while self._active > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                self._active_lock.wait(remaining)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A connection that broke (reset, timeout, garbage) must not print tracebacks into the
        # dashboard or the terminal: count it and go on.
        exc = sys.exc_info()[1]
        self.receiver.count_refused(499, f"connection error: {type(exc).__name__}: {exc}")


class _DeadlineReader(io.RawIOBase):
    """A socket reader that gives up at the handler's deadline, however slowly bytes trickle in."""

    def __init__(self, sock: socket.socket, handler: _Handler) -> None:
        self._sock = sock
        self._handler = handler

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        remaining = self._handler.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("request deadline passed")
        self._sock.settimeout(min(self._handler.server.receiver.io_timeout, remaining))
        received = self._sock.recv_into(buffer)
        self._handler.received += received
        return received


class _BodyGone(Exception):
    """The sender went away in the middle of its body: nobody is left to answer."""


class _Handler(BaseHTTPRequestHandler):
    """One connection: OTLP exports in, OTLP replies out."""

    protocol_version = "HTTP/1.1"
    server_version = "lens-tui-otlp"
    sys_version = ""
    server: _Server
    deadline = 0.0
    received = 0
    """Bytes read since the current request began (0: an idle keep-alive connection)."""
    busy = False
    """True from a request line read to its reply sent; idle keep-alive connections are False."""

    @property
    def timeout(self) -> float:  # type: ignore[override]
        return self.server.receiver.io_timeout

    def setup(self) -> None:
        super().setup()
        self.rfile = io.BufferedReader(_DeadlineReader(self.connection, self), 65536)
        with self.server._active_lock:
            self.server.handlers.add(self)

    def finish(self) -> None:
        with self.server._active_lock:
            self.server.handlers.discard(self)
        super().finish()

    def handle_one_request(self) -> None:
        self.deadline = time.monotonic() + self.server.receiver.request_timeout
        self._body_read = False
        self._reply_type = JSON
        self.busy = False
        self.received = 0
        super().handle_one_request()

    def parse_request(self) -> bool:
        self.busy = True  # a request line has arrived
        return super().parse_request()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # quiet: the dashboard owns the terminal; outcomes are counted instead

    def log_error(self, format: str, *args: Any) -> None:  # noqa: A002
        # Called by the stdlib for requests it refuses itself (bad request line, too many
        # headers: `send_error`) and for timeouts while reading headers.
        if "timed out" in format:
            if self.busy or self.received:  # else an idle keep-alive connection closing: normal
                self.server.receiver.count_refused(408, "request timed out")
        elif format.startswith("code %d") and args:
            self.server.receiver.count_refused(int(args[0]), str(args[1]) if len(args) > 1 else "")

    # -- methods -------------------------------------------------------------------------------

    def do_POST(self) -> None:
        receiver = self.server.receiver
        signal = _PATHS.get(self.path.split("?", 1)[0].rstrip("/") or "/")
        try:
            if signal is None:
                raise PayloadError(404, f"no such endpoint {self.path[:100]!r} (POST /v1/traces or /v1/logs)")
            self._precheck()
            content_type = self._reply_type
            body = otlp.decompress(
                self._read_body(), self.headers.get("Content-Encoding"), receiver.max_body_bytes
            )
            request = otlp.parse(body, content_type, otlp.new_request(signal))
            mapped = otlp.spans_of(request) if signal == "traces" else otlp.logs_of(request)  # type: ignore[arg-type]
            receiver.accept(signal, mapped)
        except PayloadError as exc:
            self._error(exc.status, exc.message)
            return
        except _BodyGone as exc:
            receiver.count_refused(499, str(exc))
            self.close_connection = True
            return
        except TimeoutError:
            self._error(408, "request body timed out")
            return
        except Exception as exc:  # a bug of ours must cost one request, not the connection thread
            self._error(500, f"internal error: {type(exc).__name__}: {exc}"[:300])
            return
        reply = otlp.success_reply(signal, content_type, mapped.rejected, mapped.error)
        self._send(200, reply, content_type)

    def _precheck(self) -> None:
        """Refuse before reading the body: auth, then content type, then declared size."""
        receiver = self.server.receiver
        raw_type = (self.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
        content_type = _CONTENT_TYPES.get(raw_type)
        self._reply_type = content_type or JSON
        if not receiver.authorised(self.headers.get("Authorization")):
            raise PayloadError(401, "missing or wrong bearer token")
        if content_type is None:
            raise PayloadError(
                415, f"unsupported Content-Type {raw_type[:100]!r} (application/x-protobuf or application/json)"
            )
        length = self.headers.get("Content-Length")
        if length is not None:
            try:
                size = int(length)
            except ValueError:
                raise PayloadError(400, "invalid Content-Length") from None
            if size < 0:
                raise PayloadError(400, "invalid Content-Length")
            if size > receiver.max_body_bytes:
                raise PayloadError(413, f"body of {size} bytes exceeds {receiver.max_body_bytes}")
        elif "chunked" not in (self.headers.get("Transfer-Encoding") or "").lower():
            raise PayloadError(411, "Content-Length required")

    def handle_expect_100(self) -> bool:
        # `Expect: 100-continue`: refuse before the sender uploads a body we would not read.
        if self.command == "POST" and _PATHS.get(self.path.split("?", 1)[0].rstrip("/")):
            try:
                self._precheck()
            except PayloadError as exc:
                self._error(exc.status, exc.message)
                return False
        return super().handle_expect_100()

    def _read_body(self) -> bytes:
        limit = self.server.receiver.max_body_bytes
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            body = self._read_chunked(limit)
        else:
            size = int(self.headers["Content-Length"])
            body = self._read_exact(size)
        self._body_read = True
        return body

    def _read_exact(self, size: int) -> bytes:
        data = self.rfile.read(size) if size else b""
        if len(data) < size:
            raise _BodyGone(f"sender disconnected after {len(data)} of {size} body bytes")
        return data

    def _read_chunked(self, limit: int) -> bytes:
        out = bytearray()
        while True:
            line = self.rfile.readline(1026)
            if not line:
                raise _BodyGone("sender disconnected inside a chunked body")
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise PayloadError(400, "malformed chunked body") from None
            if size < 0:
                raise PayloadError(400, "malformed chunked body")
            if size == 0:
                break
            if len(out) + size > limit:
                raise PayloadError(413, f"chunked body exceeds {limit} bytes")
            out += self._read_exact(size)
            if self.rfile.readline(3) not in (b"\r\n", b"\n"):
                raise PayloadError(400, "malformed chunked body")
        for _ in range(100):  # trailers, ignored
            line = self.rfile.readline(65537)
            if line in (b"\r\n", b"\n", b""):
                break
        return bytes(out)

    def _not_post(self) -> None:
        known = self.path.split("?", 1)[0].rstrip("/") in _PATHS
        if known:
            self._error(405, f"{self.command} not allowed (POST only)", extra={"Allow": "POST"})
        else:
            self._error(404, f"no such endpoint {self.path[:100]!r}")

    do_GET = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _not_post

    # -- replies -------------------------------------------------------------------------------

    def _error(self, status: int, message: str, extra: dict[str, str] | None = None) -> None:
        receiver = self.server.receiver
        receiver.count_refused(status, message)
        headers = dict(extra or {})
        if status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="lens-tui otlp"'
        if status == 503:
            headers["Retry-After"] = "1"
        if not self._body_read:
            # The body (if any) is still on the wire: the connection cannot carry another request.
            self.close_connection = True
            headers["Connection"] = "close"
        self._send(status, otlp.status_body(status, message, self._reply_type), self._reply_type, headers)

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except OSError:
            self.close_connection = True  # the sender is gone; nothing to tell it
