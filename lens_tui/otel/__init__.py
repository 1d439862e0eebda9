"""OpenTelemetry in and out: SDK exporters into the lens store, an OTLP/HTTP receiver, OTLP JSON export.

Needs the `lens-tui[otel]` extra (opentelemetry-sdk, opentelemetry-proto). Never imports textual
or rich. The SDK exporters load lazily, so the receiver (`lens_tui.otel.receiver`) and the
OTLP JSON producer (`lens_tui.otel.otlp_json`) do not pay for importing the SDK.

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
