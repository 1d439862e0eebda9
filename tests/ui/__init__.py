"""Tests of the Textual dashboard (lens_tui.ui)."""
