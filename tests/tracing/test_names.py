"""The writer's names: `TraceWriter`, and its former ones for code written against them."""

from __future__ import annotations

from pathlib import Path

from lens_tui import tracing
from lens_tui.tracing import sql, writer
from lens_tui.tracing.context import SpanRecord

from .conftest import scalar


def test_former_names_are_the_writer_and_still_write(tmp_path: Path) -> None:
    from lens_tui.tracing.store import FORK_WAIT_S, TraceStore, TraceWriter, open_writable

    assert (
        TraceStore is TraceWriter is writer.TraceWriter is tracing.TraceWriter is tracing.TraceStore
    )
    assert open_writable is sql.open_writable and FORK_WAIT_S > 0
    db = tmp_path / "former.db"
    old = TraceStore(db, service="former", flush_interval=0.02, retention_days=None)
    try:
        record = SpanRecord("through the former name", None, {"k": 1})
        old.begin(record)
        old.end(record)
        assert old.flush()
    finally:
        assert old.shutdown()
    assert (
        scalar(db, "SELECT service FROM spans WHERE name = ?", ("through the former name",))
        == "former"
    )
