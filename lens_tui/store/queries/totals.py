"""Totals for the header line: row counts by rowid range, the writers table, the last write;
a record store's counted by its indexes, incrementally between full counts."""

from __future__ import annotations

import time

from lens_tui.schema import ORIGINAL_TABLES, Log, Span, Trace, Writer
from lens_tui.store import record_layout
from lens_tui.store.connection import ROWID, Database, Read
from lens_tui.store.decode import WRITER_COLUMNS, as_ms, writer_info
from lens_tui.store.queries.logs import LEVEL_RECOUNT_S
from lens_tui.store.records import StoreStats, WriterInfo


class RecordTotals:
    """A record store's totals, kept between calls (for one `Database`): its views hold no
    rowid range to count by, and a full count by the records' indexes grows with the file
    (bench/bench_records.py: about 60 ms at 950,000 records, on every refresh). Later calls count
    only the records past the last count; a full count is redone when the oldest record
    changed (a prune), the file changed, or every LEVEL_RECOUNT_S."""

    def __init__(self) -> None:
        self._cached: tuple[int, int, int, float, tuple[int, int, int]] | None = None
        """(connection generation, min rowid, max rowid, when counted, counts)."""

    def count(self, db: Database, tx: Read) -> StoreStats:
        """The totals, and the newest record's time as the last write."""
        columns = tx.layout.columns[record_layout.RECORDS]
        low, high, newest = tx.one(
            "SELECT (SELECT rowid FROM main.records ORDER BY rowid LIMIT 1),"
            " (SELECT rowid FROM main.records ORDER BY rowid DESC LIMIT 1),"
            " (SELECT timestamp FROM main.records ORDER BY rowid DESC LIMIT 1)"
        )
        low, high, now = int(low or 0), int(high or 0), time.monotonic()
        cached = self._cached
        if (
            cached is not None
            and cached[:2] == (db.generation, low)
            and cached[2] <= high
            and now - cached[3] < LEVEL_RECOUNT_S
        ):
            added = record_layout.totals(tx.conn, columns, after=cached[2])
            counts = (
                cached[4][0] + added[0], cached[4][1] + added[1], cached[4][2] + added[2]
            )  # fmt: skip
            counted_at = cached[3]
        else:
            counts, counted_at = record_layout.totals(tx.conn, columns), now
        self._cached = (db.generation, low, high, counted_at, counts)
        traces, spans, logs = counts
        return StoreStats(traces=traces, spans=spans, logs=logs, last_write_at=as_ms(newest))


def stats(db: Database, records: RecordTotals | None = None) -> StoreStats:
    """Approximate totals (rowid ranges: O(log n)) and the writers table when present; a
    record store's by `records` (a fresh full count without one)."""
    with db.read() as tx:
        if tx is None:
            return StoreStats(traces=0, spans=0, logs=0, last_write_at=None)
        if tx.layout.record_store:
            return (records or RecordTotals()).count(db, tx)
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
