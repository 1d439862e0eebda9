"""The record-store layout (the dispatch trace store): detection, and TEMP views that show it as
our `traces`, `spans`, `logs` and `bodies`, so every query of the read side runs on it unchanged.

Such a file holds one `records` table of `span-open`, `span-close` and `log` records, each
with its `turnId`, `conversationId` and `extensionId`, times in epoch ms, and a `bodies` table
keyed by the sha256 of the body's text (gzipped when `isCompressed`). How each field maps is in
docs/schema.md ("The record-store layout"); in short:

- a trace is a turn (`turnId`); records without a turn are grouped per conversation
  (`conversation:<conversationId>`) or, without one either, per extension
  (`extension:<extensionId>`);
- a span is its first `span-open` joined to its latest `span-close` of the same span id and
  trace; an open without a close is running; a close without an open is a span that started
  `durationMs` before the close;
- a `log` record is a log line (its id the record's rowid, which grows in commit order);
- `updated_at` is the highest rowid of the records a row is made of: a commit-order counter,
  not a time, which is all tailing needs.

The views live in the connection's own TEMP schema (the file is opened read-only and nothing
is ever written to it) and shadow nothing of the file but `bodies`, whose columns they rename.
Each view is a UNION ALL of records with a turn and records without one, so a lookup by trace
id runs on the `turnId` index; `+kind` keeps SQLite off the three-valued `kind` index.
"""

from __future__ import annotations

from collections.abc import Collection

import apsw

from lens_tui.schema import Body, Log, Span, Trace
from lens_tui.store.decode import body_text

RECORDS = "records"
REQUIRED_RECORD_COLUMNS = ("id", "kind", "spanId", "turnId", "timestamp")
"""Without these a `records` table belongs to some other application."""
BODY_COLUMNS = ("hash", "body", "isCompressed")
"""A `bodies` table without these is not the record store's (its bodies are not shown)."""
VIEWS = ("traces", "spans", "logs", "bodies")
"""The TEMP views `install` creates, named as our tables."""
SPAN_VIEW_COLUMNS = ("rowid", *(f.column_name for f in Span._meta.sorted_fields))
LOG_VIEW_COLUMNS = ("rowid", *(f.column_name for f in Log._meta.sorted_fields))

CONVERSATION_PREFIX = "conversation:"
EXTENSION_PREFIX = "extension:"
CONVERSATION_KEY = "conversationId"
"""The attribute under which spans and logs show their record's conversationId."""
BODY_KEY = "body"
"""The attribute under which a log shows its body."""
LOG_BODY_BYTES = 8 * 1024
"""A log's body is shown up to this many bytes: the log pane keeps 10,000 lines in memory."""
BODY_FUNCTION = "lens_record_body"
"""A SQL function on record-store connections: a stored body as text (`body_text`)."""


def detect(tables: Collection[str]) -> bool:
    """Whether a file of these tables holds a record store rather than our layout: a `records`
    table and none of the LENS tables (its columns are checked by `missing_columns`)."""
    return RECORDS in tables and not any(t in tables for t in ("traces", "spans", "logs"))


def missing_columns(columns: frozenset[str]) -> list[str]:
    """The required `records` columns absent from `columns`."""
    return [c for c in REQUIRED_RECORD_COLUMNS if c not in columns]


def layout_columns(records: frozenset[str], bodies: frozenset[str]) -> dict[str, frozenset[str]]:
    """`Layout.columns` of a record-store file: the views (named as our tables, with all of
    our columns) and the `records` table itself."""
    columns = {
        RECORDS: records,
        "traces": frozenset(f.column_name for f in Trace._meta.sorted_fields),
        "spans": frozenset(f.column_name for f in Span._meta.sorted_fields),
        "logs": frozenset(f.column_name for f in Log._meta.sorted_fields),
    }
    if all(c in bodies for c in BODY_COLUMNS):
        columns["bodies"] = frozenset(f.column_name for f in Body._meta.sorted_fields)
    return columns


