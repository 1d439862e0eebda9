"""Read-only, bounded queries on a trace database, with cheap change and replacement detection.

Every public method is blocking (call it from a worker thread), takes the reader's lock, and
fully consumes every cursor inside at most one short BEGIN/COMMIT, so no read transaction ever
outlives a call and a writer can always checkpoint (docs/findings.md: checkpoint starvation).
The connection is opened with `mode=ro`: it can neither write nor checkpoint the file.
"""

from __future__ import annotations

import logging
import math
from array import array
import os
import stat
import threading
import time
import urllib.parse
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import apsw
from peewee import (
    SQL, Cast, Field, Model, Node, Select, fn,
)

from lens_tui.schema import (
    LEVELS,
    ORIGINAL_TABLES,
    SCHEMA_VERSION,
    Body,
    Log,
    Span,
    Trace,
    Writer,
)
from lens_tui.levels import normalise_level
from lens_tui.store.decode import (
    KEY_COLUMNS,
    LOG_COLUMNS,
    SPAN_COLUMNS,
    TRACE_COLUMNS,
    WRITER_COLUMNS,
    as_ms,
    as_opt_text,
    as_text,
    log_row,
    span_row,
    status,
    trace_summary,
    writer_info,
)
from lens_tui.store.filters import (
    LogScope,
    LogWhere,
    TraceFilter,
    TraceWhere,
    name_condition,
    name_matches,  # noqa: F401  (re-exported: the trace list's name rule)
    register_sql_functions,
)
from lens_tui.store.layout import Layout
from lens_tui.store.records import (
    LogRow,
    SpanRow,
    StoreStats,
    TraceDetail,
    TraceSummary,
    WriterInfo,
)
from lens_tui.text import one_line

log = logging.getLogger(__name__)

SQLITE_MAGIC = b"SQLite format 3\x00"
BUSY_TIMEOUT_MS = 1000
TRACES_SINCE_LIMIT = 5000
"""Most traces one `traces_since` call returns; the next call continues from the mark."""
MAX_LIST_LIMIT = 100_000
MAX_TRACE_SPANS = 200_000
"""A bound on one trace's spans held in memory (the waterfall of a runaway trace stays usable)."""
MAX_BODY_BYTES = 16 * 1024 * 1024
"""A body larger than this (after gunzip) is cut: a gzip bomb must not exhaust memory."""
LEVEL_RECOUNT_S = 60.0
"""How long incremental level counts are trusted before a full recount (rows deleted in the
middle, e.g. a prune by time of rows with skewed clocks, would otherwise stay counted)."""
ORIGINAL_COUNTS_MAX_SPANS = 50_000
"""Without an index on spans.trace_id, per-trace span/error counts are computed only below this."""
_REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    # Without these a table of the right name belongs to some other application.
    "traces": ("trace_id", "started_at"),
    "spans": ("span_id", "trace_id", "name", "started_at"),
    "logs": ("id", "level", "message", "timestamp"),
}
_KNOWN_TABLES: tuple[type[Model], ...] = (Trace, Span, Log, Body, Writer)

_ROWID = SQL("rowid")


class OpenError(Exception):
    """A one-line reason the file cannot be shown (str(exc) is that line)."""


@dataclass(frozen=True, slots=True)
class SpanColumns:
    """One trace's spans as columns, in the order read (by start time): what a waterfall is
    built from without a SpanRow per span. `rows[i]` is the raw row `decode_span` takes."""

    span_ids: list[str]
    parent_ids: list[str | None]
    starts: Sequence[float]
    """A list, or (from `trace_keys`) an `array('d')`: see `SpanForest.parent`."""
    durations: list[float | None]
    rows: Sequence[Any]
    """Raw rows, or (from `trace_keys`) rowids in an `array('q')`."""


@dataclass(frozen=True, slots=True)
class TraceMark:
    """Where trace tailing stopped: the highest rowid seen and the (updated_at, rowid) keyset."""

    rowid: int = 0
    updated_at: float | None = None
    updated_rowid: int = 0


def _text_as_bytes(query: Select) -> Select:
    """`query` with its TEXT and BLOB columns selected as BLOBs (same names, same order)."""
    nodes = [
        Cast(node, "BLOB").alias(node.column_name)
        if isinstance(node, Field) and node.field_type in ("TEXT", "BLOB")
        else node
        for node in query._returning
    ]
    return query.select(*nodes)


# --------------------------------------------------------------------------- opening


_EXACT_REAL_TEXT: bool | None = None


def _exact_real_text(conn: apsw.Connection) -> bool:
    """Whether this SQLite turns a REAL into text that parses back to the same double (newer
    versions do; older ones wrote 15 significant digits)."""
    global _EXACT_REAL_TEXT
    if _EXACT_REAL_TEXT is None:
        probes = (0.1 + 0.2, 1795310547744.7422, 1795310547744.7424, 5e-324, 1 / 3)
        texts = conn.execute(
            "SELECT " + ", ".join("CAST(? AS TEXT)" for _ in probes), probes
        ).fetchall()[0]
        _EXACT_REAL_TEXT = all(float(t) == p for t, p in zip(texts, probes))
    return _EXACT_REAL_TEXT


def _empty_to_none(values: list[str | None], count: int) -> None:
    """Replace the `count` empty strings in `values` by None (searched at C speed)."""
    if count > 100:
        values[:] = [value or None for value in values]
        return
    at = -1
    for _ in range(count):
        at = values.index("", at + 1)
        values[at] = None


def _file_identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _precheck_file(path: Path) -> os.stat_result:
    """Checks that need no SQLite: never opens a FIFO or device (that could block forever)."""
    parent = path.parent
    if not parent.is_dir():
        raise OpenError(f"{path}: directory {parent} does not exist")
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise OpenError(f"{path}: no such file") from None
    except OSError as exc:
        raise OpenError(f"{path}: cannot access: {exc.strerror or one_line(exc)}") from None
    if stat.S_ISDIR(st.st_mode):
        raise OpenError(f"{path} is a directory, not a SQLite database")
    if not stat.S_ISREG(st.st_mode):
        raise OpenError(f"{path} is not a regular file (a FIFO, socket or device)")
    if st.st_size == 0:
        raise OpenError(f"{path} is not a SQLite database (empty file)")
    try:
        with open(path, "rb") as handle:
            header = handle.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise OpenError(f"{path}: cannot read: {exc.strerror or one_line(exc)}") from None
    if header != SQLITE_MAGIC:
        raise OpenError(f"{path} is not a SQLite database")
    return st


