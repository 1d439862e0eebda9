"""The schema: the original LENS layout read untouched and migrated forward, versions, imports."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import apsw
import pytest

from lens_tui import schema, tracing
from lens_tui.tracing import span
from lens_tui.tracing.sql import open_writable

from .conftest import read, scalar

# The original LENS core's layout, as its drizzle migration creates it: only the columns of
# schema.ORIGINAL_COLUMNS, INTEGER times, NOT NULL where drizzle's notNull() put it.
ORIGINAL_DDL = """
CREATE TABLE `traces` (
    `trace_id` text PRIMARY KEY NOT NULL,
    `root_span_name` text NOT NULL,
    `source` text,
    `started_at` integer NOT NULL,
    `ended_at` integer,
    `duration_ms` integer
);
CREATE TABLE `spans` (
    `span_id` text PRIMARY KEY NOT NULL,
    `trace_id` text NOT NULL,
    `parent_span_id` text,
    `name` text NOT NULL,
    `started_at` integer NOT NULL,
    `duration_ms` integer,
    `error_message` text,
    `input_size` integer,
    `output_size` integer,
    FOREIGN KEY (`trace_id`) REFERENCES `traces`(`trace_id`) ON UPDATE no action ON DELETE cascade
);
CREATE TABLE `logs` (
    `id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
    `trace_id` text,
    `span_id` text,
    `level` text NOT NULL,
    `message` text NOT NULL,
    `timestamp` integer NOT NULL
);
"""

# Epoch ms, integers as the original wrote them; an hour ago, inside the writer's retention.
T0 = int(time.time() * 1000) - 3_600_000
ORIGINAL_TRACES = [
    ("a" * 32, "GET /health", "web", T0, T0 + 12, 12),
    ("b" * 32, "runJob", "cli", T0 + 1000, T0 + 1500, 500),
]
ORIGINAL_SPANS = [
    ("1" * 16, "a" * 32, None, "GET /health", T0, 12, None, 10, 20),
    ("2" * 16, "a" * 32, "1" * 16, "checkDb", T0 + 2, 5, None, None, None),
    ("3" * 16, "b" * 32, None, "runJob", T0 + 1000, 500, "boom", 3, None),
    ("4" * 16, "b" * 32, "3" * 16, "step", T0 + 1100, None, None, None, None),
]
ORIGINAL_LOGS = [
    (1, "a" * 32, "2" * 16, "info", "db ok", T0 + 3),
    (2, "b" * 32, "3" * 16, "error", "job failed", T0 + 1400),
    (3, None, None, "warn", "no trace", T0 + 2000),
]


def make_original(path: Path, journal_mode: str = "wal") -> str:
    """Create a database exactly as the original LENS core left it; returns its sha256."""
    conn = apsw.Connection(str(path))
    conn.execute(f"PRAGMA journal_mode = {journal_mode}").fetchall()
    with conn:
        conn.execute(ORIGINAL_DDL)
        conn.executemany("INSERT INTO traces VALUES (?, ?, ?, ?, ?, ?)", ORIGINAL_TRACES)
        conn.executemany("INSERT INTO spans VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", ORIGINAL_SPANS)
        conn.executemany("INSERT INTO logs VALUES (?, ?, ?, ?, ?, ?)", ORIGINAL_LOGS)
    conn.close()  # the last connection checkpoints and removes the -wal
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]
    return sha256(path)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("journal_mode", ["wal", "delete"])
def test_original_layout_read_without_modifying_the_file(tmp_path: Path, journal_mode: str) -> None:
    path = tmp_path / "lens.db"
    before = make_original(path, journal_mode)
    reader_mod = pytest.importorskip("lens_tui.store.reader")
    with reader_mod.TraceReader(path) as reader:
        traces = reader.recent_traces()
        assert [t.trace_id for t in traces] == ["b" * 32, "a" * 32]
        assert traces[1].root_span_name == "GET /health" and traces[1].source == "web"
        assert traces[1].started_at == T0 and traces[1].duration_ms == 12
        detail = reader.trace("b" * 32)
        assert detail.summary is not None and detail.summary.status == "error"
        by_name = {s.name: s for s in detail.spans}
        assert by_name["runJob"].status == "error" and by_name["runJob"].error_message == "boom"
        assert by_name["step"].status == "running" and by_name["step"].duration_ms is None
        assert by_name["runJob"].input_size == 3 and by_name["runJob"].service is None
        logs = reader.logs()
        assert [(log.level, log.message) for log in logs] == [
            ("info", "db ok"),
            ("error", "job failed"),
            ("warn", "no trace"),
        ]
        assert reader.logs(min_level="warn")[0].message == "job failed"
    # And through a plain read-only connection, as any other tool would.
    assert scalar(path, "SELECT count(*) FROM spans") == 4
    assert scalar(path, "PRAGMA user_version") == 0
    assert sha256(path) == before


def test_writer_migrates_the_original_layout_forward(tmp_path: Path) -> None:
    path = tmp_path / "lens.db"
    make_original(path)
    tracing.configure(path, service="new", flush_interval=0.02)
    try:
        with span("new-root") as root:
            assert root is not None
            with span("new-child"):
                pass
        assert tracing.flush()
        store = tracing.get_store()
        assert store is not None and store.errors == 0 and store.dropped == 0
    finally:
        tracing.shutdown()

    assert scalar(path, "PRAGMA user_version") == schema.SCHEMA_VERSION
    for model in schema.MODELS:
        table = model._meta.table_name
        have = {r["name"] for r in read(path, f'PRAGMA table_info("{table}")')}
        assert set(schema.column_names(model)) <= have, table
    indexes = {r["name"] for r in read(path, "SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {name for name, _, _ in schema.INDEXES} <= indexes
    # Old rows intact, value for value.
    old = read(
        path,
        "SELECT trace_id, root_span_name, source, started_at, ended_at, duration_ms "
        "FROM traces WHERE trace_id IN (?, ?) ORDER BY trace_id",
        ("a" * 32, "b" * 32),
    )
    assert [tuple(r.values()) for r in old] == ORIGINAL_TRACES
    spans = read(
        path,
        "SELECT span_id, trace_id, parent_span_id, name, started_at, duration_ms, "
        "error_message, input_size, output_size FROM spans ORDER BY rowid LIMIT 4",
    )
    assert [tuple(r.values()) for r in spans] == ORIGINAL_SPANS
    logs = read(
        path, "SELECT id, trace_id, span_id, level, message, timestamp FROM logs ORDER BY id"
    )
    assert [tuple(r.values()) for r in logs] == ORIGINAL_LOGS
    # New spans written beside them.
    new = {r["name"]: r for r in read(path, "SELECT * FROM spans WHERE service = 'new'")}
    assert set(new) == {"new-root", "new-child"}
    assert new["new-child"]["parent_span_id"] == root.span_id
    trace = read(path, "SELECT * FROM traces WHERE trace_id = ?", (root.trace_id,))[0]
    assert (
        trace["root_span_name"] == "new-root"
        and trace["span_count"] == 2
        and trace["status"] == "ok"
    )
    assert scalar(path, "PRAGMA foreign_key_check") is None
    assert scalar(path, "PRAGMA integrity_check") == "ok"
    # The cascade survived the migration.
    conn = apsw.Connection(str(path))
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("DELETE FROM traces WHERE trace_id = ?", ("a" * 32,))
    conn.close()
    assert scalar(path, "SELECT count(*) FROM spans WHERE trace_id = ?", ("a" * 32,)) == 0


def test_migrate_twice_is_a_no_op(tmp_path: Path) -> None:
    conn = apsw.Connection(str(tmp_path / "m.db"))
    try:
        assert schema.migrate(conn) == schema.SCHEMA_VERSION
        ddl = conn.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall()
        changes = conn.total_changes()
        assert schema.migrate(conn) == schema.SCHEMA_VERSION
        assert conn.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall() == ddl
        assert conn.total_changes() == changes
        assert schema.user_version(conn) == schema.SCHEMA_VERSION
    finally:
        conn.close()


def test_newer_schema_raises_and_leaves_the_file_alone(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    conn = apsw.Connection(str(path))
    conn.execute("PRAGMA journal_mode = WAL").fetchall()  # as a newer lens_tui leaves it
    conn.execute("CREATE TABLE traces (trace_id TEXT PRIMARY KEY)")
    conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION + 1}")
    conn.close()
    before = sha256(path)
    conn = apsw.Connection(str(path))
    try:
        with pytest.raises(schema.SchemaTooNew):
            schema.migrate(conn)
        assert conn.getautocommit()  # the transaction was rolled back
    finally:
        conn.close()
    with pytest.raises(schema.SchemaTooNew):
        open_writable(path)
    assert sha256(path) == before


MIGRATE_SCRIPT = textwrap.dedent(
    """
    import sys, time
    import apsw
    from lens_tui import schema
    from lens_tui.tracing.sql import open_writable
    path, start_at = sys.argv[1], float(sys.argv[2])
    while time.time() < start_at:
        time.sleep(0.001)
    conn = open_writable(__import__("pathlib").Path(path))
    print(schema.user_version(conn))
    conn.close()
    """
)


@pytest.mark.parametrize("original", [False, True], ids=["empty-file", "original-layout"])
def test_processes_migrating_at_once(tmp_path: Path, original: bool) -> None:
    path = tmp_path / "race.db"
    if original:
        make_original(path)
    start_at = time.time() + 1.0  # both interpreters are up by then
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", MIGRATE_SCRIPT, str(path), str(start_at)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(3)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert out.strip() == str(schema.SCHEMA_VERSION)
    assert scalar(path, "PRAGMA user_version") == schema.SCHEMA_VERSION
    assert scalar(path, "PRAGMA integrity_check") == "ok"
    have = {r["name"] for r in read(path, "PRAGMA table_info(spans)")}
    assert set(schema.column_names(schema.Span)) == have
    if original:
        assert scalar(path, "SELECT count(*) FROM spans") == len(ORIGINAL_SPANS)


def test_core_imports_without_textual_or_rich(tmp_path: Path) -> None:
    code = textwrap.dedent(
        """
        import sys
        import lens_tui.tracing, lens_tui.schema, lens_tui.bodies, lens_tui.store
        import lens_tui.tracing.middleware, lens_tui.tracing.loghandler, lens_tui.tracing.retention
        try:
            import lens_tui.store.reader
        except ModuleNotFoundError:
            pass
        from lens_tui import tracing
        tracing.configure(sys.argv[1], flush_interval=0.02)
        with tracing.span("x"):
            pass
        tracing.shutdown()
        bad = sorted(m for m in sys.modules if m.split(".")[0] in ("textual", "rich")
                     or m.startswith("lens_tui.ui"))
        assert not bad, bad
        """
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "t.db")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_writer_never_touches_another_applications_database(tmp_path: Path) -> None:
    import hashlib

    from lens_tui.tracing.sql import open_writable

    path = tmp_path / "other.db"
    other = apsw.Connection(str(path))
    other.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    other.execute("INSERT INTO customers (name) VALUES ('ada')")
    other.close()
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(schema.NotATraceDatabase, match="another application"):
        open_writable(path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert not (tmp_path / "other.db-wal").exists()


def test_writer_refuses_a_newer_schema_before_changing_its_journal_mode(tmp_path: Path) -> None:
    from lens_tui.tracing.sql import open_writable

    path = tmp_path / "newer.db"
    newer = apsw.Connection(str(path))
    newer.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION + 1}")
    newer.close()
    with pytest.raises(schema.SchemaTooNew):
        open_writable(path)
    check = apsw.Connection(str(path))
    assert check.execute("PRAGMA journal_mode").fetchall()[0][0] == "delete"
    check.close()
