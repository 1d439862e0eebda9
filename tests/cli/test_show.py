"""`lens-tui show` through the real CLI on files written by the real writers: which trace a
typed part of an id names (prefix, tail, ambiguous), logged tracebacks, span events and links."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator
from opentelemetry.trace import Link

from lens_tui import tracing
from lens_tui.otel import LensSpanExporter
from lens_tui.trace_ids import short_id
from lens_tui.tracing import lens_fn, span

from .support import assert_one_line, run_cli, traced_logger

JOBS = 15


@pytest.fixture(scope="module")
def many_traces(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """JOBS traces written within a second by the tracing library: their ids share a prefix."""
    db = tmp_path_factory.mktemp("many") / "traces.db"
    tracing.configure(db, service="batch", flush_interval=0.02)
    ids: list[str] = []
    for n in range(JOBS):

        @lens_fn(f"job {n:02d}")
        def job() -> str:
            holder = tracing.current_span()
            assert holder is not None
            return holder.trace_id

        ids.append(job())
    tracing.flush()
    tracing.shutdown()
    return db, ids


def test_a_shared_prefix_lists_the_candidates_and_exits_2(
    many_traces: tuple[Path, list[str]],
) -> None:
    db, ids = many_traces
    prefix = ids[0][:8]
    assert all(i.startswith(prefix) for i in ids)  # what the screen used to show
    result = run_cli("show", prefix, "--db", str(db))
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.rstrip("\n").splitlines()
    assert f"trace id {prefix!r} is ambiguous" in lines[0] and f"{JOBS} traces match" in lines[0], (
        lines[0]
    )
    listed = lines[1:11]
    for n, line in enumerate(listed):  # the earliest ten, with start time and root name
        assert line.split()[0] == ids[n], line
        assert line.rstrip().endswith(f"job {n:02d}"), line
        assert ":" in line.split()[2]  # HH:MM:SS.mmm after the date
    assert lines[11].strip() == f"and {JOBS - 10} more"
    assert len(lines) == 12


def test_the_short_id_names_its_trace_in_show(many_traces: tuple[Path, list[str]]) -> None:
    db, ids = many_traces
    for n in (0, JOBS - 1):
        for typed in (short_id(ids[n]), "…" + short_id(ids[n]), short_id(ids[n]).upper()):
            result = run_cli("show", typed, "--db", str(db))
            assert result.returncode == 0, (typed, result.stderr)
            assert result.stdout.startswith(f"trace {ids[n]}  job {n:02d}"), result.stdout
    # Traces of the same millisecond share all but their last digits: the shortest prefix
    # that names one is long, and a trailing … still means "a prefix".
    length = next(n for n in range(8, 33) if sum(i.startswith(ids[3][:n]) for i in ids) == 1)
    unique_prefix = ids[3][:length]
    result = run_cli("show", unique_prefix + "…", "--db", str(db), "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["trace"]["trace_id"] == ids[3]


def test_a_part_that_names_no_trace_is_one_line(many_traces: tuple[Path, list[str]]) -> None:
    db, _ids = many_traces
    assert_one_line(run_cli("show", "ffffffffff", "--db", str(db)), 2, "no trace 'ffffffffff'")
    assert_one_line(run_cli("show", "…", "--db", str(db)), 2, "no trace")


class SharedTail(IdGenerator):
    """Random ids that all end in the same 8 hex digits (as unrelated ids now and then do)."""

    def __init__(self) -> None:
        self._random = RandomIdGenerator()

    def generate_span_id(self) -> int:
        return self._random.generate_span_id()

    def generate_trace_id(self) -> int:
        return (self._random.generate_trace_id() & ~0xFFFFFFFF) | 0xDE34621F


def test_a_shared_tail_lists_both_traces(tmp_path: Path) -> None:
    db = tmp_path / "traces.db"
    provider = TracerProvider(
        resource=Resource.create({"service.name": "edge"}), id_generator=SharedTail()
    )
    provider.add_span_processor(SimpleSpanProcessor(LensSpanExporter(db)))
    tracer = provider.get_tracer("edge")
    ids = []
    for name in ("GET /a", "GET /b"):
        with tracer.start_as_current_span(name) as current:
            ids.append(f"{current.get_span_context().trace_id:032x}")
    provider.shutdown()
    result = run_cli("show", "de34621f", "--db", str(db))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.rstrip("\n").splitlines()
    assert "2 traces match" in lines[0]
    assert {line.split()[0] for line in lines[1:]} == set(ids)
    assert len(lines) == 3  # no "and N more"
    result = run_cli("show", ids[1][:12], "--db", str(db))  # a prefix still tells them apart
    assert result.returncode == 0 and "GET /b" in result.stdout.splitlines()[0], result.stderr


@pytest.fixture()
def logged_exception(tmp_path: Path) -> tuple[Path, str]:
    """A trace whose span logged an exception with `logger.exception`."""
    db = tmp_path / "traces.db"

    def divide(a: int, b: int) -> float:
        return a / b

    with traced_logger(db, "shop", "test.show.exception") as logger:

        @lens_fn("report")
        def report() -> str:
            with span("totals"):
                try:
                    divide(1, 0)
                except ZeroDivisionError:
                    logger.exception("could not compute the ratio")
            holder = tracing.current_span()
            assert holder is not None
            return holder.trace_id

        trace_id = report()
    return db, trace_id


def test_a_logged_traceback_shows_in_the_tree(logged_exception: tuple[Path, str]) -> None:
    db, trace_id = logged_exception
    result = run_cli("show", trace_id, "--db", str(db))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if "ERROR could not compute the ratio" in line)
    below = lines[at + 1 :]
    assert below[0].strip() == "Traceback (most recent call last):", lines
    assert any("return a / b" in line for line in below)
    assert below[-1].strip() == "ZeroDivisionError: division by zero"
    indent = len(lines[at]) - len(lines[at].lstrip())
    assert all(len(line) - len(line.lstrip()) > indent for line in below)  # under its log line


def test_a_logged_traceback_is_in_the_json(logged_exception: tuple[Path, str]) -> None:
    db, trace_id = logged_exception
    result = run_cli("show", trace_id, "--db", str(db), "--format", "json")
    assert result.returncode == 0, result.stderr
    (log,) = json.loads(result.stdout)["logs"]
    assert log["message"] == "could not compute the ratio"
    assert log["level"] == "error"
    assert log["exception_type"] == "ZeroDivisionError"
    assert log["traceback"].startswith("Traceback (most recent call last):")
    assert "ZeroDivisionError: division by zero" in log["traceback"]
    assert log["service"] == "shop"


def test_span_events_and_links_are_in_the_json(tmp_path: Path) -> None:
    db = tmp_path / "traces.db"
    provider = TracerProvider(resource=Resource.create({"service.name": "queue"}))
    provider.add_span_processor(SimpleSpanProcessor(LensSpanExporter(db)))
    tracer = provider.get_tracer("queue")
    with tracer.start_as_current_span("enqueue") as producer:
        produced = producer.get_span_context()
    with tracer.start_as_current_span(
        "consume", links=[Link(produced, {"messaging.batch": 1})]
    ) as consumer:
        consumer.add_event("retry", {"attempt": 2})
        consumer.add_event("acked")
        trace_id = f"{consumer.get_span_context().trace_id:032x}"
    provider.shutdown()

    result = run_cli("show", trace_id, "--db", str(db), "--format", "json")
    assert result.returncode == 0, result.stderr
    (consume,) = json.loads(result.stdout)["spans"]
    assert [e["name"] for e in consume["events"]] == ["retry", "acked"]
    assert consume["events"][0]["attributes"] == {"attempt": 2}
    assert isinstance(consume["events"][0]["time"], float)
    assert consume["links"] == [
        {
            "trace_id": f"{produced.trace_id:032x}",
            "span_id": f"{produced.span_id:016x}",
            "attributes": {"messaging.batch": 1},
        }
    ]
    # The same events and links as the OTLP export of the same trace.
    otlp = json.loads(run_cli("show", trace_id, "--db", str(db), "--format", "otlp-json").stdout)
    (otlp_span,) = otlp["resourceSpans"][0]["scopeSpans"][0]["spans"]
    assert [e["name"] for e in otlp_span["events"]] == ["retry", "acked"]
    assert [link["spanId"] for link in otlp_span["links"]] == [f"{produced.span_id:016x}"]
