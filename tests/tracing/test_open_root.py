"""A trace whose root span is still open is named after it as soon as any child is written."""

from __future__ import annotations

from pathlib import Path

from lens_tui import tracing
from lens_tui.tracing import lens_fn, span
from lens_tui.tracing.writer import TraceWriter

from .conftest import read, trace_row


def test_trace_in_flight_is_named_after_its_open_root(db_path: Path, store: TraceWriter) -> None:
    seen: dict[str, object] = {}

    @lens_fn("GET /slow")
    def handler() -> str:
        with span("child"):
            pass
        assert tracing.flush()  # the child is committed while the root is still open
        holder = tracing.current_span()
        assert holder is not None
        seen.update(trace_row(db_path, holder.trace_id))
        seen["root_rows"] = read(db_path, "SELECT status FROM spans WHERE name = 'GET /slow'")
        return holder.trace_id

    trace_id = handler()
    assert seen["root_span_name"] == "GET /slow"
    assert seen["status"] == "running"
    assert seen["duration_ms"] is None
    assert seen["span_count"] == 1
    # The root itself was not written early: a short span still costs one write.
    assert seen["root_rows"] == []

    assert tracing.flush()
    done = trace_row(db_path, trace_id)
    assert (done["root_span_name"], done["status"], done["span_count"]) == ("GET /slow", "ok", 2)
    assert done["duration_ms"] is not None
