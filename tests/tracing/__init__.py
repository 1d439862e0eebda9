"""Tests of lens_tui.tracing and the schema, on real SQLite files."""
