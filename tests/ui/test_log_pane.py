"""The log pane through Pilot: the minimum level, the text filter, a line selecting its span or
opening its trace, and the scope following the waterfall (a span's subtree, the whole trace
for its root, new logs of the open trace), checked against a second connection."""

from __future__ import annotations

from pathlib import Path

from . import fixture_db
from .conftest import loaded, make_app, messages, open_trace, screen_text, wait_for
from .oracle import logs_under

SIZE = (120, 40)


async def test_l_cycles_the_minimum_level(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        pane = app.log_pane

        def levels() -> set[str]:
            return {row.level for row in pane.rows}

        assert levels() == {"debug", "info", "warn", "error"}
        for expected in (("info", "warn", "error"), ("warn", "error"), ("error",)):
            await pilot.press("l")
            await wait_for(pilot, lambda wanted=set(expected): levels() == wanted)  # type: ignore[misc]
            assert pane.scope.min_level == expected[0]
        assert "≥ error" in screen_text(app)
        assert pane.counts == {"debug": 6, "info": 5, "warn": 2, "error": 1}
        await pilot.press("l")
        await wait_for(pilot, lambda: "debug" in levels())


async def test_log_text_filter(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        app.log_pane.focus()
        await pilot.press("slash", *"HEALTH", "enter")
        await wait_for(pilot, lambda: len(app.log_pane.rows) == 4)
        assert all("health" in row.message for row in app.log_pane.rows)
        assert app.focused is app.log_pane
        await pilot.press("slash", "escape")
        await wait_for(pilot, lambda: len(app.log_pane.rows) == 14)


async def test_selecting_a_log_line_selects_its_span(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await open_trace(pilot, "POST /checkout")
        await wait_for(pilot, lambda: len(app.log_pane.rows) == 3)
        app.log_pane.focus()
        await pilot.press("up")  # the newest line: "card declined", from payments.charge
        log = app.log_pane.highlighted
        assert log is not None and log.message == "card declined for order 1234"
        await wait_for(pilot, lambda: app.waterfall.selected_span is not None)
        assert app.waterfall.selected_span is not None
        assert app.waterfall.selected_span.span_id == log.span_id == fixture_db.span_id(2, 1)
        assert "card declined" in (app.detail.copy_text() or "")
        assert app.focused is app.log_pane  # the log pane keeps its lines and focus
        assert len(app.log_pane.rows) == 3


async def test_enter_on_a_log_line_opens_its_trace(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        pane = app.log_pane
        pane.focus()
        index = next(i for i, r in enumerate(pane.rows) if r.message.startswith("gateway slow"))
        pane.move_cursor(index, user=True)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.waterfall.selected_span is not None)
        assert app.waterfall.selected_span is not None
        assert app.waterfall.selected_span.name == "http POST gateway/charge"


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
                "Logs · trace “GET /orders”"
                if span.parent_span_id is None
                else f"Logs · span “{span.name}” and below"
            )  # the root stands for the whole trace
            # The title changes with the rows: waiting for it waits for this span's reload.
            await wait_for(
                pilot,
                lambda label=label, expected=expected: (
                    label in screen_text(app) and messages(app) == expected
                ),
            )
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
            pilot,
            lambda: (
                messages(app) == logs_under(db, None, trace)
                and "Logs · trace “GET /orders”" in screen_text(app)
            ),
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
