"""`Database`: one read-only connection to a trace database file, and everything about holding it.

Opening refuses what is not ours with one line (`OpenError`): a missing directory, a FIFO or
device (never opened: that could block), a file that is not SQLite, a database of some other
application, one written by a newer lens_tui. Three layouts open: ours, the original LENS one,
and the dispatch trace store's records (read through TEMP views, `store/record_layout.py`). Change detection is cheap: `PRAGMA data_version`
for commits by other connections, the file's (st_dev, st_ino) for a replaced or deleted file,
which an open connection would otherwise keep serving forever.

Every read is one short BEGIN/COMMIT whose cursors are fully consumed (`Database.read`), so no
read transaction outlives a call and a writer can always checkpoint (docs/findings.md:
checkpoint starvation). The connection is opened with `mode=ro`: it can neither write nor
checkpoint the file.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
import urllib.parse
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import apsw
from peewee import SQL, Cast, Field, Model, Node, Select

from lens_tui.schema import ORIGINAL_TABLES, SCHEMA_VERSION, Body, Log, Span, Trace, Writer
from lens_tui.store import record_layout
from lens_tui.store.filters import register_sql_functions
from lens_tui.store.layout import Layout
from lens_tui.text import one_line

log = logging.getLogger(__name__)

SQLITE_MAGIC = b"SQLite format 3\x00"
BUSY_TIMEOUT_MS = 1000
ROWID = SQL("rowid")

_REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    # Without these a table of the right name belongs to some other application.
    "traces": ("trace_id", "started_at"),
    "spans": ("span_id", "trace_id", "name", "started_at"),
    "logs": ("id", "level", "message", "timestamp"),
}
_KNOWN_TABLES: tuple[type[Model], ...] = (Trace, Span, Log, Body, Writer)


class OpenError(Exception):
    """A one-line reason the file cannot be shown (str(exc) is that line)."""


class Interrupted(OpenError):
    """A read stopped by `TraceReader.interrupt()`: nothing is wrong with the file."""


# --------------------------------------------------------------------------- reading rows


def _text_as_bytes(query: Select) -> Select:
    """`query` with its TEXT and BLOB columns selected as BLOBs (same names, same order)."""
    nodes = [
        Cast(node, "BLOB").alias(node.column_name)
        if isinstance(node, Field) and node.field_type in ("TEXT", "BLOB")
        else node
        for node in query._returning
    ]
    return query.select(*nodes)


@dataclass(frozen=True, slots=True)
class Read:
    """One short read transaction: its connection and the layout of the file it reads."""

    conn: apsw.Connection
    layout: Layout

    def fetch(self, query: Node) -> list[tuple[Any, ...]]:
        """Every row of `query` (the cursor fully consumed)."""
        sql, params = query.sql()
        cursor = self.conn.execute(sql, params)
        try:
            return cursor.fetchall()
        except UnicodeDecodeError:
            # A TEXT cell holds invalid UTF-8 (another program wrote it): APSW cannot decode it,
            # and one such cell would hide every row. Read text columns as bytes instead (the
            # row decoders decode them with U+FFFD); the fast path stays as it was
            # (tests/reliability/test_ui_injection.py).
            cursor.close(force=True)
            if not isinstance(query, Select):
                raise
            return self.conn.execute(*_text_as_bytes(query).sql()).fetchall()

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...]:
        """The first row of a plain SQL statement that returns one."""
        return self.conn.execute(sql, params).fetchall()[0]

    def select(self, model: type[Model], wanted: Sequence[str], *extra: Node) -> Select:
        """SELECT of `wanted` columns, with `NULL AS col` for those this database lacks."""
        table = model._meta.table_name
        by_column = model._meta.columns
        nodes: list[Node] = [
            by_column[c] if self.layout.has(table, c) else SQL(f'NULL AS "{c}"') for c in wanted
        ]
        return model.select(*nodes, *extra)

    def rowid_range(self, table: str) -> tuple[int, int]:
        """(min, max) rowid, (0, 0) when empty, in O(log n): by the rowid order of a table, or
        of each arm of a record store's view (min() and max() would scan a view: only an
        ordered LIMIT lets SQLite flatten it and merge its arms)."""
        sql = (
            f'SELECT (SELECT rowid FROM "{table}" ORDER BY rowid LIMIT 1),'
            f' (SELECT rowid FROM "{table}" ORDER BY rowid DESC LIMIT 1)'
        )
        low, high = self.one(sql)
        return int(low or 0), int(high or 0)


# --------------------------------------------------------------------------- opening


def file_identity(path: Path) -> tuple[int, int] | None:
    """(st_dev, st_ino) of `path`, None when it cannot be stat'ed: a replaced file has another."""
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
        st.st_size,
        st.st_mtime_ns,
        os.path.exists(f"{path}-wal"),
        os.path.exists(f"{path}-shm"),
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
    if isinstance(exc, apsw.InterruptError):
        return Interrupted(f"{path}: the read was interrupted")
    if isinstance(exc, apsw.NotADBError):
        return OpenError(f"{path} is not a SQLite database")
    if isinstance(exc, apsw.CorruptError):
        return OpenError(f"{path} is corrupt: {one_line(exc)}")
    if isinstance(exc, apsw.BusyError):
        return OpenError(f"{path} is locked by another process: {one_line(exc)}")
    if isinstance(exc, apsw.CantOpenError):
        return OpenError(f"{path} cannot be opened: {one_line(exc)}")
    return OpenError(f"{path}: {one_line(exc)}")