class _Sql:
    """SQL fragments over one file's `records` and `bodies` columns (an absent column reads
    as NULL)."""

    def __init__(self, records: frozenset[str], bodies: frozenset[str]) -> None:
        self.records = records
        self.bodies = bodies if all(c in bodies for c in BODY_COLUMNS) else frozenset()

    def col(self, alias: str, name: str) -> str:
        return f'{alias}."{name}"' if name in self.records else "NULL"

    def key(self, alias: str) -> str:
        """The trace id of a record without a turn: its conversation, else its extension."""
        conversation, extension = self.col(alias, "conversationId"), self.col(alias, "extensionId")
        return (
            f"CASE WHEN {conversation} IS NOT NULL THEN '{CONVERSATION_PREFIX}' || {conversation}"
            f" ELSE '{EXTENSION_PREFIX}' || {extension} END"
        )

    def any_key(self, alias: str) -> str:
        """The trace id of any record."""
        return f'coalesce({alias}."turnId", {self.key(alias)})'

    def trace_of(self, alias: str, turned: bool) -> str:
        """A record's trace id in one arm; TEXT affinity in both (the turn column's own), or
        SQLite would not flatten the UNION ALL into the query (`_select`)."""
        return f'{alias}."turnId"' if turned else f"CAST({self.key(alias)} AS TEXT)"

    def same_trace(self, a: str, b: str, turned: bool) -> str:
        """`a` belongs to the trace of `b` (whose turn is known to be set, or not)."""
        if turned:
            return f'{a}."turnId" = {b}."turnId"'
        return f'{a}."turnId" IS NULL AND {self.key(a)} = {self.key(b)}'

    def arm_filter(self, alias: str, turned: bool) -> str:
        return f'{alias}."turnId" IS {"NOT " if turned else ""}NULL'

    def body(self, alias: str, column: str) -> str:
        """A column of the record's body row (NULL without one)."""
        body_hash = self.col(alias, "bodyHash")
        if column not in self.bodies or body_hash == "NULL":
            return "NULL"
        return f'(SELECT b."{column}" FROM main.bodies b WHERE b.hash = {body_hash})'

    def body_text(self, alias: str) -> str:
        """The record's body as text, cut at LOG_BODY_BYTES (NULL without one)."""
        return (
            f"(SELECT {BODY_FUNCTION}(b.body, b.isCompressed, {LOG_BODY_BYTES})"
            f' FROM main.bodies b WHERE b.hash = {alias}."bodyHash")'
        )

    def attributes(self, *aliases: str, with_body: bool = False) -> str:
        """The records' attributes merged (later ones win) over their conversation id and,
        `with_body`, the first record's body (`BODY_KEY`, read once per row: null when
        pruned); the raw text of the last one present when any is not a JSON object (shown
        unparsed). CASE, not AND: SQLite does not promise to skip json_type of a cell
        json_valid rejected, which would fail the whole query."""
        has_body = "NULL"
        if with_body and self.bodies and self.col(aliases[0], "bodyHash") != "NULL":
            has_body = f'{aliases[0]}."bodyHash"'
        cells = [self.col(a, "attributes") for a in aliases]
        conversation = self.col(aliases[0], "conversationId")
        objects = " AND ".join(
            f"({c} IS NULL OR CASE WHEN typeof({c}) = 'text' AND json_valid({c})"
            f" THEN json_type({c}) = 'object' ELSE 0 END)"
            for c in cells
        )
        merged = f"CASE WHEN {conversation} IS NULL THEN '{{}}'"
        merged += f" ELSE json_object('{CONVERSATION_KEY}', {conversation}) END"
        for c in cells:
            merged = f"json_patch({merged}, coalesce({c}, '{{}}'))"
        if has_body != "NULL":
            body = f"json_set({merged}, '$.{BODY_KEY}', {self.body_text(aliases[0])})"
            merged = f"CASE WHEN {has_body} IS NULL THEN {merged} ELSE {body} END"
        present = " OR ".join(f"{c} IS NOT NULL" for c in [*cells, conversation, has_body])
        raw = cells[0] if len(cells) == 1 else f"coalesce({', '.join(reversed(cells))})"
        return f"CASE WHEN NOT ({present}) THEN NULL WHEN {objects} THEN {merged} ELSE {raw} END"


_KEYED = ("rowid", "span_id", "trace_id", "id")
"""View columns a lookup goes through (by index): the same affinity in every arm as they are."""


