"""Two small HTTP services run by uvicorn in their own processes, for the distributed-trace tests.

`python services.py ROLE --db DB [--flush S] [--peer URL] [--otlp URL]` binds a loopback port,
prints `listening on http://127.0.0.1:PORT` on stdout, and serves until SIGTERM.

Roles:
- `front` (lens): calls the peer with instrumented httpx (sync, async) or requests;
- `back` (lens): answers items, fails on /boom;
- `otel-back` (OpenTelemetry): an ASGI app under OpenTelemetry's ASGI middleware, exporting
  through the OTLP/HTTP exporter to `--otlp` (a `lens-tui otlp` writing the same file).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
import time
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from lens_tui import tracing
from lens_tui.tracing import LensMiddleware, lens_fn


def front(peer: str) -> Starlette:
    """Calls `peer`: GET /via/{library}/{item} (library: httpx, httpx-async, requests)."""
    import httpx
    import requests

    tracing.instrument_httpx()
    tracing.instrument_requests()

    def call_sync(library: str, path: str) -> int:
        if library == "requests":
            return int(requests.get(peer + path, timeout=10).status_code)
        with httpx.Client(timeout=10) as client:
            return int(client.get(peer + path).status_code)

    async def via(request: Request) -> PlainTextResponse:
        library, item = request.path_params["library"], request.path_params["item"]
        path = f"/items/{item}" if item != "boom" else "/boom"
        if library == "httpx-async":
            async with httpx.AsyncClient(timeout=10) as client:
                status = (await client.get(peer + path)).status_code
        else:
            # A blocking client belongs in a worker thread; the context goes with it.
            status = await asyncio.to_thread(call_sync, library, path)
        linger = float(request.query_params.get("linger", "0"))
        if linger:
            await asyncio.sleep(linger)  # the root stays open after the call returned
        return PlainTextResponse(f"peer said {status}", status_code=200 if status < 500 else 502)

    return Starlette(routes=[Route("/via/{library}/{item}", via)])


@lens_fn("load_item")
async def load_item(item: str) -> dict[str, Any]:
    await asyncio.sleep(0.001)
    return {"item": item}


def back() -> Starlette:
    """GET /items/{item} answers JSON (a child span does the work); GET /boom raises (500)."""

    async def item(request: Request) -> JSONResponse:
        return JSONResponse(await load_item(request.path_params["item"]))

    async def boom(request: Request) -> JSONResponse:
        raise RuntimeError("the back end broke")

    return Starlette(routes=[Route("/items/{item}", item), Route("/boom", boom)])


def otel_back(otlp: str) -> Any:
    """An OpenTelemetry-instrumented service: the SDK, the ASGI middleware, the OTLP exporter."""
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": "otel-back"}))
    provider.add_span_processor(
        BatchSpanProcessor(
            OTLPSpanExporter(endpoint=f"{otlp}/v1/traces"), schedule_delay_millis=100
        )
    )
    trace.set_tracer_provider(provider)
    tracer = trace.get_tracer("otel-back")

    async def item(request: Request) -> JSONResponse:
        with tracer.start_as_current_span("otel_load_item"):
            await asyncio.sleep(0.001)
        return JSONResponse({"item": request.path_params["item"]})

    return OpenTelemetryMiddleware(Starlette(routes=[Route("/items/{item}", item)]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=("front", "back", "otel-back"))
    parser.add_argument("--db", required=True)
    parser.add_argument(
        "--flush", type=float, default=0.05, help="the lens writer's flush interval"
    )
    parser.add_argument("--peer", default="")
    parser.add_argument("--otlp", default="")
    args = parser.parse_args()

    if args.role == "otel-back":
        app = otel_back(args.otlp)
    else:
        tracing.configure(args.db, service=args.role, flush_interval=args.flush)
        app = front(args.peer) if args.role == "front" else back()
        app.add_middleware(LensMiddleware)

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    print(f"listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    started = time.monotonic()
    server.run(sockets=[sock])
    if args.role != "otel-back":
        tracing.shutdown()
    else:
        from opentelemetry import trace

        trace.get_tracer_provider().shutdown()  # type: ignore[attr-defined]
    print(f"stopped after {time.monotonic() - started:.1f}s", file=sys.stderr, flush=True)
    os._exit(0)


if __name__ == "__main__":
    main()
