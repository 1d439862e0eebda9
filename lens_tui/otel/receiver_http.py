"""The OTLP receiver's HTTP side: a server with a connection cap, one handler per connection, replies.

Every read has a socket timeout and every request a deadline (slow loris), bodies are bounded as
sent (413), and a broken request only ends its own connection. What a request carries goes to
`OTLPReceiver.accept`; how its outcome is counted, to the receiver's counters.
"""

from __future__ import annotations

import io
import json
import socket
import socketserver
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from google.protobuf import json_format
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from lens_tui.otel import otlp_decode
from lens_tui.otel.otlp_decode import JSON, PROTOBUF, PayloadError

if TYPE_CHECKING:
    from lens_tui.otel.receiver import OTLPReceiver

PATHS = {"/v1/traces": "traces", "/v1/logs": "logs"}
"""The endpoints, by path, and the signal each takes."""
_CONTENT_TYPES = {
    "application/x-protobuf": PROTOBUF,
    "application/protobuf": PROTOBUF,
    "application/json": JSON,
}


# -- replies -------------------------------------------------------------------------------------


def success_reply(signal: str, content_type: str, rejected: int, error: str | None) -> bytes:
    """The OTLP Export*ServiceResponse, with partial_success when some items were refused."""
    if signal == "traces":
        reply: Message = ExportTraceServiceResponse()
        if rejected:
            reply.partial_success.rejected_spans = rejected
            reply.partial_success.error_message = error or ""
    else:
        reply = ExportLogsServiceResponse()
        if rejected:
            reply.partial_success.rejected_log_records = rejected
            reply.partial_success.error_message = error or ""
    if content_type == PROTOBUF:
        return reply.SerializeToString()
    return json.dumps(json_format.MessageToDict(reply)).encode()


_GRPC_CODES = {
    400: 3,
    401: 16,
    403: 7,
    404: 5,
    405: 12,
    408: 4,
    411: 3,
    413: 8,
    415: 3,
    429: 8,
    500: 13,
    503: 14,
}
"""google.rpc.Code for each HTTP status we send (INVALID_ARGUMENT, UNAUTHENTICATED, …)."""


def status_body(http_status: int, message: str, content_type: str) -> bytes:
    """A google.rpc.Status body (code, message) in protobuf or JSON, as OTLP/HTTP asks on errors.

    Encoded by hand (two fields) so the `googleapis-common-protos` package is not needed.
    """
    code = _GRPC_CODES.get(http_status, 2)
    if content_type == PROTOBUF:
        text = message.encode("utf-8", "replace")
        return bytes((0x08, code)) + b"\x12" + _varint(len(text)) + text
    return json.dumps({"code": code, "message": message}).encode()


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


# -- server and handler --------------------------------------------------------------------------


class ReceiverServer(ThreadingHTTPServer):
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

    def track(self, handler: _Handler) -> None:
        """Count a connection's handler among the open ones (see close_idle_connections)."""
        with self._active_lock:
            self.handlers.add(handler)

    def untrack(self, handler: _Handler) -> None:
        """Forget a connection's handler: its connection is closing."""
        with self._active_lock:
            self.handlers.discard(handler)

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
        """Wait (bounded) for running requests to finish, so their items reach the writer."""
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
    server: ReceiverServer
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
        self.server.track(self)

    def finish(self) -> None:
        self.server.untrack(self)
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
        signal = PATHS.get(self.path.split("?", 1)[0].rstrip("/") or "/")
        try:
            if signal is None:
                raise PayloadError(
                    404, f"no such endpoint {self.path[:100]!r} (POST /v1/traces or /v1/logs)"
                )
            self._precheck()
            content_type = self._reply_type
            body = otlp_decode.decompress(
                self._read_body(), self.headers.get("Content-Encoding"), receiver.max_body_bytes
            )
            request = otlp_decode.parse(body, content_type, otlp_decode.new_request(signal))
            mapped = (
                otlp_decode.spans_of(request)
                if signal == "traces"
                else otlp_decode.logs_of(request)
            )  # type: ignore[arg-type]
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
        reply = success_reply(signal, content_type, mapped.rejected, mapped.error)
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
                415,
                f"unsupported Content-Type {raw_type[:100]!r} (application/x-protobuf or application/json)",
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
        if self.command == "POST" and PATHS.get(self.path.split("?", 1)[0].rstrip("/")):
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
        known = self.path.split("?", 1)[0].rstrip("/") in PATHS
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
        self._send(
            status, status_body(status, message, self._reply_type), self._reply_type, headers
        )

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
