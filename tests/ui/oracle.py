"""A second connection's view of a database file: the oracle the dashboard's tests compare
the screen with (never the app's own reader)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import apsw


def read_only(path: Path) -> apsw.Connection:
    """A second, read-only connection on `path` (an oracle that is not the app's reader)."""
    return apsw.Connection(
        f"file:{path}?mode=ro", flags=apsw.SQLITE_OPEN_READONLY | apsw.SQLITE_OPEN_URI
    )


def file_state(path: Path) -> tuple[str, int, int]:
    """The file's content hash, size and modification time."""
    st = path.stat()
    return hashlib.sha256(path.read_bytes()).hexdigest(), st.st_size, st.st_mtime_ns


def content_dump(path: Path) -> dict[str, Any]:
    """Everything a reader could have changed, read by a connection of its own: user_version,
    schema cookie, the schema text and every table's rows (sorted, so no rowid order needed)."""
    conn = read_only(path)
    try:
        dump: dict[str, Any] = {
            "user_version": conn.execute("PRAGMA user_version").fetchall(),
            "schema_version": conn.execute("PRAGMA schema_version").fetchall(),
            "schema": conn.execute(
                "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
            ).fetchall(),
        }
        tables = [row[1] for row in dump["schema"] if row[0] == "table"]
        for table in tables:
            rows = conn.execute(f'SELECT * FROM "{table}"').fetchall()
            dump[f"rows:{table}"] = (
                len(rows),
                hashlib.sha256("\n".join(sorted(map(repr, rows))).encode()).hexdigest(),
            )
        return dump
    finally:
        conn.close()


def logs_under(path: Path, span_id: str | None, trace_id: str) -> list[str]:
    """The oracle for the log pane's scope: messages of the logs of `span_id` and every span
    below it (all of the trace's logs when None) in time order (ids break ties), as the pane
    lists them."""
    conn = read_only(path)
    try:
        if span_id is None:
            rows = conn.execute(
                "SELECT message FROM logs WHERE trace_id = ? ORDER BY timestamp, id", (trace_id,)
            ).fetchall()
        else:
            rows = conn.execute(
                "WITH RECURSIVE under(id) AS (SELECT ? UNION"
                " SELECT s.span_id FROM spans s JOIN under u ON s.parent_span_id = u.id)"
                " SELECT message FROM logs WHERE span_id IN (SELECT id FROM under)"
                " ORDER BY timestamp, id",
                (span_id,),
            ).fetchall()
        return [row[0] for row in rows]
    finally:
        conn.close()
