"""Tests of the dashboard's data side (lens_tui.live) on real SQLite files."""
