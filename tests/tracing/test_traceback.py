"""Stored tracebacks start at the application's frames, not inside lens_tui's own wrappers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from lens_tui import tracing
from lens_tui.tracing import lens_fn, span
from lens_tui.tracing.writer import TraceWriter

from .conftest import read


def _fail_deeper() -> None:
    raise KeyError("missing price")


@lens_fn("sync work")
def sync_work() -> None:
    _fail_deeper()


@lens_fn("async work")
async def async_work() -> None:
    _fail_deeper()


def test_tracebacks_skip_our_wrapper_frames(db_path: Path, store: TraceWriter) -> None:
    with pytest.raises(KeyError):
        sync_work()
    with pytest.raises(KeyError):
        asyncio.run(async_work())
    with pytest.raises(KeyError), span("block"):
        _fail_deeper()
    assert tracing.flush()
    rows = {r["name"]: r["traceback"] for r in read(db_path, "SELECT name, traceback FROM spans")}
    for name, first_function in (
        ("sync work", "sync_work"),
        ("async work", "async_work"),
        ("block", "test_tracebacks_skip_our_wrapper_frames"),
    ):
        text = rows[name]
        assert "lens_tui/tracing" not in text, text
        frames = [line for line in text.splitlines() if line.startswith("  File ")]
        assert frames[0].endswith(f"in {first_function}")
        assert frames[-1].endswith("in _fail_deeper")
        assert text.rstrip().endswith("KeyError: 'missing price'")
