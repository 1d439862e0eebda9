"""An OpenTelemetry-instrumented caller: `python otel_client.py OTLP_URL TARGET_URL`.

The SDK with the OTLP/HTTP exporter, httpx instrumented by opentelemetry-instrumentation-httpx;
one root span around one GET of TARGET_URL. Prints the root's trace and span ids, then exports
everything before it exits.
"""

from __future__ import annotations

import sys

import httpx
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor


def main() -> None:
    otlp, target = sys.argv[1], sys.argv[2]
    provider = TracerProvider(resource=Resource.create({"service.name": "otel-front"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{otlp}/v1/traces")))
    trace.set_tracer_provider(provider)
    HTTPXClientInstrumentor().instrument()
    tracer = trace.get_tracer("otel-front")
    with tracer.start_as_current_span("otel checkout") as root:
        status = httpx.get(target, timeout=10).status_code
    context = root.get_span_context()
    print(f"{context.trace_id:032x} {context.span_id:016x} {status}", flush=True)
    provider.shutdown()


if __name__ == "__main__":
    main()