def _table_columns(conn: apsw.Connection, table: str) -> frozenset[str]:
    """The columns of the file's own `table` (main: a TEMP view may shadow its name)."""
    rows = conn.execute(f'PRAGMA main.table_info("{table}")').fetchall()
    return frozenset(str(row[1]) for row in rows)


def _validate(path: Path, conn: apsw.Connection) -> Layout:
    """The file's layout, or OpenError when it is not a trace database lens_tui can read; a
    record store's views are (re)created on `conn` (`lens_tui.store.record_layout`)."""
    tables = {
        row[0]
        for row in conn.execute("SELECT name FROM main.sqlite_master WHERE type='table'").fetchall()
    }
    version = int(conn.execute("PRAGMA main.user_version").fetchall()[0][0])
    if version > SCHEMA_VERSION:
        raise OpenError(
            f"{path} was written by a newer lens_tui (schema version {version}; "
            f"this one reads up to {SCHEMA_VERSION})"
        )
    if record_layout.detect(tables):
        return _validate_record_store(path, conn, tables)
    missing = [t for t in ORIGINAL_TABLES if t not in tables]
    if missing:
        raise OpenError(f"{path} has no {'/'.join(missing)} tables: not a trace database")
    columns: dict[str, frozenset[str]] = {}
    for model in _KNOWN_TABLES:
        table = model._meta.table_name
        if table in tables:
            columns[table] = _table_columns(conn, table)
    for table, required in _REQUIRED_COLUMNS.items():
        absent = [c for c in required if c not in columns[table]]
        if absent:
            raise OpenError(
                f"{path}: table {table} has no {', '.join(absent)} column: not a trace database"
            )
    # Touch the right edge of each b-tree: a truncated file fails here, not mid-session.
    for table in ORIGINAL_TABLES:
        conn.execute(f'SELECT max(rowid) FROM main."{table}"').fetchall()
    indexed = False
    for row in conn.execute('PRAGMA main.index_list("spans")').fetchall():
        info = conn.execute(f'PRAGMA main.index_info("{row[1]}")').fetchall()
        if info and min(info)[2] == "trace_id":
            indexed = True
    return Layout(columns, indexed)


def _validate_record_store(path: Path, conn: apsw.Connection, tables: set[str]) -> Layout:
    """The layout of a record store, its views created on `conn`."""
    records = _table_columns(conn, record_layout.RECORDS)
    absent = record_layout.missing_columns(records)
    if absent:
        raise OpenError(
            f"{path}: table records has no {', '.join(absent)} column: not a trace database"
        )
    bodies = _table_columns(conn, "bodies") if "bodies" in tables else frozenset()
    conn.execute('SELECT max(rowid) FROM main."records"').fetchall()  # a truncated file fails here
    record_layout.install(conn, records, bodies)
    return Layout(record_layout.layout_columns(records, bodies), True, record_store=True)


def _query_data_version(conn: apsw.Connection) -> int:
    return int(conn.execute("PRAGMA data_version").fetchall()[0][0])


def _schema_version(conn: apsw.Connection) -> int:
    return int(conn.execute("PRAGMA schema_version").fetchall()[0][0])


def check_path(path: Path) -> Literal["ok", "missing", "record-store"]:
    """Validate before any screen: "missing" when only the file is absent, "record-store" for
    a file lens_tui reads but never writes (the dispatch trace store's), else OpenError."""
    path = Path(path)
    if not path.parent.is_dir():
        raise OpenError(f"{path}: directory {path.parent} does not exist")
    if not os.path.lexists(path):
        return "missing"
    database = Database(path)
    try:
        database.open()
        record_store = database.layout.record_store
    finally:
        database.close()
    return "record-store" if record_store else "ok"


# --------------------------------------------------------------------------- the connection


