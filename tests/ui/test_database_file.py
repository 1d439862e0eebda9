"""The file the dashboard watches: it waits for one that does not exist yet, reloads one that
was replaced, shows the original LENS layout live, and never writes to any (checked with a
second connection and the bytes on disk)."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from pathlib import Path

import apsw
import pytest

# tests/store's builder of a database in the original LENS layout (tests/ is on sys.path, as for
# tests/reliability's `from ui.conftest import ...`).
from store.conftest import make_original_layout, sid, tid

from lens_tui import tracing

from . import fixture_db
from .conftest import loaded, make_app, messages, open_trace, screen_text, trace_names, wait_for
from .oracle import content_dump, file_state, read_only

SIZE = (120, 40)


async def test_waits_for_a_database_that_does_not_exist_yet(tmp_path: Path) -> None:
    path = tmp_path / "later.db"
    app = make_app(path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "waiting for later.db" in screen_text(app))
        fixture_db.build(path)
        await loaded(pilot)
        assert len(app.trace_list.rows) == 8


async def test_a_replaced_database_is_reloaded(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        fixture_db.add_trace(db, 90, "GET /after-replace")
        await wait_for(pilot, lambda: len(app.trace_list.rows) == 1)
        assert app.trace_list.rows[0].root_span_name == "GET /after-replace"
        await wait_for(
            pilot, lambda: [r.message for r in app.log_pane.rows] == ["GET /after-replace handled"]
        )


def _write_original_trace(path: Path) -> None:
    """A second connection adds a trace (two spans, a log) to an original-layout database, in
    that layout's own columns, as an old LENS writer would."""
    conn = apsw.Connection(str(path))
    try:
        conn.set_busy_timeout(5000)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO traces VALUES (?, 'route 9', 'web', 9000, 9040, 40)", (tid(9),))
        conn.execute(
            "INSERT INTO spans VALUES (?, ?, NULL, 'route 9', 9000, 40, NULL, 30, 40)",
            (sid(9, 0), tid(9)),
        )
        conn.execute(
            "INSERT INTO spans VALUES (?, ?, ?, 'child 9', 9010, 20, NULL, NULL, NULL)",
            (sid(9, 1), tid(9), sid(9, 0)),
        )
        conn.execute(
            "INSERT INTO logs (trace_id, span_id, level, message, timestamp)"
            " VALUES (?, ?, 'info', 'log 9', 9015)",
            (tid(9), sid(9, 1)),
        )
        conn.execute("COMMIT")
    finally:
        conn.close()


@pytest.mark.parametrize("wal", [False, True], ids=["rollback", "wal"])
async def test_original_layout_database_is_shown_live_and_never_written(
    tmp_path: Path, wal: bool
) -> None:
    path = tmp_path / "lens.db"
    make_original_layout(path, wal=wal)
    listing = sorted(os.listdir(tmp_path))
    assert listing == ["lens.db"]  # the builder closed it: a WAL database was checkpointed
    before = file_state(path)
    app = make_app(path, clock=lambda: 10_000.0)  # integer epoch ms 1000..4000 in that layout
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        assert trace_names(app) == ["route 4", "route 3", "route 2", "route 1"]
        rows = app.trace_list.rows
        assert [rows[i].duration_ms for i in range(4)] == [None, 50.0, 50.0, 50.0]
        text = screen_text(app)
        assert re.search(r"route 3 .* 50\.0ms +2 ", text)  # name, duration, span count
        assert re.search(r"route 4 .* 6\.00s… +1 ", text)  # running: its age so far

        await pilot.press("e")
        await wait_for(pilot, lambda: trace_names(app) == ["route 2"])
        assert "errors only" in screen_text(app)
        await pilot.press("e")
        await wait_for(pilot, lambda: len(app.trace_list.rows) == 4)

        await open_trace(pilot, "route 2")
        forest = app.waterfall.forest
        assert forest is not None
        assert [(s.name, s.span_id, s.parent_span_id) for s in forest.spans] == [
            ("route 2", sid(2, 0), None),
            ("child", sid(2, 1), sid(2, 0)),
        ]
        assert [s.error_message for s in forest.spans] == [None, "boom"]
        await wait_for(pilot, lambda: messages(app) == ["log 2"])
        assert app.log_pane.rows[0].level == "warn"
        text = screen_text(app)
        assert "└── child" in text and "log 2" in text
        await pilot.press("down")  # the root span: in and out sizes of the original columns
        await wait_for(
            pilot, lambda: "sizes      in 10 B · out 20 B" in (app.detail.copy_text() or "")
        )

        # Nothing the dashboard did so far wrote to the file, or beside it.
        assert file_state(path) == before
        if wal:
            # A read-only connection to a WAL database needs a -shm; SQLite creates it (and an
            # empty -wal) because the directory is writable. No frame is ever written.
            assert sorted(os.listdir(tmp_path)) == ["lens.db", "lens.db-shm", "lens.db-wal"]
            assert (tmp_path / "lens.db-wal").stat().st_size == 0
        else:
            assert sorted(os.listdir(tmp_path)) == listing

        # A second connection writes a trace while the app runs: it shows up, with its log.
        await pilot.press("escape", "escape")  # back to the list, trace closed: all recent logs
        _write_original_trace(path)
        after_writer = file_state(path)
        wal_after_writer = file_state(tmp_path / "lens.db-wal") if wal else None
        await wait_for(pilot, lambda: tid(9) in app.trace_list.rows)
        assert trace_names(app)[0] == "route 9"
        await wait_for(pilot, lambda: "log 9" in messages(app))
        await open_trace(pilot, "route 9")
        assert app.waterfall.row_count == 2
        await pilot.press("q")
    assert file_state(path) == after_writer
    if wal:
        # The writer's frames are still in the -wal: the readers neither checkpointed nor
        # truncated it when they closed.
        assert file_state(tmp_path / "lens.db-wal") == wal_after_writer
    else:
        assert sorted(os.listdir(tmp_path)) == listing  # no -journal, -wal or -shm, ever


