"""Totals for the header line: row counts by rowid range, the writers table, the last write."""

from __future__ import annotations

from lens_tui.schema import ORIGINAL_TABLES, Log, Span, Trace, Writer
from lens_tui.store.connection import ROWID, Database, Read
from lens_tui.store.decode import WRITER_COLUMNS, as_ms, writer_info
from lens_tui.store.records import StoreStats, WriterInfo


def stats(db: Database) -> StoreStats:
    """Approximate totals (rowid ranges: O(log n)) and the writers table when present."""
    with db.read() as tx:
        if tx is None:
            return StoreStats(traces=0, spans=0, logs=0, last_write_at=None)
        totals = []
        for table in ORIGINAL_TABLES:
            low, high = tx.rowid_range(table)
            totals.append(high - low + 1 if high else 0)
        writers: tuple[WriterInfo, ...] = ()
        if tx.layout.has_table("writers"):
            query = (
                tx.select(Writer, WRITER_COLUMNS).order_by(Writer.last_write_at.desc()).limit(100)
            )
            writers = tuple(writer_info(r) for r in tx.fetch(query))
        # Writers record when they last wrote; rows carry their own (possibly skewed) times.
        last = max((w.last_write_at for w in writers), default=None)
        if last is None:
            last = _newest_row_time(tx)
    return StoreStats(
        traces=totals[0],
        spans=totals[1],
        logs=totals[2],
        last_write_at=last,
        dropped=sum(w.dropped for w in writers),
        writers=writers,
    )


def _newest_row_time(tx: Read) -> float | None:
    """The time of the newest rows (by rowid: O(log n), no index needed)."""
    times: list[float] = []
    probes = (
        (Trace, ("started_at", "ended_at", "updated_at")),
        (Span, ("started_at", "updated_at")),
        (Log, ("timestamp",)),
    )
    for model, wanted in probes:
        query = tx.select(model, wanted).order_by(ROWID.desc()).limit(1)
        for row in tx.fetch(query):
            times.extend(t for t in (as_ms(v) for v in row) if t is not None)
    return max(times, default=None)
