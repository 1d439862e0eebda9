"""lens_tui: a live terminal dashboard for traces and logs, and the tracing library that feeds it."""

__version__ = "0.1.0"
