"""Record-store files (the dispatch trace store's layout) written as its TypeScript writer does.

The CREATE statements are the writer's own, in its order; a record's id is its `stableId` (FNV-1a
64 over the record's canonical JSON, by UTF-16 code unit), bodies are keyed by the sha256 of their
UTF-8 text and gzipped above 1 KiB when that makes them smaller, and records go in with
INSERT OR IGNORE, so re-sending a record changes nothing. Used by the read-side tests, the
dashboard tests and bench/bench_records.py; `python -m tests.store.record_store DB` is a writer
process that takes records as JSON lines on stdin (one transaction per line, "ok" per commit).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import apsw

RECORDS_TABLE = """
    CREATE TABLE IF NOT EXISTS records (
      id TEXT PRIMARY KEY,
      kind TEXT NOT NULL,
      level TEXT,
      msg TEXT,
      name TEXT,
      spanId TEXT,
      parentSpanId TEXT,
      conversationId TEXT,
      turnId TEXT,
      extensionId TEXT NOT NULL,
      timestamp INTEGER NOT NULL,
      durationMs INTEGER,
      status TEXT,
      attributes TEXT,
      links TEXT,
      bodyHash TEXT
    )
  """
BODIES_TABLE = """
    CREATE TABLE IF NOT EXISTS bodies (
      hash TEXT PRIMARY KEY,
      body BLOB NOT NULL,
      isCompressed INTEGER NOT NULL DEFAULT 0,
      originalSize INTEGER NOT NULL,
      storedSize INTEGER NOT NULL
    )
  """
SCHEMA: tuple[str, ...] = (
    RECORDS_TABLE,
    "CREATE INDEX IF NOT EXISTS idx_records_turnId ON records(turnId)",
    "CREATE INDEX IF NOT EXISTS idx_records_conversationId ON records(conversationId)",
    "CREATE INDEX IF NOT EXISTS idx_records_spanId ON records(spanId)",
    "CREATE INDEX IF NOT EXISTS idx_records_kind ON records(kind)",
    "CREATE INDEX IF NOT EXISTS idx_records_timestamp ON records(timestamp)",
    BODIES_TABLE,
    "CREATE INDEX IF NOT EXISTS idx_records_bodyHash ON records(bodyHash)",
)
"""The writer's `schema()`, statement by statement (its old-bodies migration finds nothing)."""
COMPRESS_THRESHOLD_BYTES = 1024

_INSERT = (
    "INSERT OR IGNORE INTO records (id, kind, level, msg, name, spanId, parentSpanId,"
    " conversationId, turnId, extensionId, timestamp, durationMs, status, attributes, links,"
    " bodyHash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _js_json(value: object) -> str:
    """`JSON.stringify(value)` for JSON-shaped data (compact, non-ASCII kept)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _utf16_units(text: str) -> list[int]:
    """`charCodeAt(i)` for every i: the UTF-16 code units JavaScript sees."""
    data = text.encode("utf-16-le", "surrogatepass")
    return [data[i] | (data[i + 1] << 8) for i in range(0, len(data), 2)]


def _canonical(value: object) -> str:
    """The writer's `toCanonicalJson`: object keys sorted by UTF-16 code units."""
    if isinstance(value, Mapping):
        keys = sorted(value, key=_utf16_units)
        return "{" + ",".join(f"{_js_json(k)}:{_canonical(value[k])}" for k in keys) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_canonical(v) for v in value) + "]"
    return _js_json(value)


