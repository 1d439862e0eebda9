"""The dashboard driven through Pilot on a real fixture database, with a second writer."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input

from lens_tui.ui.screens.help import HelpScreen

from . import fixture_db
from .conftest import loaded, make_app, open_trace, screen_text, wait_for

SIZE = (120, 40)


async def test_rows_appear_newest_first(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        rows = app.trace_list.rows
        starts = [rows[i].started_at for i in range(len(rows))]
        assert len(rows) == 8
        assert starts == sorted(starts, reverse=True)
        assert rows[0].trace_id == fixture_db.trace_id(8)
        text = screen_text(app)
        assert text.index("22:13:30.000") < text.index("22:13:20.000")  # newest on top
        assert "POST /checkout" in text and "● LIVE" in text and "3 dropped" in text


async def test_rows_written_while_running_appear(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        new_id = fixture_db.add_trace(db, 40, "GET /arrived")
        await wait_for(pilot, lambda: new_id in app.trace_list.rows)
        assert app.trace_list.rows[0].trace_id == new_id
        await wait_for(
            pilot, lambda: "GET /arrived handled" in [r.message for r in app.log_pane.rows]
        )
        assert "GET /arrived" in screen_text(app)


async def test_cursor_holds_still_and_counts_new_rows(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        trace_list = app.trace_list
        await pilot.press("down", "down", "down")
        reading = trace_list.highlighted
        assert reading is not None
        screen_line = trace_list.cursor - trace_list.first_visible
        first_ids = [fixture_db.add_trace(db, 41, "GET /a"), fixture_db.add_trace(db, 42, "GET /b")]
        await wait_for(pilot, lambda: all(i in trace_list.rows for i in first_ids))
        await wait_for(pilot, lambda: trace_list.new_count == 2)
        assert trace_list.highlighted == reading
        assert trace_list.cursor == 5
        assert trace_list.cursor - trace_list.first_visible == screen_line
        assert "↑ 2 new" in screen_text(app)
        await pilot.press("g")
        assert trace_list.cursor == 0 and trace_list.new_count == 0
        assert trace_list.highlighted is not None
        assert trace_list.highlighted.trace_id == first_ids[1]
        assert "new (g)" not in screen_text(app)


async def test_at_the_top_new_rows_take_the_cursor(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        new_id = fixture_db.add_trace(db, 43, "GET /top")
        await wait_for(pilot, lambda: new_id in app.trace_list.rows)
        assert app.trace_list.cursor == 0 and app.trace_list.new_count == 0
        assert app.trace_list.highlighted is not None
        assert app.trace_list.highlighted.trace_id == new_id


async def test_space_pauses_and_resumes_without_losing_rows(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("space")
        assert "PAUSED" in screen_text(app)
        held = [fixture_db.add_trace(db, 44 + k, f"GET /held{k}") for k in range(3)]
        await wait_for(pilot, lambda: app.header.queued >= 6)  # 3 traces + 3 logs
        assert not any(i in app.trace_list.rows for i in held)
        assert "queued" in screen_text(app)
        await pilot.press("space")
        assert all(i in app.trace_list.rows for i in held)
        messages = {r.message for r in app.log_pane.rows}
        assert {"GET /held0 handled", "GET /held2 handled"} <= messages
        assert "● LIVE" in screen_text(app)


async def test_slash_filters_trace_names_and_escape_clears(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("slash")
        await pilot.press(*"check")
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(app.trace_list.rows) == 1)
        assert app.trace_list.rows[0].root_span_name == "POST /checkout"
        assert app.focused is app.trace_list
        assert "“check”" in screen_text(app)
        # Live rows obey the filter too.
        fixture_db.add_trace(db, 50, "POST /checkout")
        fixture_db.add_trace(db, 51, "GET /other")
        await wait_for(pilot, lambda: len(app.trace_list.rows) == 2)
        assert {app.trace_list.rows[i].root_span_name for i in range(2)} == {"POST /checkout"}
        await pilot.press("slash", "escape")
        await wait_for(pilot, lambda: len(app.trace_list.rows) == 10)


async def test_e_toggles_errors_only(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("e")
        await wait_for(pilot, lambda: len(app.trace_list.rows) == 1)
        assert app.trace_list.rows[0].trace_id == fixture_db.trace_id(2)
        assert "errors only" in screen_text(app)
        await pilot.press("e")
        await wait_for(pilot, lambda: len(app.trace_list.rows) == 8)


async def test_enter_opens_the_waterfall_and_spans_collapse(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await open_trace(pilot, "GET /orders")
        waterfall = app.waterfall
        assert app.focused is waterfall
        assert waterfall.row_count == 7
        text = screen_text(app)
        assert "▾ GET /orders" in text and "├─▾ auth.verify" in text
        assert "└── cache.get session" in text and "└── render json" in text
        await pilot.press("down")  # the root
        await pilot.press("enter")
        assert waterfall.row_count == 1 and "▸ GET /orders" in screen_text(app)
        await pilot.press("enter")
        assert waterfall.row_count == 7
        await pilot.press("down", "down", "down", "left")  # orders.list collapses
        assert waterfall.row_count == 5
        assert waterfall.selected_span is not None
        assert waterfall.selected_span.name == "orders.list"
        await pilot.press("right")
        assert waterfall.row_count == 7
        await pilot.press("a")
        assert waterfall.row_count == 1
        await pilot.press("a")
        assert waterfall.row_count == 7
        await pilot.press("t", "t")  # collapse spans under 10 ms: auth.verify (6 ms)
        assert waterfall.collapsed == {fixture_db.span_id(1, 1)}
        await pilot.press("escape")
        assert app.trace_list.has_focus
        await pilot.press("escape")
        assert waterfall.forest is None and app.log_pane.scope.trace_id is None


async def test_detail_shows_error_traceback_and_json_body(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await open_trace(pilot, "POST /checkout")
        await pilot.press("down", "down")
        span = app.waterfall.selected_span
        assert span is not None and span.name == "payments.charge"
        await wait_for(pilot, lambda: '"order": 1234' in (app.detail.copy_text() or ""))
        detail = app.detail.copy_text() or ""
        assert "ValueError: card declined" in detail
        assert 'File "shop/payments.py", line 42, in charge' in detail
        assert "self time  15.0ms" in detail
        assert '"note": "[b]not markup[/b]"' in detail  # JSON pretty-printed, markup literal
        assert "shop/payments.py:42" in detail
        assert "status     error" in screen_text(app)
        app.detail.focus()
        await pilot.press("end")
        await pilot.pause(0.05)
        assert '"sku": "A-1"' in screen_text(app)


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


async def test_c_copies_the_selection(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("c")
        assert app.clipboard == fixture_db.trace_id(8)
        await open_trace(pilot, "POST /checkout")
        await pilot.press("down", "down", "c")
        assert app.clipboard == fixture_db.span_id(2, 1)
        app.log_pane.focus()
        await pilot.press("up", "c")
        assert app.clipboard == "card declined for order 1234"


async def test_question_mark_opens_help(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        assert "pause / resume live updates" in text and "minimum log level" in text
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_markup_and_escape_sequences_are_shown_literally(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await open_trace(pilot, fixture_db.MARKUP_NAME)
        await pilot.press("down")
        text = screen_text(app)  # also asserts no ESC character reached the screen
        assert "[bold red]x[/]" in text  # trace list, waterfall, detail title
        assert "child ␛[2J name" in text  # a span name's escape made visible
        assert "␛]0;pwned␇title" in text  # an attribute value
        assert "[link=x] = ␛[2Jclear" in text  # an attribute key that looks like markup
        assert "markup [bold red]x[/] and ␛]0;pwned␇ title" in text  # a log message
        lines = [app.waterfall.render_line(y).text for y in range(app.waterfall.size.height)]
        assert any("[bold red]x[/]" in line for line in lines)
        assert not any("\x1b" in line for line in lines)


async def test_waits_for_a_database_that_does_not_exist_yet(tmp_path: Path) -> None:
    path = tmp_path / "later.db"
    app = make_app(path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "waiting for later.db" in screen_text(app))
        fixture_db.build(path)
        await loaded(pilot)
        assert len(app.trace_list.rows) == 8


async def test_running_spans_grow_with_time(db: Path) -> None:
    now = [fixture_db.NOW]
    app = make_app(db, clock=lambda: now[0])
    async with app.run_test(size=SIZE) as pilot:
        await open_trace(pilot, "GET /reports/export")
        waterfall = app.waterfall

        def root_line() -> str:
            return waterfall.render_line(waterfall.header_lines).text

        before = root_line()
        assert "56.2s…" in before and "▶" in before
        now[0] += 60_000
        waterfall.tick()
        after = root_line()
        assert "1m56s…" in after
        # The finished child's bar shrinks as the axis grows with the running root.
        child = waterfall.render_line(waterfall.header_lines + 1).text
        assert child.count("█") < before.count("█")
        # The detail panel's "so far" of the running root goes on with the clock too, its
        # first lines only: the rest (maybe a megabyte of body) is not laid out again.
        await pilot.press("down")
        await wait_for(pilot, lambda: "1m56s so far" in app.detail.copy_text())
        rest = app.detail.query_one("#detail-text")
        updates: list[object] = []
        update = rest.update
        rest.update = lambda *args, **kwargs: (updates.append(1), update(*args, **kwargs))[1]
        now[0] += 10_000
        await wait_for(pilot, lambda: "2m06s so far" in app.detail.copy_text())
        assert updates == []


async def test_command_palette_jumps_to_a_trace_id(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("ctrl+p")
        await pilot.press(*"4bf9")
        await wait_for(pilot, lambda: "Jump to trace" in screen_text(app))
        # Typing the rest key by key is slow; the palette reacts to the input's value.
        app.screen.query_one(Input).value = fixture_db.trace_id(2)
        await wait_for(pilot, lambda: screen_text(app).count("Jump to trace") == 1)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.waterfall.forest is not None)
        assert app.waterfall.forest is not None
        assert app.waterfall.forest.spans[0].name == "POST /checkout"


async def test_a_replaced_database_is_reloaded(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        fixture_db.add_trace(db, 90, "GET /after-replace")
        await wait_for(pilot, lambda: len(app.trace_list.rows) == 1)
        assert app.trace_list.rows[0].root_span_name == "GET /after-replace"
        await wait_for(pilot, lambda: [r.message for r in app.log_pane.rows] == [
            "GET /after-replace handled"
        ])


async def test_mouse_click_selects_and_double_click_opens(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        # Row 3 of the list: border (1) + column titles (1) + three rows above it.
        await pilot.click("#traces", offset=(10, 1 + 1 + 3))
        assert app.trace_list.cursor == 3
        await pilot.double_click("#traces", offset=(10, 1 + 1 + 3))
        await wait_for(pilot, lambda: app.waterfall.forest is not None)
        assert app.trace_list.opened_id == app.trace_list.rows[3].trace_id


async def test_older_traces_page_in_at_the_bottom(db: Path) -> None:
    app = make_app(db, trace_cap=5)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        assert len(app.trace_list.rows) == 5
        await pilot.press("end")
        await wait_for(pilot, lambda: len(app.trace_list.rows) == 8)
        assert app.trace_list.cursor == 4  # the cursor stayed on the row it was on
        assert app.trace_list.rows[7].root_span_name == "GET /orders"


async def test_command_palette_offers_the_actions(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("ctrl+p", *"errors only")
        await wait_for(pilot, lambda: "show only traces with an error" in screen_text(app))
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(app.trace_list.rows) == 1)


async def test_the_open_trace_follows_new_spans(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await open_trace(pilot, "GET /reports/export")
        waterfall = app.waterfall
        await pilot.press("down", "down")  # highlight "db.query SELECT report"
        assert waterfall.selected_span is not None
        kept = waterfall.selected_span.span_id
        assert waterfall.forest is not None and waterfall.forest.running == 2
        new_span = fixture_db.grow_running_trace(db)
        await wait_for(pilot, lambda: waterfall.row_count == 4)
        assert waterfall.forest is not None and waterfall.forest.running == 1
        assert new_span in waterfall.forest.index_of
        assert waterfall.selected_span is not None and waterfall.selected_span.span_id == kept
        assert "upload s3" in screen_text(app)


async def test_y_copies_the_trace_as_a_text_tree(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await open_trace(pilot, "POST /checkout")
        await pilot.press("y")
        await wait_for(pilot, lambda: app.clipboard.startswith("trace "))
        lines = app.clipboard.splitlines()
        assert lines[0].startswith(f"trace {fixture_db.trace_id(2)}  POST /checkout")
        assert any(line.strip().startswith("✗ payments.charge") for line in lines)
        assert any("ValueError: card declined" in line for line in lines)
        assert any("ERROR card declined for order 1234" in line for line in lines)
        # Indented under its parent, as `lens-tui show` prints it.
        charge = next(line for line in lines if "payments.charge" in line)
        http = next(line for line in lines if "http POST gateway/charge" in line)
        assert len(http) - len(http.lstrip()) > len(charge) - len(charge.lstrip())
        assert "\x1b" not in app.clipboard
