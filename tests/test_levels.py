"""One level rule for the writer, the OTLP mapping and the reader."""

from __future__ import annotations

import pytest

from lens_tui.levels import LEVELS, at_least, normalise_level, spellings
from lens_tui.otel.mapping import level_of


@pytest.mark.parametrize(
    ("spelling", "level"),
    [
        ("DEBUG", "debug"),
        ("info", "info"),
        ("Warning", "warn"),
        ("WARN", "warn"),
        ("error", "error"),
        ("CRITICAL", "error"),
        ("fatal", "error"),
        ("panic", "error"),
        ("TRACE", "debug"),
        ("verbose", "debug"),
        ("NOTSET", "debug"),
        ("", "info"),
        (None, "info"),
        (b"warning", "warn"),
        (b"\xff\xfe", "info"),
        ("  error ", "error"),
        ("whatever", "info"),
    ],
)
def test_every_spelling_maps_onto_one_level(spelling: object, level: str) -> None:
    assert normalise_level(spelling) == level


def test_otlp_severity_text_follows_the_same_rule() -> None:
    assert level_of(None, "TRACE") == normalise_level("TRACE") == "debug"
    assert level_of(None, "Critical") == "error"


def test_spellings_cover_aliases_in_three_cases() -> None:
    found = spellings("error")
    for alias in ("error", "ERROR", "Error", "critical", "CRITICAL", "fatal", "Fatal"):
        assert alias in found
    assert "warn" not in found


def test_at_least() -> None:
    assert at_least("warning") == ("warn", "error")
    assert at_least("debug") == LEVELS


def test_a_foreign_trace_level_reads_back_as_the_writer_would_store_it(tmp_path) -> None:
    """A TRACE level another program stored reads as debug, as the writer would have stored it."""
    from lens_tui.store.reader import TraceReader
    from lens_tui.tracing.sql import open_writable

    path = tmp_path / "t.db"
    conn = open_writable(path)
    conn.execute(
        "INSERT INTO logs (timestamp, level, message, logger, service) "
        "VALUES (1700000000000, 'TRACE', 'm', 'x', 's')"
    )
    conn.close()
    reader = TraceReader(path)
    try:
        rows = reader.logs(min_level="debug")
        assert [r.level for r in rows] == ["debug"]
        assert reader.logs(min_level="info") == []
    finally:
        reader.close()
