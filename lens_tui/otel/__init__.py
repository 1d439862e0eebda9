"""OpenTelemetry in and out: SDK exporters, an OTLP/HTTP receiver, one trace as OTLP JSON.

Needs the `lens-tui[otel]` extra (opentelemetry-sdk, opentelemetry-proto). Never imports textual
or rich. The SDK exporters (sdk.py) load lazily, so the receiver (receiver.py, its HTTP side in
receiver_http.py, request decoding in otlp_decode.py) and the OTLP JSON producer (otlp_export.py)
do not pay for importing the SDK; mapping.py holds what they all map alike.

    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from lens_tui.otel import LensSpanExporter

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(LensSpanExporter("traces.db")))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lens_tui.otel.sdk import LensLogExporter, LensSpanExporter

__all__ = ["LensLogExporter", "LensSpanExporter"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from lens_tui.otel import sdk

        return getattr(sdk, name)
    raise AttributeError(f"module 'lens_tui.otel' has no attribute {name!r}")