def _select(columns: dict[str, str], rest: str, order: tuple[str, ...]) -> str:
    """SELECT of `order`'s columns (NULL where `columns` gives no expression), then `rest`.
    All but the keyed columns lose their affinity (unary +): SQLite flattens a UNION ALL view
    into the query, and so merges its arms in order instead of sorting them, only when each
    column has the same affinity in every arm (bench/bench_records.py: the newest logs of
    95,000 records in 1.5 ms merged, 51 ms sorted)."""
    parts = []
    for name in order:
        expression = columns.get(name, "NULL")
        if name not in _KEYED:
            expression = f"+({expression})"
        parts.append(f"{expression} AS {name}")
    return f"\n        SELECT {', '.join(parts)}\n        {rest}"


def _of_span(sql: _Sql, alias: str, kind: str, of: str, turned: bool, more: str = "") -> str:
    """FROM/WHERE of the `kind` records (as `alias`) of record `of`'s span and trace; `+kind`
    keeps SQLite on the spanId index."""
    return (
        f'FROM main.records {alias} WHERE {alias}."spanId" = {of}."spanId"'
        f" AND +{alias}.\"kind\" = '{kind}' AND {sql.same_trace(alias, of, turned)}{more}"
    )


def _span_arms(sql: _Sql, turned: bool) -> list[str]:
    """The spans of one arm: opened spans (with their close, if any), and closes alone."""
    col = sql.col
    latest_close = f"(SELECT max(x.rowid) {_of_span(sql, 'x', 'span-close', 'o', turned)})"
    earlier_open = _of_span(sql, "p", "span-open", "o", turned, " AND p.rowid < o.rowid")
    closed = f'coalesce({col("c", "durationMs")}, c."timestamp" - o."timestamp")'
    failed = f"lower({col('c', 'status')}) = 'error'"
    opened = {
        "rowid": "o.rowid",
        "span_id": 'o."spanId"',
        "trace_id": sql.trace_of("o", turned),
        "parent_span_id": f"coalesce({col('o', 'parentSpanId')}, {col('c', 'parentSpanId')})",
        "name": f"coalesce({col('o', 'name')}, {col('c', 'name')}, '')",
        "started_at": 'o."timestamp"',
        "duration_ms": f"CASE WHEN c.rowid IS NULL THEN NULL ELSE {closed} END",
        "status": f"CASE WHEN c.rowid IS NULL THEN 'running' WHEN {failed} THEN 'error'"
        " ELSE 'ok' END",
        "service": f"coalesce({col('o', 'extensionId')}, {col('c', 'extensionId')})",
        "attributes": sql.attributes("o", "c"),
        "links": f"coalesce({col('c', 'links')}, {col('o', 'links')})",
        "input_size": sql.body("o", "originalSize"),
        "output_size": sql.body("c", "originalSize"),
        "input_body_hash": col("o", "bodyHash"),
        "output_body_hash": col("c", "bodyHash"),
        "updated_at": "max(o.rowid, coalesce(c.rowid, 0))",
    }
    opened_from = (
        f"FROM main.records o LEFT JOIN main.records c ON c.rowid = {latest_close}"
        f" WHERE +o.\"kind\" = 'span-open' AND {sql.arm_filter('o', turned)}"
        f" AND NOT EXISTS (SELECT 1 {earlier_open})"
    )
    any_open = _of_span(sql, "p", "span-open", "c", turned)
    later_close = _of_span(sql, "p", "span-close", "c", turned, " AND p.rowid > c.rowid")
    duration = f"coalesce({col('c', 'durationMs')}, 0)"
    alone = {
        "rowid": "c.rowid",
        "span_id": 'c."spanId"',
        "trace_id": sql.trace_of("c", turned),
        "parent_span_id": col("c", "parentSpanId"),
        "name": f"coalesce({col('c', 'name')}, '')",
        "started_at": f'c."timestamp" - {duration}',
        "duration_ms": duration,
        "status": f"CASE WHEN {failed} THEN 'error' ELSE 'ok' END",
        "service": col("c", "extensionId"),
        "attributes": sql.attributes("c"),
        "links": col("c", "links"),
        "output_size": sql.body("c", "originalSize"),
        "output_body_hash": col("c", "bodyHash"),
        "updated_at": "c.rowid",
    }
    alone_from = (
        f"FROM main.records c WHERE +c.\"kind\" = 'span-close' AND {sql.arm_filter('c', turned)}"
        f" AND NOT EXISTS (SELECT 1 {any_open}) AND NOT EXISTS (SELECT 1 {later_close})"
    )
    return [
        _select(opened, opened_from, SPAN_VIEW_COLUMNS),
        _select(alone, alone_from, SPAN_VIEW_COLUMNS),
    ]