def stable_id(record: Mapping[str, Any]) -> str:
    """The writer's `stableId`: FNV-1a 64 of the canonical JSON, 16 lowercase hex digits."""
    digest = 0xCBF29CE484222325
    for unit in _utf16_units(_canonical(record)):
        digest = ((digest ^ unit) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{digest:016x}"


def store_body(conn: apsw.Connection, body: str) -> str:
    """The writer's `storeBody`: sha256 of the UTF-8 text; gzip above 1 KiB if smaller."""
    raw = body.encode("utf-8", "replace")
    digest = hashlib.sha256(raw).hexdigest()
    if conn.execute("SELECT 1 FROM bodies WHERE hash = ?", (digest,)).fetchall():
        return digest
    stored, compressed = raw, False
    if len(raw) > COMPRESS_THRESHOLD_BYTES:
        packed = gzip.compress(raw)
        if len(packed) < len(raw):
            stored, compressed = packed, True
    conn.execute(
        "INSERT OR IGNORE INTO bodies (hash, body, isCompressed, originalSize, storedSize)"
        " VALUES (?, ?, ?, ?, ?)",
        (digest, stored, int(compressed), len(raw), len(stored)),
    )
    return digest


def _row(conn: apsw.Connection, r: Mapping[str, Any], record_id: str | None) -> tuple[Any, ...]:
    """The writer's `insertRecords` columns of one record."""
    kind = r["kind"]
    level = msg = name = duration = status = links = None
    if kind == "log":
        level, msg = r["level"], r["msg"]
    else:
        name = r["name"]
        if "links" in r:
            links = _js_json(r["links"])
        if kind != "span-open":
            duration, status = r["durationMs"], r["status"]
    attributes = _js_json(r["attributes"]) if "attributes" in r else None
    body_hash = store_body(conn, r["body"]) if "body" in r else None
    return (
        record_id or stable_id(r), kind, level, msg, name, r.get("spanId"), r.get("parentSpanId"),
        r.get("conversationId"), r.get("turnId"), r["extensionId"], r["timestamp"], duration,
        status, attributes, links, body_hash,
    )  # fmt: skip


class RecordStore:
    """A writer connection on a record-store file (WAL, the writer's schema)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.conn = apsw.Connection(str(path))
        self.conn.set_busy_timeout(5000)
        self.conn.execute("PRAGMA journal_mode = WAL")
        for statement in SCHEMA:
            self.conn.execute(statement)

    def insert(
        self, records: Iterable[Mapping[str, Any]], ids: Iterable[str] | None = None
    ) -> None:
        """`insertRecords`: one transaction, duplicates (same stableId) ignored; with `ids`,
        under those ids instead (another writer's copy of a record; cheap ids in bulk)."""
        chosen = iter(ids) if ids is not None else None
        with self.conn:
            for record in records:
                record_id = None if chosen is None else next(chosen)
                self.conn.execute(_INSERT, _row(self.conn, record, record_id))

    def close(self) -> None:
        """Close the writer connection."""
        self.conn.close()


def span_open(span: str, name: str, at: int, **fields: Any) -> dict[str, Any]:
    """A `span-open` record (extensionId defaults to "ext")."""
    return {"kind": "span-open", "spanId": span, "name": name, "timestamp": at,
            "extensionId": "ext", **fields}  # fmt: skip


def span_close(
    span: str, name: str, at: int, duration: int, status: str = "ok", **fields: Any
) -> dict[str, Any]:
    """A `span-close` record: `at` is when it closed, `duration` ms after its open."""
    return {"kind": "span-close", "spanId": span, "name": name, "timestamp": at,
            "durationMs": duration, "status": status, "extensionId": "ext", **fields}  # fmt: skip


def log(level: str, msg: str, at: int, **fields: Any) -> dict[str, Any]:
    """A `log` record."""
    return {"kind": "log", "level": level, "msg": msg, "timestamp": at, "extensionId": "ext",
            **fields}  # fmt: skip


def file_sha256(path: Path) -> str:
    """The file's bytes, hashed: what must not change while lens_tui reads it."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: list[str]) -> int:
    """A writer process: each stdin line a JSON list of records, one transaction, "ok" after."""
    store = RecordStore(Path(argv[0]))
    try:
        for line in sys.stdin:
            if line.strip():
                store.insert(json.loads(line))
                print("ok", flush=True)
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
