"""`lens-tui query` and `lens-tui logs` as a user runs them (`python -m lens_tui`, real
processes): every example of the language, the JSON lines' fields, limits and order, one-line
errors with exit code 2, and --follow beside a writer process until Ctrl+C."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import apsw
import pytest

from . import fixture
from .examples import log_examples, trace_examples

ROOT = Path(__file__).resolve().parents[2]
TRACE_FIELDS = {
    "trace_id",
    "root_span_name",
    "service",
    "started_at",
    "duration_ms",
    "status",
    "span_count",
    "error_count",
}
LOG_FIELDS = {
    "id",
    "timestamp",
    "level",
    "message",
    "logger",
    "service",
    "trace_id",
    "span_id",
    "attributes",
}


def env() -> dict[str, str]:
    values = {k: v for k, v in os.environ.items() if k != "LENS_DB"}
    values["PYTHONPATH"] = str(ROOT)
    values["LENS_FOLLOW_POLL_S"] = "0.05"
    return values


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lens_tui", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env(),
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def written() -> Iterator[tuple[Path, float]]:
    import tempfile

    with tempfile.TemporaryDirectory() as directory:
        # Written as of two minutes from now: the command's clock runs between that and now,
        # and no row lies within two minutes past a relative bound (since 5m, since 15m).
        now = time.time() * 1000.0 + 2 * fixture.MINUTE
        yield fixture.write(Path(directory) / "traces.db", now), now


def _jsonl(result: subprocess.CompletedProcess[str]) -> list[dict[str, object]]:
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return [json.loads(line) for line in result.stdout.splitlines()]


def _run_examples(
    command: str, db: Path, examples: list[tuple[str, object]]
) -> list[list[dict[str, object]]]:
    """Each example through the command (four at a time), as parsed JSON lines."""
    with ThreadPoolExecutor(4) as pool:
        results = pool.map(
            lambda ex: run_cli(
                command, ex[0], "--db", str(db), "--format", "jsonl", "--limit", "1000"
            ),
            examples,
        )
        return [_jsonl(result) for result in results]


def test_every_trace_example(written: tuple[Path, float]) -> None:
    db, now = written
    before = time.time() * 1000.0
    examples = trace_examples(now, clock=before)
    results = _run_examples("query", db, examples)
    after = dict(trace_examples(now, clock=time.time() * 1000.0))  # `until 10:30` past midnight
    for (text, expected), rows in zip(examples, results, strict=True):
        assert {row["trace_id"] for row in rows} in (expected, after[text]), text
        assert all(set(row) == TRACE_FIELDS for row in rows), text
        starts = [row["started_at"] for row in rows]
        assert starts == sorted(starts, reverse=True), text  # newest first


def test_every_log_example(written: tuple[Path, float]) -> None:
    db, now = written
    examples = log_examples(now)
    for (text, expected), rows in zip(examples, _run_examples("logs", db, examples), strict=True):
        assert [row["message"] for row in rows] == expected, text
        assert all(set(row) == LOG_FIELDS for row in rows), text


def test_json_lines_hold_the_stored_values(written: tuple[Path, float]) -> None:
    db, now = written
    trace = fixture.TRACES[1]
    (row,) = _jsonl(
        run_cli("query", f"trace = {trace.trace_id}", "--db", str(db), "--format", "jsonl")
    )
    assert row == {
        "trace_id": trace.trace_id,
        "root_span_name": trace.name,
        "service": "shop-api",
        "started_at": trace.start(now),
        "duration_ms": trace.duration,
        "status": "error",
        "span_count": 3,
        "error_count": 1,
    }
    (log,) = _jsonl(
        run_cli("logs", 'attr.request_id = "r-170"', "--db", str(db), "--format", "jsonl")
    )
    assert log["attributes"] == {"request_id": "r-170"}
    assert (log["level"], log["logger"], log["service"]) == ("error", "shop.payments", "payments")
    assert log["trace_id"] == trace.trace_id and log["span_id"] == fixture.span_id(1, 0)
    assert log["timestamp"] == now - fixture.LOGS[2].ago and isinstance(log["id"], int)


def test_limit_takes_the_newest(written: tuple[Path, float]) -> None:
    db, _ = written
    newest = sorted(fixture.TRACES, key=lambda t: t.ago)[:2]
    rows = _jsonl(run_cli("query", "--db", str(db), "--format", "jsonl", "--limit", "2"))
    assert [row["trace_id"] for row in rows] == [t.trace_id for t in newest]
    rows = _jsonl(run_cli("logs", "--db", str(db), "--format", "jsonl", "--limit", "2"))
    assert [row["message"] for row in rows] == [
        g.message for g in fixture.LOGS[-2:]
    ]  # oldest of them first


def test_human_formats(written: tuple[Path, float]) -> None:
    db, _ = written
    result = run_cli("query", "status = error", "--db", str(db))
    assert result.returncode == 0, result.stderr
    header, *lines = result.stdout.splitlines()
    assert header.split()[:3] == ["START", "DURATION", "STATUS"]
    assert len(lines) == sum(1 for t in fixture.TRACES if t.status == "error")
    assert all(" error " in line for line in lines)
    result = run_cli("logs", 'logger = "shop.db"', "--db", str(db))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split("  ")[1].strip() for line in lines] == ["WARN", "WARN"]
    assert "db timeout after 50 ms" in lines[0] and fixture.TRACES[0].trace_id in lines[0]


def test_text_from_the_database_never_controls_the_terminal(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    conn = apsw.Connection(str(db))
    from lens_tui import schema

    schema.migrate(conn)
    conn.execute(
        "INSERT INTO traces (trace_id, root_span_name, started_at, status) VALUES ('ab', ?, 1, 'ok')",
        ("evil \x1b]0;pwned\x07 \x9b31m",),
    )
    conn.execute(
        "INSERT INTO logs (level, message, timestamp, logger, attributes) VALUES ('info', ?, 1, ?, ?)",
        ("\x1b[2Jcleared", "log\x1b[31m", "not json \x1b[5m"),
    )
    conn.close()
    (log,) = _jsonl(run_cli("logs", "--db", str(db), "--format", "jsonl"))
    assert log["attributes"] == {"(unparsed)": "not json \x1b[5m"}  # always an object
    for args in (
        ("query",),
        ("query", "--format", "jsonl"),
        ("logs",),
        ("logs", "--format", "jsonl"),
    ):
        result = run_cli(*args, "--db", str(db))
        assert result.returncode == 0, result.stderr
        assert (
            "\x1b" not in result.stdout
            and "\x9b" not in result.stdout
            and "\x07" not in result.stdout
        )
        assert "pwned" in result.stdout or "cleared" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("query", "duration > 5 parsecs"),
            "lens-tui: bad query: unknown unit 'parsecs' at column 14: use us, ms, s, m, h",
        ),
        (
            ("logs", "level >= loud"),
            "lens-tui: bad query: unknown level 'loud' at column 10: use debug, info, warn, error",
        ),
        (
            ("logs", "{ name = x }"),
            "lens-tui: bad query: unexpected '{' at column 1: log queries have no spans",
        ),
        (
            ("query", "(" * 4000 + "a" + ")" * 4000),
            "lens-tui: bad query: query nests too deeply (at most 32 levels) at column 33",
        ),
        (
            ("query", "--limit", "0"),
            "lens-tui query: argument --limit: must be between 1 and 100000: '0' (see --help)",
        ),
        (("logs", "--format", "table"), None),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    written: tuple[Path, float], args: tuple[str, ...], message: str | None
) -> None:
    db, _ = written
    result = run_cli(*args, "--db", str(db))
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
    if message is not None:
        assert result.stderr.strip() == message


def test_bad_paths_are_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello, not a database\n")
    for path in (
        tmp_path / "missing.db",
        tmp_path,
        tmp_path / "notes.txt",
        tmp_path / "no" / "dir.db",
    ):
        for command in ("query", "logs"):
            result = run_cli(command, "--db", str(path))
            assert result.returncode == 2, (command, path)
            assert result.stdout == "" and len(result.stderr.splitlines()) == 1, result.stderr
            assert str(path) in result.stderr and "Traceback" not in result.stderr
    result = run_cli("query", "--db", str(tmp_path / "missing.db"), "--follow")
    assert result.returncode == 2


def test_piped_into_head(written: tuple[Path, float]) -> None:
    db, _ = written
    command = f"{sys.executable} -m lens_tui logs --db {db} --limit 1000 | head -1"
    for _ in range(3):
        result = subprocess.run(
            ["sh", "-c", command], capture_output=True, text=True, timeout=60, env=env()
        )
        assert result.returncode == 0 and len(result.stdout.splitlines()) == 1
        assert result.stderr == ""


# --------------------------------------------------------------------------- --follow

WRITER = r"""
import logging, sys, time
from lens_tui import tracing
from lens_tui.tracing import span
tracing.configure(sys.argv[1], service="shop-api", flush_interval=0.02)
log = logging.getLogger("shop.db")
log.addHandler(tracing.LogHandler())
log.setLevel(logging.INFO)
for i in range(int(sys.argv[2])):
    with span(f"checkout {i}" if i % 2 == 0 else f"browse {i}", **{"user.id": i}):
        log.warning("timeout %d", i, extra={"request_id": f"r-{i}"})
        log.info("fine %d", i)
    tracing.flush()
    print(i, flush=True)
    time.sleep(0.05)