def _log_arm(sql: _Sql, turned: bool) -> str:
    columns = {
        "rowid": "r.rowid",
        "id": "r.rowid",
        "trace_id": sql.trace_of("r", turned),
        "span_id": 'r."spanId"',
        "level": sql.col("r", "level"),
        "message": f"coalesce({sql.col('r', 'msg')}, '')",
        "timestamp": 'r."timestamp"',
        "logger": sql.col("r", "extensionId"),
        "service": sql.col("r", "extensionId"),
        "attributes": sql.attributes("r", with_body=True),
    }
    rest = f"FROM main.records r WHERE +r.\"kind\" = 'log' AND {sql.arm_filter('r', turned)}"
    return _select(columns, rest, LOG_VIEW_COLUMNS)


def _trace_arm(sql: _Sql, turned: bool) -> str:
    """One row per trace of the arm: its times, counts, first and last rowid, and the rowid
    of its root (the first span record without a parent, else the first span record)."""
    col = sql.col
    key = sql.trace_of("r", turned)
    span = "+r.\"kind\" IN ('span-open', 'span-close')"
    close = "+r.\"kind\" = 'span-close'"
    start = f'CASE WHEN {close} THEN r."timestamp" - coalesce({col("r", "durationMs")}, 0)'
    start += ' ELSE r."timestamp" END'
    failed = f"{close} AND lower({col('r', 'status')}) = 'error'"
    return f"""
        SELECT {key} AS trace_id, min(r.rowid) AS first, max(r.rowid) AS last,
            min({start}) AS started_at, max(r."timestamp") AS ended_at,
            count(DISTINCT CASE WHEN {span} THEN r."spanId" END) AS spans,
            count(DISTINCT CASE WHEN {close} THEN r."spanId" END) AS closed,
            count(DISTINCT CASE WHEN {failed} THEN r."spanId" END) AS errors,
            coalesce(
                min(CASE WHEN {span} AND {col("r", "parentSpanId")} IS NULL THEN r.rowid END),
                min(CASE WHEN {span} THEN r.rowid END)) AS root,
            max({col("r", "conversationId")}) AS conversation,
            max({col("r", "extensionId")}) AS extension
        FROM main.records r WHERE {sql.arm_filter("r", turned)} GROUP BY {key}"""


def _bodies_view(sql: _Sql) -> str:
    names = {"hash": "hash", "body": "body", "is_compressed": "isCompressed",
             "original_size": "originalSize", "stored_size": "storedSize"}  # fmt: skip
    columns = [
        f'"{theirs}" AS {ours}' if theirs in sql.bodies else f"NULL AS {ours}"
        for ours, theirs in names.items()
    ]
    return f"SELECT {', '.join(columns)}, NULL AS content_type, NULL AS created_at FROM main.bodies"


def view_sql(records: frozenset[str], bodies: frozenset[str]) -> list[str]:
    """The CREATE TEMP VIEW statements for a file whose `records` and `bodies` tables have
    these columns."""
    sql = _Sql(records, bodies)
    spans = " UNION ALL ".join(arm for turned in (True, False) for arm in _span_arms(sql, turned))
    logs = " UNION ALL ".join(_log_arm(sql, turned) for turned in (True, False))
    groups = " UNION ALL ".join(_trace_arm(sql, turned) for turned in (True, False))
    traces = f"""
        SELECT g.first AS rowid, g.trace_id AS trace_id,
            coalesce({sql.col("root", "name")}, '') AS root_span_name,
            coalesce({sql.col("root", "conversationId")}, g.conversation) AS source,
            g.started_at AS started_at,
            CASE WHEN g.spans > g.closed THEN NULL ELSE g.ended_at END AS ended_at,
            CASE WHEN g.spans > g.closed THEN NULL ELSE g.ended_at - g.started_at END
                AS duration_ms,
            root."spanId" AS root_span_id,
            coalesce({sql.col("root", "extensionId")}, g.extension) AS service,
            CASE WHEN g.errors > 0 THEN 'error' WHEN g.spans > g.closed THEN 'running'
                ELSE 'ok' END AS status,
            g.spans AS span_count, g.errors AS error_count, g.last AS updated_at
        FROM ({groups}) g LEFT JOIN main.records root ON root.rowid = g.root"""
    statements = [
        f"CREATE TEMP VIEW traces AS {traces}",
        f"CREATE TEMP VIEW spans AS {spans}",
        f"CREATE TEMP VIEW logs AS {logs}",
    ]
    if sql.bodies:
        statements.append(f"CREATE TEMP VIEW bodies AS {_bodies_view(sql)}")
    return statements


