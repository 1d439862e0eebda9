"""When a trace opens, the detail panel shows how its request ended: the root span's status,
its HTTP status and its error, before any span is highlighted."""

from __future__ import annotations

from pathlib import Path

from . import fixture_db
from .conftest import loaded, make_app, open_trace, wait_for

SIZE = (140, 40)


def detail(app: object) -> str:
    return app.detail.copy_text() or ""  # type: ignore[attr-defined]


async def test_an_opened_trace_shows_its_roots_status_http_status_and_error(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        fixture_db.add_spans(
            db,
            70,
            [
                fixture_db.S(
                    0,
                    None,
                    "GET /quote",
                    0,
                    30.0,
                    error="upstream unavailable",
                    exception_type="TimeoutError",
                    kind="server",
                    attributes={"http.request.method": "GET", "http.response.status_code": 503},
                ),
                fixture_db.S(1, 0, "http GET pricing", 1, 28.0, kind="client"),
            ],
        )
        await wait_for(pilot, lambda: fixture_db.trace_id(70) in app.trace_list.rows)
        await open_trace(pilot, "GET /quote")
        await wait_for(pilot, lambda: "GET /quote" in detail(app))
        text = detail(app)
        assert app.waterfall.selected_span is None  # the trace summary, no span yet
        lines = {line.split(maxsplit=1)[0]: line for line in text.splitlines() if line.strip()}
        assert "error" in lines["root"]
        assert "503" in lines["http"]
        assert "TimeoutError: upstream unavailable" in lines["error"]


async def test_a_trace_that_went_well_says_so(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        fixture_db.add_spans(
            db,
            71,
            [fixture_db.S(0, None, "GET /fine", 0, 3.0, attributes={"http.status_code": 200})],
        )
        await wait_for(pilot, lambda: fixture_db.trace_id(71) in app.trace_list.rows)
        await open_trace(pilot, "GET /fine")
        await wait_for(pilot, lambda: "GET /fine" in detail(app))
        text = detail(app)
        assert any(line.startswith("root") and "ok" in line for line in text.splitlines())
        assert any(line.startswith("http") and "200" in line for line in text.splitlines())
        assert not any(line.startswith("error ") for line in text.splitlines())