def write_with_tracing(path: Path) -> None:
    """A database written by lens_tui.tracing: three requests, nested spans, logs, one error."""
    tracing.configure(
        path, service="shop", flush_interval=0.02, retention_days=None, flush_on_sigterm=False
    )
    logger = logging.getLogger("test.readonly")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    handler = tracing.LogHandler()
    logger.addHandler(handler)
    try:
        for i in range(3):
            with tracing.span(f"GET /items/{i}", item=i):
                logger.info("loading item %d", i)
                with tracing.span("db.query"):
                    logger.debug("query for item %d", i)
                if i == 1:
                    try:
                        with tracing.span("charge"):
                            raise ValueError("card declined")
                    except ValueError:
                        logger.exception("charge failed")
        assert tracing.flush()
    finally:
        tracing.shutdown()
        logger.removeHandler(handler)


async def test_a_tour_of_every_pane_leaves_the_database_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "traces.db"
    write_with_tracing(path)
    dump = content_dump(path)
    assert dump["rows:traces"][0] == 3 and dump["rows:logs"][0] == 7
    assert dump["user_version"] != [(0,)]
    main_file = file_state(path)
    # The oracle's own read-only connection left an empty -wal and a -shm beside the file.
    listing = sorted(os.listdir(tmp_path))
    assert listing == ["traces.db", "traces.db-shm", "traces.db-wal"]
    conn = read_only(path)
    try:
        ((latest,),) = conn.execute("SELECT max(started_at) FROM traces").fetchall()
    finally:
        conn.close()
    app = make_app(path, clock=lambda: float(latest) + 1_000.0)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        assert set(trace_names(app)) == {"GET /items/0", "GET /items/1", "GET /items/2"}
        await open_trace(pilot, "GET /items/1")
        await pilot.press("down", "down", "down")  # root, db.query, charge
        await wait_for(pilot, lambda: "card declined" in (app.detail.copy_text() or ""))
        await pilot.press("a", "a", "t", "c", "y")
        await wait_for(pilot, lambda: app.clipboard.startswith("trace "))
        await pilot.press("escape", "escape")  # to the list, then close the trace
        await wait_for(pilot, lambda: app.waterfall.forest is None and len(messages(app)) == 7)
        await pilot.press("slash", *"items/2", "enter")
        await wait_for(pilot, lambda: trace_names(app) == ["GET /items/2"])
        await pilot.press("slash", "escape")
        await wait_for(pilot, lambda: len(app.trace_list.rows) == 3)
        await pilot.press("e")
        await wait_for(pilot, lambda: trace_names(app) == ["GET /items/1"])
        await pilot.press("e")
        await wait_for(pilot, lambda: len(app.trace_list.rows) == 3)

        def at_level(wanted: str) -> Callable[[], bool]:
            return lambda: app.log_pane.scope.min_level == wanted

        for level in ("info", "warn", "error", "debug"):
            await pilot.press("l")
            await wait_for(pilot, at_level(level))
        app.log_pane.focus()
        await pilot.press("slash", *"charge", "enter")
        await wait_for(pilot, lambda: messages(app) == ["charge failed"])
        await pilot.press("space")
        assert "PAUSED" in screen_text(app)
        await pilot.press("space")
        assert "● LIVE" in screen_text(app)
        await pilot.press("question_mark", "escape", "escape")
        await pilot.press("q")
    assert app.return_code == 0
    assert content_dump(path) == dump
    assert file_state(path) == main_file
    assert sorted(os.listdir(tmp_path)) == listing
    assert (tmp_path / "traces.db-wal").stat().st_size == 0  # not one frame written