class Database:
    """One read-only connection to a trace database file: opened and validated on demand,
    reopened when the file is replaced; thread safe, one read at a time (`lock`)."""

    def __init__(self, path: str | Path, lock: threading.RLock | None = None) -> None:
        self._path = Path(path)
        self.lock = threading.RLock() if lock is None else lock
        """Held for every read and every open/close: one call at a time on the connection."""
        self._conn: apsw.Connection | None = None
        self._identity: tuple[int, int] | None = None
        self._data_version: int | None = None
        self._layout = Layout()
        self._opened_once = False
        self._replaced = False
        self._immutable_stamp: tuple[int, int, bool, bool] | None = None
        self._schema_cookie: int | None = None
        self._generation = 0

    # ---- lifecycle

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    @property
    def layout(self) -> Layout:
        """The tables and columns of the open file (no tables when never opened)."""
        with self.lock:
            return self._layout

    @property
    def immutable(self) -> bool:
        """True when opened as an immutable snapshot (a WAL file in a read-only directory)."""
        with self.lock:
            return self._immutable_stamp is not None

    @property
    def generation(self) -> int:
        """Changes whenever the connection is closed: what was derived from it is stale."""
        return self._generation

    @property
    def current(self) -> apsw.Connection | None:
        """The open APSW connection, None while closed (for inspection: do not query it)."""
        return self._conn

    def open(self) -> None:
        """Open (or reopen) the database read-only; raises OpenError with a one-line reason."""
        with self.lock:
            self._close_connection()
            self._connect()
            self._replaced = False  # an explicit open is not a replacement the UI must handle

    def close(self) -> None:
        """Close the connection; safe to call twice."""
        with self.lock:
            self._close_connection()

    def interrupt(self) -> None:
        """Stop the read running on this connection now, from any thread (it raises
        `Interrupted`); without one running, nothing happens, and later reads are not affected."""
        conn = self._conn  # no lock: the read that holds it is what this stops
        if conn is not None:
            try:
                conn.interrupt()
            except apsw.ConnectionClosedError:  # closed meanwhile: nothing runs on it
                pass

    def _close_connection(self) -> None:
        conn, self._conn = self._conn, None
        self._identity = None
        self._data_version = None
        self._immutable_stamp = None
        self._schema_cookie = None
        self._generation += 1
        if conn is not None:
            try:
                conn.close()
            except apsw.Error:  # pragma: no cover - closing a read-only connection
                log.debug("closing %s failed", self._path, exc_info=True)

    def _connect(self) -> None:
        st = _precheck_file(self._path)
        immutable = _must_not_create_files(self._path)
        try:
            conn, layout, data_version = self._open_validated(immutable=immutable)
        except apsw.Error as exc:
            if immutable or not _needs_immutable(self._path, exc):
                raise _sqlite_error(self._path, exc) from None
            # A WAL database in a directory we cannot write, with no -wal/-shm: SQLite cannot
            # create the shared-memory file. With no -wal there is nothing uncheckpointed, so the
            # main file alone is the whole database; `changed()` watches it by stat instead.
            try:
                conn, layout, data_version = self._open_validated(immutable=True)
            except apsw.Error as exc2:
                raise _sqlite_error(self._path, exc2) from None
            immutable = True
        self._immutable_stamp = _stamp(self._path) if immutable else None
        self._conn = conn
        self._identity = (st.st_dev, st.st_ino)
        self._data_version = data_version
        self._layout = layout
        if self._opened_once:
            self._replaced = True
        self._opened_once = True

    def _open_validated(self, *, immutable: bool) -> tuple[apsw.Connection, Layout, int]:
        conn = _connect_readonly(self._path, immutable=immutable)
        try:
            # Read before validating: a change in between is then seen by _follow_schema.
            self._schema_cookie = _schema_version(conn)
            layout = _validate(self._path, conn)
            return conn, layout, _query_data_version(conn)
        except BaseException:
            conn.close()
            raise

    # ---- change detection

    def changed(self) -> bool:
        """True when another connection committed, or the file was replaced, deleted or created.

        A replaced or deleted file is noticed by its (st_dev, st_ino): an open connection would
        keep serving the old file forever. Then the reader reopens and `take_replaced()` is set.
        """
        with self.lock:
            identity = file_identity(self._path)
            if self._conn is not None and identity == self._identity:
                if self._immutable_stamp is not None:
                    return self._immutable_changed()
                try:
                    version = _query_data_version(self._conn)
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
        with self.lock:
            replaced, self._replaced = self._replaced, False
            return replaced

    # ---- reading

    @contextmanager
    def read(self) -> Iterator[Read | None]:
        """One short read transaction (None while the file is missing), under `lock`."""
        with self.lock:
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
                yield Read(conn, self._layout)
            except apsw.Error as exc:
                self._end(conn, "ROLLBACK")
                raise _sqlite_error(self._path, exc) from None
            except BaseException:
                self._end(conn, "ROLLBACK")
                raise
            self._end(conn, "COMMIT")

    def _follow_schema(self, conn: apsw.Connection) -> None:
        """Re-read tables and columns when the schema changed since the last look (a writer
        migrated while we run): a stale layout would select NULL for columns that now exist
        and miss new tables such as writers (tests/reliability/test_07_schema_live.py)."""
        cookie = _schema_version(conn)
        if cookie != self._schema_cookie:
            self._layout = _validate(self._path, conn)
            self._schema_cookie = cookie

    def _end(self, conn: apsw.Connection, statement: str) -> None:
        if conn.in_transaction:
            try:
                conn.execute(statement)
            except apsw.Error as exc:
                raise _sqlite_error(self._path, exc) from None