def _connect_readonly(path: Path, *, immutable: bool = False) -> apsw.Connection:
    # Percent-quote the path: '?', '#' and '%' in a file name would otherwise end the URI path.
    uri = "file:" + urllib.parse.quote(os.path.abspath(path), safe="/") + "?mode=ro"
    if immutable:
        uri += "&immutable=1"
    conn = apsw.Connection(uri, flags=apsw.SQLITE_OPEN_READONLY | apsw.SQLITE_OPEN_URI)
    conn.set_busy_timeout(BUSY_TIMEOUT_MS)
    register_sql_functions(conn)
    return conn


def _stamp(path: Path) -> tuple[int, int, bool, bool]:
    """What changes when a file is written, and whether a -wal/-shm appeared beside it."""
    try:
        st = os.stat(path)
    except OSError:
        return (-1, -1, False, False)
    return (
        st.st_size, st.st_mtime_ns,
        os.path.exists(f"{path}-wal"), os.path.exists(f"{path}-shm"),
    )


def _needs_immutable(path: Path, exc: apsw.Error) -> bool:
    """True when SQLite failed only because it cannot create -shm in a read-only directory."""
    if not isinstance(exc, (apsw.ReadOnlyError, apsw.CantOpenError)):
        return False
    if os.path.exists(f"{path}-wal") or os.path.exists(f"{path}-shm"):
        return False  # uncheckpointed data may be in the -wal: immutable would ignore it
    return not os.access(path.parent, os.W_OK)


def _must_not_create_files(path: Path) -> bool:
    """True for a WAL-mode file we may not write with no -wal/-shm beside it.

    A normal read-only open would create both, owned by us (and left behind: a read-only
    connection cannot remove them), after which the owner's writer can no longer write
    (tests/reliability/test_05_readonly.py). Nothing is uncheckpointed without a -wal, so an
    immutable open shows the whole database; `changed()` reopens normally once a -wal appears.
    """
    if os.path.exists(f"{path}-wal") or os.path.exists(f"{path}-shm") or os.access(path, os.W_OK):
        return False
    try:
        with open(path, "rb") as handle:
            header = handle.read(20)
    except OSError:
        return False
    return len(header) == 20 and header[18] == 2  # file format write version 2: WAL mode


def _sqlite_error(path: Path, exc: apsw.Error) -> OpenError:
    if isinstance(exc, apsw.NotADBError):
        return OpenError(f"{path} is not a SQLite database")
    if isinstance(exc, apsw.CorruptError):
        return OpenError(f"{path} is corrupt: {one_line(exc)}")
    if isinstance(exc, apsw.BusyError):
        return OpenError(f"{path} is locked by another process: {one_line(exc)}")
    if isinstance(exc, apsw.CantOpenError):
        return OpenError(f"{path} cannot be opened: {one_line(exc)}")
    return OpenError(f"{path}: {one_line(exc)}")


def check_path(path: Path) -> Literal["ok", "missing"]:
    """Validate before any screen: "missing" when only the file is absent, else OpenError."""
    path = Path(path)
    if not path.parent.is_dir():
        raise OpenError(f"{path}: directory {path.parent} does not exist")
    if not os.path.lexists(path):
        return "missing"
    reader = TraceReader(path)
    try:
        reader.open()
    finally:
        reader.close()
    return "ok"


# --------------------------------------------------------------------------- the reader