tracing.shutdown()
"""


class Lines:
    """A child's stdout lines, read on a thread (reads never block the test)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.queue: queue.Queue[str] = queue.Queue()
        assert proc.stdout is not None
        stream = proc.stdout
        threading.Thread(
            target=lambda: [self.queue.put(line) for line in stream], daemon=True
        ).start()

    def take(self, count: int, timeout: float = 30.0) -> list[str]:
        out: list[str] = []
        deadline = time.monotonic() + timeout
        while len(out) < count:
            left = deadline - time.monotonic()
            assert left > 0, f"only {len(out)} of {count} lines: {out}"
            try:
                out.append(self.queue.get(timeout=left))
            except queue.Empty:
                continue
        return out


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(),
        cwd=ROOT,
    )


def _stop(proc: subprocess.Popen[str]) -> tuple[int, str]:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.stderr is not None
    return proc.returncode, proc.stderr.read()


def _writer_db(tmp_path: Path) -> Path:
    db = tmp_path / "live.db"
    seed = subprocess.run(
        [sys.executable, "-c", WRITER, str(db), "1"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env(),
        cwd=ROOT,
    )
    assert seed.returncode == 0, seed.stderr
    return db


def test_query_follow_prints_new_matches_until_ctrl_c(tmp_path: Path) -> None:
    db = _writer_db(tmp_path)  # holds "checkout 0"
    follow = _start(
        "-m",
        "lens_tui",
        "query",
        "{ attr.user.id >= 0 } checkout",
        "--db",
        str(db),
        "--format",
        "jsonl",
        "--follow",
    )
    lines = Lines(follow)
    try:
        first = json.loads(lines.take(1)[0])
        assert first["root_span_name"] == "checkout 0"
        writer = _start("-c", WRITER, str(db), "8")
        assert writer.wait(timeout=60) == 0
        names = [json.loads(line)["root_span_name"] for line in lines.take(4)]
        assert names == ["checkout 0", "checkout 2", "checkout 4", "checkout 6"]
        assert _checkpoints_fully(db), "the follower held a read transaction between polls"
        time.sleep(0.3)
        assert lines.queue.empty()  # each trace once, no browse
    finally:
        code, stderr = _stop(follow)
    assert code == 0 and stderr == ""


def test_logs_follow_prints_new_matches_until_ctrl_c(tmp_path: Path) -> None:
    db = _writer_db(tmp_path)
    follow = _start("-m", "lens_tui", "logs", "level >= warn timeout", "--db", str(db), "--follow")
    lines = Lines(follow)
    try:
        assert "timeout 0" in lines.take(1)[0]
        writer = _start("-c", WRITER, str(db), "5")
        assert writer.wait(timeout=60) == 0
        got = lines.take(5)
        assert [line.split("  ")[3] for line in got] == [f"timeout {i}" for i in range(5)]
        assert all("WARN" in line for line in got)
        time.sleep(0.3)
        assert lines.queue.empty()
    finally:
        code, stderr = _stop(follow)
    assert code == 0 and stderr == ""


def _checkpoints_fully(db: Path) -> bool:
    """A writer can checkpoint the whole WAL and truncate it: no reader pins a snapshot."""
    conn = apsw.Connection(str(db))
    conn.set_busy_timeout(2000)
    try:
        for _ in range(20):
            busy, _log, _done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()[0]
            if busy == 0 and os.path.getsize(f"{db}-wal") == 0:
                return True
            time.sleep(0.05)
        return False
    finally:
        conn.close()
