"""Retention: delete traces (their spans cascade) and logs past an age, and cap total body bytes."""

from __future__ import annotations

import time
from dataclasses import dataclass

import apsw

DAY_MS = 24 * 60 * 60 * 1000.0
DEFAULT_MAX_AGE_MS = 7 * DAY_MS
DEFAULT_MAX_BODY_BYTES = 256 * 1024 * 1024
_CHUNK = 2000  # rows per transaction: keeps each write lock short for other processes


@dataclass(frozen=True, slots=True)
class PruneResult:
    """What one prune removed."""

    traces: int = 0
    spans: int = 0
    logs: int = 0
    bodies: int = 0
    body_bytes: int = 0

    def __add__(self, other: PruneResult) -> PruneResult:
        return PruneResult(
            self.traces + other.traces,
            self.spans + other.spans,
            self.logs + other.logs,
            self.bodies + other.bodies,
            self.body_bytes + other.body_bytes,
        )

    def describe(self) -> str:
        """One line for people."""
        return (
            f"removed {self.traces} traces, {self.spans} spans, {self.logs} logs, "
            f"{self.bodies} bodies ({self.body_bytes} bytes)"
        )


def _scalar(conn: apsw.Connection, sql: str, params: tuple[object, ...] = ()) -> int:
    row = conn.execute(sql, params).fetchone()
    return int(row[0] or 0) if row else 0


def _in_tx(conn: apsw.Connection, fn):  # type: ignore[no-untyped-def]
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = fn()
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return result


def _prune_age(conn: apsw.Connection, cutoff_ms: float) -> PruneResult:
    total = PruneResult()
    while True:

        def step() -> PruneResult:
            ids = [
                r[0]
                for r in conn.execute(
                    "SELECT trace_id FROM traces WHERE started_at < ? LIMIT ?", (cutoff_ms, _CHUNK)
                ).fetchall()
            ]
            if not ids:
                return PruneResult()
            marks = ",".join("?" * len(ids))
            spans = _scalar(
                conn, f"SELECT count(*) FROM spans WHERE trace_id IN ({marks})", tuple(ids)
            )
            # The foreign key cascades to spans; deleting them first too keeps old files
            # (written without foreign_keys=ON) consistent.
            conn.execute(f"DELETE FROM spans WHERE trace_id IN ({marks})", tuple(ids))
            conn.execute(f"DELETE FROM traces WHERE trace_id IN ({marks})", tuple(ids))
            return PruneResult(traces=len(ids), spans=spans)

        got = _in_tx(conn, step)
        total = total + got
        if got.traces < _CHUNK:
            break
    while True:

        def step_logs() -> int:
            conn.execute(
                "DELETE FROM logs WHERE id IN (SELECT id FROM logs WHERE timestamp < ? LIMIT ?)",
                (cutoff_ms, _CHUNK),
            )
            return conn.changes()

        n = _in_tx(conn, step_logs)
        total = total + PruneResult(logs=n)
        if n < _CHUNK:
            break
    return total


def _referenced_hashes_sql() -> str:
    return (
        "SELECT input_body_hash FROM spans WHERE input_body_hash IS NOT NULL "
        "UNION SELECT output_body_hash FROM spans WHERE output_body_hash IS NOT NULL"
    )


def _drop_unreferenced_bodies(conn: apsw.Connection) -> PruneResult:
    def step() -> PruneResult:
        row = conn.execute(
            f"SELECT count(*), coalesce(sum(stored_size), 0) FROM bodies "
            f"WHERE hash NOT IN ({_referenced_hashes_sql()})"
        ).fetchone()
        conn.execute(f"DELETE FROM bodies WHERE hash NOT IN ({_referenced_hashes_sql()})")
        return PruneResult(bodies=int(row[0]), body_bytes=int(row[1]))

    return _in_tx(conn, step)


def _cap_bodies(conn: apsw.Connection, max_bytes: int) -> PruneResult:
    """Evict the oldest bodies until the total stored size fits; spans keep their rows."""

    def step() -> PruneResult:
        total = _scalar(conn, "SELECT coalesce(sum(stored_size), 0) FROM bodies")
        if total <= max_bytes:
            return PruneResult()
        evict: list[str] = []
        freed = 0
        for digest, size in conn.execute(
            "SELECT hash, stored_size FROM bodies ORDER BY created_at, hash"
        ).fetchall():
            if total - freed <= max_bytes:
                break
            evict.append(digest)
            freed += int(size)
        for start in range(0, len(evict), 500):
            chunk = tuple(evict[start : start + 500])
            marks = ",".join("?" * len(chunk))
            conn.execute(f"DELETE FROM bodies WHERE hash IN ({marks})", chunk)
            conn.execute(
                f"UPDATE spans SET input_body_hash = NULL WHERE input_body_hash IN ({marks})", chunk
            )
            conn.execute(
                f"UPDATE spans SET output_body_hash = NULL WHERE output_body_hash IN ({marks})",
                chunk,
            )
        return PruneResult(bodies=len(evict), body_bytes=freed)

    return _in_tx(conn, step)


def prune(
    conn: apsw.Connection,
    *,
    max_age_ms: float | None = DEFAULT_MAX_AGE_MS,
    max_body_bytes: int | None = DEFAULT_MAX_BODY_BYTES,
    now_ms: float | None = None,
) -> PruneResult:
    """Apply the retention policy on a writable, migrated connection; returns what was removed."""
    now = time.time() * 1000.0 if now_ms is None else now_ms
    result = PruneResult()
    if max_age_ms is not None:
        result = result + _prune_age(conn, now - max_age_ms)
        conn.execute("DELETE FROM writers WHERE last_write_at < ?", (now - max_age_ms,))
    has_bodies = _scalar(conn, "SELECT count(*) FROM bodies LIMIT 1") > 0
    if has_bodies:
        result = result + _drop_unreferenced_bodies(conn)
        if max_body_bytes is not None:
            result = result + _cap_bodies(conn, max_body_bytes)
    if result.traces or result.logs or result.bodies:
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    return result