class TraceReader:
    """Read-only access to one trace database file (thread safe; one call at a time)."""

    def __init__(self, path: str | Path) -> None:
        self._path = Path(path)
        self._lock = threading.RLock()
        self._conn: apsw.Connection | None = None
        self._identity: tuple[int, int] | None = None
        self._data_version: int | None = None
        self._columns: dict[str, frozenset[str]] = {}
        self._spans_indexed_by_trace = False
        self._opened_once = False
        self._replaced = False
        self._level_cache: tuple[int, int, float, dict[str, int]] | None = None
        self._immutable_stamp: tuple[int, int, bool, bool] | None = None
        self._schema_cookie: int | None = None

    # ---- lifecycle

    @property
    def path(self) -> Path:
        """The database file this reader shows."""
        return self._path

    def open(self) -> None:
        """Open (or reopen) the database read-only; raises OpenError with a one-line reason."""
        with self._lock:
            self._close_connection()
            self._connect()
            self._replaced = False  # an explicit open is not a replacement the UI must handle

    def close(self) -> None:
        """Close the connection; safe to call twice."""
        with self._lock:
            self._close_connection()

    def __enter__(self) -> TraceReader:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def immutable(self) -> bool:
        """True when opened as an immutable snapshot (a WAL file in a read-only directory)."""
        with self._lock:
            return self._immutable_stamp is not None

    @property
    def columns(self) -> dict[str, frozenset[str]]:
        """Table -> columns present in the open database (empty tables dict when closed)."""
        with self._lock:
            return dict(self._columns)

    def _close_connection(self) -> None:
        conn, self._conn = self._conn, None
        self._identity = None
        self._data_version = None
        self._level_cache = None
        self._immutable_stamp = None
        self._schema_cookie = None
        if conn is not None:
            try:
                conn.close()
            except apsw.Error:  # pragma: no cover - closing a read-only connection
                log.debug("closing %s failed", self._path, exc_info=True)

    def _connect(self) -> None:
        st = _precheck_file(self._path)
        immutable = _must_not_create_files(self._path)
        try:
            conn, columns, indexed, data_version = self._open_validated(immutable=immutable)
        except apsw.Error as exc:
            if immutable or not _needs_immutable(self._path, exc):
                raise _sqlite_error(self._path, exc) from None
            # A WAL database in a directory we cannot write, with no -wal/-shm: SQLite cannot
            # create the shared-memory file. With no -wal there is nothing uncheckpointed, so the
            # main file alone is the whole database; `changed()` watches it by stat instead.
            try:
                conn, columns, indexed, data_version = self._open_validated(immutable=True)
            except apsw.Error as exc2:
                raise _sqlite_error(self._path, exc2) from None
            immutable = True
        self._immutable_stamp = _stamp(self._path) if immutable else None
        self._conn = conn
        self._identity = (st.st_dev, st.st_ino)
        self._data_version = data_version
        self._columns = columns
        self._spans_indexed_by_trace = indexed
        if self._opened_once:
            self._replaced = True
        self._opened_once = True

    def _validate(self, conn: apsw.Connection) -> tuple[dict[str, frozenset[str]], bool]:
        path = self._path
        tables = {
            row[0]
            for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall()
        }
        version = int(conn.execute("PRAGMA user_version").fetchall()[0][0])
        if version > SCHEMA_VERSION:
            raise OpenError(
                f"{path} was written by a newer lens_tui (schema version {version}; "
                f"this one reads up to {SCHEMA_VERSION})"
            )
        missing = [t for t in ORIGINAL_TABLES if t not in tables]
        if missing:
            raise OpenError(f"{path} has no {'/'.join(missing)} tables: not a trace database")
        columns: dict[str, frozenset[str]] = {}
        for model in _KNOWN_TABLES:
            table = model._meta.table_name
            if table in tables:
                rows = conn.execute(f'PRAGMA table_info("{table}")').fetchall()
                columns[table] = frozenset(str(row[1]) for row in rows)
        for table, required in _REQUIRED_COLUMNS.items():
            absent = [c for c in required if c not in columns[table]]
            if absent:
                raise OpenError(
                    f"{path}: table {table} has no {', '.join(absent)} column: "
                    "not a trace database"
                )
        # Touch the right edge of each b-tree: a truncated file fails here, not mid-session.
        for table in ORIGINAL_TABLES:
            conn.execute(f'SELECT max(rowid) FROM "{table}"').fetchall()
        indexed = False
        for row in conn.execute('PRAGMA index_list("spans")').fetchall():
            info = conn.execute(f'PRAGMA index_info("{row[1]}")').fetchall()
            if info and min(info)[2] == "trace_id":
                indexed = True
        return columns, indexed

    def _open_validated(
        self, *, immutable: bool
    ) -> tuple[apsw.Connection, dict[str, frozenset[str]], bool, int]:
        conn = _connect_readonly(self._path, immutable=immutable)
        try:
            # Read before validating: a change in between is then seen by _follow_schema.
            self._schema_cookie = int(conn.execute("PRAGMA schema_version").fetchall()[0][0])
            columns, indexed = self._validate(conn)
            return conn, columns, indexed, self._query_data_version(conn)
        except BaseException:
            conn.close()
            raise

    @staticmethod
    def _query_data_version(conn: apsw.Connection) -> int:
        return int(conn.execute("PRAGMA data_version").fetchall()[0][0])

    # ---- change detection

    def changed(self) -> bool:
        """True when another connection committed, or the file was replaced, deleted or created.

        A replaced or deleted file is noticed by its (st_dev, st_ino): an open connection would
        keep serving the old file forever. Then the reader reopens and `take_replaced()` is set.
        """
        with self._lock:
            identity = _file_identity(self._path)
            if self._conn is not None and identity == self._identity:
                if self._immutable_stamp is not None:
                    return self._immutable_changed()
                try:
                    version = self._query_data_version(self._conn)
                except apsw.Error:
                    log.debug("data_version failed on %s; reopening", self._path, exc_info=True)
                else:
                    if version == self._data_version:
                        return False
                    self._data_version = version
                    return True
            had_connection = self._conn is not None
            if had_connection:
                self._close_connection()
                self._replaced = True
            if identity is None:
                return had_connection
            try:
                self._connect()
            except OpenError as exc:
                # A writer may be creating the file right now (empty, no tables yet): retry later.
                log.debug("reopen of %s deferred: %s", self._path, exc)
                return had_connection
            return True

    def _immutable_changed(self) -> bool:
        """An immutable connection never sees writes: reopen when the file's stamp moves."""
        if _stamp(self._path) == self._immutable_stamp:
            return False
        replaced = self._replaced
        self._close_connection()
        try:
            self._connect()
        except OpenError as exc:
            log.debug("reopen of %s deferred: %s", self._path, exc)
        self._replaced = replaced  # the same file, rewritten: not a replacement
        return True

    def take_replaced(self) -> bool:
        """True once after the file was replaced or deleted (the UI drops what it holds)."""
        with self._lock:
            replaced, self._replaced = self._replaced, False
            return replaced

    # ---- query plumbing

    @contextmanager
    def _snapshot(self) -> Iterator[apsw.Connection | None]:
        """The connection inside one short read transaction (None while the file is missing)."""
        with self._lock:
            if self._conn is None:
                if not os.path.lexists(self._path):
                    yield None
                    return
                self._connect()
            conn = self._conn
            assert conn is not None
            try:
                conn.execute("BEGIN")
            except apsw.Error as exc:
                raise _sqlite_error(self._path, exc) from None
            try:
                self._follow_schema(conn)
                yield conn
            except apsw.Error as exc:
                self._end(conn, "ROLLBACK")
                raise _sqlite_error(self._path, exc) from None
            except BaseException:
                self._end(conn, "ROLLBACK")
                raise
            self._end(conn, "COMMIT")

    def _follow_schema(self, conn: apsw.Connection) -> None:
        """Re-read tables and columns when the schema changed since the last look (a writer
        migrated while we run): a stale cache would select NULL for columns that now exist and
        miss new tables such as writers (tests/reliability/test_07_schema_live.py)."""
        cookie = int(conn.execute("PRAGMA schema_version").fetchall()[0][0])
        if cookie != self._schema_cookie:
            self._columns, self._spans_indexed_by_trace = self._validate(conn)
            self._schema_cookie = cookie

    def _end(self, conn: apsw.Connection, statement: str) -> None:
        if conn.in_transaction:
            try:
                conn.execute(statement)
            except apsw.Error as exc:
                raise _sqlite_error(self._path, exc) from None

    @staticmethod
    def _fetch(conn: apsw.Connection, query: Node) -> list[tuple[Any, ...]]:
        sql, params = query.sql()
        cursor = conn.execute(sql, params)
        try:
            return cursor.fetchall()
        except UnicodeDecodeError:
            # A TEXT cell holds invalid UTF-8 (another program wrote it): APSW cannot decode it,
            # and one such cell would hide every row. Read text columns as bytes instead (the
            # row builders decode them with U+FFFD); the fast path stays as it was
            # (tests/reliability/test_ui_injection.py).
            cursor.close(force=True)
            if not isinstance(query, Select):
                raise
            return conn.execute(*_text_as_bytes(query).sql()).fetchall()

    def _layout(self) -> Layout:
        return Layout(self._columns, self._spans_indexed_by_trace)

    def _has(self, table: str, column: str) -> bool:
        return column in self._columns.get(table, frozenset())

    def _select(self, model: type[Model], wanted: Sequence[str], *extra: Node) -> Select:
        """SELECT of `wanted` columns, with `NULL AS col` for those this database lacks."""
        table = model._meta.table_name
        by_column = model._meta.columns
        nodes: list[Node] = [
            by_column[c] if self._has(table, c) else SQL(f'NULL AS "{c}"') for c in wanted
        ]
        return model.select(*nodes, *extra)

    # ---- traces

    def _with_counts(
        self, conn: apsw.Connection, rows: list[tuple[Any, ...]]
    ) -> list[TraceSummary]:
        """Summaries of trace rows; the original layout's missing counts computed when cheap."""
        if rows and not self._has("traces", "error_count") and not self._has("traces", "status"):
            counts = self._original_counts(conn, [as_text(r[0]) for r in rows])
            if counts is not None:
                rows = [(*r[:7], *counts.get(as_text(r[0]), (0, 0)), *r[9:]) for r in rows]
        return [trace_summary(r) for r in rows]

    def _counts_affordable(self, conn: apsw.Connection) -> bool:
        if self._spans_indexed_by_trace:
            return True
        top = conn.execute("SELECT max(rowid) FROM spans").fetchall()[0][0]
        return (top or 0) <= ORIGINAL_COUNTS_MAX_SPANS

    def _original_counts(
        self, conn: apsw.Connection, trace_ids: list[str]
    ) -> dict[str, tuple[int, int]] | None:
        """Span and error counts for a page of traces where the layout does not store them."""
        if not self._counts_affordable(conn):
            return None
        counts: dict[str, tuple[int, int]] = {}
        unique = list(dict.fromkeys(trace_ids))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            query = (
                Span.select(Span.trace, SQL("count(*)"), SQL("count(error_message)"))
                .where(Span.trace.in_(chunk))
                .group_by(Span.trace)
            )
            for trace_id, spans, errors in self._fetch(conn, query):
                counts[as_text(trace_id)] = (int(spans), int(errors))
        return counts

    def recent_traces(
        self,
        limit: int = 500,
        *,
        where: TraceWhere | None = None,
        name_filter: str | None = None,
        errors_only: bool = False,
        min_duration_ms: float | None = None,
        now_ms: float | None = None,
        before: float | None = None,
    ) -> list[TraceSummary]:
        """The traces `where` keeps at `now_ms`, newest first by started_at; `before` pages on
        (started_at < before). Without `where`, the `TraceFilter` of `name_filter`,
        `errors_only` and `min_duration_ms`."""
        limit = max(1, min(int(limit), MAX_LIST_LIMIT))
        if where is None:
            where = TraceFilter(name_filter or "", errors_only, min_duration_ms)
        elif name_filter or errors_only or min_duration_ms is not None:
            raise TypeError("recent_traces: pass `where` or the loose filters, not both")
        with self._snapshot() as conn:
            if conn is None:
                return []
            conditions: list[Node] = []
            if before is not None:
                conditions.append(Trace.started_at < float(before))
            conditions.extend(where.sql_where(self._layout(), now_ms))
            query = self._select(Trace, TRACE_COLUMNS)
            if conditions:
                query = query.where(*conditions)
            query = query.order_by(Trace.started_at.desc()).limit(limit)
            return self._with_counts(conn, self._fetch(conn, query))

    def current_trace_mark(self) -> TraceMark:
        """The mark at "now": tail from here after an initial `recent_traces` load."""
        with self._snapshot() as conn:
            if conn is None:
                return TraceMark()
            top = conn.execute("SELECT max(rowid) FROM traces").fetchall()[0][0] or 0
            if not self._has("traces", "updated_at"):
                return TraceMark(rowid=int(top))
            query = (
                Trace.select(Trace.updated_at, _ROWID)
                .where(Trace.updated_at.is_null(False))
                .order_by(Trace.updated_at.desc(), _ROWID.desc())
                .limit(1)
            )
            rows = self._fetch(conn, query)
            if not rows:
                return TraceMark(rowid=int(top))
            return TraceMark(int(top), as_ms(rows[0][0]), int(rows[0][1]))

    def traces_since(self, mark: TraceMark) -> tuple[list[TraceSummary], TraceMark]:
        """New or updated traces since `mark` (at most TRACES_SINCE_LIMIT), and the next mark."""
        with self._snapshot() as conn:
            if conn is None:
                return [], mark
            columns = self._select(Trace, TRACE_COLUMNS, _ROWID)
            new_rows = self._fetch(
                conn,
                columns.where(_ROWID > mark.rowid).order_by(_ROWID).limit(TRACES_SINCE_LIMIT),
            )
            rowid = int(new_rows[-1][-1]) if new_rows else mark.rowid
            updated_at, updated_rowid = mark.updated_at, mark.updated_rowid
            updated_rows: list[tuple[Any, ...]] = []
            if self._has("traces", "updated_at"):
                query = self._select(Trace, TRACE_COLUMNS, _ROWID)
                if mark.updated_at is None:
                    query = query.where(Trace.updated_at.is_null(False))
                else:
                    # Keyset on (updated_at, rowid): one commit stamps many rows with one time,
                    # and a LIMIT may cut inside that group.
                    query = query.where(
                        Trace.updated_at >= mark.updated_at,
                        (Trace.updated_at > mark.updated_at) | (_ROWID > mark.updated_rowid),
                    )
                query = query.order_by(Trace.updated_at, _ROWID).limit(TRACES_SINCE_LIMIT)
                updated_rows = self._fetch(conn, query)
                if updated_rows:
                    updated_at = as_ms(updated_rows[-1][10])
                    updated_rowid = int(updated_rows[-1][-1])
            merged: dict[str, tuple[Any, ...]] = {}
            for row in (*new_rows, *updated_rows):
                merged[as_text(row[0])] = row[:-1]
            traces = self._with_counts(conn, list(merged.values()))
        traces.sort(key=lambda t: t.started_at, reverse=True)
        return traces, TraceMark(rowid, updated_at, updated_rowid)

    def find_trace_ids(self, prefix: str, limit: int = 20) -> list[str]:
        """Trace ids starting with `prefix` (by the primary key index), in order."""
        prefix = prefix.strip()
        limit = max(1, min(int(limit), MAX_LIST_LIMIT))
        if not prefix:
            return []
        with self._snapshot() as conn:
            if conn is None:
                return []
            found: list[str] = []
            for candidate in dict.fromkeys((prefix, prefix.lower())):
                # A range instead of LIKE: LIKE is case-insensitive and cannot use the index.
                query = (
                    Trace.select(Trace.trace_id)
                    .where(Trace.trace_id >= candidate, Trace.trace_id < candidate + "\U0010ffff")
                    .order_by(Trace.trace_id)
                    .limit(limit)
                )
                found.extend(as_text(r[0]) for r in self._fetch(conn, query))
            return list(dict.fromkeys(found))[:limit]

    def find_trace_ids_ending(self, suffix: str, limit: int = 20) -> list[str]:
        """Trace ids ending in `suffix` (as given, or lowercase), in order. No index serves a
        suffix: this reads every trace id (the key index, not the rows)."""
        suffix = suffix.strip()
        limit = max(1, min(int(limit), MAX_LIST_LIMIT))
        if not suffix:
            return []
        with self._snapshot() as conn:
            if conn is None:
                return []
            candidates = list(dict.fromkeys((suffix, suffix.lower())))
            query = (
                Trace.select(Trace.trace_id)
                .where(fn.substr(Trace.trace_id, -len(suffix)).in_(candidates))
                .order_by(Trace.trace_id)
                .limit(limit)
            )
            return [as_text(r[0]) for r in self._fetch(conn, query)]

    def summaries(self, trace_ids: Sequence[str]) -> list[TraceSummary]:
        """The summaries of those of `trace_ids` that have a trace row, by start time."""
        unique = list(dict.fromkeys(trace_ids))[:MAX_LIST_LIMIT]
        if not unique:
            return []
        with self._snapshot() as conn:
            if conn is None:
                return []
            rows: list[tuple[Any, ...]] = []
            for start in range(0, len(unique), 500):
                query = self._select(Trace, TRACE_COLUMNS).where(
                    Trace.trace_id.in_(unique[start : start + 500])
                )
                rows.extend(self._fetch(conn, query))
            found = self._with_counts(conn, rows)
        found.sort(key=lambda t: (t.started_at, t.trace_id))
        return found

    # ---- spans

    def _spans_query(self, trace_id: str) -> Select:
        return (
            self._select(Span, SPAN_COLUMNS)
            .where(Span.trace == trace_id)
            .order_by(Span.started_at)
            .limit(MAX_TRACE_SPANS)
        )

    def trace(self, trace_id: str) -> TraceDetail:
        """One trace's summary (None if it has no trace row) and all its spans by start time."""
        with self._snapshot() as conn:
            if conn is None:
                return TraceDetail(None, ())
            summary_rows = self._fetch(
                conn, self._select(Trace, TRACE_COLUMNS).where(Trace.trace_id == trace_id).limit(1)
            )
            spans = tuple(span_row(r) for r in self._fetch(conn, self._spans_query(trace_id)))
        summary: TraceSummary | None = None
        if summary_rows:
            row = summary_rows[0]
            if not self._has("traces", "span_count"):
                errors = sum(1 for s in spans if s.status == "error")
                row = (*row[:7], len(spans), errors, *row[9:])
            summary = trace_summary(row)
        return TraceDetail(summary, spans)

    def trace_columns(self, trace_id: str) -> tuple[TraceSummary | None, SpanColumns]:
        """`trace()` without a SpanRow per span: the summary and the spans by start time as
        columns; `decode_span(columns.rows[i])` makes a span's SpanRow when it is needed.
        Building every SpanRow (and parsing every span's attributes) up front was most of the
        time to open a 100,000-span trace."""
        return self._trace_columns(trace_id, narrow=False)

    def trace_keys(self, trace_id: str) -> tuple[TraceSummary | None, SpanColumns]:
        """`trace_columns()` reading only what a forest is built from: `rows[i]` is the span's
        rowid, and `spans_at(rowids)` reads the rest when they are drawn or selected. Reading
        all 20 columns of 100,000 spans was about half the time to open such a trace (and a
        row tuple per span kept alive makes the garbage collector walk them all)."""
        return self._trace_columns(trace_id, narrow=True)

    def _trace_columns(
        self, trace_id: str, narrow: bool
    ) -> tuple[TraceSummary | None, SpanColumns]:
        statuses: list[tuple[Any, ...]] = []
        with self._snapshot() as conn:
            if conn is None:
                return None, SpanColumns([], [], [], [], [])
            summary_rows = self._fetch(
                conn, self._select(Trace, TRACE_COLUMNS).where(Trace.trace_id == trace_id).limit(1)
            )
            packed = self._packed_keys(conn, trace_id) if narrow else None
            if packed is not None:
                rows = packed.rows  # only counted below
                if summary_rows and not self._has("traces", "span_count"):
                    statuses = self._fetch(conn, (
                        self._select(Span, ("status", "error_message", "duration_ms"))
                        .where(Span.trace == trace_id)
                        .limit(MAX_TRACE_SPANS)
                    ))
            elif narrow:
                query = (
                    self._select(Span, KEY_COLUMNS, _ROWID)
                    .where(Span.trace == trace_id)
                    .order_by(Span.started_at)
                    .limit(MAX_TRACE_SPANS)
                )
                rows = self._fetch(conn, query)
                if summary_rows and not self._has("traces", "span_count"):
                    # The original layout: the error count comes from the spans' statuses.
                    statuses = self._fetch(conn, (
                        self._select(Span, ("status", "error_message", "duration_ms"))
                        .where(Span.trace == trace_id)
                        .limit(MAX_TRACE_SPANS)
                    ))
            else:
                rows = self._fetch(conn, self._spans_query(trace_id))
                statuses = [(r[6], r[7], r[5]) for r in rows]
        if packed is not None:
            return self._summary_of(summary_rows, statuses, len(packed.span_ids)), packed
        # The values `_span_row` gives: whole columns checked at C speed, decoded one by one
        # only when some cell is not the usual type (bytes, integers, infinities).
        at_id, at_parent, at_start, at_duration = (0, 1, 2, 3) if narrow else (0, 2, 4, 5)
        span_ids = [r[at_id] for r in rows]
        if not set(map(type, span_ids)) <= {str}:
            span_ids = [as_text(v) for v in span_ids]
        parent_ids = [r[at_parent] for r in rows]
        if not set(map(type, parent_ids)) <= {str, type(None)}:
            parent_ids = [as_opt_text(v) for v in parent_ids]
        starts = [r[at_start] for r in rows]
        if not set(map(type, starts)) <= {float} or not all(map(math.isfinite, starts)):
            starts = [as_ms(v) or 0.0 for v in starts]
        durations = [r[at_duration] for r in rows]
        if not set(map(type, durations)) <= {float, type(None)} or not all(
            map(math.isfinite, filter(None, durations))
        ):
            durations = [as_ms(v) for v in durations]
        summary = self._summary_of(summary_rows, statuses, len(rows))
        if narrow:
            # Arrays, which the garbage collector does not walk; the row tuples go.
            return summary, SpanColumns(
                span_ids, parent_ids, array("d", starts), durations,
                array("q", [r[4] for r in rows]),
            )
        return summary, SpanColumns(span_ids, parent_ids, starts, durations, rows)

    def _summary_of(
        self, summary_rows: list[tuple[Any, ...]], statuses: list[tuple[Any, ...]], spans: int
    ) -> TraceSummary | None:
        """The trace's summary; in the original layout its span and error counts come from
        its `spans` (how many) and their `statuses`."""
        if not summary_rows:
            return None
        row = summary_rows[0]
        if not self._has("traces", "span_count"):
            errors = sum(
                1 for r in statuses if status(r[0], r[1] is not None, as_ms(r[2])) == "error"
            )
            row = (*row[:7], spans, errors, *row[9:])
        return trace_summary(row)

    def _packed_keys(self, conn: apsw.Connection, trace_id: str) -> SpanColumns | None:
        """`trace_keys`' columns read as one row of five long strings, which SQLite builds
        without holding the GIL and Python splits and parses at C speed: a row tuple per span
        cost about twice as much, all of it holding the GIL the UI thread needs while a trace
        opens.

        SQLite's own number-to-text round-trips exactly (checked once, `_exact_real_text`).
        Starts travel as offsets from the first (exact: the difference of two doubles within
        a factor of two of each other is), which parse twice as fast as 17-digit epoch times;
        rowids stay text until a span is read (`spans_at` takes either). Odd cells come out as
        the row path would decode them, or make this return None and that path run: text
        starts are numbers to SQLite, as `_ms` makes them 0.0; an unparsable duration, an id
        holding the separator, invalid UTF-8 or an infinite start give None."""
        if not _exact_real_text(conn):
            return None

        def column(name: str) -> str:
            return f'"{name}"' if self._has("spans", name) else "NULL"

        parent, duration = column("parent_span_id"), column("duration_ms")
        sql = f"""
            SELECT count(*), count(*) - count(duration), count(*) - count(parent),
                sum(parent = ''), min(base),
                group_concat(span_id, char(31)),
                group_concat(coalesce(parent, ''), char(31)),
                group_concat(started_at - base, char(31)),
                group_concat(coalesce(duration, ''), char(31)),
                group_concat(rid, char(31))
            FROM (
                SELECT rowid AS rid, span_id, {parent} AS parent, started_at,
                    {duration} AS duration, (
                        SELECT CASE WHEN min(started_at) > 0
                            AND max(started_at) <= 2 * min(started_at)
                            THEN min(started_at) ELSE 0 END
                        FROM spans WHERE trace_id = ?1
                    ) AS base
                FROM spans WHERE trace_id = ?1 ORDER BY started_at LIMIT ?2
            )"""
        try:
            row = conn.execute(sql, (trace_id, MAX_TRACE_SPANS)).fetchall()[0]
        except UnicodeDecodeError:
            return None
        count, running, roots, empty, base, ids, parents, offsets, lengths, rowids = row
        if count == 0:
            return SpanColumns([], [], array("d"), [], [])
        if (roots and empty) or not isinstance(base, (int, float)):
            return None  # NULL and '' parents both (both read as ''); no numeric start
        span_ids = ids.split("\x1f")
        parent_ids: list[str | None] = parents.split("\x1f")
        if len(span_ids) != count or len(parent_ids) != count:
            return None  # an id holds the separator
        texts = lengths.split("\x1f")
        try:
            starts = array("d", map(float, offsets.split("\x1f")))
            durations: list[float | None] = (
                [float(text) if text else None for text in texts]
                if running else list(map(float, texts))
            )
        except ValueError:
            return None
        if base:
            starts = array("d", [base + offset for offset in starts])
        if not all(map(math.isfinite, starts)):
            return None
        if not all(map(math.isfinite, filter(None, durations))):
            durations = [as_ms(value) for value in durations]
        if roots:  # NULL parents were read as ''
            _empty_to_none(parent_ids, roots)
        return SpanColumns(span_ids, parent_ids, starts, durations, rowids.split("\x1f"))

    def find_spans(self, trace_id: str, text: str) -> list[str]:
        """Ids of the trace's spans whose name contains `text` (the trace list's rule,
        `name_matches`), in no particular order."""
        with self._snapshot() as conn:
            if conn is None:
                return []
            query = (
                Span.select(Span.span_id)
                .where((Span.trace == trace_id) & name_condition(text, Span.name))
                .limit(MAX_TRACE_SPANS)
            )
            return [as_text(row[0]) for row in self._fetch(conn, query)]

    def span_at(self, rowid: int | str) -> SpanRow | None:
        """The span stored at `rowid` (from `trace_keys`), as it is now; None if no row is."""
        return self.spans_at((rowid,)).get(int(rowid))

    def spans_at(self, rowids: Iterable[int | str]) -> dict[int, SpanRow]:
        """The spans stored at `rowids` (from `trace_keys`, as ints or text), as they are now,
        in one query per 500: rowid -> span, for the rows that exist."""
        wanted = sorted({int(rowid) for rowid in rowids})
        found: dict[int, SpanRow] = {}
        with self._snapshot() as conn:
            if conn is None:
                return found
            for at in range(0, len(wanted), 500):  # well under SQLite's variable limit
                chunk = wanted[at : at + 500]
                marks = ", ".join("?" * len(chunk))
                query = self._select(Span, SPAN_COLUMNS, _ROWID).where(
                    SQL(f"rowid IN ({marks})", chunk)
                )
                for row in self._fetch(conn, query):
                    found[int(row[-1])] = span_row(row[:-1])
        return found

    def decode_span(self, row: tuple[Any, ...]) -> SpanRow:
        """The SpanRow of a raw row from `trace_columns` (pure: any thread may call it)."""
        return span_row(row)

    def spans_since(self, trace_id: str, updated_after: float | None) -> list[SpanRow]:
        """Spans of a trace written after `updated_after` (all of them when it is None or the
        database does not record updated_at), by start time."""
        with self._snapshot() as conn:
            if conn is None:
                return []
            query = self._spans_query(trace_id)
            if updated_after is not None and self._has("spans", "updated_at"):
                query = query.where(Span.updated_at > float(updated_after))
            return [span_row(r) for r in self._fetch(conn, query)]

    # ---- logs

    def _log_page(
        self,
        conn: apsw.Connection,
        scope: LogWhere,
        *,
        after_id: int,
        before_id: int | None,
        newest: bool,
        limit: int,
    ) -> list[tuple[Any, ...]]:
        """Raw log rows `scope` keeps (but for its span subtree): the first or newest `limit`
        in (after, before)."""
        bounds: list[Node] = []
        if after_id:
            bounds.append(Log.id > int(after_id))
        if before_id is not None:
            bounds.append(Log.id < int(before_id))
        order = Log.id.desc() if newest else Log.id.asc()
        layout = self._layout()
        shown = scope.level_spellings()
        if shown is None or scope.trace_id is not None:
            # By trace, the (trace_id, id) index bounds the scan; filter levels on the way.
            where = [*scope.sql_where(layout), *bounds]
            query = self._select(Log, LOG_COLUMNS)
            if where:
                query = query.where(*where)
            return self._fetch(conn, query.order_by(order).limit(limit))
        # Across all logs, one (level, id) index range per stored spelling, merged here: an IN
        # list would make SQLite either sort every match or scan the table for rare levels.
        rows: list[tuple[Any, ...]] = []
        base = [*scope.sql_where(layout, levels=False), *bounds]
        for spelling in shown:
            query = self._select(Log, LOG_COLUMNS).where(Log.level == spelling, *base)
            rows.extend(self._fetch(conn, query.order_by(order).limit(limit)))
        rows.sort(key=lambda r: r[0], reverse=newest)
        return rows[:limit]

    def logs(
        self,
        *,
        scope: LogWhere | None = None,
        trace_id: str | None = None,
        span_ids: frozenset[str] | None = None,
        min_level: str = "debug",
        text: str | None = None,
        after_id: int = 0,
        before_id: int | None = None,
        limit: int = 2000,
    ) -> list[LogRow]:
        """The logs `scope` keeps, ascending by id; with after_id == 0, the NEWEST `limit`
        matches (ascending), below `before_id` if given (the page before the oldest one
        shown). Without `scope`, the `LogScope` of `trace_id`, `span_ids`, `min_level` and
        `text`."""
        limit = max(1, min(int(limit), MAX_LIST_LIMIT))
        if scope is None:
            scope = LogScope(
                trace_id, span_ids, min_level=normalise_level(min_level), text=text or ""
            )
        elif trace_id is not None or span_ids is not None or min_level != "debug" or text:
            raise TypeError("logs: pass `scope` or the loose filters, not both")
        newest = not after_id
        with self._snapshot() as conn:
            if conn is None:
                return []
            if scope.span_ids is None:
                rows = self._log_page(
                    conn, scope, after_id=after_id, before_id=before_id, newest=newest,
                    limit=limit,
                )
            else:
                rows = self._logs_of_spans(conn, scope, after_id, before_id, newest, limit)
        rows.sort(key=lambda r: r[0])
        return [log_row(r) for r in rows]

    def _logs_of_spans(
        self,
        conn: apsw.Connection,
        scope: LogWhere,
        after_id: int,
        before_id: int | None,
        newest: bool,
        limit: int,
    ) -> list[tuple[Any, ...]]:
        """Logs of some spans: the trace's logs (by index) paged and filtered here."""
        span_ids = scope.span_ids
        if not span_ids:
            return []
        trace_ids = (
            [scope.trace_id] if scope.trace_id is not None else self._traces_of(conn, span_ids)
        )
        page_size = max(limit, 1000)
        found: list[tuple[Any, ...]] = []
        for one_trace in trace_ids:
            # Each trace contributes at most `limit` rows: the overall first/newest `limit`
            # rows are among those.
            in_trace = scope.for_trace(one_trace)
            matched = 0
            low, high = after_id, before_id
            while matched < limit:
                page = self._log_page(
                    conn, in_trace, after_id=low, before_id=high, newest=newest,
                    limit=page_size,
                )
                hits = [r for r in page if as_text(r[2]) in span_ids]  # bytes: see _fetch
                found.extend(hits)
                matched += len(hits)
                if len(page) < page_size:
                    break
                if newest:
                    high = int(page[-1][0])
                else:
                    low = int(page[-1][0])
        found.sort(key=lambda r: r[0], reverse=newest)
        return found[:limit]

    def _traces_of(self, conn: apsw.Connection, span_ids: frozenset[str]) -> list[str]:
        trace_ids: list[str] = []
        ids = sorted(span_ids)
        for start in range(0, len(ids), 500):
            query = Span.select(Span.trace).where(Span.span_id.in_(ids[start : start + 500]))
            trace_ids.extend(as_text(r[0]) for r in self._fetch(conn, query.distinct()))
        return list(dict.fromkeys(trace_ids))

    def max_log_id(self) -> int:
        """The highest log id (0 when there are none)."""
        with self._snapshot() as conn:
            if conn is None:
                return 0
            return int(conn.execute("SELECT max(id) FROM logs").fetchall()[0][0] or 0)

    def level_counts(self, *, trace_id: str | None = None) -> dict[str, int]:
        """Log counts per normalised level, for one trace or all logs.

        All logs are counted incrementally: later calls only count ids above the last call's
        maximum; a full count is redone when old logs were pruned, the file changed, or every
        LEVEL_RECOUNT_S.
        """
        counts = dict.fromkeys(LEVELS, 0)
        with self._snapshot() as conn:
            if conn is None:
                return counts
            if trace_id is not None:
                query = (
                    Log.select(Log.level, SQL("count(*)"))
                    .where(Log.trace_id == trace_id)
                    .group_by(Log.level)
                )
                for level, count in self._fetch(conn, query):
                    counts[normalise_level(level)] += int(count)
                return counts
            low, high = self._rowid_range(conn, "logs")
            now = time.monotonic()
            cached = self._level_cache
            if (
                cached is not None
                and cached[0] == low
                and cached[1] <= high
                and now - cached[2] < LEVEL_RECOUNT_S
            ):
                counts.update(cached[3])
                counted_at = cached[2]
                # NOT INDEXED: a rowid range over the new rows, not a scan of the level index.
                sql = (
                    "SELECT CAST(level AS BLOB), count(*) FROM logs NOT INDEXED WHERE id > ?"
                    " GROUP BY level"
                )
                rows = conn.execute(sql, (cached[1],)).fetchall()
            else:
                counted_at = now
                # One pass over the narrow (level, id) index when there is one.
                # Levels as bytes: one invalid-UTF-8 level (another program wrote it) would
                # fail the whole count; `normalise_level` decodes it as the rows show it.
                rows = conn.execute(
                    "SELECT CAST(level AS BLOB), count(*) FROM logs GROUP BY level"
                ).fetchall()
            for level, count in rows:
                counts[normalise_level(level)] += int(count)
            self._level_cache = (low, high, counted_at, dict(counts))
            return counts

    def level_counts_upto(
        self,
        upto: int,
        *,
        trace_id: str | None = None,
        span_ids: frozenset[str] | None = None,
    ) -> dict[str, int]:
        """Log counts per normalised level up to log id `upto`: of all logs, one trace's, or
        (with `span_ids`) those of some spans of a trace. Exact and uncapped, for a pane whose
        own tally missed lines (the live tail counts those above `upto`)."""
        counts = dict.fromkeys(LEVELS, 0)
        with self._snapshot() as conn:
            if conn is None:
                return counts
            if span_ids is not None:
                if not span_ids:
                    return counts
                trace_ids = [trace_id] if trace_id is not None else self._traces_of(conn, span_ids)
                for one_trace in trace_ids:
                    query = Log.select(Log.level, Log.span_id).where(
                        (Log.trace_id == one_trace) & (Log.id <= upto)
                    )
                    for level, span_id in self._fetch(conn, query):
                        if as_text(span_id) in span_ids:
                            counts[normalise_level(level)] += 1
                return counts
            query = Log.select(Log.level, SQL("count(*)")).where(Log.id <= upto)
            if trace_id is not None:
                query = query.where(Log.trace_id == trace_id)
            for level, count in self._fetch(conn, query.group_by(Log.level)):
                counts[normalise_level(level)] += int(count)
        return counts

    def level_counts_of(
        self, scope: LogWhere, upto: int, *, exact: bool = False
    ) -> dict[str, int]:
        """Log counts per normalised level of the logs in `scope` (its trace or spans, whatever
        its level and text) through log id `upto`. A span scope, or any scope when `exact`, is
        counted exactly (`level_counts_upto`); a trace or all logs otherwise by the cheaper
        whole count (`level_counts`: all logs incrementally), which may include logs past
        `upto`."""
        if exact or scope.span_ids is not None:
            return self.level_counts_upto(upto, trace_id=scope.trace_id, span_ids=scope.span_ids)
        return self.level_counts(trace_id=scope.trace_id)

    @staticmethod
    def _rowid_range(conn: apsw.Connection, table: str) -> tuple[int, int]:
        """(min, max) rowid, (0, 0) when empty; two subqueries keep SQLite's O(log n) min/max."""
        sql = f'SELECT (SELECT min(rowid) FROM "{table}"), (SELECT max(rowid) FROM "{table}")'
        low, high = conn.execute(sql).fetchall()[0]
        return int(low or 0), int(high or 0)

    # ---- bodies and totals

    def body(self, body_hash: str) -> str | None:
        """A captured body as text (gunzipped; invalid UTF-8 as U+FFFD); None when absent."""
        with self._snapshot() as conn:
            if conn is None or "bodies" not in self._columns:
                return None
            compressed = (
                Body.is_compressed if self._has("bodies", "is_compressed") else SQL("0")
            )
            query = Body.select(Body.body, compressed).where(Body.hash == body_hash).limit(1)
            rows = self._fetch(conn, query)
        if not rows:
            return None
        stored, is_compressed = rows[0]
        data = stored if isinstance(stored, bytes) else as_text(stored).encode("utf-8", "replace")
        suffix = ""
        if is_compressed:
            try:
                inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
                data = inflater.decompress(data, MAX_BODY_BYTES)
                if inflater.unconsumed_tail:
                    suffix = f"\n… (body cut at {MAX_BODY_BYTES} bytes)"
            except zlib.error as exc:
                return f"(stored body could not be decompressed: {one_line(exc)})"
        elif len(data) > MAX_BODY_BYTES:
            data, suffix = data[:MAX_BODY_BYTES], f"\n… (body cut at {MAX_BODY_BYTES} bytes)"
        return data.decode("utf-8", errors="replace") + suffix

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Every row of one read-only query, in one short read transaction ([] while the file
        is missing): for readers of their own, such as the service map."""
        with self._snapshot() as conn:
            if conn is None:
                return []
            return conn.execute(sql, tuple(params)).fetchall()

    def stats(self) -> StoreStats:
        """Approximate totals (rowid ranges: O(log n)) and the writers table when present."""
        with self._snapshot() as conn:
            if conn is None:
                return StoreStats(traces=0, spans=0, logs=0, last_write_at=None)
            totals = []
            for table in ORIGINAL_TABLES:
                low, high = self._rowid_range(conn, table)
                totals.append(high - low + 1 if high else 0)
            writers: tuple[WriterInfo, ...] = ()
            if "writers" in self._columns:
                query = (
                    self._select(Writer, WRITER_COLUMNS)
                    .order_by(Writer.last_write_at.desc())
                    .limit(100)
                )
                writers = tuple(
                    writer_info(r) for r in self._fetch(conn, query)
                )
            # Writers record when they last wrote; rows carry their own (possibly skewed) times.
            last = max((w.last_write_at for w in writers), default=None)
            if last is None:
                last = self._newest_row_time(conn)
        return StoreStats(
            traces=totals[0],
            spans=totals[1],
            logs=totals[2],
            last_write_at=last,
            dropped=sum(w.dropped for w in writers),
            writers=writers,
        )

    def _newest_row_time(self, conn: apsw.Connection) -> float | None:
        """The time of the newest rows (by rowid: O(log n), no index needed)."""
        times: list[float] = []
        probes = (
            (Trace, ("started_at", "ended_at", "updated_at")),
            (Span, ("started_at", "updated_at")),
            (Log, ("timestamp",)),
        )
        for model, wanted in probes:
            query = self._select(model, wanted).order_by(_ROWID.desc()).limit(1)
            for row in self._fetch(conn, query):
                times.extend(t for t in (as_ms(v) for v in row) if t is not None)
        return max(times, default=None)
