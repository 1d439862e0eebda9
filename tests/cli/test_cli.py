"""The command line on real database files: show, prune, and one-line errors with exit code 2."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import apsw
import pytest

from lens_tui import tracing
from lens_tui.tracing import lens_fn, span

from .support import run_cli, run_in_pty, traced_logger


@pytest.fixture()
def written_db(tmp_path: Path) -> tuple[Path, str]:
    """A database written by the tracing library: a checkout trace with an error and logs."""
    db = tmp_path / "traces.db"
    with traced_logger(db, "shop", "test.cli") as logger:

        @lens_fn("checkout")
        def checkout() -> str:
            logger.info("starting checkout")
            with span("load cart", items=3):
                logger.debug("cart loaded")
            try:
                with span("charge card"):
                    raise RuntimeError("card declined \x1b]0;pwned\x07")
            except RuntimeError:
                logger.error("payment failed")
            holder = tracing.current_span()
            assert holder is not None
            return holder.trace_id

        trace_id = checkout()
    return db, trace_id


def test_help_lists_the_commands() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for word in ("demo", "show", "prune"):
        assert word in result.stdout


def test_show_prints_the_tree_with_logs_under_their_spans(written_db: tuple[Path, str]) -> None:
    db, trace_id = written_db
    result = run_cli("show", trace_id, "--db", str(db))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"trace {trace_id}  checkout")
    names = [line.strip() for line in lines]
    checkout = next(i for i, line in enumerate(lines) if line.strip().startswith("checkout "))
    cart = next(i for i, line in enumerate(lines) if "load cart" in line)
    charge = next(i for i, line in enumerate(lines) if "charge card" in line)
    assert checkout < cart < charge
    indent = lambda line: len(line) - len(line.lstrip())  # noqa: E731
    assert indent(lines[cart]) > indent(lines[checkout])
    assert lines[charge].strip().startswith("✗ charge card")
    assert any("RuntimeError: card declined" in n for n in names)
    assert "INFO  starting checkout" in result.stdout
    assert "DEBUG cart loaded" in result.stdout
    assert "ERROR payment failed" in result.stdout
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "␛]0;pwned␇" in result.stdout


def test_show_json_and_unique_prefix(written_db: tuple[Path, str]) -> None:
    db, trace_id = written_db
    result = run_cli("show", trace_id[:20], "--db", str(db), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["trace"]["trace_id"] == trace_id
    assert data["trace"]["error_count"] == 1
    assert [s["name"] for s in data["spans"]] == ["checkout", "load cart", "charge card"]
    assert data["spans"][1]["attributes"] == {"items": 3}
    assert data["spans"][2]["exception_type"] == "RuntimeError"
    assert {log["message"] for log in data["logs"]} == {
        "starting checkout",
        "cart loaded",
        "payment failed",
    }


def test_show_uses_lens_db_from_the_environment(
    written_db: tuple[Path, str], tmp_path: Path
) -> None:
    db, trace_id = written_db
    result = run_cli("show", trace_id, env={"LENS_DB": str(db)})
    assert result.returncode == 0, result.stderr
    assert "checkout" in result.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("show", "ffff"), "no trace"),
        (("show",), "required"),
        (("prune", "--older-than", "soon"), "not a duration"),
        (("prune", "--max-body-bytes", "lots"), "not a size"),
        (("bogus-option-db", "--nope"), "unrecognized"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    written_db: tuple[Path, str], args: tuple[str, ...], needle: str
) -> None:
    db, _ = written_db
    extra = ("--db", str(db)) if args and args[0] in ("show", "prune") else ()
    result = run_cli(*args, *extra)
    assert result.returncode == 2
    assert needle in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("kind", ["missing-dir", "directory", "text", "random", "missing-file"])
def test_show_refuses_what_is_not_a_trace_database(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "x.db"
    if kind == "missing-dir":
        target = tmp_path / "nowhere" / "x.db"
    elif kind == "directory":
        target.mkdir()
    elif kind == "text":
        target.write_text("hello, I am not a database\n")
    elif kind == "random":
        target.write_bytes(os.urandom(8192))
    result = run_cli("show", "abc", "--db", str(target))
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "nowhere").exists()


def test_prune_removes_old_traces_and_reports(tmp_path: Path) -> None:
    db = tmp_path / "traces.db"

    @lens_fn("job")
    def job() -> None:
        with span("step"):
            pass

    tracing.configure(db, service="old", flush_interval=0.02, retention_days=None)
    for _ in range(3):
        job()
    tracing.flush()
    tracing.shutdown()
    conn = apsw.Connection(str(db))
    old = (time.time() - 10 * 86400) * 1000
    conn.execute("UPDATE traces SET started_at = ? WHERE rowid <= 2", (old,))
    conn.close()

    result = run_cli("prune", "--db", str(db), "--older-than", "7d")
    assert result.returncode == 0, result.stderr
    assert "removed 2 traces, 4 spans" in result.stdout
    check = apsw.Connection(
        f"file:{db}?mode=ro", flags=apsw.SQLITE_OPEN_READONLY | apsw.SQLITE_OPEN_URI
    )
    assert check.execute("SELECT count(*) FROM traces").fetchall()[0][0] == 1
    assert check.execute("SELECT count(*) FROM spans").fetchall()[0][0] == 2
    check.close()


def test_dashboard_otlp_port_taken_is_one_line_before_any_screen(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_in_pty(str(tmp_path / "traces.db"), "--otlp", str(port), timeout=30)
    assert result.returncode == 2
    lines = result.output.decode().strip().splitlines()
    assert len(lines) == 1 and f"cannot start the OTLP receiver on port {port}" in lines[0], lines
    assert b"\x1b[" not in result.output  # no screen was ever drawn
