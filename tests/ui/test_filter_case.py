"""The `/` filter on trace names: rows read from the file and rows arriving live agree.

Rows loaded by `recent_traces(name_filter=...)` are filtered in SQL, live rows by
`TraceFilter.matches` in Python: a row must never show live and vanish on reload (or the
reverse), whatever the case, script or `%`/`_`/`\\` in the filter.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lens_tui.store.filters import TraceFilter
from lens_tui.store.reader import TraceReader

from . import fixture_db
from .conftest import loaded, make_app, wait_for

SIZE = (120, 40)
NAMES = (
    "GET /Über",
    "get /über",
    "GET /UBER",
    "50%_off",
    "50% off",
    "a_b",
    "axb",
    "x\\y",
    "xy",
    "Straße",
    "STRASSE",
    "\u212a-kelvin",
    "İstanbul",
    "nul\x00byte",
)
FILTERS = (
    "ÜBER",
    "über",
    "Über",
    "uber",
    "%",
    "%_",
    "_",
    "a_b",
    "A_B",
    "\\",
    "X\\Y",
    "ss",
    "ß",
    "k",
    "K",
    "i",
    "i̇",
    "\x00",
    "\ufffd",
    "bad",
    "/",
    " ",
    "get /",
    "zzz",
)
INVALID_UTF8 = b"bad \xff name \xc3\x9cBER"
"""Stored as TEXT by another program: read with U+FFFD for the bad byte."""


@pytest.fixture
def named_db(db: Path) -> Path:
    """The fixture database plus traces named `NAMES`, one TEXT cell of invalid UTF-8, a BLOB
    name and a number, all newer than the fixture's traces."""
    for n, name in enumerate(NAMES, 60):
        fixture_db.add_trace(db, n, name)
    conn = fixture_db.connect(db)
    try:
        for n, (expr, value) in enumerate(
            [("CAST(? AS TEXT)", INVALID_UTF8), ("?", "blob Über".encode()), ("?", 12345)], 90
        ):
            conn.execute(
                "INSERT INTO traces (trace_id, root_span_name, source, started_at, status,"
                f" span_count, error_count) VALUES (?, {expr}, 'python', ?, 'ok', 0, 0)",
                (fixture_db.trace_id(n), value, fixture_db.T0 + 200_000 + n * 1_000),
            )
    finally:
        conn.close()
    return db


@pytest.mark.parametrize("needle", FILTERS)
def test_reader_and_trace_filter_choose_the_same_traces(named_db: Path, needle: str) -> None:
    with TraceReader(named_db) as reader:
        everything = reader.recent_traces(1000)
        loaded_ids = {t.trace_id for t in reader.recent_traces(1000, name_filter=needle)}
        older_ids = {
            t.trace_id
            for t in reader.recent_traces(1000, name_filter=needle, before=fixture_db.T0 + 2_000)
        }
    keep = TraceFilter(needle)
    assert loaded_ids == {t.trace_id for t in everything if keep.matches(t)}
    assert older_ids == {
        t.trace_id for t in everything if keep.matches(t) and t.started_at < fixture_db.T0 + 2_000
    }


def test_filters_find_what_a_reader_expects(named_db: Path) -> None:
    with TraceReader(named_db) as reader:

        def names(needle: str) -> set[str]:
            return {t.root_span_name for t in reader.recent_traces(1000, name_filter=needle)}

        assert names("ÜBER") == {"GET /Über", "get /über", "bad \ufffd name ÜBER", "blob Über"}
        assert names("%_") == {"50%_off"}
        assert names("a_b") == {"a_b"}
        assert names("\\") == {"x\\y"}
        assert names("ß") == {"Straße", "STRASSE"}
        assert names("\ufffd") == {"bad \ufffd name ÜBER"}
        assert names("234") == {"12345"}


async def test_live_rows_and_a_reload_agree_on_unicode_case(named_db: Path) -> None:
    app = make_app(named_db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("slash", *"ÜBER", "enter")
        rows = app.trace_list.rows

        def shown() -> set[str]:
            return {rows[i].root_span_name for i in range(len(rows))}

        await wait_for(pilot, lambda: "get /über" in shown())
        assert shown() == {"GET /Über", "get /über", "bad \ufffd name ÜBER", "blob Über"}
        fixture_db.add_trace(named_db, 120, "über-call")  # live: TraceFilter decides
        fixture_db.add_trace(named_db, 121, "uber-call")
        await wait_for(pilot, lambda: "über-call" in shown())
        live = shown()
        assert "uber-call" not in live
        # A reload (errors only and back) reads the same filter from the file.
        await pilot.press("e")
        await wait_for(pilot, lambda: "über-call" not in shown())
        await pilot.press("e")
        await wait_for(pilot, lambda: shown() == live)
        with TraceReader(named_db) as reader:
            assert {t.root_span_name for t in reader.recent_traces(name_filter="ÜBER")} == live