def _body_function(stored: object, compressed: object, limit: object) -> str | None:
    """`BODY_FUNCTION`: never raises (a failing function would fail the whole query)."""
    if stored is None:
        return None
    try:
        return body_text(stored, compressed, int(limit))  # type: ignore[call-overload]
    except (TypeError, ValueError, MemoryError):
        return None


def install(conn: apsw.Connection, records: frozenset[str], bodies: frozenset[str]) -> None:
    """(Re)create the views on `conn` for `records` and `bodies` tables of these columns.
    TEMP views: a read-only connection may create them, and nothing reaches the file."""
    conn.create_scalar_function(
        BODY_FUNCTION, _body_function, 3, deterministic=True, flags=apsw.SQLITE_DIRECTONLY
    )
    for view in VIEWS:
        conn.execute(f'DROP VIEW IF EXISTS temp."{view}"')
    for statement in view_sql(records, bodies):
        conn.execute(statement)


def touched_traces_sql(records: frozenset[str]) -> str:
    """SQL of the traces records after rowid ?1 belong to, each with its first such rowid,
    in that order, at most ?2 of them (`TraceReader.traces_since` on this layout). Ids as
    BLOBs: one of invalid UTF-8 would fail the whole read as text, and `CAST(? AS TEXT)`
    finds it again as stored."""
    key = _Sql(records, frozenset()).any_key("r")
    return (
        f"SELECT CAST({key} AS BLOB) AS trace_id, min(r.rowid) AS first FROM main.records r"
        f" WHERE r.rowid > ?1 GROUP BY trace_id ORDER BY first LIMIT ?2"
    )


def totals(conn: apsw.Connection, records: frozenset[str], after: int = 0) -> tuple[int, int, int]:
    """(traces, spans, logs) that records past rowid `after` begin (all of them from 0):
    span-open and log records by the `kind` index (a close without its open is not counted),
    traces whose first record is past `after`, by the `turnId` and `conversationId` indexes
    (NOT INDEXED: the new records are a rowid range, not a scan of the whole turnId index,
    which SQLite would otherwise pick to make them distinct)."""
    if not after:
        key = _Sql(records, frozenset()).key("r")
        sql = f"""SELECT
            (SELECT count(DISTINCT "turnId") FROM main.records)
                + (SELECT count(DISTINCT {key}) FROM main.records r WHERE r."turnId" IS NULL),
            (SELECT count(*) FROM main.records WHERE "kind" = 'span-open'),
            (SELECT count(*) FROM main.records WHERE "kind" = 'log')"""
        traces, spans, logs = conn.execute(sql).fetchall()[0]
        return int(traces or 0), int(spans or 0), int(logs or 0)
    col = _Sql(records, frozenset()).col
    conversation, extension = col("r", "conversationId"), col("r", "extensionId")
    same_group = (
        f"{col('e', 'conversationId')} IS n.c"
        f" AND (n.c IS NOT NULL OR {col('e', 'extensionId')} IS n.x)"
    )
    sql = f"""SELECT
        (SELECT count(*) FROM (SELECT DISTINCT r."turnId" AS k FROM main.records r NOT INDEXED
                WHERE r.rowid > ?1 AND r."turnId" IS NOT NULL) n
            WHERE NOT EXISTS (SELECT 1 FROM main.records e
                WHERE e."turnId" = n.k AND e.rowid <= ?1))
        + (SELECT count(*) FROM (SELECT DISTINCT {conversation} AS c,
                    CASE WHEN {conversation} IS NULL THEN {extension} END AS x
                FROM main.records r NOT INDEXED WHERE r.rowid > ?1 AND r."turnId" IS NULL) n
            WHERE NOT EXISTS (SELECT 1 FROM main.records e
                WHERE e."turnId" IS NULL AND {same_group} AND e.rowid <= ?1)),
        (SELECT count(*) FROM main.records WHERE "kind" = 'span-open' AND rowid > ?1),
        (SELECT count(*) FROM main.records WHERE "kind" = 'log' AND rowid > ?1)"""
    traces, spans, logs = conn.execute(sql, (after,)).fetchall()[0]
    return int(traces or 0), int(spans or 0), int(logs or 0)
