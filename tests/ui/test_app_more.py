"""More of the dashboard through Pilot on real database files: the original LENS layout, that a
session never writes, focus between panes, header rates, the log pane following the waterfall,
span sizes, and the dashboard command's start-up errors."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import apsw
import pytest

# tests/store's builder of a database in the original LENS layout (tests/ is on sys.path, as for
# tests/reliability's `from ui.conftest import ...`).
from store.conftest import make_original_layout, sid, tid

from lens_tui import cli, tracing
from lens_tui.ui.app import LensApp
from lens_tui.ui.screens.help import HelpScreen

from . import fixture_db
from .conftest import loaded, make_app, open_trace, screen_text, wait_for

SIZE = (120, 40)
ROOT = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- helpers


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
            dump[f"rows:{table}"] = (len(rows), hashlib.sha256(
                "\n".join(sorted(map(repr, rows))).encode()
            ).hexdigest())
        return dump
    finally:
        conn.close()


def logs_under(path: Path, span_id: str | None, trace_id: str) -> list[str]:
    """The oracle for the log pane's scope: messages of the logs of `span_id` and every span
    below it (all of the trace's logs when None) in id order, as the pane lists them."""
    conn = read_only(path)
    try:
        if span_id is None:
            rows = conn.execute(
                "SELECT message FROM logs WHERE trace_id = ? ORDER BY id", (trace_id,)
            ).fetchall()
        else:
            rows = conn.execute(
                "WITH RECURSIVE under(id) AS (SELECT ? UNION"
                " SELECT s.span_id FROM spans s JOIN under u ON s.parent_span_id = u.id)"
                " SELECT message FROM logs WHERE span_id IN (SELECT id FROM under)"
                " ORDER BY id",
                (span_id,),
            ).fetchall()
        return [row[0] for row in rows]
    finally:
        conn.close()


def trace_names(app: LensApp) -> list[str]:
    rows = app.trace_list.rows
    return [rows[i].root_span_name for i in range(len(rows))]


def messages(app: LensApp) -> list[str]:
    return [row.message for row in app.log_pane.rows]


# --------------------------------------------------------------------------- 1. original layout


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

        # Nothing the session did so far wrote to the file, or beside it.
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


# --------------------------------------------------------------------------- 2. read-only session


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


async def test_a_whole_session_leaves_the_database_unchanged(tmp_path: Path) -> None:
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


# --------------------------------------------------------------------------- 3. focus and home


async def test_tab_and_shift_tab_move_between_the_panes(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        assert app.focused is app.trace_list
        await pilot.press("tab")  # no trace open: the waterfall and detail are hidden
        assert app.focused is app.log_pane
        await pilot.press("shift+tab")
        assert app.focused is app.trace_list

        await open_trace(pilot, "GET /orders")
        assert app.focused is app.waterfall
        await pilot.press("shift+tab")
        assert app.focused is app.trace_list
        order = [app.waterfall, app.detail, app.log_pane, app.trace_list]
        for pane in order:
            await pilot.press("tab")
            assert app.focused is pane, (app.focused, pane)
        for pane in [app.log_pane, app.detail, app.waterfall, app.trace_list]:
            await pilot.press("shift+tab")
            assert app.focused is pane, (app.focused, pane)
        # Keys go to the focused pane: down in the waterfall moves its cursor, not the list's.
        list_cursor = app.trace_list.cursor
        await pilot.press("tab", "down")
        assert app.waterfall.cursor == 0 and app.trace_list.cursor == list_cursor


async def test_home_returns_the_trace_list_to_the_live_top(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        trace_list = app.trace_list
        await pilot.press("down", "down", "down")
        assert trace_list.cursor == 3
        new_ids = [fixture_db.add_trace(db, 61, "GET /h1"), fixture_db.add_trace(db, 62, "GET /h2")]
        await wait_for(pilot, lambda: trace_list.new_count == 2)
        assert trace_list.cursor == 5  # held still on the same trace
        assert "↑ 2 new" in screen_text(app)
        await pilot.press("home")
        assert trace_list.cursor == 0 and trace_list.first_visible == 0
        assert trace_list.new_count == 0
        assert trace_list.highlighted is not None
        assert trace_list.highlighted.trace_id == new_ids[1]
        text = screen_text(app)
        assert "new (g)" not in text and "↑ 2 new" not in text
        # Back at the live top the next arrival takes the cursor again.
        newest = fixture_db.add_trace(db, 63, "GET /h3")
        await wait_for(pilot, lambda: newest in trace_list.rows)
        assert trace_list.cursor == 0 and trace_list.highlighted is not None
        assert trace_list.highlighted.trace_id == newest and trace_list.new_count == 0


# --------------------------------------------------------------------------- 4. header rates


_RATES = re.compile(r"(\S+) traces/s · (\S+) spans/s")


def header_rates(app: LensApp) -> tuple[str, str] | None:
    match = _RATES.search(screen_text(app).splitlines()[0])
    return (match.group(1), match.group(2)) if match else None


async def test_header_shows_traces_and_spans_per_second(db: Path) -> None:
    now = [fixture_db.NOW]
    app = make_app(db, clock=lambda: now[0])
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        assert header_rates(app) == ("–", "–")  # one sample: no time to measure over yet
        elapsed_ms = 2_000.0
        now[0] += elapsed_ms
        conn = fixture_db.connect(db)
        try:
            for k in range(2):
                fixture_db.insert_trace(
                    conn, 70 + k, fixture_db.T0 + 200_000 + k,
                    updated_at=time.time() * 1000,
                    spans=[
                        fixture_db.S(0, None, f"GET /rate{k}", 0, 9),
                        fixture_db.S(1, 0, "step a", 1, 3),
                        fixture_db.S(2, 0, "step b", 4, 3),
                    ],
                )
        finally:
            conn.close()
        await wait_for(pilot, lambda: fixture_db.trace_id(71) in app.trace_list.rows)
        per_s = 1000.0 / elapsed_ms
        expected = (f"{2 * per_s:.1f}", f"{6 * per_s:.1f}")  # 2 traces and 6 spans in 2 s
        await wait_for(pilot, lambda: header_rates(app) == expected)
        # Nothing more is written and the clock moves past the window: the rates fall to zero.
        now[0] += 10_000.0
        await wait_for(pilot, lambda: header_rates(app) == ("0.0", "0.0"))


# --------------------------------------------------------------------------- 5. log pane scope


async def test_log_pane_narrows_to_the_selected_span_and_widens_back(db: Path) -> None:
    app = make_app(db)
    trace = fixture_db.trace_id(1)
    async with app.run_test(size=SIZE) as pilot:
        await open_trace(pilot, "GET /orders")
        waterfall = app.waterfall
        whole_trace = logs_under(db, None, trace)
        assert len(whole_trace) == 4
        await wait_for(pilot, lambda: messages(app) == whole_trace)
        assert "Logs · trace “GET /orders”" in screen_text(app)
        seen: dict[str, list[str]] = {}
        for _ in range(waterfall.row_count):
            await pilot.press("down")
            span = waterfall.selected_span
            assert span is not None
            expected = logs_under(db, span.span_id, trace)
            label = (
                "Logs · trace “GET /orders”" if span.parent_span_id is None
                else f"Logs · span “{span.name}” and below"
            )  # the root stands for the whole trace
            # The title changes with the rows: waiting for it waits for this span's reload.
            await wait_for(pilot, lambda: label in screen_text(app) and messages(app) == expected)
            seen[span.name] = expected
        assert seen["GET /orders"] == whole_trace  # the root's subtree is the whole trace
        assert seen["auth.verify"] == ["session cache hit"]  # from its child cache.get session
        assert seen["orders.list"] == ["listing orders for user 42", "query took 18 ms"]
        assert seen["render json"] == []

        # Live: with orders.list selected, a log of a span below it arrives, one beside it not.
        await pilot.press("up", "up", "up")
        assert waterfall.selected_span is not None
        assert waterfall.selected_span.name == "orders.list"
        label = "Logs · span “orders.list” and below"
        await wait_for(pilot, lambda: label in screen_text(app))
        fixture_db.add_logs(db, 1, [fixture_db.L("info", "auth again", 5, 1)])
        fixture_db.add_logs(db, 1, [fixture_db.L("info", "items fetched", 38, 5)])
        await wait_for(pilot, lambda: messages(app)[-1:] == ["items fetched"])
        assert "auth again" not in messages(app)

        await pilot.press("home")  # the root again: every log of the trace
        await wait_for(
            pilot, lambda: messages(app) == logs_under(db, None, trace)
            and "Logs · trace “GET /orders”" in screen_text(app)
        )
        assert {"auth again", "items fetched"} <= set(messages(app))
        await pilot.press("escape", "escape")  # to the list, then close: all recent logs
        await wait_for(pilot, lambda: "Logs · all recent" in screen_text(app))
        await wait_for(pilot, lambda: len(app.log_pane.rows) == 16)


async def test_the_root_span_shows_every_log_of_the_trace(db: Path) -> None:
    fixture_db.add_logs(db, 1, [fixture_db.L("info", "trace-level line", 3, None)])
    app = make_app(db)
    trace = fixture_db.trace_id(1)
    async with app.run_test(size=SIZE) as pilot:
        await open_trace(pilot, "GET /orders")
        whole_trace = logs_under(db, None, trace)
        assert "trace-level line" in whole_trace
        await wait_for(pilot, lambda: messages(app) == whole_trace)
        await pilot.press("down", "down")  # a child: its subtree's logs only
        await wait_for(pilot, lambda: "and below" in screen_text(app))
        assert "trace-level line" not in messages(app)
        await pilot.press("up")  # the root span stands for the whole trace
        await wait_for(pilot, lambda: "trace “GET /orders”" in screen_text(app))
        await wait_for(pilot, lambda: messages(app) == whole_trace)


async def test_log_pane_follows_new_logs_of_the_open_trace(db: Path) -> None:
    # Enough lines that the pane scrolls: 4 fixture logs and 30 more, all under orders.list.
    more = [fixture_db.L("debug", f"row {k}", 10 + k / 2, 4) for k in range(30)]
    fixture_db.add_logs(db, 1, more)
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await open_trace(pilot, "GET /orders")
        pane = app.log_pane
        await wait_for(pilot, lambda: len(pane.rows) == 34)

        def at_the_end() -> bool:
            top = pane.first_visible
            return top > 0 and top + pane.body_height == len(pane.rows)

        await wait_for(pilot, at_the_end)
        assert pane.following
        fixture_db.add_logs(db, 2, [fixture_db.L("info", "another trace's line", 2, 0)])
        fixture_db.add_logs(db, 1, [fixture_db.L("warn", "late line", 49, 0)])
        await wait_for(pilot, lambda: messages(app)[-1:] == ["late line"])
        assert "another trace's line" not in messages(app)
        await wait_for(pilot, at_the_end)
        assert "late line" in screen_text(app)

        # Moved up by hand: new lines still arrive, but what the user reads holds still.
        pane.focus()
        await pilot.press("up", "up")
        assert not pane.following
        reading, top = pane.highlighted, pane.first_visible
        fixture_db.add_logs(db, 1, [fixture_db.L("info", "later still", 50, 0)])
        await wait_for(pilot, lambda: messages(app)[-1:] == ["later still"])
        assert pane.highlighted == reading and pane.first_visible == top
        assert "later still" not in screen_text(app)
        await pilot.press("end")  # follow again: the newest line in view
        assert pane.following
        await wait_for(pilot, at_the_end)
        assert "later still" in screen_text(app)


# --------------------------------------------------------------------------- 7. help


async def test_help_dims_the_dashboard_instead_of_hiding_it(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = screen_text(app)
        assert "lens · keys" in text and "escape closes" in text  # the help is drawn
        assert "◆ lens" in text and "─ Traces ─" in text  # the dashboard shows around it


# --------------------------------------------------------------------------- 6. sizes


async def test_detail_shows_input_and_output_sizes(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await open_trace(pilot, "GET /orders")
        await pilot.press("down")  # the root: output_size 512 in the fixture, no input size
        await wait_for(pilot, lambda: (app.detail.copy_text() or "").startswith("GET /orders"))
        assert "sizes      in – · out 512 B\n" in (app.detail.copy_text() or "")
        assert "in – · out 512 B" in screen_text(app)
        await pilot.press("down")  # auth.verify: neither size known, so no sizes line
        await wait_for(pilot, lambda: (app.detail.copy_text() or "").startswith("auth.verify"))
        assert "sizes" not in (app.detail.copy_text() or "")

        await pilot.press("escape")
        await open_trace(pilot, "POST /checkout")
        await pilot.press("down", "down")  # payments.charge: its captured input body's size
        body_size = len(json.dumps(fixture_db.BODY).encode())
        await wait_for(pilot, lambda: (app.detail.copy_text() or "").startswith("payments.charge"))
        assert f"sizes      in {body_size} B · out –\n" in (app.detail.copy_text() or "")


# --------------------------------------------------------------------------- 8. the command


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m lens_tui ARGS` as a user runs it, without any LENS_DB of ours."""
    full_env = {k: v for k, v in os.environ.items() if k != "LENS_DB"}
    full_env["PYTHONPATH"] = str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "lens_tui", *args],
        capture_output=True, text=True, timeout=60, env=full_env, cwd=cwd,
    )


def test_dashboard_on_a_path_in_a_missing_directory_is_one_line_and_exit_2(tmp_path: Path) -> None:
    target = tmp_path / "nowhere" / "traces.db"
    result = run_cli(str(target))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(target) in lines[0] and "does not exist" in lines[0]
    assert "Traceback" not in result.stderr
    assert "\x1b[" not in result.stdout + result.stderr  # refused before any screen
    assert not (tmp_path / "nowhere").exists()


def test_default_db_is_lens_db_else_traces_db(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LENS_DB", str(tmp_path / "mine.db"))
    assert cli.default_db() == tmp_path / "mine.db"
    monkeypatch.setenv("LENS_DB", "")
    assert cli.default_db() == Path("traces.db")
    monkeypatch.delenv("LENS_DB")
    assert cli.default_db() == Path("traces.db")


def test_dashboard_without_an_argument_opens_lens_db(tmp_path: Path) -> None:
    from_env = tmp_path / "env-dir" / "from-env.db"
    result = run_cli(env={"LENS_DB": str(from_env)}, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(from_env) in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    # An argument wins over the environment.
    argument = tmp_path / "arg-dir" / "arg.db"
    result = run_cli(str(argument), env={"LENS_DB": str(from_env)}, cwd=tmp_path)
    assert result.returncode == 2
    assert str(argument) in result.stderr and str(from_env) not in result.stderr


async def test_the_footer_stays_legible_in_80_columns(db: Path) -> None:
    """Below 100 columns the keys overflow the footer; Textual then drew them through the
    docked command palette key ("^ppale ttea"): that key is left out there (ctrl+p works)."""
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        await wait_for(pilot, lambda: "Live top" in screen_text(app).splitlines()[-1])
        footer = screen_text(app).splitlines()[-1]
        assert footer.startswith("home Live top ⏎ Open e Errors d Slow tab Pane q Quit")
        assert "palette" not in footer
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "CommandPalette")
    async with make_app(db).run_test(size=(120, 40)) as pilot:
        app = await loaded(pilot)
        await wait_for(pilot, lambda: screen_text(app).splitlines()[-1].rstrip().endswith("^p palette"))
