"""Tests of lens_tui.otel: SDK exporters, the OTLP/HTTP receiver, OTLP JSON export."""
