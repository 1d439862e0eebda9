"""The trace database schema: peewee models shared by the writer and the reader, and migrations.

A superset of the original LENS core layout (`traces`, `spans`, `logs` with the same table and
column names), so a database written by the TypeScript LENS core opens unchanged. Times are epoch
milliseconds stored as REAL (fractions allowed). See docs/schema.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import apsw
from peewee import (
    SQL,
    BlobField,
    FloatField,
    ForeignKeyField,
    IntegerField,
    Model,
    SqliteDatabase,
    TextField,
)

SCHEMA_VERSION = 1
"""The `PRAGMA user_version` this code writes; 0 is the original LENS layout (or an empty file)."""


SPAN_STATUSES = ("ok", "error", "running")

# Models are bound to this unconnected database only to render SQL; nothing connects through it.
_SQL_ONLY = SqliteDatabase(None)


class _Base(Model):
    class Meta:
        database = _SQL_ONLY
        legacy_table_names = False


class Trace(_Base):
    """One row per trace, kept up to date by the writer as its spans arrive."""

    trace_id = TextField(primary_key=True)
    root_span_name = TextField(null=True)
    source = TextField(null=True)
    started_at = FloatField(null=True)
    ended_at = FloatField(null=True)
    duration_ms = FloatField(null=True)
    # --- lens_tui additions (schema v1) ---
    root_span_id = TextField(null=True)
    service = TextField(null=True)
    status = TextField(null=True)
    span_count = IntegerField(default=0, constraints=[SQL("DEFAULT 0")])
    error_count = IntegerField(default=0, constraints=[SQL("DEFAULT 0")])
    updated_at = FloatField(null=True)

    class Meta:
        table_name = "traces"
        indexes = ()


class Span(_Base):
    """One unit of work; written once when it ends, or twice when it runs longer than a flush."""

    span_id = TextField(primary_key=True)
    trace = ForeignKeyField(Trace, column_name="trace_id", field="trace_id", on_delete="CASCADE")
    parent_span_id = TextField(null=True)
    name = TextField()
    started_at = FloatField()
    duration_ms = FloatField(null=True)
    error_message = TextField(null=True)
    input_size = IntegerField(null=True)
    output_size = IntegerField(null=True)
    # --- lens_tui additions (schema v1) ---
    status = TextField(null=True)
    service = TextField(null=True)
    kind = TextField(null=True)
    attributes = TextField(null=True)
    events = TextField(null=True)
    links = TextField(null=True)
    exception_type = TextField(null=True)
    traceback = TextField(null=True)
    source_location = TextField(null=True)
    input_body_hash = TextField(null=True)
    output_body_hash = TextField(null=True)
    updated_at = FloatField(null=True)

    class Meta:
        table_name = "spans"
        indexes = ()


class Log(_Base):
    """One log record, tied to the trace and span that were current when it was emitted."""

    id = IntegerField(primary_key=True, constraints=[SQL("AUTOINCREMENT")])
    trace_id = TextField(null=True)
    span_id = TextField(null=True)
    level = TextField()
    message = TextField()
    timestamp = FloatField()
    # --- lens_tui additions (schema v1) ---
    logger = TextField(null=True)
    source_location = TextField(null=True)
    service = TextField(null=True)
    attributes = TextField(null=True)
    exception_type = TextField(null=True)
    traceback = TextField(null=True)

    class Meta:
        table_name = "logs"
        indexes = ()


class Body(_Base):
    """A captured request or response body, content-addressed by sha256, gzip above 1 KiB."""

    hash = TextField(primary_key=True)
    body = BlobField()
    is_compressed = IntegerField(default=0, constraints=[SQL("DEFAULT 0")])
    original_size = IntegerField()
    stored_size = IntegerField()
    content_type = TextField(null=True)
    created_at = FloatField()

    class Meta:
        table_name = "bodies"


class Writer(_Base):
    """One row per writing process: liveness and the drop counter the dashboard shows."""

    writer_id = TextField(primary_key=True)
    pid = IntegerField()
    hostname = TextField(null=True)
    service = TextField(null=True)
    started_at = FloatField()
    last_write_at = FloatField()
    spans_written = IntegerField(default=0, constraints=[SQL("DEFAULT 0")])
    logs_written = IntegerField(default=0, constraints=[SQL("DEFAULT 0")])
    dropped = IntegerField(default=0, constraints=[SQL("DEFAULT 0")])
    errors = IntegerField(default=0, constraints=[SQL("DEFAULT 0")])

    class Meta:
        table_name = "writers"


MODELS: tuple[type[Model], ...] = (Trace, Span, Log, Body, Writer)
ORIGINAL_TABLES = ("traces", "spans", "logs")
"""The tables of the original LENS layout; a database without them is not a trace database."""

ORIGINAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "traces": ("trace_id", "root_span_name", "source", "started_at", "ended_at", "duration_ms"),
    "spans": (
        "span_id",
        "trace_id",
        "parent_span_id",
        "name",
        "started_at",
        "duration_ms",
        "error_message",
        "input_size",
        "output_size",
    ),
    "logs": ("id", "trace_id", "span_id", "level", "message", "timestamp"),
}

INDEXES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    # (name, table, columns): what the dashboard's queries need, nothing more (each costs inserts).
    ("idx_traces_started_at", "traces", ("started_at",)),
    ("idx_traces_updated_at", "traces", ("updated_at",)),
    ("idx_spans_trace_id", "spans", ("trace_id", "started_at")),
    ("idx_logs_timestamp", "logs", ("timestamp",)),
    ("idx_logs_level", "logs", ("level", "id")),
    ("idx_logs_trace_id", "logs", ("trace_id", "id")),
)


def column_names(model: type[Model]) -> tuple[str, ...]:
    """The column names of a model, in declaration order."""
    return tuple(f.column_name for f in model._meta.sorted_fields)


def _create_sql() -> list[str]:
    statements: list[str] = []
    for model in MODELS:
        sql, _params = model._schema._create_table(safe=True).query()
        statements.append(sql)
    for name, table, cols in INDEXES:
        statements.append(f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" ({", ".join(cols)})')
    return statements


def _existing_columns(conn: apsw.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f'PRAGMA table_info("{table}")')}


def _table_names(conn: apsw.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def _migrate_0_to_1(conn: apsw.Connection) -> None:
    """Create our tables, or extend the original LENS layout with the v1 columns and indexes."""
    existing = _table_names(conn)
    for model in MODELS:
        table = model._meta.table_name
        if table not in existing:
            continue
        have = _existing_columns(conn, table)
        for field in model._meta.sorted_fields:
            if field.column_name in have:
                continue
            ddl = field.ddl(_SQL_ONLY.get_sql_context())
            sql, _ = _SQL_ONLY.get_sql_context().sql(ddl).query()
            # ADD COLUMN cannot add a NOT NULL column without a default: relax it for old rows.
            sql = sql.replace(" NOT NULL", "")
            conn.execute(f'ALTER TABLE "{table}" ADD COLUMN {sql}')
    for statement in _create_sql():
        conn.execute(statement)


MIGRATIONS: dict[int, Callable[[apsw.Connection], None]] = {0: _migrate_0_to_1}
"""Forward migrations: MIGRATIONS[v] brings a database at user_version v to v + 1."""


class SchemaTooNew(Exception):
    """The database was written by a newer lens_tui than this one."""


class NotATraceDatabase(Exception):
    """The file is a SQLite database of another application: we never add our tables to it."""


def assert_ours(conn: apsw.Connection) -> None:
    """Refuse a newer schema, or a non-empty database without the LENS tables, before any write."""
    version = user_version(conn)
    if version > SCHEMA_VERSION:
        raise SchemaTooNew(
            f"schema version {version} is newer than this lens_tui supports ({SCHEMA_VERSION})"
        )
    tables = {t for t in _table_names(conn) if not t.startswith("sqlite_")}
    if tables and not set(ORIGINAL_TABLES) <= tables:
        raise NotATraceDatabase(
            "not a trace database (a SQLite file of another application: no "
            + "/".join(t for t in ORIGINAL_TABLES if t not in tables)
            + " table)"
        )


def user_version(conn: apsw.Connection) -> int:
    """The database's schema version."""
    return int(conn.execute("PRAGMA user_version").fetchall()[0][0])


def migrate(conn: apsw.Connection) -> int:
    """Bring the database to SCHEMA_VERSION in one immediate transaction; safe across processes."""
    if user_version(conn) == SCHEMA_VERSION:
        return SCHEMA_VERSION
    conn.execute("BEGIN IMMEDIATE")
    try:
        assert_ours(conn)  # re-read under the write lock: another process may have won
        version = user_version(conn)
        while version < SCHEMA_VERSION:
            MIGRATIONS[version](conn)
            version += 1
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return SCHEMA_VERSION


def placeholders_insert(model: type[Model], columns: Iterable[str]) -> str:
    """`INSERT INTO table (cols) VALUES (?, ...)` for a model and a column subset."""
    cols = list(columns)
    return (
        f'INSERT INTO "{model._meta.table_name}" ({", ".join(cols)}) '
        f"VALUES ({', '.join('?' for _ in cols)})"
    )
